//! InfoMEC (Hsu et al. 2023, "Disentanglement via Latent Quantization"): InfoM (modularity),
//! InfoE (explicitness) and InfoC (compactness), as the authors' `compute_infomec` computes
//! them (kylehkhsu/latent_quantization, `disentangle/metrics/infomec.py`).
//!
//! - **NMI[i][j]** = I(source i; latent j) / H(source i), nats, the sources label-encoded.
//!   Continuous latents (the default): each latent standardized (mean, population std), then
//!   I by Ross's nearest-neighbour estimator with 10 neighbours ([`crate::knn_mi`]), after the
//!   two steps scikit-learn's `mutual_info_classif` adds: division by the standard deviation
//!   again, and jitter 1e-10 · max(1, mean |z|) · N(0, 1). The reference draws that jitter from
//!   numpy's unseeded generator; we draw it from ChaCha8 seeded by `seed`. It changes nothing
//!   for latents without ties; for latents with many equal values (integers passed as
//!   continuous) the reference's value itself is random, and ours depends on the seed.
//!   Discrete latents (`discrete_latents`): I is the plug-in estimate of the label-encoded
//!   values.
//! - **Active latents**: range (max − min) above max range / 20 (continuous) or above 0.
//! - **InfoM** = (mean over active latents of max_i NMI / Σ_i NMI − 1/K) / (1 − 1/K);
//!   **InfoC** = (mean over sources of max_j NMI / Σ_j NMI − 1/L) / (1 − 1/L), K sources and
//!   L active latents; both are 1 for a perfect one-to-one code and 0 at chance.
//! - **InfoE** = mean over sources of (H_marg − H_cond) / H_marg, with H_cond the training
//!   log-loss (mean, nats) of an unpenalized multinomial logistic regression with balanced
//!   class weights predicting the source from *all* latents (standardized; one-hot when
//!   discrete) and H_marg = ln(number of classes) (the reference fits the same model on zeros,
//!   whose optimum under balanced weights is the uniform prediction). The reference stops
//!   its solver after 100 iterations or when the loss stops falling by 64 ε (weights good to
//!   ≈ 1e-7); ours runs to a gradient of 1e-8, also at most 100 iterations (separable classes
//!   never converge: their loss only tends to 0, and where the cap stops the two solvers
//!   differs). On the golden arrays the two InfoE differ by 7e-8.
//!
//! All rows of the sample (the first `num_train`) are used. A constant source, or an active
//! latent or a source whose NMI is all 0 (0/0 in the reference: NaN), is an error; so is a
//! single active latent (InfoC divides by 1 − 1/L).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::data::{Codes, Factors, check_same_samples};
use crate::discretize::{discrete_entropy, discrete_mutual_info};
use crate::error::{Result, degenerate, invalid};
use crate::knn_mi::mi_continuous_discrete;
use crate::logistic::{LogisticConfig, LogisticRegression};
use crate::report::{Report, ToReport, matrix};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InfomecConfig {
    pub num_train: usize,
    /// Treat latent values as categories (quantized latents).
    pub discrete_latents: bool,
    /// Neighbours of the continuous estimator (reference: 10).
    pub n_neighbors: usize,
    /// Compute InfoE (a logistic regression per source: the slow part).
    pub explicitness: bool,
}

