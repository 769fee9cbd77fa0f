//! Separated Attribute Predictability (Kumar et al. 2018), as in the reference study for
//! discrete factors.
//!
//! Estimator: for each (code i, factor k), a linear SVM on the single feature z_i
//! ([`crate::linear_svm`]: C = 0.01, balanced class weights) is fitted on the first
//! `num_train` (10,000) rows and scored by accuracy on the next `num_test` (5,000);
//! SAP = mean over factors of (best − second best accuracy across codes).

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::{Codes, Factors, check_same_samples, train_test_sizes};
use crate::error::{Result, degenerate};
use crate::linear_svm::{LinearSvmConfig, OneFeatureSvm};
use crate::report::{Report, ToReport, matrix};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SapConfig {
    pub num_train: usize,
    pub num_test: usize,
    pub svm: LinearSvmConfig,
}

impl Default for SapConfig {
    fn default() -> Self {
        SapConfig {
            num_train: 10_000,
            num_test: 5_000,
            svm: LinearSvmConfig::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SapResult {
    pub score: f64,
    /// Test accuracy, [code][factor].
    pub score_matrix: Vec<Vec<f64>>,
    pub num_train: usize,
    pub num_test: usize,
    pub seed: Option<u64>,
}

pub fn sap(codes: &Codes, factors: &Factors, config: &SapConfig) -> Result<SapResult> {
    check_same_samples(codes, factors)?;
    let d = codes.num_codes();
    if d < 2 {
        return Err(degenerate("sap", "needs at least 2 codes"));
    }
    let (num_train, num_test) = train_test_sizes(
        "sap",
        codes.num_samples(),
        config.num_train,
        config.num_test,
    )?;
    let train = codes.rows(0, num_train);
    let test = codes.rows(num_train, num_test);
    let k = factors.num_factors();
    let y_train: Vec<Vec<usize>> = (0..k)
        .map(|f| factors.rows(0, num_train).column(f))
        .collect();
    let y_test: Vec<Vec<usize>> = (0..k)
        .map(|f| factors.rows(num_train, num_test).column(f))
        .collect();
    let score_matrix: Vec<Vec<f64>> = (0..d)
        .into_par_iter()
        .map(|i| {
            let (x_train, x_test) = (train.column(i), test.column(i));
            (0..k)
                .map(|f| {
                    OneFeatureSvm::fit(&x_train, &y_train[f], &config.svm)?
                        .accuracy(&x_test, &y_test[f])
                })
                .collect::<Result<Vec<f64>>>()
        })
        .collect::<Result<_>>()?;
    Ok(SapResult {
        score: sap_from_score_matrix(&score_matrix)?,
        score_matrix,
        num_train,
        num_test,
        seed: None,
    })
}

/// Mean over factors of the gap between the two best codes, from accuracies
/// [code][factor].
pub fn sap_from_score_matrix(scores: &[Vec<f64>]) -> Result<f64> {
    if scores.len() < 2 {
        return Err(degenerate("sap", "needs at least 2 codes"));
    }
    let k = scores[0].len();
    if k == 0 || scores.iter().any(|r| r.len() != k) {
        return Err(degenerate(
            "sap",
            "the score matrix must be rectangular with at least one factor",
        ));
    }
    let gaps: f64 = (0..k)
        .map(|f| {
            let mut column: Vec<f64> = scores.iter().map(|r| r[f]).collect();
            column.sort_by(|a, b| b.total_cmp(a));
            column[0] - column[1]
        })
        .sum();
    Ok(gaps / k as f64)
}

impl ToReport for SapResult {
    fn write_to(&self, r: &mut Report) {
        r.insert_f64("sap.score", self.score);
        r.insert("sap.score_matrix", matrix(&self.score_matrix));
        r.insert("sap.num_train", self.num_train);
        r.insert("sap.num_test", self.num_test);
        r.insert_seed("sap", self.seed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn score_matrix_gap() {
        let m = vec![vec![0.9, 0.5], vec![0.4, 0.5], vec![0.2, 0.6]];
        assert!((sap_from_score_matrix(&m).unwrap() - (0.5 + 0.1) / 2.0).abs() < 1e-12);
        assert!(sap_from_score_matrix(&m[..1]).is_err());
    }

    #[test]
    fn binary_factors_identity_versus_duplicated() {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let n = 3000;
        let factors: Vec<usize> = (0..n * 2).map(|_| rng.random_range(0..2)).collect();
        let noisy = |c: usize, rng: &mut ChaCha8Rng| c as f32 + rng.random_range(-0.2..0.2);
        let identity: Vec<f32> = factors.iter().map(|&c| noisy(c, &mut rng)).collect();
        let config = SapConfig {
            num_train: 2000,
            num_test: 1000,
            ..Default::default()
        };
        let f = Factors::new(&factors, n, 2).unwrap();
        let r = sap(&Codes::new(&identity, n, 2).unwrap(), &f, &config).unwrap();
        // Each code predicts its factor perfectly and the other one at chance.
        assert!(r.score > 0.4, "{r:?}");
        assert_eq!(r.score_matrix[0][0], 1.0);
        // Factor 0 encoded twice: no gap for it.
        let dup: Vec<f32> = factors
            .chunks(2)
            .flat_map(|row| [row[0] as f32, row[0] as f32 + 0.01])
            .collect();
        let r = sap(&Codes::new(&dup, n, 2).unwrap(), &f, &config).unwrap();
        assert!(r.score < 0.05, "{r:?}");
    }
}
