//! L2-regularized logistic regression, written for this crate, with the objective of
//! scikit-learn's `LogisticRegression()` defaults (C = 1, intercept fitted and not
//! penalized):
//!
//! - 3 or more classes: multinomial (softmax) regression with one weight vector per
//!   class, minimizing C Σ_i −ln p(y_i | x_i) + ½ ‖W‖²;
//! - 2 classes: binary logistic regression with a single weight vector,
//!   C Σ_i ln(1 + exp(−y_i (w·x_i + b))) + ½ ‖w‖² (what scikit-learn fits for two classes);
//! - 1 class: a constant predictor.
//!
//! The solver is L-BFGS on the objective divided by C·N (same minimizer), run until the
//! largest gradient component is ≤ `gradient_tolerance` (default 1e-7): real convergence,
//! not the reference's 100-iteration cap. Rows of the objective are evaluated in parallel
//! in fixed chunks and summed in order, so results do not depend on the thread count.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{MetricsError, Result, invalid};
use crate::labels::{DenseLabels, argmax};
use crate::lbfgs::{LbfgsOptions, minimize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogisticConfig {
    /// Inverse regularization strength (scikit-learn's C); infinity fits without a penalty
    /// (scikit-learn's `penalty=None`).
    pub c: f64,
    pub gradient_tolerance: f64,
    pub max_iterations: usize,
    /// Weigh each row by N / (K · N_class), scikit-learn's `class_weight="balanced"`.
    #[serde(default)]
    pub balanced: bool,
    /// Return the weights reached after `max_iterations` instead of an error, as
    /// scikit-learn does (with a warning): an unpenalized fit on separable data never
    /// converges, its loss only goes towards 0.
    #[serde(default)]
    pub stop_at_max_iterations: bool,
}

impl Default for LogisticConfig {
    fn default() -> Self {
        LogisticConfig {
            c: 1.0,
            gradient_tolerance: 1e-7,
            max_iterations: 20_000,
            balanced: false,
            stop_at_max_iterations: false,
        }
    }
}

#[derive(Debug, Clone)]
enum Weights {
    Constant,
    /// w (F) and b; the positive class is dense class 1.
    Binary {
        w: Vec<f64>,
        b: f64,
    },
    /// W (K×F row-major) and b (K).
    Multinomial {
        w: Vec<f64>,
        b: Vec<f64>,
    },
}

/// A fitted logistic regression.
#[derive(Debug, Clone)]
pub struct LogisticRegression {
    classes: Vec<usize>,
    num_features: usize,
    weights: Weights,
    iterations: usize,
    gradient_max: f64,
}

const CHUNK: usize = 512;

fn check_matrix(x: &[f64], n: usize, f: usize) -> Result<()> {
    if n == 0 || f == 0 {
        return Err(MetricsError::Empty {
            what: "classifier features",
        });
    }
    if x.len() != n * f {
        return Err(MetricsError::Shape {
            what: "classifier features (n×F)",
            got: x.len(),
            expected: n * f,
        });
    }
    if let Some(pos) = x.iter().position(|v| !v.is_finite()) {
        return Err(MetricsError::NonFinite {
            what: "classifier features",
            row: pos / f,
            column: pos % f,
            value: x[pos],
        });
    }
    Ok(())
}

fn softplus(t: f64) -> f64 {
    // ln(1 + e^t), stable for any t.
    t.max(0.0) + (-t.abs()).exp().ln_1p()
}

fn sigmoid(t: f64) -> f64 {
    if t >= 0.0 {
        1.0 / (1.0 + (-t).exp())
    } else {
        let e = t.exp();
        e / (1.0 + e)
    }
}

impl LogisticRegression {
    /// Fits on `x` (n×F, row-major) with class labels `y` (any integers).
    pub fn fit(
        x: &[f64],
        num_features: usize,
        y: &[usize],
        config: &LogisticConfig,
    ) -> Result<Self> {
        let n = y.len();
        check_matrix(x, n, num_features)?;
        if config.c.is_nan() || config.c <= 0.0 {
            return Err(invalid("logistic C", format!("{} (need C > 0, or infinity for no penalty)", config.c)));
        }
        let labels = DenseLabels::new(y);
        let f = num_features;
        let k = labels.num_classes();
        let reg = 1.0 / (config.c * n as f64);
        let weights: Option<Vec<f64>> = config.balanced.then(|| {
            let mut counts = vec![0usize; k];
            for &l in &labels.labels {
                counts[l as usize] += 1;
            }
            labels.labels.iter().map(|&l| n as f64 / (k as f64 * counts[l as usize] as f64)).collect()
        });
        let weights = weights.as_deref();
        let options = LbfgsOptions {
            gradient_tolerance: config.gradient_tolerance,
            max_iterations: config.max_iterations,
            memory: 20,
        };
        let y_dense = &labels.labels;
        let (weights, outcome) = match k {
            1 => (Weights::Constant, None),
            2 => {
                let out = minimize(
                    |p, g| binary_objective(p, g, x, f, y_dense, weights, reg),
                    vec![0.0; f + 1],
                    options,
                );
                (
                    Weights::Binary {
                        w: out.x[..f].to_vec(),
                        b: out.x[f],
                    },
                    Some(out),
                )
            }
            _ => {
                let out = minimize(
                    |p, g| multinomial_objective(p, g, x, f, k, y_dense, weights, reg),
                    vec![0.0; k * (f + 1)],
                    options,
                );
                (
                    Weights::Multinomial {
                        w: out.x[..k * f].to_vec(),
                        b: out.x[k * f..].to_vec(),
                    },
                    Some(out),
                )
            }
        };
        crate::interrupt::check()?;
        let (iterations, gradient_max) = match &outcome {
            None => (0, 0.0),
            Some(out) => {
                // A stalled line search at a gradient near the tolerance is rounding-level
                // convergence; anything else did not converge.
                let acceptable = out.converged
                    || (out.stalled && out.gradient_max <= 1e3 * config.gradient_tolerance)
                    || (config.stop_at_max_iterations && out.iterations >= config.max_iterations);
                if !acceptable {
                    return Err(MetricsError::NotConverged {
                        solver: "logistic regression (L-BFGS)",
                        message: format!(
                            "after {} iterations the largest gradient component is {:.3e} (tolerance {:.1e})",
                            out.iterations, out.gradient_max, config.gradient_tolerance
                        ),
                    });
                }
                (out.iterations, out.gradient_max)
            }
        };
        Ok(LogisticRegression {
            classes: labels.classes,
            num_features: f,
            weights,
            iterations,
            gradient_max,
        })
    }

    /// The classes, in increasing order (columns of `predict_proba`).
    pub fn classes(&self) -> &[usize] {
        &self.classes
    }
    pub fn iterations(&self) -> usize {
        self.iterations
    }
    /// Largest gradient component of the scaled objective at the solution.
    pub fn gradient_max(&self) -> f64 {
        self.gradient_max
    }
    /// Weights: one row per class for multinomial models (K×F); a single row for binary
    /// models (the weights of the larger class); empty for a constant model.
    pub fn coefficients(&self) -> Vec<Vec<f64>> {
        match &self.weights {
            Weights::Constant => vec![],
            Weights::Binary { w, .. } => vec![w.clone()],
            Weights::Multinomial { w, .. } => {
                w.chunks(self.num_features).map(<[f64]>::to_vec).collect()
            }
        }
    }
    pub fn intercepts(&self) -> Vec<f64> {
        match &self.weights {
            Weights::Constant => vec![],
            Weights::Binary { b, .. } => vec![*b],
            Weights::Multinomial { b, .. } => b.clone(),
        }
    }

    /// Class probabilities, n×C row-major (C = number of classes).
    pub fn predict_proba(&self, x: &[f64]) -> Result<Vec<f64>> {
        let f = self.num_features;
        if !x.len().is_multiple_of(f) {
            return Err(MetricsError::Shape {
                what: "features (n×F)",
                got: x.len(),
                expected: (x.len() / f + 1) * f,
            });
        }
        let mut out = Vec::with_capacity(x.len() / f * self.classes.len());
        for row in x.chunks_exact(f) {
            match &self.weights {
                Weights::Constant => out.push(1.0),
                Weights::Binary { w, b } => {
                    let p = sigmoid(row.iter().zip(w).map(|(a, c)| a * c).sum::<f64>() + b);
                    out.extend([1.0 - p, p]);
                }
                Weights::Multinomial { w, b } => {
                    let z: Vec<f64> = w
                        .chunks_exact(f)
                        .zip(b)
                        .map(|(wk, bk)| row.iter().zip(wk).map(|(a, c)| a * c).sum::<f64>() + bk)
                        .collect();
                    let m = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    let e: Vec<f64> = z.iter().map(|v| (v - m).exp()).collect();
                    let s: f64 = e.iter().sum();
                    out.extend(e.iter().map(|v| v / s));
                }
            }
        }
        Ok(out)
    }

    /// Most probable class of each row (the smaller class on ties).
    pub fn predict(&self, x: &[f64]) -> Result<Vec<usize>> {
        let p = self.predict_proba(x)?;
        Ok(p.chunks_exact(self.classes.len())
            .map(|r| self.classes[argmax(r)])
            .collect())
    }

    /// Fraction of rows whose predicted class equals `y`.
    pub fn accuracy(&self, x: &[f64], y: &[usize]) -> Result<f64> {
        let pred = self.predict(x)?;
        if pred.len() != y.len() || y.is_empty() {
            return Err(MetricsError::Shape {
                what: "labels",
                got: y.len(),
                expected: pred.len(),
            });
        }
        Ok(pred.iter().zip(y).filter(|(a, b)| a == b).count() as f64 / y.len() as f64)
    }
}

/// Row weights of chunk `i` (all 1 without weights).
fn chunk_weights(weights: Option<&[f64]>, i: usize, len: usize) -> impl Iterator<Item = f64> + '_ {
    (0..len).map(move |r| weights.map_or(1.0, |w| w[i * CHUNK + r]))
}

