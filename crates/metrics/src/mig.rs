//! Mutual Information Gap (Chen et al. 2018), reference (discrete) variant.
//!
//! Estimator: codes are histogram-discretized into `num_bins` (20) bins per code, the
//! mutual information m[i][k] = I(code_i; factor_k) is the plug-in contingency estimate,
//! H_k the empirical entropy of factor k; for each factor the column is sorted
//! descending and MIG = mean_k (m_(1)k − m_(2)k) / H_k. No clamping, no pruning, all
//! factors. Sample: the first `num_train` (10,000) rows of the codes.
//!
//! A factor that is constant in the sample has H_k = 0 and an undefined gap (the
//! reference divides by zero); it is left out of the mean and listed in the result.
//! The continuous-estimator variant is [`crate::mig_continuous`].

use serde::{Deserialize, Serialize};

use crate::data::{Codes, Factors, check_same_samples};
use crate::discretize::DiscreteSample;
use crate::error::{Result, degenerate, invalid};
use crate::report::{Report, ToReport, matrix, vector};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MigConfig {
    /// Rows of the codes used (the first ones); fewer available rows: all of them.
    pub num_train: usize,
    pub num_bins: usize,
}

impl Default for MigConfig {
    fn default() -> Self {
        MigConfig {
            num_train: 10_000,
            num_bins: 20,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MigResult {
    pub score: f64,
    /// Normalized gap per factor; None for a factor constant in the sample.
    pub per_factor: Vec<Option<f64>>,
    /// m[code][factor], nats.
    pub mutual_information: Vec<Vec<f64>>,
    pub factor_entropies: Vec<f64>,
    pub num_samples: usize,
    pub num_bins: usize,
    pub seed: Option<u64>,
}

/// MIG of precomputed codes and their factors.
pub fn mig(codes: &Codes, factors: &Factors, config: &MigConfig) -> Result<MigResult> {
    check_same_samples(codes, factors)?;
    if config.num_train == 0 {
        return Err(invalid("mig.num_train", "must be positive"));
    }
    let n = codes.num_samples().min(config.num_train);
    let sample = DiscreteSample::new(
        &codes.rows(0, n),
        Some(&factors.rows(0, n)),
        config.num_bins,
    )?;
    let mi = sample.code_factor_mi();
    let entropies = sample.factor_entropies();
    let (score, per_factor) = mig_from_mutual_info(&mi, &entropies)?;
    Ok(MigResult {
        score,
        per_factor,
        mutual_information: mi,
        factor_entropies: entropies,
        num_samples: n,
        num_bins: config.num_bins,
        seed: None,
    })
}

/// MIG from a mutual-information matrix m[code][factor] and the factor entropies.
/// Returns the score and the per-factor normalized gaps (None where H_k = 0).
pub fn mig_from_mutual_info(mi: &[Vec<f64>], entropies: &[f64]) -> Result<(f64, Vec<Option<f64>>)> {
    if mi.len() < 2 {
        return Err(degenerate(
            "mig",
            format!("needs at least 2 codes, got {}", mi.len()),
        ));
    }
    let k = entropies.len();
    if let Some(row) = mi.iter().find(|r| r.len() != k) {
        return Err(crate::error::MetricsError::Shape {
            what: "mutual information row (one value per factor)",
            got: row.len(),
            expected: k,
        });
    }
    let per_factor: Vec<Option<f64>> = (0..k)
        .map(|f| {
            if entropies[f].is_nan() || entropies[f] <= 0.0 {
                return None;
            }
            let mut column: Vec<f64> = mi.iter().map(|r| r[f]).collect();
            column.sort_by(|a, b| b.total_cmp(a));
            Some((column[0] - column[1]) / entropies[f])
        })
        .collect();
    let used: Vec<f64> = per_factor.iter().flatten().copied().collect();
    if used.is_empty() {
        return Err(degenerate("mig", "every factor is constant in the sample"));
    }
    Ok((used.iter().sum::<f64>() / used.len() as f64, per_factor))
}

impl ToReport for MigResult {
    fn write_to(&self, r: &mut Report) {
        r.insert_f64("mig.discrete", self.score);
        r.insert(
            "mig.discrete_per_factor",
            serde_json::Value::Array(
                self.per_factor
                    .iter()
                    .map(|v| v.map_or(serde_json::Value::Null, crate::report::finite_or_null))
                    .collect(),
            ),
        );
        r.insert("mig.mutual_information", matrix(&self.mutual_information));
        r.insert("mig.factor_entropies", vector(&self.factor_entropies));
        r.insert("mig.num_samples", self.num_samples);
        r.insert("mig.num_bins", self.num_bins);
        r.insert_seed("mig", self.seed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn uniform_factors(n: usize, sizes: &[usize], seed: u64) -> Vec<usize> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..n * sizes.len())
            .map(|i| rng.random_range(0..sizes[i % sizes.len()]))
            .collect()
    }

    #[test]
    fn identity_representation_scores_near_one() {
        let sizes = [3, 6, 10, 16, 16];
        let n = 10_000;
        let f = uniform_factors(n, &sizes, 1);
        let codes: Vec<f32> = f.iter().map(|&c| c as f32).collect();
        let r = mig(
            &Codes::new(&codes, n, 5).unwrap(),
            &Factors::new(&f, n, 5).unwrap(),
            &MigConfig::default(),
        )
        .unwrap();
        assert!(r.score >= 0.9, "{r:?}");
        assert_eq!(r.num_samples, n);
    }

    #[test]
    fn duplicated_latent_scores_near_zero() {
        // Every factor is encoded twice: the top two codes carry the same information.
        let sizes = [3, 6, 10];
        let n = 10_000;
        let f = uniform_factors(n, &sizes, 2);
        let mut codes = Vec::with_capacity(n * 6);
        for row in f.chunks(3) {
            for &c in row {
                codes.push(c as f32);
                codes.push(c as f32);
            }
        }
        let r = mig(
            &Codes::new(&codes, n, 6).unwrap(),
            &Factors::new(&f, n, 3).unwrap(),
            &MigConfig::default(),
        )
        .unwrap();
        assert!(r.score <= 0.1, "{r:?}");
    }

    #[test]
    fn uses_at_most_num_train_rows_and_skips_constant_factors() {
        let n = 500;
        let mut f = uniform_factors(n, &[4, 1], 3);
        for row in f.chunks_mut(2) {
            row[1] = 0;
        }
        let codes: Vec<f32> = f.iter().map(|&c| c as f32).collect();
        let config = MigConfig {
            num_train: 200,
            num_bins: 20,
        };
        let r = mig(
            &Codes::new(&codes, n, 2).unwrap(),
            &Factors::new(&f, n, 2).unwrap(),
            &config,
        )
        .unwrap();
        assert_eq!(r.num_samples, 200);
        assert_eq!(r.per_factor[1], None);
        assert!((r.score - 1.0).abs() < 1e-12, "{r:?}");
    }

    #[test]
    fn single_code_is_an_error() {
        assert!(mig_from_mutual_info(&[vec![1.0]], &[1.0]).is_err());
    }
}
