//! Logistic regression with the inverse regularization strength C chosen by k-fold
//! cross-validation, one-vs-rest: what disentanglement_lib's `logistic_regression_cv()`
//! (scikit-learn's `LogisticRegressionCV(Cs=10, cv=KFold(5))`) computes with the
//! scikit-learn of its study (0.20/0.21, whose default was one-vs-rest).
//!
//! Why one-vs-rest: from scikit-learn 0.22 the default became multinomial, and that version
//! fails ("cannot reshape array") whenever a fold's training part lacks one of the classes,
//! which is the normal case for the downstream task's 10- and 100-point training sets on
//! dSprites (40 orientations). scikit-learn 1.3 with `multi_class="ovr"` computes the study's
//! version; the golden tests compare with it.
//!
//! The procedure, for classes c₁ < … < c_K of `y` (K ≥ 2):
//! - Cs: `num_cs` values 10^t, t evenly spaced in [−4, 4] (numpy's `logspace(-4, 4, 10)`).
//! - Folds: contiguous, unshuffled; the first n mod k folds hold ⌊n/k⌋ + 1 rows, the others
//!   ⌊n/k⌋ (scikit-learn's `KFold`).
//! - Problems: K = 2 is one binary problem (positive class c₂); K > 2 is one binary problem
//!   per class (that class against the rest).
//! - For each problem and fold: binary L2 logistic regressions (intercept not penalized,
//!   objective mean loss + ‖w‖²/(2Cn)) for the Cs in increasing order, each warm-started from
//!   the previous C's weights; each scored by its accuracy on the held-out fold (a margin of
//!   exactly 0 counts as negative).
//! - Per problem, the C with the largest sum of fold accuracies (the first on ties) is
//!   refitted on all rows, warm-started from the mean of the folds' weights at that C.
//! - Prediction: the class whose problem gives the largest margin (the first on ties); for
//!   K = 2, c₂ when the margin is > 0.
//!
//! Solver: our L-BFGS with scikit-learn's stopping settings (largest gradient component
//! ≤ 1e-4, at most 100 iterations, the weights reached then are kept); with C up to 10⁴ on
//! separable folds the cap is reached, and the truncated weights differ from scikit-learn's
//! (its line search differs), so accuracies agree to within the few test points whose margin
//! is that close to 0.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{MetricsError, Result, degenerate, invalid};
use crate::labels::DenseLabels;
use crate::lbfgs::{LbfgsOptions, minimize};
use crate::logistic::binary_objective;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogisticCvConfig {
    /// Number of Cs on the log grid over [1e-4, 1e4] (scikit-learn's `Cs=10`).
    pub num_cs: usize,
    /// Cross-validation folds (`KFold(n_splits=5)`).
    pub folds: usize,
    /// L-BFGS stops when the largest gradient component is below this (scikit-learn's `tol`).
    pub gradient_tolerance: f64,
    /// And after this many iterations at the latest (scikit-learn's `max_iter`).
    pub max_iterations: usize,
}

impl Default for LogisticCvConfig {
    fn default() -> Self {
        LogisticCvConfig { num_cs: 10, folds: 5, gradient_tolerance: 1e-4, max_iterations: 100 }
    }
}

/// A fitted cross-validated one-vs-rest logistic regression.
#[derive(Debug, Clone)]
pub struct LogisticRegressionCv {
    classes: Vec<usize>,
    num_features: usize,
    /// One (w, b) per problem: one problem for two classes, else one per class.
    problems: Vec<(Vec<f64>, f64)>,
    /// Chosen C per problem.
    chosen_c: Vec<f64>,
    /// Per problem: fold × C held-out accuracies.
    fold_scores: Vec<Vec<Vec<f64>>>,
    cs: Vec<f64>,
}

/// numpy's `logspace(-4, 4, num)`: 10 ** linspace(-4, 4, num).
pub fn c_grid(num: usize) -> Vec<f64> {
    match num {
        0 => vec![],
        1 => vec![1e-4],
        _ => {
            let step = 8.0 / (num - 1) as f64;
            (0..num)
                .map(|i| {
                    // numpy's linspace: start + i * step, the last point exactly the stop.
                    let t = if i == num - 1 { 4.0 } else { -4.0 + i as f64 * step };
                    10f64.powf(t)
                })
                .collect()
        }
    }
}

/// Held-out row ranges of scikit-learn's unshuffled `KFold(k)` over n rows.
pub fn kfold_ranges(n: usize, k: usize) -> Vec<std::ops::Range<usize>> {
    let mut start = 0;
    (0..k)
        .map(|i| {
            let len = n / k + usize::from(i < n % k);
            let r = start..start + len;
            start += len;
            r
        })
        .collect()
}

/// The L-BFGS settings of the binary problems.
struct BinaryFit {
    f: usize,
    options: LbfgsOptions,
}

