//! The downstream task of disentanglement_lib (`downstream_task.py`): how well a classifier
//! trained on the codes predicts each factor, for training sets of 10, 100, 1,000 and 10,000
//! points, tested on 5,000 (the reference study's settings). Two predictors, as the study's
//! two evaluations: one-vs-rest logistic regression with C chosen by 5-fold cross-validation
//! ([`LogisticRegressionCv`], `downstream_task_logistic_regression`) and gradient-boosted
//! trees ([`GradientBoostedTrees`], scikit-learn's defaults, `downstream_task_boosted_trees`).
//!
//! Per training size n and factor k: fit on n training rows, report the accuracy on them and
//! on the test rows; per size the mean and minimum over factors. Keys are the reference's,
//! under `downstream.<predictor>.`: `10:mean_train_accuracy`, `10:mean_test_accuracy`,
//! `10:min_train_accuracy`, `10:min_test_accuracy`, `10:train_accuracy_factor_0`,
//! `10:test_accuracy_factor_0`, ….
//!
//! Rows: the reference draws a fresh training and test set for every size; from one sample
//! we use the first n rows of a training pool (rows 0..max n) for size n and the rows after
//! the pool for testing, so every size has its own reference-sized sets (the sets of different
//! sizes are nested instead of independent). With fewer rows than the largest size plus the
//! test set, the rows are split in that proportion and the sizes that fit the smaller pool are
//! scored (the pool itself when none does).
//!
//! Degenerate cases: a training set in which a factor has one class gives, where the reference
//! raises, a constant prediction of that class (scored like any other prediction).

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::{Codes, Factors, check_same_samples};
use crate::error::{MetricsError, Result, invalid};
use crate::gbt::{GbtConfig, GradientBoostedTrees};
use crate::logistic_cv::{LogisticCvConfig, LogisticRegressionCv};
use crate::report::{Report, ToReport};

/// The classifier of a downstream evaluation (the reference's `predictor_fn`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Predictor {
    /// `logistic_regression_cv`: one-vs-rest, 10 Cs, 5 folds.
    LogisticRegressionCv,
    /// `gradient_boosting_classifier`: 100 stages of depth-3 trees, learning rate 0.1.
    BoostedTrees,
}

impl Predictor {
    /// Our key segment and the reference evaluation's name suffix.
    pub fn key(self) -> &'static str {
        match self {
            Predictor::LogisticRegressionCv => "logistic_regression",
            Predictor::BoostedTrees => "boosted_trees",
        }
    }
}

/// Settings of both predictors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[derive(Default)]
pub struct PredictorConfig {
    #[serde(default)]
    pub logistic: LogisticCvConfig,
    #[serde(default)]
    pub boosting: GbtConfig,
}


/// A fitted predictor of one factor.
#[derive(Debug, Clone)]
pub enum FittedPredictor {
    Logistic(LogisticRegressionCv),
    Trees(GradientBoostedTrees),
    /// The training labels held one class.
    Constant(usize),
}

impl FittedPredictor {
    /// Fits `predictor` on codes `x` (n×D) and labels `y`; `seed` varies the trees' feature
    /// orders (the reference leaves them to numpy's global generator).
    pub fn fit(predictor: Predictor, x: &[f32], d: usize, y: &[usize], config: &PredictorConfig, seed: u64) -> Result<Self> {
        if y.is_empty() {
            return Err(MetricsError::Empty { what: "predictor training set" });
        }
        if y.iter().all(|&v| v == y[0]) {
            return Ok(FittedPredictor::Constant(y[0]));
        }
        Ok(match predictor {
            Predictor::LogisticRegressionCv => {
                let x64: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
                FittedPredictor::Logistic(LogisticRegressionCv::fit(&x64, d, y, &config.logistic)?)
            }
            Predictor::BoostedTrees => {
                let boosting = GbtConfig { seed: config.boosting.seed ^ seed, ..config.boosting.clone() };
                FittedPredictor::Trees(GradientBoostedTrees::fit(x, d, y, &boosting)?)
            }
        })
    }

    pub fn predict(&self, x: &[f32], d: usize) -> Result<Vec<usize>> {
        match self {
            FittedPredictor::Logistic(m) => m.predict(&x.iter().map(|&v| f64::from(v)).collect::<Vec<_>>()),
            FittedPredictor::Trees(m) => m.predict(x),
            FittedPredictor::Constant(c) => Ok(vec![*c; x.len() / d.max(1)]),
        }
    }

    pub fn accuracy(&self, x: &[f32], d: usize, y: &[usize]) -> Result<f64> {
        let pred = self.predict(x, d)?;
        if pred.len() != y.len() || y.is_empty() {
            return Err(MetricsError::Shape { what: "labels", got: y.len(), expected: pred.len() });
        }
        Ok(pred.iter().zip(y).filter(|(a, b)| a == b).count() as f64 / y.len() as f64)
    }
}