/// (1/N) Σ ω_i ln(1 + exp(−s_i m_i)) + (reg/2)‖w‖², s_i = ±1, m_i = w·x_i + b, ω_i the row
/// weights (1 without).
#[allow(clippy::too_many_arguments)]
pub(crate) fn binary_objective(p: &[f64], g: &mut [f64], x: &[f64], f: usize, y: &[u32], weights: Option<&[f64]>, reg: f64) -> f64 {
    let n = y.len();
    let (w, b) = (&p[..f], p[f]);
    let partials: Vec<(f64, Vec<f64>)> = x
        .par_chunks(CHUNK * f)
        .zip(y.par_chunks(CHUNK))
        .enumerate()
        .map(|(ci, (xc, yc))| {
            let mut loss = 0.0;
            let mut grad = vec![0.0; f + 1];
            for ((row, &label), omega) in xc.chunks_exact(f).zip(yc).zip(chunk_weights(weights, ci, yc.len())) {
                let sign = if label == 1 { 1.0 } else { -1.0 };
                let m = row.iter().zip(w).map(|(a, c)| a * c).sum::<f64>() + b;
                loss += omega * softplus(-sign * m);
                // d/dm ln(1 + e^{−s m}) = −s σ(−s m)
                let dm = -omega * sign * sigmoid(-sign * m);
                for (gj, a) in grad[..f].iter_mut().zip(row) {
                    *gj += dm * a;
                }
                grad[f] += dm;
            }
            (loss, grad)
        })
        .collect();
    g.fill(0.0);
    let mut loss = 0.0;
    for (l, gr) in partials {
        loss += l;
        for (a, b) in g.iter_mut().zip(&gr) {
            *a += b;
        }
    }
    let inv_n = 1.0 / n as f64;
    for gj in g.iter_mut() {
        *gj *= inv_n;
    }
    let mut penalty = 0.0;
    for (gj, wj) in g[..f].iter_mut().zip(w) {
        *gj += reg * wj;
        penalty += wj * wj;
    }
    loss * inv_n + 0.5 * reg * penalty
}