impl BinaryFit {
    /// Weights (w then b) of the binary problem with features `xs` (rows × F) and labels `ys`
    /// (1 positive, 0 negative), from `init`.
    fn fit(&self, xs: &[f64], ys: &[u32], c: f64, init: Vec<f64>) -> Vec<f64> {
        let reg = 1.0 / (c * ys.len() as f64);
        minimize(|p, g| binary_objective(p, g, xs, self.f, ys, None, reg), init, self.options).x
    }
}

/// w·x_row + b of weights `p` (w then b).
fn margin(x: &[f64], f: usize, p: &[f64], row: usize) -> f64 {
    x[row * f..(row + 1) * f].iter().zip(&p[..f]).map(|(a, w)| a * w).sum::<f64>() + p[f]
}

impl LogisticRegressionCv {
    /// Fits on `x` (n×F row-major) and class labels `y`.
    pub fn fit(x: &[f64], num_features: usize, y: &[usize], config: &LogisticCvConfig) -> Result<Self> {
        let n = y.len();
        let f = num_features;
        if n == 0 || f == 0 {
            return Err(MetricsError::Empty { what: "logistic regression (CV) features" });
        }
        if x.len() != n * f {
            return Err(MetricsError::Shape { what: "logistic regression (CV) features (n×F)", got: x.len(), expected: n * f });
        }
        if let Some(pos) = x.iter().position(|v| !v.is_finite()) {
            return Err(MetricsError::NonFinite { what: "logistic regression (CV) features", row: pos / f, column: pos % f, value: x[pos] });
        }
        if config.num_cs == 0 || config.folds < 2 || config.max_iterations == 0 || config.gradient_tolerance.is_nan() || config.gradient_tolerance <= 0.0 {
            return Err(invalid(
                "logistic_cv",
                format!(
                    "num_cs {} ≥ 1, folds {} ≥ 2, max_iterations {} ≥ 1 and gradient_tolerance {} > 0 are needed",
                    config.num_cs, config.folds, config.max_iterations, config.gradient_tolerance
                ),
            ));
        }
        if n < config.folds {
            return Err(degenerate("logistic regression (CV)", format!("{n} rows cannot be split into {} folds", config.folds)));
        }
        let labels = DenseLabels::new(y);
        let k = labels.num_classes();
        if k < 2 {
            return Err(degenerate("logistic regression (CV)", format!("the labels hold one class only ({})", labels.classes[0])));
        }
        let problem_classes: Vec<u32> = if k == 2 { vec![1] } else { (0..k as u32).collect() };
        let cs = c_grid(config.num_cs);
        let folds = kfold_ranges(n, config.folds);
        let fitter = BinaryFit {
            f,
            options: LbfgsOptions { gradient_tolerance: config.gradient_tolerance, max_iterations: config.max_iterations, memory: 10 },
        };
        let fold_train: Vec<Vec<usize>> = folds.iter().map(|t| (0..n).filter(|i| !t.contains(i)).collect()).collect();
        // Each fold's training features, gathered once for every class and C.
        let fold_x: Vec<Vec<f64>> = fold_train.iter().map(|rows| rows.iter().flat_map(|&r| x[r * f..(r + 1) * f].iter().copied()).collect()).collect();
        #[allow(clippy::type_complexity)] // (refit (weights, intercept), best C, fold weights) per class
        let fitted: Vec<((Vec<f64>, f64), f64, Vec<Vec<f64>>)> = problem_classes
            .par_iter()
            .map(|&class| {
                let positive: Vec<u32> = labels.labels.iter().map(|&l| u32::from(l == class)).collect();
                // Per fold: the weights and held-out accuracy at every C.
                let paths: Vec<(Vec<Vec<f64>>, Vec<f64>)> = folds
                    .par_iter()
                    .zip(fold_train.par_iter().zip(&fold_x))
                    .map(|(test, (train, xs))| {
                        let ys: Vec<u32> = train.iter().map(|&r| positive[r]).collect();
                        let mut p = vec![0.0; f + 1];
                        let mut weights = Vec::with_capacity(cs.len());
                        let mut scores = Vec::with_capacity(cs.len());
                        for &c in &cs {
                            p = fitter.fit(xs, &ys, c, p);
                            let correct = test.clone().filter(|&r| (margin(x, f, &p, r) > 0.0) == (positive[r] == 1)).count();
                            scores.push(correct as f64 / test.len() as f64);
                            weights.push(p.clone());
                        }
                        (weights, scores)
                    })
                    .collect();
                let totals: Vec<f64> = (0..cs.len()).map(|j| paths.iter().fold(0.0, |s, (_, sc)| s + sc[j])).collect();
                let best = crate::labels::argmax(&totals);
                let mut init = vec![0.0; f + 1];
                for (w, _) in &paths {
                    for (a, b) in init.iter_mut().zip(&w[best]) {
                        *a += b;
                    }
                }
                init.iter_mut().for_each(|a| *a /= paths.len() as f64);
                let p = fitter.fit(x, &positive, cs[best], init);
                let b = p[f];
                ((p[..f].to_vec(), b), cs[best], paths.into_iter().map(|(_, s)| s).collect())
            })
            .collect();
        crate::interrupt::check()?;
        let mut problems = Vec::new();
        let mut chosen_c = Vec::new();
        let mut fold_scores = Vec::new();
        for (p, c, s) in fitted {
            problems.push(p);
            chosen_c.push(c);
            fold_scores.push(s);
        }
        Ok(LogisticRegressionCv { classes: labels.classes, num_features: f, problems, chosen_c, fold_scores, cs })
    }

