//! Modularity (Ridgeway & Mozer 2018), as in the reference study.
//!
//! Estimator: m = discrete mutual information matrix [codes × factors] of the
//! histogram-discretized (20 bins) training codes. Per code i: θ_i = max_k m_ik²,
//! δ_i = (Σ_k m_ik² − θ_i) / (θ_i (K − 1)), modularity_i = 1 − δ_i (0 when θ_i = 0);
//! the score is the mean over codes. Sample: the first `num_train` (10,000) rows.
//! Explicitness, computed alongside in the reference, is [`crate::explicitness`].

use serde::{Deserialize, Serialize};

use crate::data::{Codes, Factors, check_same_samples};
use crate::discretize::DiscreteSample;
use crate::error::{MetricsError, Result, degenerate, invalid};
use crate::report::{Report, ToReport, matrix, vector};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModularityConfig {
    pub num_train: usize,
    pub num_bins: usize,
}

impl Default for ModularityConfig {
    fn default() -> Self {
        ModularityConfig {
            num_train: 10_000,
            num_bins: 20,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModularityResult {
    pub score: f64,
    pub per_code: Vec<f64>,
    pub mutual_information: Vec<Vec<f64>>,
    pub num_samples: usize,
    pub num_bins: usize,
    pub seed: Option<u64>,
}

pub fn modularity(
    codes: &Codes,
    factors: &Factors,
    config: &ModularityConfig,
) -> Result<ModularityResult> {
    check_same_samples(codes, factors)?;
    if config.num_train == 0 {
        return Err(invalid("modularity.num_train", "must be positive"));
    }
    let n = codes.num_samples().min(config.num_train);
    let mi = DiscreteSample::new(
        &codes.rows(0, n),
        Some(&factors.rows(0, n)),
        config.num_bins,
    )?
    .code_factor_mi();
    let per_code = modularity_per_code(&mi)?;
    Ok(ModularityResult {
        score: per_code.iter().sum::<f64>() / per_code.len() as f64,
        per_code,
        mutual_information: mi,
        num_samples: n,
        num_bins: config.num_bins,
        seed: None,
    })
}

/// Modularity of each code from a mutual-information (or importance) matrix
/// m[code][factor].
pub fn modularity_per_code(mi: &[Vec<f64>]) -> Result<Vec<f64>> {
    let k = mi.first().map(Vec::len).unwrap_or(0);
    if mi.is_empty() || k == 0 {
        return Err(MetricsError::Empty {
            what: "mutual information matrix",
        });
    }
    if k < 2 {
        return Err(degenerate("modularity", "needs at least 2 factors"));
    }
    mi.iter()
        .map(|row| {
            if row.len() != k {
                return Err(MetricsError::Shape {
                    what: "mutual information row (one value per factor)",
                    got: row.len(),
                    expected: k,
                });
            }
            let squares: Vec<f64> = row.iter().map(|v| v * v).collect();
            let theta = squares.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            if theta == 0.0 {
                return Ok(0.0);
            }
            let delta = (squares.iter().sum::<f64>() - theta) / (theta * (k as f64 - 1.0));
            Ok(1.0 - delta)
        })
        .collect()
}

/// Mean modularity over codes.
pub fn modularity_from_mutual_info(mi: &[Vec<f64>]) -> Result<f64> {
    let per_code = modularity_per_code(mi)?;
    Ok(per_code.iter().sum::<f64>() / per_code.len() as f64)
}

impl ToReport for ModularityResult {
    fn write_to(&self, r: &mut Report) {
        r.insert_f64("modularity.score", self.score);
        r.insert("modularity.per_code", vector(&self.per_code));
        r.insert(
            "modularity.mutual_information",
            matrix(&self.mutual_information),
        );
        r.insert("modularity.num_samples", self.num_samples);
        r.insert("modularity.num_bins", self.num_bins);
        r.insert_seed("modularity", self.seed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diagonal(n: usize, value: f64) -> Vec<Vec<f64>> {
        (0..n)
            .map(|i| (0..n).map(|j| if i == j { value } else { 0.0 }).collect())
            .collect()
    }

    #[test]
    fn golden_values() {
        // Diagonal → 1.
        assert!((modularity_from_mutual_info(&diagonal(5, 5.0)).unwrap() - 1.0).abs() < 1e-12);
        // Diagonal with an empty code → (1 + 1 + 0) / 3.
        let m = vec![vec![1.0, 0.0], vec![0.0, 1.0], vec![0.0, 0.0]];
        assert!((modularity_from_mutual_info(&m).unwrap() - 2.0 / 3.0).abs() < 1e-12);
        // Each code explains two of ten factors equally: δ = 1/9.
        let m: Vec<Vec<f64>> = diagonal(5, 5.0)
            .into_iter()
            .map(|row| row.iter().chain(&row).copied().collect())
            .collect();
        assert!((modularity_from_mutual_info(&m).unwrap() - (1.0 - 1.0 / 9.0)).abs() < 1e-12);
        // All zero → 0; redundant codes are still modular.
        assert_eq!(
            modularity_from_mutual_info(&vec![vec![0.0; 4]; 4]).unwrap(),
            0.0
        );
        let mut m = diagonal(5, 5.0);
        m.extend(diagonal(5, 5.0));
        assert!((modularity_from_mutual_info(&m).unwrap() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn ragged_or_empty_matrix_is_an_error() {
        assert!(modularity_from_mutual_info(&[]).is_err());
        assert!(modularity_from_mutual_info(&[vec![1.0, 0.0], vec![1.0]]).is_err());
    }

    #[test]
    fn from_codes_identity_is_modular() {
        let n = 3000;
        let f: Vec<usize> = (0..n).flat_map(|i| [i % 4, (i / 4) % 5]).collect();
        let codes: Vec<f32> = f.iter().map(|&c| c as f32).collect();
        let r = modularity(
            &Codes::new(&codes, n, 2).unwrap(),
            &Factors::new(&f, n, 2).unwrap(),
            &ModularityConfig::default(),
        )
        .unwrap();
        assert!(r.score > 0.99, "{r:?}");
    }
}
