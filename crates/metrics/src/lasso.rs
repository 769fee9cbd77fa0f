//! Lasso regression as scikit-learn's `Lasso` solves it (so that metrics built on it equal
//! their reference code): minimize (1 / 2n) ‖y − Xw − b‖² + α ‖w‖₁ with an unpenalized
//! intercept, by cyclic coordinate descent on centred X and y, starting from w = 0:
//!
//! - one sweep updates every coordinate j with ‖X_j‖ > 0 in order:
//!   w_j ← S(X_jᵀ R + w_j ‖X_j‖², α n) / ‖X_j‖², S the soft threshold, R = y − Xw kept current;
//! - after a sweep whose largest update is below `tol` × the largest |w_j| (or that changed
//!   nothing, or the last allowed), the duality gap is computed and the descent stops when it
//!   is below `tol` × ‖y‖² (y centred);
//! - b = mean(y) − mean(X) · w.
//!
//! Defaults are scikit-learn's: `max_iter` 1,000, `tol` 1e-4. The stopping rule is part of the
//! definition here: metrics that use it (`dci:zaidi`) move by ~1e-4 when it changes.

use crate::error::{MetricsError, Result, invalid};

#[derive(Debug, Clone, PartialEq)]
pub struct LassoConfig {
    pub alpha: f64,
    pub max_iter: usize,
    pub tol: f64,
}

