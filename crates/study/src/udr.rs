//! UDR of trained runs (Duan et al. 2020, disentanglement_lib's `udr_sklearn`): the runs of one
//! configuration with different seeds encode the same observations; each run's score says how
//! consistently the others find its latents (no labels needed).

use std::path::{Path, PathBuf};

use disentangle_data::open_recorded_dataset;
use disentangle_metrics::{Codes, UdrConfig, UdrModel, UdrResult, udr};
use disentangle_train::inference::load_trained;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::error::{Result, StudyError};
use crate::evaluation::encode_in_chunks;

/// Mean KL divergence of each latent's posterior N(μ, σ²) to N(0, 1) over the rows.
pub fn mean_kl_per_latent(mu: &[f32], logvar: &[f32], latents: usize) -> Vec<f64> {
    let n = mu.len() / latents.max(1);
    let mut kl = vec![0.0; latents];
    for (m, l) in mu.chunks_exact(latents).zip(logvar.chunks_exact(latents)) {
        for j in 0..latents {
            let (m, l) = (f64::from(m[j]), f64::from(l[j]));
            kl[j] += 0.5 * (m * m + l.exp() - 1.0 - l);
        }
    }
    kl.iter_mut().for_each(|v| *v /= n.max(1) as f64);
    kl
}

/// The mean codes and per-latent KL of `runs` on `config.num_data_points` observations drawn
/// (factor vectors uniform, ChaCha8 seeded with `seed`) from the first run's dataset; every run
/// must have been trained on the same dataset with the same number of latents.
pub fn udr_of_runs(runs: &[PathBuf], config: &UdrConfig, seed: u64, device: Option<&str>, data_dir: Option<&Path>) -> Result<UdrResult> {
    let first = runs.first().ok_or_else(|| StudyError::Invalid("udr needs at least two runs".into()))?;
    let mut models = Vec::new();
    let mut dataset = None;
    let mut factors = Vec::new();
    for run in runs {
        let model = load_trained(run, device)?;
        match &dataset {
            None => {
                let d = open_recorded_dataset(&model.config.dataset, run, data_dir)?;
                factors = d.sample_factors(config.num_data_points, &mut ChaCha8Rng::seed_from_u64(seed));
                dataset = Some((d, model.config.dataset.clone(), model.config.model.latents));
            }
            Some((_, name, latents)) => {
                if *name != model.config.dataset || *latents != model.config.model.latents {
                    return Err(StudyError::Invalid(format!(
                        "{} was trained on {} with {} latents but {} on {name} with {latents}: UDR compares runs of one configuration",
                        run.display(),
                        model.config.dataset,
                        model.config.model.latents,
                        first.display()
                    )));
                }
            }
        }
        let (d, _, latents) = dataset.as_ref().expect("set above");
        // The same nuisance stream for every run, so that all encode the same observations.
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5544_5200);
        let (mu, logvar) = encode_in_chunks(&model, &**d, &factors, &mut rng)?;
        let kl = mean_kl_per_latent(&mu, &logvar, *latents);
        models.push((mu, kl, *latents));
    }
    let n = config.num_data_points;
    let views = models
        .iter()
        .map(|(mu, kl, latents)| Ok(UdrModel { codes: Codes::new(mu, n, *latents)?, kl }))
        .collect::<Result<Vec<_>>>()?;
    Ok(udr(&views, config)?)
}

/// The UDR of one configuration's runs in a study.
#[derive(Clone, Debug)]
pub struct ConfigurationUdr {
    /// dataset / configuration / encoder / noise / steps, as `study export` names them.
    pub label: String,
    pub keys: Vec<String>,
    pub seeds: Vec<u64>,
    /// UDR per run, or why the group could not be scored.
    pub scores: std::result::Result<Vec<f64>, String>,
}

/// Scores every configuration of a study that has at least two finished runs (its seeds) and
/// stores each run's score as the metric `udr.<correlation>` (exported, reported and compared
/// with the others). A configuration that cannot be scored (a collapsed run) is reported and
/// the others go on.
pub fn udr_of_study(dir: &Path, config: &UdrConfig, seed: u64, device: Option<&str>, data_dir: Option<&Path>) -> Result<Vec<ConfigurationUdr>> {
    let study = crate::runner::StudyDir::new(dir);
    let (_, mut store) = study.open()?;
    let rows = store.rows()?;
    let mut groups: std::collections::BTreeMap<(String, String, String, String, u64), Vec<&crate::store::JobRow>> = Default::default();
    for r in rows.iter().filter(|r| r.status == "done") {
        groups.entry((r.dataset.clone(), r.configuration.clone(), r.encoder.clone(), r.noise.clone(), r.steps)).or_default().push(r);
    }
    let name = format!("udr.{}", config.correlation.name());
    let mut out = Vec::new();
    for ((dataset, configuration, encoder, noise, steps), mut runs) in groups {
        if runs.len() < 2 {
            continue;
        }
        runs.sort_by_key(|r| r.seed);
        let dirs: Vec<PathBuf> = runs.iter().map(|r| dir.join(&r.run_dir)).collect();
        let scores = match udr_of_runs(&dirs, config, seed, device, data_dir) {
            Ok(result) => {
                for (r, s) in runs.iter().zip(&result.model_scores) {
                    store.put_metrics(&r.key, &[(name.clone(), *s)])?;
                }
                Ok(result.model_scores)
            }
            // A degenerate group (every latent of a run collapsed) is reported; the others go on.
            Err(StudyError::Metrics(e)) => Err(e.to_string()),
            Err(e) => return Err(e),
        };
        out.push(ConfigurationUdr {
            label: format!("{dataset} / {configuration} / {encoder} / {noise} / {steps} steps"),
            keys: runs.iter().map(|r| r.key.clone()).collect(),
            seeds: runs.iter().map(|r| r.seed).collect(),
            scores,
        });
    }
    Ok(out)
}

