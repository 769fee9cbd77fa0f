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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kl_of_the_prior_is_zero_and_of_a_shifted_posterior_is_half_the_square() {
        let kl = mean_kl_per_latent(&[0.0, 2.0, 0.0, 2.0], &[0.0, 0.0, 0.0, 0.0], 2);
        assert_eq!(kl, vec![0.0, 2.0]);
        let kl = mean_kl_per_latent(&[0.0], &[(0.5f32).ln()], 1);
        assert!((kl[0] - 0.5 * (0.5 - 1.0 - 0.5f64.ln())).abs() < 1e-7);
    }
}