impl Default for LassoConfig {
    fn default() -> Self {
        LassoConfig { alpha: 1.0, max_iter: 1000, tol: 1e-4 }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Lasso {
    pub coef: Vec<f64>,
    pub intercept: f64,
    /// Sweeps done.
    pub iterations: usize,
    /// Whether the duality gap fell below the tolerance (scikit-learn warns otherwise).
    pub converged: bool,
}

impl Lasso {
    /// Fits on `x` (n × f, row-major) and `y` (n).
    pub fn fit(x: &[f64], f: usize, y: &[f64], config: &LassoConfig) -> Result<Self> {
        let n = y.len();
        if n == 0 || f == 0 || x.len() != n * f {
            return Err(MetricsError::Shape { what: "lasso features (n×F)", got: x.len(), expected: n * f });
        }
        if !(config.alpha >= 0.0 && config.alpha.is_finite() && config.tol >= 0.0) {
            return Err(invalid("lasso", format!("alpha {} and tol {} must be finite and ≥ 0", config.alpha, config.tol)));
        }
        let nf = n as f64;
        // Centred columns (column-major for the sweeps) and centred target.
        let x_mean: Vec<f64> = (0..f).map(|j| x.iter().skip(j).step_by(f).sum::<f64>() / nf).collect();
        let cols: Vec<Vec<f64>> = (0..f).map(|j| x.iter().skip(j).step_by(f).map(|v| v - x_mean[j]).collect()).collect();
        let y_mean = y.iter().sum::<f64>() / nf;
        let yc: Vec<f64> = y.iter().map(|v| v - y_mean).collect();
        let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(p, q)| p * q).sum::<f64>();
        let norms: Vec<f64> = cols.iter().map(|c| dot(c, c)).collect();
        let alpha = config.alpha * nf;
        let tol = config.tol * dot(&yc, &yc);
        let mut w = vec![0.0; f];
        let mut r = yc.clone();
        let (mut iterations, mut converged) = (0, false);
        for it in 0..config.max_iter {
            iterations = it + 1;
            let (mut w_max, mut d_w_max) = (0.0f64, 0.0f64);
            for j in 0..f {
                if norms[j] == 0.0 {
                    continue;
                }
                let old = w[j];
                if old != 0.0 {
                    for (ri, xi) in r.iter_mut().zip(&cols[j]) {
                        *ri += old * xi;
                    }
                }
                let tmp = dot(&cols[j], &r);
                w[j] = tmp.signum() * (tmp.abs() - alpha).max(0.0) / norms[j];
                if w[j] != 0.0 {
                    for (ri, xi) in r.iter_mut().zip(&cols[j]) {
                        *ri -= w[j] * xi;
                    }
                }
                d_w_max = d_w_max.max((w[j] - old).abs());
                w_max = w_max.max(w[j].abs());
            }
            if w_max == 0.0 || d_w_max / w_max < config.tol || it + 1 == config.max_iter {
                let dual_norm = cols.iter().map(|c| dot(c, &r).abs()).fold(0.0, f64::max);
                let r_norm2 = dot(&r, &r);
                let (constant, mut gap) = if dual_norm > alpha {
                    let k = alpha / dual_norm;
                    (k, 0.5 * (r_norm2 + r_norm2 * k * k))
                } else {
                    (1.0, r_norm2)
                };
                gap += alpha * w.iter().map(|v| v.abs()).sum::<f64>() - constant * dot(&r, &yc);
                if gap < tol {
                    converged = true;
                    break;
                }
            }
        }
        let intercept = y_mean - x_mean.iter().zip(&w).map(|(m, c)| m * c).sum::<f64>();
        Ok(Lasso { coef: w, intercept, iterations, converged })
    }

    pub fn predict(&self, x: &[f64]) -> Vec<f64> {
        x.chunks_exact(self.coef.len()).map(|row| row.iter().zip(&self.coef).map(|(a, c)| a * c).sum::<f64>() + self.intercept).collect()
    }
}

/// Mean squared error of `pred` against `y`.
pub fn mse(pred: &[f64], y: &[f64]) -> f64 {
    pred.iter().zip(y).map(|(p, t)| (p - t) * (p - t)).sum::<f64>() / y.len() as f64
}

/// Mean over the folds of scikit-learn's `KFold(folds)` (contiguous, unshuffled; the first
/// n mod folds folds one row longer) of the test MSE of a Lasso fitted on the other folds.
pub fn cross_validated_mse(x: &[f64], f: usize, y: &[f64], folds: usize, config: &LassoConfig) -> Result<f64> {
    let n = y.len();
    if folds < 2 || folds > n {
        return Err(invalid("folds", format!("{folds} folds for {n} rows")));
    }
    let mut start = 0;
    let mut total = 0.0;
    for k in 0..folds {
        let len = n / folds + usize::from(k < n % folds);
        let test = start..start + len;
        let keep = |i: &usize| !test.contains(i);
        let xt: Vec<f64> = (0..n).filter(keep).flat_map(|i| x[i * f..(i + 1) * f].to_vec()).collect();
        let yt: Vec<f64> = (0..n).filter(keep).map(|i| y[i]).collect();
        let model = Lasso::fit(&xt, f, &yt, config)?;
        total += mse(&model.predict(&x[test.start * f..test.end * f]), &y[test.clone()]);
        start += len;
    }
    Ok(total / folds as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_penalty_is_least_squares_and_a_large_one_gives_zero() {
        // y = 2 x0 − x1 + 3 exactly: with α tiny the fit recovers it.
        let x: Vec<f64> = (0..50).flat_map(|i| [(i as f64 * 0.37).sin(), (i as f64 * 0.11).cos()]).collect();
        let y: Vec<f64> = x.chunks(2).map(|r| 2.0 * r[0] - r[1] + 3.0).collect();
        let m = Lasso::fit(&x, 2, &y, &LassoConfig { alpha: 1e-10, max_iter: 100_000, tol: 1e-14 }).unwrap();
        assert!((m.coef[0] - 2.0).abs() < 1e-6 && (m.coef[1] + 1.0).abs() < 1e-6 && (m.intercept - 3.0).abs() < 1e-6, "{m:?}");
        let zero = Lasso::fit(&x, 2, &y, &LassoConfig { alpha: 100.0, ..Default::default() }).unwrap();
        assert_eq!(zero.coef, vec![0.0, 0.0]);
        assert!((zero.intercept - 3.0 - y.iter().map(|v| v - 3.0).sum::<f64>() / 50.0).abs() < 1e-12);
    }

    #[test]
    fn one_feature_has_the_closed_form() {
        // 1-D lasso: w = S(xᵀy, α n) / xᵀx on centred data.
        let x: Vec<f64> = (0..40).map(|i| i as f64 / 10.0).collect();
        let y: Vec<f64> = x.iter().map(|v| 0.5 * v + (v * 3.0).sin() * 0.1).collect();
        let (mx, my) = (x.iter().sum::<f64>() / 40.0, y.iter().sum::<f64>() / 40.0);
        let sxy: f64 = x.iter().zip(&y).map(|(a, b)| (a - mx) * (b - my)).sum();
        let sxx: f64 = x.iter().map(|a| (a - mx) * (a - mx)).sum();
        let alpha = 0.05;
        let m = Lasso::fit(&x, 1, &y, &LassoConfig { alpha, ..Default::default() }).unwrap();
        assert!((m.coef[0] - (sxy - alpha * 40.0) / sxx).abs() < 1e-12, "{m:?}");
    }
}