/// Does unsupervised selection pick the runs MIG picks? For one configuration's runs with both
/// scores: how many, the Spearman rank correlation of UDR with MIG over them (None below three
/// runs or with a constant score), and whether the run with the best UDR is the one with the best MIG.
#[derive(Clone, Debug, PartialEq)]
pub struct UdrAgreement {
    pub label: String,
    pub runs: usize,
    pub spearman: Option<f64>,
    pub same_best: bool,
}

/// Spearman's rank correlation (None below three runs or with a constant score).
pub fn spearman(a: &[f64], b: &[f64]) -> Option<f64> {
    if a.len() < 3 || a.len() != b.len() {
        return None;
    }
    Some(disentangle_metrics::udr::spearman(a, b)).filter(|r| r.is_finite())
}

/// The agreement of `udr_metric` (e.g. `udr.lasso`) with `mig_metric` per configuration (dataset
/// and configuration label) of the finished `rows`, in the rows' order.
pub fn udr_agreement(rows: &[crate::store::JobRow], udr_metric: &str, mig_metric: &str) -> Vec<UdrAgreement> {
    #[allow(clippy::type_complexity)] // ((dataset, configuration), (UDR, MIG) per run)
    let mut groups: Vec<((String, String), Vec<(f64, f64)>)> = Vec::new();
    for r in rows.iter().filter(|r| r.status == "done") {
        let (Some(u), Some(m)) = (crate::store::value_of(r, udr_metric), crate::store::value_of(r, mig_metric)) else { continue };
        let id = (r.dataset.clone(), r.configuration.clone());
        match groups.iter_mut().find(|(g, _)| *g == id) {
            Some((_, v)) => v.push((u, m)),
            None => groups.push((id, vec![(u, m)])),
        }
    }
    groups
        .into_iter()
        .filter(|(_, pairs)| pairs.len() >= 2)
        .map(|((dataset, configuration), pairs)| {
            let (u, m): (Vec<f64>, Vec<f64>) = pairs.iter().copied().unzip();
            let best = |v: &[f64]| (0..v.len()).max_by(|&a, &b| v[a].total_cmp(&v[b])).expect("non-empty");
            UdrAgreement { label: format!("{dataset} · {configuration}"), runs: pairs.len(), spearman: spearman(&u, &m), same_best: best(&u) == best(&m) }
        })
        .collect()
}

/// The agreement table as text (or Markdown), for `study compare`; empty without UDR scores.
pub fn agreement_text(rows: &[crate::store::JobRow], markdown: bool) -> String {
    let Some(udr) = ["udr.lasso", "udr.spearman"].into_iter().find(|m| rows.iter().any(|r| crate::store::value_of(r, m).is_some())) else {
        return String::new();
    };
    let table = udr_agreement(rows, udr, crate::store::MIG);
    let mut out = String::new();
    if markdown {
        out.push_str(&format!("\n### UDR ({udr}) vs MIG: does unsupervised selection pick the runs MIG picks?\n\n| configuration | runs | Spearman(UDR, MIG) | best UDR = best MIG |\n|---|---|---|---|\n"));
    } else {
        out.push_str(&format!("\nUDR ({udr}) vs MIG: does unsupervised selection pick the runs MIG picks?\n"));
    }
    for a in table {
        let rho = a.spearman.map_or("—".into(), |s| format!("{s:.2}"));
        let same = if a.same_best { "yes" } else { "no" };
        if markdown {
            out.push_str(&format!("| {} | {} | {rho} | {same} |\n", a.label, a.runs));
        } else {
            out.push_str(&format!("  {:<60} runs {:>3}  Spearman {rho:>5}  best UDR = best MIG: {same}\n", a.label, a.runs));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spearman_of_monotone_and_reversed_orders() {
        assert_eq!(spearman(&[1.0, 2.0, 3.0, 4.0], &[10.0, 20.0, 35.0, 90.0]), Some(1.0));
        assert_eq!(spearman(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]), Some(-1.0));
        assert_eq!(spearman(&[1.0, 2.0], &[1.0, 2.0]), None);
        assert_eq!(spearman(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]), None);
    }

    #[test]
    fn kl_of_the_prior_is_zero_and_of_a_shifted_posterior_is_half_the_square() {
        let kl = mean_kl_per_latent(&[0.0, 2.0, 0.0, 2.0], &[0.0, 0.0, 0.0, 0.0], 2);
        assert_eq!(kl, vec![0.0, 2.0]);
        let kl = mean_kl_per_latent(&[0.0], &[(0.5f32).ln()], 1);
        assert!((kl[0] - 0.5 * (0.5 - 1.0 - 0.5f64.ln())).abs() < 1e-7);
    }
}
