//! Linear SVM on a single feature, the SAP classifier of the reference study
//! (scikit-learn `LinearSVC(C=0.01, class_weight="balanced")`), written for this crate.
//!
//! It is exactly the linear SVM restricted to one input, not an approximation. That
//! model (liblinear's L2-regularized squared-hinge SVM) treats the intercept as an extra
//! feature of constant value 1, so the intercept is penalized too. For one binary problem
//! with labels s_i = ±1 it minimizes
//!
//!   ½ (w² + b²) + Σ_i C_i max(0, 1 − s_i (w x_i + b))²,
//!
//! a strongly convex, piecewise-quadratic function of the two numbers (w, b). We solve it
//! to convergence with a semismooth Newton method (exact 2×2 generalized Hessian, exact
//! line search); liblinear solves the same problem in the dual with tolerance 1e-4.
//!
//! Classes and weights follow liblinear: two classes → one problem with per-sample costs
//! C·weight(class); more classes → one-vs-rest, where for class c the positive samples cost
//! C·weight(c) and the negatives cost C; prediction is the class with the largest
//! decision value w_c x + b_c (the smaller class on ties). "Balanced" weights are
//! n / (n_classes · n_c) over the training labels.

use serde::{Deserialize, Serialize};

use crate::error::{MetricsError, Result, invalid};
use crate::labels::DenseLabels;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinearSvmConfig {
    pub c: f64,
    pub balanced_class_weight: bool,
    /// Stop when the gradient norm is ≤ this times (1 + the initial gradient norm).
    pub tolerance: f64,
    pub max_iterations: usize,
}

impl Default for LinearSvmConfig {
    fn default() -> Self {
        LinearSvmConfig {
            c: 0.01,
            balanced_class_weight: true,
            tolerance: 1e-10,
            max_iterations: 200,
        }
    }
}

/// A fitted one-feature linear SVM.
#[derive(Debug, Clone)]
pub struct OneFeatureSvm {
    classes: Vec<usize>,
    /// (w, b) per problem: one for two classes (positive = the larger class), one per
    /// class otherwise; none for a single class.
    planes: Vec<(f64, f64)>,
}

/// One binary squared-hinge problem.
struct BinaryProblem<'a> {
    x: &'a [f64],
    sign: &'a [f64],
    cost: &'a [f64],
}

impl BinaryProblem<'_> {
    /// Gradient and generalized Hessian [[hww, hwb], [hwb, hbb]].
    fn derivatives(&self, w: f64, b: f64) -> ([f64; 2], [f64; 3]) {
        let (mut gw, mut gb) = (w, b);
        let (mut hww, mut hwb, mut hbb) = (1.0, 0.0, 1.0);
        for ((&x, &s), &c) in self.x.iter().zip(self.sign).zip(self.cost) {
            let m = 1.0 - s * (w * x + b);
            if m > 0.0 {
                gw -= 2.0 * c * s * m * x;
                gb -= 2.0 * c * s * m;
                hww += 2.0 * c * x * x;
                hwb += 2.0 * c * x;
                hbb += 2.0 * c;
            }
        }
        ([gw, gb], [hww, hwb, hbb])
    }

    /// Semismooth Newton with an exact line search on the directional derivative
    /// φ'(t) = ∇f(x + t d)·d, which is continuous, piecewise linear and increasing (f is
    /// convex and C¹). Searching on φ' rather than on f keeps every step a true decrease
    /// even when the change of f is below its rounding error.
    fn solve(&self, config: &LinearSvmConfig) -> Result<(f64, f64)> {
        let (mut w, mut b) = (0.0, 0.0);
        let (g0, _) = self.derivatives(w, b);
        let threshold = config.tolerance * (1.0 + g0[0].hypot(g0[1]));
        for _ in 0..config.max_iterations {
            crate::interrupt::check()?;
            let (g, [hww, hwb, hbb]) = self.derivatives(w, b);
            if g[0].hypot(g[1]) <= threshold {
                return Ok((w, b));
            }
            // The Hessian is at least the identity, so it is always invertible.
            let det = hww * hbb - hwb * hwb;
            let dw = -(hbb * g[0] - hwb * g[1]) / det;
            let db = -(-hwb * g[0] + hww * g[1]) / det;
            let slope = |t: f64| {
                let (g, _) = self.derivatives(w + t * dw, b + t * db);
                g[0] * dw + g[1] * db
            };
            let slope0 = g[0] * dw + g[1] * db;
            let mut step = 1.0;
            let slope1 = slope(1.0);
            if slope1 > 0.0 {
                // Root of φ' in (0, 1) by the Illinois variant of regula falsi.
                let (mut lo, mut hi, mut f_lo, mut f_hi) = (0.0, 1.0, slope0, slope1);
                let mut side = 0;
                for _ in 0..100 {
                    step = (lo * f_hi - hi * f_lo) / (f_hi - f_lo);
                    let f_mid = slope(step);
                    if f_mid.abs() <= 1e-14 * slope0.abs() || hi - lo <= 1e-15 {
                        break;
                    }
                    if f_mid < 0.0 {
                        lo = step;
                        f_lo = f_mid;
                        if side == -1 {
                            f_hi *= 0.5;
                        }
                        side = -1;
                    } else {
                        hi = step;
                        f_hi = f_mid;
                        if side == 1 {
                            f_lo *= 0.5;
                        }
                        side = 1;
                    }
                }
            }
            let (w_new, b_new) = (w + step * dw, b + step * db);
            if w_new == w && b_new == b {
                // The step is below the resolution of the parameters: converged to rounding.
                return Ok((w, b));
            }
            w = w_new;
            b = b_new;
        }
        Err(MetricsError::NotConverged {
            solver: "one-feature linear SVM (Newton)",
            message: format!("{} iterations", config.max_iterations),
        })
    }
}