    pub fn classes(&self) -> &[usize] {
        &self.classes
    }
    /// The C chosen for each one-vs-rest problem (one for two classes).
    pub fn chosen_c(&self) -> &[f64] {
        &self.chosen_c
    }
    pub fn cs(&self) -> &[f64] {
        &self.cs
    }
    /// Per problem: held-out accuracy of each fold (rows) at each C (columns).
    pub fn fold_scores(&self) -> &[Vec<Vec<f64>>] {
        &self.fold_scores
    }
    /// Weights and intercept of each problem.
    pub fn problems(&self) -> &[(Vec<f64>, f64)] {
        &self.problems
    }

    /// Predicted class of each row of `x` (n×F).
    pub fn predict(&self, x: &[f64]) -> Result<Vec<usize>> {
        let f = self.num_features;
        if !x.len().is_multiple_of(f) {
            return Err(MetricsError::Shape { what: "features (n×F)", got: x.len(), expected: (x.len() / f + 1) * f });
        }
        let margin = |row: &[f64], (w, b): &(Vec<f64>, f64)| row.iter().zip(w).map(|(a, c)| a * c).sum::<f64>() + b;
        Ok(x.chunks_exact(f)
            .map(|row| {
                if self.problems.len() == 1 {
                    self.classes[usize::from(margin(row, &self.problems[0]) > 0.0)]
                } else {
                    let margins: Vec<f64> = self.problems.iter().map(|p| margin(row, p)).collect();
                    self.classes[crate::labels::argmax(&margins)]
                }
            })
            .collect())
    }

    /// Fraction of rows of `x` whose prediction equals `y`.
    pub fn accuracy(&self, x: &[f64], y: &[usize]) -> Result<f64> {
        let pred = self.predict(x)?;
        if pred.len() != y.len() || y.is_empty() {
            return Err(MetricsError::Shape { what: "labels", got: y.len(), expected: pred.len() });
        }
        Ok(pred.iter().zip(y).filter(|(a, b)| a == b).count() as f64 / y.len() as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_and_folds_follow_numpy_and_kfold() {
        let cs = c_grid(10);
        assert_eq!(cs.len(), 10);
        assert_eq!(cs[0], 1e-4);
        assert_eq!(cs[9], 1e4);
        assert!((cs[1] - 10f64.powf(-4.0 + 8.0 / 9.0)).abs() < 1e-18);
        let r = kfold_ranges(12, 5);
        assert_eq!(r, vec![0..3, 3..6, 6..8, 8..10, 10..12]);
        assert_eq!(kfold_ranges(10, 5).iter().map(|r| r.len()).collect::<Vec<_>>(), vec![2; 5]);
    }

    #[test]
    fn separable_classes_are_learned_and_degenerate_inputs_are_errors() {
        // Three well separated classes on one feature.
        let y: Vec<usize> = (0..60).map(|i| i % 3).collect();
        let x: Vec<f64> = y.iter().enumerate().map(|(i, &c)| c as f64 * 10.0 + (i % 7) as f64 * 0.1).collect();
        let m = LogisticRegressionCv::fit(&x, 1, &y, &LogisticCvConfig::default()).unwrap();
        assert_eq!(m.chosen_c().len(), 3);
        assert_eq!(m.fold_scores()[0].len(), 5);
        // One-vs-rest on a line cannot isolate the middle class perfectly with margins of
        // separate problems, but the outer ones are exact.
        let pred = m.predict(&x).unwrap();
        for (p, t) in pred.iter().zip(&y) {
            if *t != 1 {
                assert_eq!(p, t);
            }
        }
        let one_class = vec![4usize; 20];
        let err = LogisticRegressionCv::fit(&x[..20], 1, &one_class, &LogisticCvConfig::default()).unwrap_err();
        assert!(err.to_string().contains("one class"), "{err}");
        let err = LogisticRegressionCv::fit(&x[..3], 1, &y[..3], &LogisticCvConfig::default()).unwrap_err();
        assert!(err.to_string().contains("folds"), "{err}");
        let mut bad = x.clone();
        bad[5] = f64::NAN;
        assert!(LogisticRegressionCv::fit(&bad, 1, &y, &LogisticCvConfig::default()).is_err());
    }
}
