//! Limited-memory BFGS for the smooth convex objectives of the classifiers (logistic
//! regression). Backtracking Armijo line search; a curvature pair is kept only when
//! sᵀy > 0, which for a convex objective keeps the inverse-Hessian approximation
//! positive definite.

use std::collections::VecDeque;

#[derive(Debug, Clone, Copy)]
pub(crate) struct LbfgsOptions {
    /// Stop when max |∂f/∂x_i| ≤ this.
    pub gradient_tolerance: f64,
    pub max_iterations: usize,
    pub memory: usize,
}

#[derive(Debug, Clone)]
pub(crate) struct LbfgsOutcome {
    pub x: Vec<f64>,
    pub gradient_max: f64,
    pub iterations: usize,
    /// The gradient tolerance was met.
    pub converged: bool,
    /// The line search could not decrease f any more (f is at rounding level).
    pub stalled: bool,
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn max_abs(a: &[f64]) -> f64 {
    a.iter().fold(0.0, |m, v| m.max(v.abs()))
}

/// Minimizes f; `objective(x, grad)` returns f(x) and writes ∇f(x) into `grad`.
pub(crate) fn minimize(
    mut objective: impl FnMut(&[f64], &mut [f64]) -> f64,
    x0: Vec<f64>,
    options: LbfgsOptions,
) -> LbfgsOutcome {
    let n = x0.len();
    let mut x = x0;
    let mut g = vec![0.0; n];
    let mut f = objective(&x, &mut g);
    let mut history: VecDeque<(Vec<f64>, Vec<f64>, f64)> = VecDeque::new();
    let mut direction = vec![0.0; n];
    let mut x_new = vec![0.0; n];
    let mut g_new = vec![0.0; n];
    let mut alpha = vec![0.0; options.memory.max(1)];
    let mut iterations = 0;
    let mut stalled = false;

    loop {
        let gradient_max = max_abs(&g);
        if gradient_max <= options.gradient_tolerance || !f.is_finite() {
            return LbfgsOutcome {
                x,
                gradient_max,
                iterations,
                converged: f.is_finite(),
                stalled,
            };
        }
        if iterations >= options.max_iterations || stalled || crate::interrupt::is_requested() {
            return LbfgsOutcome {
                x,
                gradient_max,
                iterations,
                converged: false,
                stalled,
            };
        }
        iterations += 1;

        // Two-loop recursion: direction = −H g.
        for (d, gi) in direction.iter_mut().zip(&g) {
            *d = -gi;
        }
        for (i, (s, y, rho)) in history.iter().enumerate().rev() {
            alpha[i] = rho * dot(s, &direction);
            for (d, yi) in direction.iter_mut().zip(y) {
                *d -= alpha[i] * yi;
            }
        }
        if let Some((s, y, _)) = history.back() {
            let gamma = dot(s, y) / dot(y, y);
            for d in direction.iter_mut() {
                *d *= gamma;
            }
        }
        for (i, (s, y, rho)) in history.iter().enumerate() {
            let beta = rho * dot(y, &direction);
            for (d, si) in direction.iter_mut().zip(s) {
                *d += (alpha[i] - beta) * si;
            }
        }
        let mut slope = dot(&g, &direction);
        if slope.is_nan() || slope >= 0.0 {
            history.clear();
            for (d, gi) in direction.iter_mut().zip(&g) {
                *d = -gi;
            }
            slope = -dot(&g, &g);
        }
        let mut step = if history.is_empty() {
            (1.0 / dot(&g, &g).sqrt()).min(1.0)
        } else {
            1.0
        };

        // Backtracking with safeguarded quadratic interpolation.
        let mut accepted = false;
        for _ in 0..80 {
            for ((xn, xi), d) in x_new.iter_mut().zip(&x).zip(&direction) {
                *xn = xi + step * d;
            }
            let f_new = objective(&x_new, &mut g_new);
            if f_new.is_finite() && f_new <= f + 1e-4 * step * slope {
                let s: Vec<f64> = x_new.iter().zip(&x).map(|(a, b)| a - b).collect();
                let y: Vec<f64> = g_new.iter().zip(&g).map(|(a, b)| a - b).collect();
                let sy = dot(&s, &y);
                if sy > 1e-300 {
                    if history.len() == options.memory {
                        history.pop_front();
                    }
                    history.push_back((s, y, 1.0 / sy));
                }
                std::mem::swap(&mut x, &mut x_new);
                std::mem::swap(&mut g, &mut g_new);
                f = f_new;
                accepted = true;
                break;
            }
            let next = if f_new.is_finite() {
                // Minimizer of the quadratic through f, the slope and f_new.
                -slope * step * step / (2.0 * (f_new - f - slope * step))
            } else {
                0.1 * step
            };
            step = next.clamp(0.1 * step, 0.5 * step);
        }
        if !accepted {
            if history.is_empty() {
                stalled = true;
            } else {
                history.clear();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimizes_an_ill_conditioned_quadratic_and_rosenbrock() {
        // f = ½ Σ c_i (x_i − i)², condition number 1e4.
        let c: Vec<f64> = (0..20).map(|i| 10f64.powf(i as f64 / 19.0 * 4.0)).collect();
        let out = minimize(
            |x, g| {
                let mut f = 0.0;
                for i in 0..x.len() {
                    let r = x[i] - i as f64;
                    f += 0.5 * c[i] * r * r;
                    g[i] = c[i] * r;
                }
                f
            },
            vec![0.0; 20],
            LbfgsOptions {
                gradient_tolerance: 1e-9,
                max_iterations: 1000,
                memory: 10,
            },
        );
        assert!(out.converged);
        for (i, xi) in out.x.iter().enumerate() {
            assert!((xi - i as f64).abs() < 1e-8, "{i}: {xi}");
        }
        let out = minimize(
            |x, g| {
                let (a, b) = (x[0], x[1]);
                g[0] = -2.0 * (1.0 - a) - 400.0 * a * (b - a * a);
                g[1] = 200.0 * (b - a * a);
                (1.0 - a).powi(2) + 100.0 * (b - a * a).powi(2)
            },
            vec![-1.2, 1.0],
            LbfgsOptions {
                gradient_tolerance: 1e-10,
                max_iterations: 1000,
                memory: 10,
            },
        );
        assert!(out.converged);
        assert!(
            (out.x[0] - 1.0).abs() < 1e-8 && (out.x[1] - 1.0).abs() < 1e-8,
            "{:?}",
            out.x
        );
    }
}