impl OneFeatureSvm {
    pub fn fit(x: &[f64], y: &[usize], config: &LinearSvmConfig) -> Result<Self> {
        if x.is_empty() {
            return Err(MetricsError::Empty {
                what: "SVM training feature",
            });
        }
        if x.len() != y.len() {
            return Err(MetricsError::Shape {
                what: "SVM labels",
                got: y.len(),
                expected: x.len(),
            });
        }
        if let Some(pos) = x.iter().position(|v| !v.is_finite()) {
            return Err(MetricsError::NonFinite {
                what: "SVM feature",
                row: pos,
                column: 0,
                value: x[pos],
            });
        }
        if !(config.c.is_finite() && config.c > 0.0) {
            return Err(invalid("SVM C", format!("{} (need C > 0)", config.c)));
        }
        let labels = DenseLabels::new(y);
        let k = labels.num_classes();
        let n = x.len();
        let mut counts = vec![0usize; k];
        for &l in &labels.labels {
            counts[l as usize] += 1;
        }
        let class_weight: Vec<f64> = counts
            .iter()
            .map(|&c| {
                if config.balanced_class_weight {
                    n as f64 / (k as f64 * c as f64)
                } else {
                    1.0
                }
            })
            .collect();
        let mut planes = Vec::new();
        let mut sign = vec![0.0; n];
        let mut cost = vec![0.0; n];
        if k == 2 {
            for (i, &l) in labels.labels.iter().enumerate() {
                sign[i] = if l == 1 { 1.0 } else { -1.0 };
                cost[i] = config.c * class_weight[l as usize];
            }
            planes.push(
                BinaryProblem {
                    x,
                    sign: &sign,
                    cost: &cost,
                }
                .solve(config)?,
            );
        } else if k > 2 {
            for c in 0..k as u32 {
                for (i, &l) in labels.labels.iter().enumerate() {
                    let positive = l == c;
                    sign[i] = if positive { 1.0 } else { -1.0 };
                    cost[i] = if positive {
                        config.c * class_weight[c as usize]
                    } else {
                        config.c
                    };
                }
                planes.push(
                    BinaryProblem {
                        x,
                        sign: &sign,
                        cost: &cost,
                    }
                    .solve(config)?,
                );
            }
        }
        Ok(OneFeatureSvm {
            classes: labels.classes,
            planes,
        })
    }

    pub fn classes(&self) -> &[usize] {
        &self.classes
    }
    /// (w, b) of each binary problem (see the type's documentation).
    pub fn planes(&self) -> &[(f64, f64)] {
        &self.planes
    }

    pub fn predict_one(&self, x: f64) -> usize {
        match self.planes.len() {
            0 => self.classes[0],
            1 => {
                let (w, b) = self.planes[0];
                self.classes[usize::from(w * x + b > 0.0)]
            }
            _ => {
                let mut best = 0;
                let mut best_value = f64::NEG_INFINITY;
                for (c, &(w, b)) in self.planes.iter().enumerate() {
                    let v = w * x + b;
                    if v > best_value {
                        best = c;
                        best_value = v;
                    }
                }
                self.classes[best]
            }
        }
    }