/// Train and test accuracy of a fresh predictor per factor (the reference's `_compute_loss`).
pub fn factor_accuracies(
    predictor: Predictor,
    train: (&Codes, &Factors),
    test: (&Codes, &Factors),
    config: &PredictorConfig,
    seed: u64,
) -> Result<(Vec<f64>, Vec<f64>)> {
    let d = train.0.num_codes();
    if test.0.num_codes() != d {
        return Err(MetricsError::Shape { what: "test codes (columns must match the training codes)", got: test.0.num_codes(), expected: d });
    }
    let per_factor: Vec<(f64, f64)> = (0..train.1.num_factors())
        .into_par_iter()
        .map(|k| {
            let y_train = train.1.column(k);
            let y_test = test.1.column(k);
            let model = FittedPredictor::fit(predictor, train.0.values(), d, &y_train, config, seed ^ (k as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15))?;
            Ok((model.accuracy(train.0.values(), d, &y_train)?, model.accuracy(test.0.values(), d, &y_test)?))
        })
        .collect::<Result<_>>()?;
    Ok(per_factor.into_iter().unzip())
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DownstreamConfig {
    /// Training-set sizes (the reference study: 10, 100, 1,000, 10,000).
    pub num_train: Vec<usize>,
    pub num_test: usize,
    pub predictors: Vec<Predictor>,
    #[serde(default)]
    pub predictor: PredictorConfig,
}

impl Default for DownstreamConfig {
    fn default() -> Self {
        DownstreamConfig {
            num_train: vec![10, 100, 1000, 10_000],
            num_test: 5000,
            predictors: vec![Predictor::LogisticRegressionCv, Predictor::BoostedTrees],
            predictor: PredictorConfig::default(),
        }
    }
}

impl DownstreamConfig {
    /// Rows of the sample: the largest training size and the test set.
    pub fn sample_size(&self) -> usize {
        self.num_train.iter().copied().max().unwrap_or(0) + self.num_test
    }
}

/// Accuracies of one predictor at one training size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SizeAccuracies {
    pub num_train: usize,
    pub train_accuracy: Vec<f64>,
    pub test_accuracy: Vec<f64>,
}