/// (1/N) Σ ω_i [logsumexp_k z_ik − z_{i,y_i}] + (reg/2)‖W‖², z_ik = W_k·x_i + b_k, ω_i the
/// row weights (1 without).
#[allow(clippy::too_many_arguments)]
fn multinomial_objective(
    p: &[f64],
    g: &mut [f64],
    x: &[f64],
    f: usize,
    k: usize,
    y: &[u32],
    weights: Option<&[f64]>,
    reg: f64,
) -> f64 {
    let n = y.len();
    let (w, b) = (&p[..k * f], &p[k * f..]);
    let partials: Vec<(f64, Vec<f64>)> = x
        .par_chunks(CHUNK * f)
        .zip(y.par_chunks(CHUNK))
        .enumerate()
        .map(|(ci, (xc, yc))| {
            let mut loss = 0.0;
            let mut grad = vec![0.0; k * (f + 1)];
            let mut z = vec![0.0; k];
            for ((row, &label), omega) in xc.chunks_exact(f).zip(yc).zip(chunk_weights(weights, ci, yc.len())) {
                for (c, zc) in z.iter_mut().enumerate() {
                    *zc = row
                        .iter()
                        .zip(&w[c * f..(c + 1) * f])
                        .map(|(a, c)| a * c)
                        .sum::<f64>()
                        + b[c];
                }
                let m = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let mut s = 0.0;
                for zc in z.iter_mut() {
                    *zc = (*zc - m).exp();
                    s += *zc;
                }
                let label = label as usize;
                // z now holds e^{z−m}; loss = m + ln s − z_y.
                loss += omega * (m + s.ln() - (m + z[label].ln()));
                for (c, &e) in z.iter().enumerate() {
                    let r = omega * (e / s - if c == label { 1.0 } else { 0.0 });
                    for (gj, a) in grad[c * f..(c + 1) * f].iter_mut().zip(row) {
                        *gj += r * a;
                    }
                    grad[k * f + c] += r;
                }
            }
            (loss, grad)
        })
        .collect();
    g.fill(0.0);
    let mut loss = 0.0;
    for (l, gr) in partials {
        loss += l;
        for (a, b) in g.iter_mut().zip(&gr) {
            *a += b;
        }
    }
    let inv_n = 1.0 / n as f64;
    for gj in g.iter_mut() {
        *gj *= inv_n;
    }
    let mut penalty = 0.0;
    for (gj, wj) in g[..k * f].iter_mut().zip(w) {
        *gj += reg * wj;
        penalty += wj * wj;
    }
    loss * inv_n + 0.5 * reg * penalty
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Solves a = 2 n C σ(−a) by bisection (the left side increases, the right decreases).
    fn solve_symmetric_binary(n: f64, c: f64) -> f64 {
        let (mut lo, mut hi) = (0.0, 2.0 * n * c);
        for _ in 0..200 {
            let mid = 0.5 * (lo + hi);
            if mid - 2.0 * n * c / (1.0 + mid.exp()) > 0.0 {
                hi = mid
            } else {
                lo = mid
            }
        }
        0.5 * (lo + hi)
    }

    #[test]
    fn binary_matches_hand_solved_symmetric_case() {
        // n points of class 3 at x = −1 and n of class 8 at x = +1. By symmetry b = 0 and
        // the objective C·2n·ln(1 + e^{−w}) + ½w² is stationary at w = 2nC σ(−w).
        for (n, c) in [(5usize, 1.0), (50, 0.1), (200, 1.0)] {
            let x: Vec<f64> = (0..2 * n).map(|i| if i < n { -1.0 } else { 1.0 }).collect();
            let y: Vec<usize> = (0..2 * n).map(|i| if i < n { 3 } else { 8 }).collect();
            let config = LogisticConfig {
                c,
                ..Default::default()
            };
            let model = LogisticRegression::fit(&x, 1, &y, &config).unwrap();
            let expected = solve_symmetric_binary(n as f64, c);
            assert!(
                (model.coefficients()[0][0] - expected).abs() < 1e-5,
                "{n} {c}: {model:?} vs {expected}"
            );
            assert!(model.intercepts()[0].abs() < 1e-5);
            assert_eq!(model.classes(), &[3, 8]);
            assert_eq!(model.accuracy(&x, &y).unwrap(), 1.0);
        }
    }

    #[test]
    fn multinomial_gradient_vanishes_at_the_solution() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let (n, f, k) = (600, 3, 4);
        let mut x = Vec::new();
        let mut y = Vec::new();
        for i in 0..n {
            let class = i % k;
            y.push(class);
            for j in 0..f {
                let centre = if j == class % f { 1.5 } else { 0.0 } + class as f64 * 0.3;
                x.push(centre + rng.random_range(-1.0..1.0));
            }
        }
        let model = LogisticRegression::fit(&x, f, &y, &LogisticConfig::default()).unwrap();
        let (w, b) = (model.coefficients(), model.intercepts());
        // Gradient of C Σ −ln p(y|x) + ½‖W‖², written out independently of the solver.
        let mut grad_w = vec![vec![0.0; f]; k];
        let mut grad_b = vec![0.0; k];
        for (row, &label) in x.chunks(f).zip(&y) {
            let z: Vec<f64> = (0..k)
                .map(|c| (0..f).map(|j| w[c][j] * row[j]).sum::<f64>() + b[c])
                .collect();
            let denom: f64 = z.iter().map(|v| v.exp()).sum();
            for c in 0..k {
                let r = z[c].exp() / denom - (c == label) as i32 as f64;
                for j in 0..f {
                    grad_w[c][j] += r * row[j];
                }
                grad_b[c] += r;
            }
        }
        for c in 0..k {
            for j in 0..f {
                let g = grad_w[c][j] + w[c][j]; // C = 1
                assert!(g.abs() < 1e-4, "dW[{c}][{j}] = {g}");
            }
            assert!(grad_b[c].abs() < 1e-4, "db[{c}] = {}", grad_b[c]);
        }
        // Σ_c W_c = 0 at the optimum (the penalty picks the centred parameterization).
        let column_sums = w.iter().fold(vec![0.0; f], |mut acc, row| {
            for (a, v) in acc.iter_mut().zip(row) {
                *a += v;
            }
            acc
        });
        assert!(
            column_sums.iter().all(|s| s.abs() < 1e-4),
            "{column_sums:?}"
        );
        let p = model.predict_proba(&x).unwrap();
        for r in p.chunks(k) {
            assert!((r.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        }
    }

    #[test]
    fn separable_data_gets_perfect_accuracy() {
        let x: Vec<f64> = (0..300).map(|i| i as f64 / 100.0).collect();
        let y: Vec<usize> = (0..300).map(|i| i / 100).collect();
        let model = LogisticRegression::fit(&x, 1, &y, &LogisticConfig::default()).unwrap();
        // 3 classes on a line with an intercept each: the middle class wins the middle.
        assert!(model.accuracy(&x, &y).unwrap() >= 0.99);
        let x2: Vec<f64> = (0..200)
            .flat_map(|i| [(i % 2) as f64 * 4.0 - 2.0, (i % 7) as f64])
            .collect();
        let y2: Vec<usize> = (0..200).map(|i| i % 2).collect();
        let model = LogisticRegression::fit(&x2, 2, &y2, &LogisticConfig::default()).unwrap();
        assert_eq!(model.accuracy(&x2, &y2).unwrap(), 1.0);
    }

    #[test]
    fn bad_input_is_an_error_and_one_class_is_constant() {
        assert!(
            LogisticRegression::fit(&[1.0, f64::NAN], 1, &[0, 1], &LogisticConfig::default())
                .is_err()
        );
        assert!(
            LogisticRegression::fit(&[1.0, 2.0, 3.0], 2, &[0, 1], &LogisticConfig::default())
                .is_err()
        );
        assert!(LogisticRegression::fit(&[], 1, &[], &LogisticConfig::default()).is_err());
        let bad_c = LogisticConfig {
            c: 0.0,
            ..Default::default()
        };
        assert!(LogisticRegression::fit(&[1.0, 2.0], 1, &[0, 1], &bad_c).is_err());
        let m =
            LogisticRegression::fit(&[1.0, 2.0], 1, &[4, 4], &LogisticConfig::default()).unwrap();
        assert_eq!(m.predict(&[7.0]).unwrap(), vec![4]);
    }
}
