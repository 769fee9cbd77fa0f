//! MIG with a continuous estimator over Gaussian posteriors (Chen et al. 2018, the
//! β-TCVAE paper's original), a named alternative to the reference (discrete) MIG of
//! [`crate::mig`]; it gives different numbers and needs the encoder's posteriors.
//!
//! Estimator: one z_m ~ q(z|x_m) for each of `num_z_samples` samples (default 10,000; all
//! N samples once when N ≤ that, else distinct samples drawn uniformly). For code j:
//! H(z_j) ≈ −mean_m ln q(z_mj) with q(z_j) = (1/N) Σ_n N(z_j; μ_nj, σ²_nj) over all N
//! samples; H(z_j | v_k) ≈ −mean_m ln q(z_mj | v_k = v_k(x_m)) with q(z_j | v_k = c) the
//! mixture over the N_c samples of class c. I(z_j; v_k) = H(z_j) − H(z_j | v_k), clamped at
//! 0 as in the original. Normalization: ln(number of classes of v_k in the sample), the
//! entropy of a uniform factor (the original's choice), or the empirical entropy. The
//! original excludes dSprites' shape factor: pass `exclude_factors: vec![0]` for that.
//! Cost O(M · N · D).

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::{Factors, GaussianPosteriors};
use crate::discretize::mutual_info_dense;
use crate::error::{MetricsError, Result, degenerate, invalid};
use crate::gaussian::{
    Params, choose_samples, draw_latents, exp_nonpositive, lane_sum, log_sum_exp_slice, max_of,
    with_avx2,
};
use crate::labels::DenseLabels;
use crate::report::{Report, ToReport, matrix};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MigNormalization {
    /// ln K_k, K_k = number of classes of factor k in the sample.
    LogNumClasses,
    /// Empirical entropy of factor k in the sample.
    EmpiricalEntropy,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MigContinuousConfig {
    pub num_z_samples: usize,
    pub normalization: MigNormalization,
    /// Factor indices left out of the mean.
    pub exclude_factors: Vec<usize>,
}

impl Default for MigContinuousConfig {
    fn default() -> Self {
        MigContinuousConfig {
            num_z_samples: 10_000,
            normalization: MigNormalization::LogNumClasses,
            exclude_factors: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MigContinuousResult {
    pub score: f64,
    pub per_factor: Vec<Option<f64>>,
    /// I(z_j; v_k) [code][factor], nats, clamped at 0.
    pub mutual_information: Vec<Vec<f64>>,
    pub normalization: MigNormalization,
    pub exclude_factors: Vec<usize>,
    pub num_samples: usize,
    pub num_z_samples: usize,
    pub seed: Option<u64>,
}

pub fn mig_continuous(
    posteriors: &GaussianPosteriors,
    factors: &Factors,
    seed: u64,
    config: &MigContinuousConfig,
) -> Result<MigContinuousResult> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut result = mig_continuous_with_rng(posteriors, factors, &mut rng, config)?;
    result.seed = Some(seed);
    Ok(result)
}

pub fn mig_continuous_with_rng(
    posteriors: &GaussianPosteriors,
    factors: &Factors,
    rng: &mut ChaCha8Rng,
    config: &MigContinuousConfig,
) -> Result<MigContinuousResult> {
    if factors.num_samples() != posteriors.num_samples() {
        return Err(MetricsError::Shape {
            what: "factors (rows must match the posteriors)",
            got: factors.num_samples(),
            expected: posteriors.num_samples(),
        });
    }
    if config.num_z_samples == 0 {
        return Err(invalid("mig_continuous.num_z_samples", "must be positive"));
    }
    if let Some(&k) = config
        .exclude_factors
        .iter()
        .find(|&&k| k >= factors.num_factors())
    {
        return Err(invalid(
            "mig_continuous.exclude_factors",
            format!("factor {k} does not exist"),
        ));
    }
    let p = Params::new(posteriors);
    let (n, d) = (p.n, p.d);
    if d < 2 {
        return Err(degenerate("mig_continuous", "needs at least 2 codes"));
    }
    let labels: Vec<DenseLabels> = (0..factors.num_factors())
        .map(|k| DenseLabels::new(&factors.column(k)))
        .collect();
    // members[k][c]: samples of class c of factor k.
    let members: Vec<Vec<Vec<u32>>> = labels
        .iter()
        .map(|l| {
            let mut m = vec![Vec::new(); l.num_classes()];
            for (i, &c) in l.labels.iter().enumerate() {
                m[c as usize].push(i as u32);
            }
            m
        })
        .collect();
    let chosen = choose_samples(n, config.num_z_samples, rng);
    let z = draw_latents(&p, 0.0, &chosen, rng);
    let ln_n = (n as f64).ln();
    let num_factors = labels.len();

    // Per chosen sample: ln q(z_mj) (D values) and ln q(z_mj | v_k(x_m)) (K×D values).
    let per_sample: Vec<Vec<f64>> = chosen
        .par_iter()
        .zip(z.par_chunks(d))
        .map_init(
            || (vec![0.0; n * d], vec![0.0; n]),
            |(log_density, scaled), (&m, zm)| {
                if crate::interrupt::is_requested() {
                    // Skip the work; the check after the pass returns the error.
                    return Vec::new();
                }
                with_avx2(|| {
                    let mut out = vec![0.0; d * (1 + num_factors)];
                    for (j, column) in log_density.chunks_exact_mut(n).enumerate() {
                        p.log_densities(j, zm[j], column, None);
                        // Shift by the column maximum once; the class mixtures reuse the
                        // exponentials (their own maximum is at most this one).
                        let max = max_of(column);
                        for (e, &l) in scaled.iter_mut().zip(column.iter()) {
                            *e = exp_nonpositive(l - max);
                        }
                        out[j] = max + lane_sum(scaled).ln() - ln_n;
                        for (k, l) in labels.iter().enumerate() {
                            let class = &members[k][l.labels[m] as usize];
                            let sum: f64 = class.iter().map(|&i| scaled[i as usize]).sum();
                            // The class includes m itself, whose density is rarely more than
                            // e^-700 below the maximum; if it is, recompute with its own shift.
                            let log_sum = if sum > 1e-280 {
                                max + sum.ln()
                            } else {
                                let values: Vec<f64> =
                                    class.iter().map(|&i| column[i as usize]).collect();
                                log_sum_exp_slice(&values)
                            };
                            out[d + k * d + j] = log_sum - (class.len() as f64).ln();
                        }
                    }
                    out
                })
            },
        )
        .collect();
    crate::interrupt::check()?;
    let mean_of =
        |idx: usize| per_sample.iter().map(|s| s[idx]).sum::<f64>() / per_sample.len() as f64;
    let mutual_information: Vec<Vec<f64>> = (0..d)
        .map(|j| {
            let h_marginal = -mean_of(j);
            (0..num_factors)
                .map(|k| {
                    let h_conditional = -mean_of(d + k * d + j);
                    (h_marginal - h_conditional).max(0.0)
                })
                .collect()
        })
        .collect();
    let per_factor: Vec<Option<f64>> = (0..num_factors)
        .map(|k| {
            if config.exclude_factors.contains(&k) {
                return None;
            }
            let l = &labels[k];
            let h = match config.normalization {
                MigNormalization::LogNumClasses => (l.num_classes() as f64).ln(),
                MigNormalization::EmpiricalEntropy => {
                    mutual_info_dense(&l.labels, l.num_classes(), &l.labels, l.num_classes())
                }
            };
            if h.is_nan() || h <= 0.0 {
                return None;
            }
            let mut column: Vec<f64> = mutual_information.iter().map(|r| r[k]).collect();
            column.sort_by(|a, b| b.total_cmp(a));
            Some((column[0] - column[1]) / h)
        })
        .collect();
    let used: Vec<f64> = per_factor.iter().flatten().copied().collect();
    if used.is_empty() {
        return Err(degenerate(
            "mig_continuous",
            "no factor left (all excluded or constant)",
        ));
    }
    Ok(MigContinuousResult {
        score: used.iter().sum::<f64>() / used.len() as f64,
        per_factor,
        mutual_information,
        normalization: config.normalization,
        exclude_factors: config.exclude_factors.clone(),
        num_samples: n,
        num_z_samples: chosen.len(),
        seed: None,
    })
}

impl ToReport for MigContinuousResult {
    fn write_to(&self, r: &mut Report) {
        r.insert_f64("mig.continuous", self.score);
        r.insert(
            "mig.continuous_per_factor",
            serde_json::Value::Array(
                self.per_factor
                    .iter()
                    .map(|v| v.map_or(serde_json::Value::Null, crate::report::finite_or_null))
                    .collect(),
            ),
        );
        r.insert(
            "mig.continuous_mutual_information",
            matrix(&self.mutual_information),
        );
        r.insert(
            "mig.continuous_normalization",
            match self.normalization {
                MigNormalization::LogNumClasses => "log_num_classes",
                MigNormalization::EmpiricalEntropy => "empirical_entropy",
            },
        );
        r.insert(
            "mig.continuous_exclude_factors",
            self.exclude_factors.clone(),
        );
        r.insert("mig.continuous_num_samples", self.num_samples);
        r.insert("mig.continuous_num_z_samples", self.num_z_samples);
        r.insert(
            "mig.continuous_seed",
            self.seed
                .map_or(serde_json::Value::Null, serde_json::Value::from),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    /// μ = factor class (+ nothing) with small σ: code j knows factor j exactly.
    fn identity_posteriors(
        n: usize,
        sizes: &[usize],
        sigma: f32,
        duplicate: bool,
        seed: u64,
    ) -> (Vec<f32>, Vec<f32>, Vec<usize>, usize) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let factors: Vec<usize> = (0..n * sizes.len())
            .map(|i| rng.random_range(0..sizes[i % sizes.len()]))
            .collect();
        let mut mean = Vec::new();
        for row in factors.chunks(sizes.len()) {
            for &c in row {
                mean.push(c as f32);
                if duplicate {
                    mean.push(c as f32);
                }
            }
        }
        let d = mean.len() / n;
        (mean, vec![2.0 * sigma.ln(); n * d], factors, d)
    }

    #[test]
    fn identity_near_one_duplicate_near_zero() {
        let sizes = [3, 5];
        let n = 1500;
        let config = MigContinuousConfig {
            num_z_samples: 500,
            ..Default::default()
        };
        let (mean, logvar, factors, d) = identity_posteriors(n, &sizes, 0.05, false, 1);
        let post = GaussianPosteriors::new(&mean, &logvar, n, d).unwrap();
        let f = Factors::new(&factors, n, 2).unwrap();
        let r = mig_continuous(&post, &f, 0, &config).unwrap();
        assert!(r.score > 0.95, "{r:?}");
        assert_eq!(r.num_z_samples, 500);
        let (mean, logvar, factors, d) = identity_posteriors(n, &sizes, 0.05, true, 1);
        let post = GaussianPosteriors::new(&mean, &logvar, n, d).unwrap();
        let f = Factors::new(&factors, n, 2).unwrap();
        let r = mig_continuous(&post, &f, 0, &config).unwrap();
        assert!(r.score < 0.05, "{r:?}");
        let excluded = MigContinuousConfig {
            exclude_factors: vec![0],
            ..config.clone()
        };
        let r = mig_continuous(&post, &f, 0, &excluded).unwrap();
        assert_eq!(r.per_factor[0], None);
        let bad = MigContinuousConfig {
            exclude_factors: vec![7],
            ..config
        };
        assert!(mig_continuous(&post, &f, 0, &bad).is_err());
    }
}