impl SizeAccuracies {
    fn write_to(&self, prefix: &str, r: &mut Report) {
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let min = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
        let n = self.num_train;
        r.insert_f64(format!("{prefix}.{n}:mean_train_accuracy"), mean(&self.train_accuracy));
        r.insert_f64(format!("{prefix}.{n}:mean_test_accuracy"), mean(&self.test_accuracy));
        r.insert_f64(format!("{prefix}.{n}:min_train_accuracy"), min(&self.train_accuracy));
        r.insert_f64(format!("{prefix}.{n}:min_test_accuracy"), min(&self.test_accuracy));
        for (k, (a, b)) in self.train_accuracy.iter().zip(&self.test_accuracy).enumerate() {
            r.insert_f64(format!("{prefix}.{n}:train_accuracy_factor_{k}"), *a);
            r.insert_f64(format!("{prefix}.{n}:test_accuracy_factor_{k}"), *b);
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DownstreamResult {
    /// Per predictor, per training size.
    pub results: Vec<(Predictor, Vec<SizeAccuracies>)>,
    pub num_test: usize,
    pub seed: Option<u64>,
}

impl ToReport for DownstreamResult {
    fn write_to(&self, r: &mut Report) {
        for (p, sizes) in &self.results {
            for s in sizes {
                s.write_to(&format!("downstream.{}", p.key()), r);
            }
        }
        r.insert("downstream.num_test", self.num_test);
        r.insert_seed("downstream", self.seed);
    }
}

/// The training pool, the test rows and the training sizes scored from a sample of `rows`: the
/// configured ones when the sample holds the largest size plus the test set; else the rows are
/// split in the same proportion (as every metric with a test set does) and the sizes that fit
/// in the smaller pool are scored (the pool itself when none fits).
pub(crate) fn fit_sizes(metric: &'static str, rows: usize, num_train: &[usize], num_test: usize) -> Result<(usize, usize, Vec<usize>)> {
    let largest = num_train.iter().copied().max().unwrap_or(0);
    let (pool, test) = crate::data::train_test_sizes(metric, rows, largest, num_test)?;
    let mut sizes: Vec<usize> = num_train.iter().copied().filter(|&n| n <= pool).collect();
    if sizes.is_empty() {
        sizes.push(pool);
    }
    Ok((pool, test, sizes))
}

/// The downstream task on a sample (rows as in the module notes).
pub fn downstream(codes: &Codes, factors: &Factors, config: &DownstreamConfig, seed: Option<u64>) -> Result<DownstreamResult> {
    check_same_samples(codes, factors)?;
    if config.num_train.is_empty() || config.num_train.contains(&0) || config.num_test == 0 || config.predictors.is_empty() {
        return Err(invalid("downstream", "num_train needs positive sizes, num_test must be positive and predictors non-empty"));
    }
    let (pool, num_test, sizes) = fit_sizes("downstream", codes.num_samples(), &config.num_train, config.num_test)?;
    let test = (codes.rows(pool, num_test), factors.rows(pool, num_test));
    let mut results = Vec::new();
    for &p in &config.predictors {
        let sizes = sizes
            .iter()
            .map(|&n| {
                let train = (codes.rows(0, n), factors.rows(0, n));
                let (tr, te) = factor_accuracies(p, (&train.0, &train.1), (&test.0, &test.1), &config.predictor, seed.unwrap_or(0) ^ n as u64)?;
                Ok(SizeAccuracies { num_train: n, train_accuracy: tr, test_accuracy: te })
            })
            .collect::<Result<Vec<_>>>()?;
        results.push((p, sizes));
    }
    Ok(DownstreamResult { results, num_test, seed })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(n: usize) -> (Vec<f32>, Vec<usize>) {
        // Factors (3, 4) cycling; codes = the factors (identity) plus a noise column.
        let mut codes = Vec::new();
        let mut factors = Vec::new();
        for i in 0..n {
            let (a, b) = (i % 3, (i / 3) % 4);
            factors.extend([a, b]);
            codes.extend([a as f32, b as f32, ((i * 7919) % 101) as f32 / 101.0]);
        }
        (codes, factors)
    }

    #[test]
    fn identity_codes_predict_every_factor_and_noise_predicts_at_chance() {
        let (codes, factors) = grid(700);
        let c = Codes::new(&codes, 700, 3).unwrap();
        let f = Factors::new(&factors, 700, 2).unwrap();
        let config = DownstreamConfig { num_train: vec![100, 400], num_test: 300, ..Default::default() };
        let r = downstream(&c, &f, &config, Some(3)).unwrap().to_report();
        assert_eq!(r.get_f64("downstream.boosted_trees.400:mean_test_accuracy"), Some(1.0));
        assert_eq!(r.get_f64("downstream.boosted_trees.100:min_train_accuracy"), Some(1.0));
        // One-vs-rest linear problems cannot cut a middle class out of one line: factor 0
        // (3 classes) is still learned from both codes, factor 1's middle classes only in part.
        assert_eq!(r.get_f64("downstream.logistic_regression.400:test_accuracy_factor_0"), Some(1.0));
        let f1 = r.get_f64("downstream.logistic_regression.400:test_accuracy_factor_1").unwrap();
        assert!((0.5..1.0).contains(&f1), "{f1}");
        assert_eq!(r.get_f64("downstream.num_test"), Some(300.0));
        // Codes that hold nothing about the factors: only the noise column.
        let noise: Vec<f32> = codes.chunks(3).map(|r| r[2]).collect();
        let c = Codes::new(&noise, 700, 1).unwrap();
        let config = DownstreamConfig { num_train: vec![400], num_test: 300, predictors: vec![Predictor::LogisticRegressionCv], ..Default::default() };
        let r = downstream(&c, &f, &config, None).unwrap().to_report();
        let acc = r.get_f64("downstream.logistic_regression.400:test_accuracy_factor_1").unwrap();
        assert!(acc < 0.4, "{acc}");
    }

    #[test]
    fn too_few_rows_score_the_sizes_that_fit_and_bad_sizes_are_errors() {
        let (codes, factors) = grid(300);
        let c = Codes::new(&codes, 300, 3).unwrap();
        let f = Factors::new(&factors, 300, 2).unwrap();
        // 300 rows for 10,000 + 5,000: 200 train, 100 test; sizes 10 and 100 fit.
        let config = DownstreamConfig { predictors: vec![Predictor::BoostedTrees], ..Default::default() };
        let r = downstream(&c, &f, &config, None).unwrap();
        assert_eq!(r.num_test, 100);
        assert_eq!(r.results[0].1.iter().map(|s| s.num_train).collect::<Vec<_>>(), vec![10, 100]);
        let bad = DownstreamConfig { num_train: vec![0], ..Default::default() };
        assert!(downstream(&c, &f, &bad, None).is_err());
        let one = Codes::new(&codes[..3], 1, 3).unwrap();
        assert!(downstream(&one, &Factors::new(&factors[..2], 1, 2).unwrap(), &config, None).is_err());
    }

    #[test]
    fn one_class_in_training_is_a_constant_prediction() {
        let codes = vec![0.0f32, 1.0, 2.0, 3.0];
        let m = FittedPredictor::fit(Predictor::BoostedTrees, &codes, 1, &[5, 5, 5, 5], &PredictorConfig::default(), 0).unwrap();
        assert_eq!(m.predict(&codes, 1).unwrap(), vec![5; 4]);
        assert_eq!(m.accuracy(&codes, 1, &[5, 1, 5, 1]).unwrap(), 0.5);
    }
}