impl Default for InfomecConfig {
    fn default() -> Self {
        InfomecConfig { num_train: 10_000, discrete_latents: false, n_neighbors: 10, explicitness: true }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InfomecResult {
    pub infom: f64,
    pub infoc: f64,
    /// None when `explicitness` is off.
    pub infoe: Option<f64>,
    /// NMI[source][latent].
    pub nmi: Vec<Vec<f64>>,
    pub active_latents: Vec<bool>,
    pub infoe_per_source: Vec<f64>,
    pub num_samples: usize,
}

pub fn infomec(codes: &Codes, factors: &Factors, seed: u64, config: &InfomecConfig) -> Result<InfomecResult> {
    check_same_samples(codes, factors)?;
    let n = codes.num_samples().min(config.num_train);
    let latents: Vec<Vec<f64>> = (0..codes.num_codes()).map(|j| codes.column(j)[..n].to_vec()).collect();
    let sources: Vec<Vec<usize>> = (0..factors.num_factors()).map(|k| factors.column(k)[..n].to_vec()).collect();
    infomec_columns(&latents, &sources, seed, config)
}

/// Dense labels 0 … m−1 of values in increasing order (scikit-learn's `LabelEncoder`).
fn encode<T: PartialOrd + Copy>(values: &[T]) -> (Vec<u32>, usize) {
    let mut unique: Vec<T> = values.to_vec();
    unique.sort_by(|a, b| a.partial_cmp(b).expect("finite values"));
    unique.dedup_by(|a, b| a == b);
    let labels = values.iter().map(|v| unique.partition_point(|u| u < v) as u32).collect();
    (labels, unique.len())
}

/// (z − mean) / std with the population std; a constant column becomes zeros (std taken as 1).
fn standardize(z: &[f64]) -> Vec<f64> {
    let n = z.len() as f64;
    let mean = z.iter().sum::<f64>() / n;
    let var = z.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
    let std = if var > 0.0 { var.sqrt() } else { 1.0 };
    z.iter().map(|v| (v - mean) / std).collect()
}

/// [`infomec`] on columns: latents (f64) and sources (classes).
pub fn infomec_columns(latents: &[Vec<f64>], sources: &[Vec<usize>], seed: u64, config: &InfomecConfig) -> Result<InfomecResult> {
    if config.n_neighbors == 0 {
        return Err(invalid("n_neighbors", "infomec: must be at least 1"));
    }
    let (k, d) = (sources.len(), latents.len());
    if k < 2 {
        return Err(degenerate("infomec", format!("needs at least 2 sources (factors), got {k}")));
    }
    let n = latents.first().map_or(0, Vec::len);
    let source_labels: Vec<(Vec<u32>, usize)> = sources.iter().map(|s| encode(s)).collect();
    let entropies: Vec<f64> = source_labels.iter().map(|(l, _)| discrete_entropy(l)).collect::<Result<_>>()?;
    if let Some(i) = entropies.iter().position(|&h| h <= 0.0) {
        return Err(degenerate("infomec", format!("source {i} is constant in the sample: its NMI is 0/0 (the reference returns NaN)")));
    }
    // What each latent looks like to the MI estimator.
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let prepared: Vec<Vec<f64>> = latents
        .iter()
        .map(|z| {
            if config.discrete_latents {
                return z.clone();
            }
            let scaled = standardize(z);
            // scikit-learn's second scaling (no centring) and its jitter.
            let sd = (scaled.iter().map(|v| v * v).sum::<f64>() / n as f64 - (scaled.iter().sum::<f64>() / n as f64).powi(2)).max(0.0).sqrt();
            let sd = if sd > 0.0 { sd } else { 1.0 };
            let x: Vec<f64> = scaled.iter().map(|v| v / sd).collect();
            let scale = 1e-10 * (x.iter().map(|v| v.abs()).sum::<f64>() / n as f64).max(1.0);
            x.iter()
                .map(|v| {
                    // A standard normal by Box–Muller (u1 in (0, 1]).
                    let (u1, u2): (f64, f64) = (1.0 - rng.random::<f64>(), rng.random());
                    let e = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
                    v + scale * e
                })
                .collect()
        })
        .collect();
    let latent_labels: Vec<Vec<u32>> = if config.discrete_latents { latents.iter().map(|z| encode(z).0).collect() } else { vec![] };
    let nmi: Vec<Vec<f64>> = source_labels
        .iter()
        .zip(&entropies)
        .map(|((labels, _), h)| {
            (0..d)
                .map(|j| {
                    let mi = if config.discrete_latents {
                        discrete_mutual_info(labels, &latent_labels[j])?
                    } else {
                        mi_continuous_discrete(&prepared[j], labels, config.n_neighbors)
                    };
                    Ok(mi / h)
                })
                .collect::<Result<Vec<f64>>>()
        })
        .collect::<Result<_>>()?;
    let ranges: Vec<f64> = latents
        .iter()
        .map(|z| z.iter().copied().fold(f64::NEG_INFINITY, f64::max) - z.iter().copied().fold(f64::INFINITY, f64::min))
        .collect();
    let widest = ranges.iter().copied().fold(0.0, f64::max);
    let active: Vec<bool> = ranges.iter().map(|&r| if config.discrete_latents { r > 0.0 } else { r > widest / 20.0 }).collect();
    let cols: Vec<usize> = (0..d).filter(|&j| active[j]).collect();
    let l = cols.len();
    if l < 2 {
        return Err(degenerate("infomec", format!("{l} active latent(s): InfoC needs at least 2")));
    }
    let ratio = |values: &[f64], what: String| -> Result<f64> {
        let sum: f64 = values.iter().sum();
        if sum <= 0.0 {
            return Err(degenerate("infomec", format!("{what} has no information about any {} (0/0; the reference returns NaN)", if what.starts_with("latent") { "source" } else { "active latent" })));
        }
        Ok(values.iter().copied().fold(f64::NEG_INFINITY, f64::max) / sum)
    };
    let mut m = 0.0;
    for &j in &cols {
        m += ratio(&nmi.iter().map(|row| row[j]).collect::<Vec<_>>(), format!("latent {j}"))?;
    }
    let mut c = 0.0;
    for (i, row) in nmi.iter().enumerate() {
        c += ratio(&cols.iter().map(|&j| row[j]).collect::<Vec<_>>(), format!("source {i}"))?;
    }
    let (kf, lf) = (k as f64, l as f64);
    let infom = (m / lf - 1.0 / kf) / (1.0 - 1.0 / kf);
    let infoc = (c / kf - 1.0 / lf) / (1.0 - 1.0 / lf);
    let infoe_per_source = if config.explicitness { explicitness_per_source(latents, &source_labels, config.discrete_latents)? } else { vec![] };
    let infoe = config.explicitness.then(|| infoe_per_source.iter().sum::<f64>() / k as f64);
    Ok(InfomecResult { infom, infoc, infoe, nmi, active_latents: active, infoe_per_source, num_samples: n })
}

/// (H_marg − H_cond) / H_marg per source (see the module header).
fn explicitness_per_source(latents: &[Vec<f64>], sources: &[(Vec<u32>, usize)], discrete: bool) -> Result<Vec<f64>> {
    let n = latents[0].len();
    // Features, row-major: standardized latents, or one-hot of every latent's values.
    let columns: Vec<Vec<f64>> = if discrete {
        latents
            .iter()
            .flat_map(|z| {
                let (labels, m) = encode(z);
                (0..m as u32).map(move |v| labels.iter().map(|&l| if l == v { 1.0 } else { 0.0 }).collect::<Vec<f64>>()).collect::<Vec<_>>()
            })
            .collect()
    } else {
        latents.iter().map(|z| standardize(z)).collect()
    };
    let f = columns.len();
    let x: Vec<f64> = (0..n).flat_map(|i| columns.iter().map(move |c| c[i])).collect();
    // The reference's cap of 100 iterations: an unpenalized fit on (nearly) separable classes
    // never converges, and every further iteration only pushes its loss towards 0.
    let config = LogisticConfig { c: f64::INFINITY, balanced: true, gradient_tolerance: 1e-8, max_iterations: 100, stop_at_max_iterations: true };
    sources
        .iter()
        .map(|(labels, classes)| {
            let y: Vec<usize> = labels.iter().map(|&l| l as usize).collect();
            let model = LogisticRegression::fit(&x, f, &y, &config)?;
            let p = model.predict_proba(&x)?;
            // The log-loss of scikit-learn's `log_loss`: probabilities clipped to [ε, 1 − ε].
            let eps = f64::EPSILON;
            let h_cond = y.iter().enumerate().map(|(i, &c)| -(p[i * classes + c].clamp(eps, 1.0 - eps)).ln()).sum::<f64>() / n as f64;
            let h_marg = (*classes as f64).ln();
            Ok((h_marg - h_cond) / h_marg)
        })
        .collect()
}

impl ToReport for InfomecResult {
    fn write_to(&self, r: &mut Report) {
        r.insert_f64("infomec.infom", self.infom);
        r.insert_f64("infomec.infoc", self.infoc);
        if let Some(e) = self.infoe {
            r.insert_f64("infomec.infoe", e);
            r.insert("infomec.infoe_per_source", crate::report::vector(&self.infoe_per_source));
        }
        r.insert("infomec.nmi", matrix(&self.nmi));
        r.insert("infomec.active_latents", self.active_latents.clone());
        r.insert("infomec.num_samples", self.num_samples);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zaidi::golden::*;

    fn run(latents: &[Vec<f64>], sources: &[Vec<usize>], discrete: bool, explicitness: bool) -> InfomecResult {
        let config = InfomecConfig { discrete_latents: discrete, explicitness, ..Default::default() };
        infomec_columns(latents, sources, 0, &config).unwrap()
    }

    #[test]
    fn equals_the_reference_code() {
        let a = arrays();
        // latent_quantization `compute_infomec(factors, mixed, discrete_latents=False)`.
        let r = run(&a.mixed, &a.factors, false, true);
        assert!(close(r.infom, 0.87690206267640791, 1e-12), "{}", r.infom);
        assert!(close(r.infoc, 0.81347240130790166, 1e-12), "{}", r.infoc);
        assert_eq!(r.active_latents, vec![true, true, true, true, true, false]);
        assert!(close(r.nmi[0][0], 0.85047228559466093, 1e-12) && close(r.nmi[1][4], 0.60289994633271538, 1e-12));
        assert_eq!(r.nmi[0][1], 0.0, "clipped at 0 as the reference's");
        // The reference stops its solver at 100 iterations (0.53844514727734227), or with
        // tolerance 1e-10 at 0.5384451851561952; scikit-learn's L-BFGS also stops when the
        // loss falls by less than 64 ε, so its weights are good to ≈ 1e-7. Ours (gradient
        // 1e-8; the same to 1e-11 at gradient 1e-11): 0.53844522.
        assert!(close(r.infoe.unwrap(), 0.5384451851561952, 1e-6), "{:?}", r.infoe);
        // `discrete_latents=True` on the identity codes.
        let r = run(&a.identity, &a.factors, true, true);
        assert!(close(r.infom, 0.99055181264111647, 1e-12), "{}", r.infom);
        assert!(close(r.infoc, 0.99055180420323152, 1e-12), "{}", r.infoc);
        // Separable: the loss tends to 0 and InfoE to 1 (reference at 100 iterations: 0.99999991).
        assert!(r.infoe.unwrap() > 0.999_999 && r.infoe.unwrap() <= 1.0, "{:?}", r.infoe);
    }

    #[test]
    fn properties_from_the_paper() {
        let a = arrays();
        let ident = run(&a.identity, &a.factors, true, false);
        // Duplicating a latent lowers compactness and leaves modularity.
        let mut dup = a.identity.clone();
        dup.push(a.identity[0].clone());
        let d = run(&dup, &a.factors, true, false);
        assert!(d.infoc < ident.infoc - 0.05 && (d.infom - ident.infom).abs() < 0.01, "{d:?}");
        // A rotation of two latents lowers modularity; explicitness stays (linear probe).
        let rot: Vec<Vec<f64>> = vec![
            a.mixed[0].iter().zip(&a.mixed[1]).map(|(x, y)| x + y).collect(),
            a.mixed[0].iter().zip(&a.mixed[1]).map(|(x, y)| x - y).collect(),
            a.mixed[2].clone(),
            a.mixed[3].clone(),
            a.mixed[4].clone(),
        ];
        let (m0, m1) = (run(&mixed5(&a), &a.factors, false, true), run(&rot, &a.factors, false, true));
        assert!(m1.infom < m0.infom - 0.05, "{} vs {}", m1.infom, m0.infom);
        assert!((m1.infoe.unwrap() - m0.infoe.unwrap()).abs() < 1e-6, "{:?} vs {:?}", m1.infoe, m0.infoe);
        // Noise latents: nothing explicit, no information.
        let noise = vec![a.mixed[3].clone(), a.mixed[3].iter().map(|v| (v * 7.0).sin()).collect()];
        let z = infomec_columns(&noise, &a.factors, 0, &InfomecConfig::default());
        match z {
            Ok(r) => assert!(r.infoe.unwrap() < 0.01, "{r:?}"),
            Err(e) => assert!(e.to_string().contains("no information"), "{e}"),
        }
    }
}
