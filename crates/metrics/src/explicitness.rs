//! Explicitness (Ridgeway & Mozer 2018), as in the reference study.
//!
//! Estimator: codes are standardized with the mean and standard deviation (ddof 0) of the
//! first `num_train` (10,000) rows; for each factor a logistic regression
//! ([`crate::logistic`], C = 1) is fitted on all codes; its predicted class probabilities
//! on the training rows and on the next `num_test` (5,000) rows give a macro-averaged
//! one-vs-rest ROC-AUC; explicitness is the mean over factors.
//!
//! Degenerate cases the reference does not handle: a constant code is left unscaled
//! (standard deviation taken as 1); a class without positives or without negatives in the
//! evaluated rows is left out of the macro average (its AUC is undefined); rows of a
//! class the classifier never saw count as negatives of every known class.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::{Codes, Factors, check_same_samples, train_test_sizes};
use crate::error::{Result, degenerate};
use crate::logistic::{LogisticConfig, LogisticRegression};
use crate::report::{Report, ToReport, vector};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExplicitnessConfig {
    pub num_train: usize,
    pub num_test: usize,
    pub logistic: LogisticConfig,
}

impl Default for ExplicitnessConfig {
    fn default() -> Self {
        ExplicitnessConfig {
            num_train: 10_000,
            num_test: 5_000,
            logistic: LogisticConfig::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExplicitnessResult {
    pub score_train: f64,
    pub score_test: f64,
    pub per_factor_train: Vec<f64>,
    pub per_factor_test: Vec<f64>,
    pub num_train: usize,
    pub num_test: usize,
    pub seed: Option<u64>,
}

/// Area under the ROC curve of `scores` for the positives, by the rank-sum (Mann–Whitney)
/// identity with average ranks for ties; None without positives or without negatives.
pub fn roc_auc(scores: &[f64], positive: &[bool]) -> Option<f64> {
    let n_pos = positive.iter().filter(|&&p| p).count();
    let n_neg = positive.len() - n_pos;
    if n_pos == 0 || n_neg == 0 || scores.len() != positive.len() {
        return None;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let mut rank_sum_pos = 0.0;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        // Ranks i+1..=j+1 share their average.
        let average_rank = (i + j + 2) as f64 / 2.0;
        rank_sum_pos += average_rank * order[i..=j].iter().filter(|&&s| positive[s]).count() as f64;
        i = j + 1;
    }
    let (p, q) = (n_pos as f64, n_neg as f64);
    Some((rank_sum_pos - p * (p + 1.0) / 2.0) / (p * q))
}

/// Macro ROC-AUC of class probabilities (n × classes) against labels.
fn macro_auc(proba: &[f64], classes: &[usize], labels: &[usize]) -> Option<f64> {
    let c = classes.len();
    let aucs: Vec<f64> = (0..c)
        .filter_map(|j| {
            let scores: Vec<f64> = proba.iter().skip(j).step_by(c).copied().collect();
            let positive: Vec<bool> = labels.iter().map(|&l| l == classes[j]).collect();
            roc_auc(&scores, &positive)
        })
        .collect();
    (!aucs.is_empty()).then(|| aucs.iter().sum::<f64>() / aucs.len() as f64)
}

fn standardized(codes: &Codes, mean: &[f64], std: &[f64]) -> Vec<f64> {
    let d = codes.num_codes();
    codes
        .values()
        .iter()
        .enumerate()
        .map(|(i, &v)| (v as f64 - mean[i % d]) / std[i % d])
        .collect()
}

pub fn explicitness(
    codes: &Codes,
    factors: &Factors,
    config: &ExplicitnessConfig,
) -> Result<ExplicitnessResult> {
    check_same_samples(codes, factors)?;
    let (num_train, num_test) = train_test_sizes(
        "explicitness",
        codes.num_samples(),
        config.num_train,
        config.num_test,
    )?;
    let (train, test) = (codes.rows(0, num_train), codes.rows(num_train, num_test));
    let d = codes.num_codes();
    let mean: Vec<f64> = (0..d)
        .map(|j| train.column(j).iter().sum::<f64>() / num_train as f64)
        .collect();
    let std: Vec<f64> = (0..d)
        .map(|j| {
            let var = train
                .column(j)
                .iter()
                .map(|v| (v - mean[j]).powi(2))
                .sum::<f64>()
                / num_train as f64;
            if var > 0.0 { var.sqrt() } else { 1.0 }
        })
        .collect();
    let (x_train, x_test) = (
        standardized(&train, &mean, &std),
        standardized(&test, &mean, &std),
    );
    let per_factor: Vec<(f64, f64)> = (0..factors.num_factors())
        .into_par_iter()
        .map(|k| {
            let y_train = factors.rows(0, num_train).column(k);
            let y_test = factors.rows(num_train, num_test).column(k);
            let model = LogisticRegression::fit(&x_train, d, &y_train, &config.logistic)?;
            let auc = |x: &[f64], y: &[usize]| -> Result<f64> {
                macro_auc(&model.predict_proba(x)?, model.classes(), y).ok_or_else(|| {
                    degenerate(
                        "explicitness",
                        format!("factor {k} has a single class in the evaluated rows"),
                    )
                })
            };
            Ok((auc(&x_train, &y_train)?, auc(&x_test, &y_test)?))
        })
        .collect::<Result<_>>()?;
    let per_factor_train: Vec<f64> = per_factor.iter().map(|p| p.0).collect();
    let per_factor_test: Vec<f64> = per_factor.iter().map(|p| p.1).collect();
    Ok(ExplicitnessResult {
        score_train: per_factor_train.iter().sum::<f64>() / per_factor_train.len() as f64,
        score_test: per_factor_test.iter().sum::<f64>() / per_factor_test.len() as f64,
        per_factor_train,
        per_factor_test,
        num_train,
        num_test,
        seed: None,
    })
}

impl ToReport for ExplicitnessResult {
    fn write_to(&self, r: &mut Report) {
        r.insert_f64("explicitness.score_train", self.score_train);
        r.insert_f64("explicitness.score_test", self.score_test);
        r.insert(
            "explicitness.per_factor_train",
            vector(&self.per_factor_train),
        );
        r.insert(
            "explicitness.per_factor_test",
            vector(&self.per_factor_test),
        );
        r.insert("explicitness.num_train", self.num_train);
        r.insert("explicitness.num_test", self.num_test);
        r.insert_seed("explicitness", self.seed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn auc_by_counting_pairs() {
        let scores = [0.1, 0.4, 0.35, 0.8, 0.4];
        let positive = [false, true, false, true, false];
        // Count positive–negative pairs directly: ties count ½.
        let mut wins = 0.0;
        let mut pairs = 0.0;
        for (i, &pi) in positive.iter().enumerate() {
            for (j, &pj) in positive.iter().enumerate() {
                if pi && !pj {
                    pairs += 1.0;
                    wins += if scores[i] > scores[j] {
                        1.0
                    } else if scores[i] == scores[j] {
                        0.5
                    } else {
                        0.0
                    };
                }
            }
        }
        assert!((roc_auc(&scores, &positive).unwrap() - wins / pairs).abs() < 1e-15);
        assert_eq!(roc_auc(&[1.0, 2.0], &[true, true]), None);
    }

    #[test]
    fn informative_codes_are_explicit_and_noise_is_not() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let n = 1500;
        let factors: Vec<usize> = (0..n * 2)
            .map(|i| rng.random_range(0..[3, 4][i % 2]))
            .collect();
        let config = ExplicitnessConfig {
            num_train: 1000,
            num_test: 500,
            ..Default::default()
        };
        let f = Factors::new(&factors, n, 2).unwrap();
        let informative: Vec<f32> = factors
            .iter()
            .map(|&c| c as f32 + rng.random_range(-0.1..0.1))
            .collect();
        let r = explicitness(&Codes::new(&informative, n, 2).unwrap(), &f, &config).unwrap();
        assert!(r.score_test > 0.95, "{r:?}");
        let noise: Vec<f32> = (0..n * 2).map(|_| rng.random_range(-1.0..1.0)).collect();
        let r = explicitness(&Codes::new(&noise, n, 2).unwrap(), &f, &config).unwrap();
        assert!((r.score_test - 0.5).abs() < 0.1, "{r:?}");
    }
}