    pub fn accuracy(&self, x: &[f64], y: &[usize]) -> Result<f64> {
        if x.len() != y.len() || x.is_empty() {
            return Err(MetricsError::Shape {
                what: "SVM test labels",
                got: y.len(),
                expected: x.len(),
            });
        }
        Ok(x.iter()
            .zip(y)
            .filter(|(v, c)| self.predict_one(**v) == **c)
            .count() as f64
            / x.len() as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The binary objective, evaluated directly.
    fn objective(x: &[f64], s: &[f64], c: &[f64], w: f64, b: f64) -> f64 {
        0.5 * (w * w + b * b)
            + x.iter()
                .zip(s)
                .zip(c)
                .map(|((x, s), c)| c * (1.0 - s * (w * x + b)).max(0.0).powi(2))
                .sum::<f64>()
    }

    #[test]
    fn separable_data_gets_perfect_accuracy() {
        let x: Vec<f64> = (0..2000)
            .map(|i| {
                if i % 2 == 0 {
                    -1.0 - (i % 7) as f64 * 0.1
                } else {
                    0.5 + (i % 5) as f64 * 0.1
                }
            })
            .collect();
        let y: Vec<usize> = (0..2000).map(|i| 10 + i % 2).collect();
        let svm = OneFeatureSvm::fit(&x, &y, &LinearSvmConfig::default()).unwrap();
        assert_eq!(svm.accuracy(&x, &y).unwrap(), 1.0);
        // Three ordered classes: one-vs-rest with linear scores still separates the ends.
        let x: Vec<f64> = (0..3000)
            .map(|i| (i % 3) as f64 * 2.0 + (i % 11) as f64 * 0.01)
            .collect();
        let y: Vec<usize> = (0..3000).map(|i| i % 3).collect();
        let svm = OneFeatureSvm::fit(&x, &y, &LinearSvmConfig::default()).unwrap();
        let acc = svm.accuracy(&x, &y).unwrap();
        assert!(acc >= 2.0 / 3.0, "{acc}");
    }

    #[test]
    fn solution_is_the_minimum_of_the_objective() {
        // Overlapping, unbalanced classes. Check against a brute-force grid search of the
        // same 2-D objective around the Newton solution, and the zero-gradient condition.
        let x: Vec<f64> = (0..60)
            .map(|i| (i as f64 * 0.37).sin() * 2.0 + if i < 20 { 1.0 } else { 0.0 })
            .collect();
        let y: Vec<usize> = (0..60).map(|i| usize::from(i < 20)).collect();
        let config = LinearSvmConfig {
            c: 0.5,
            ..Default::default()
        };
        let svm = OneFeatureSvm::fit(&x, &y, &config).unwrap();
        let (w, b) = svm.planes()[0];
        let s: Vec<f64> = y.iter().map(|&l| if l == 1 { 1.0 } else { -1.0 }).collect();
        let c: Vec<f64> = y
            .iter()
            .map(|&l| 0.5 * 60.0 / (2.0 * if l == 1 { 20.0 } else { 40.0 }))
            .collect();
        let best = objective(&x, &s, &c, w, b);
        for i in -20..=20 {
            for j in -20..=20 {
                let (dw, db) = (i as f64 * 0.01, j as f64 * 0.01);
                assert!(objective(&x, &s, &c, w + dw, b + db) >= best - 1e-12);
            }
        }
        let h = 1e-6;
        let gw = (objective(&x, &s, &c, w + h, b) - objective(&x, &s, &c, w - h, b)) / (2.0 * h);
        let gb = (objective(&x, &s, &c, w, b + h) - objective(&x, &s, &c, w, b - h)) / (2.0 * h);
        assert!(gw.abs() < 1e-6 && gb.abs() < 1e-6, "{gw} {gb}");
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(OneFeatureSvm::fit(&[], &[], &LinearSvmConfig::default()).is_err());
        assert!(OneFeatureSvm::fit(&[1.0], &[1, 2], &LinearSvmConfig::default()).is_err());
        assert!(
            OneFeatureSvm::fit(&[f64::NAN, 1.0], &[1, 2], &LinearSvmConfig::default()).is_err()
        );
        let one = OneFeatureSvm::fit(&[1.0, 2.0], &[5, 5], &LinearSvmConfig::default()).unwrap();
        assert_eq!(one.predict_one(-3.0), 5);
    }
}
