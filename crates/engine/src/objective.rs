//! The loss terms of the six objectives and their gradients, on plain arrays. Sums run in
//! f64; values and gradients match `disentangle_models::objective` term by term.

use std::f64::consts::PI;

use crate::simd::Level;

/// Bernoulli reconstruction loss (sum over pixels, mean over the n samples) of `logits`
/// against targets `x`; writes ∂loss/∂logits into `dlogits` if given. Runs in parallel over
/// fixed blocks whose partial sums are added in order, so the value does not depend on the
/// number of threads.
pub fn reconstruction(level: Level, logits: &[f32], x: &[f32], n: usize, dlogits: Option<&mut [f32]>) -> f64 {
    use rayon::prelude::*;
    const BLOCK: usize = 4096;
    let inv = 1.0 / n as f32;
    let sums: Vec<f64> = match dlogits {
        Some(d) => logits
            .par_chunks(BLOCK)
            .zip(x.par_chunks(BLOCK))
            .zip(d[..logits.len()].par_chunks_mut(BLOCK))
            .map(|((l, t), d)| reconstruction_block(level, l, t, Some(d), inv))
            .collect(),
        None => logits.par_chunks(BLOCK).zip(x.par_chunks(BLOCK)).map(|(l, t)| reconstruction_block(level, l, t, None, inv)).collect(),
    };
    sums.iter().sum::<f64>() / n as f64
}

/// One block of [`reconstruction`]: Σ softplus(l) − t·l in f64, and ∂/∂l · `inv` into `d`.
/// Compiled for `level`; the value does not depend on which copy runs (the same operations
/// in the same order).
fn reconstruction_block(level: Level, l: &[f32], t: &[f32], d: Option<&mut [f32]>, inv: f32) -> f64 {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx512f,avx512vl,avx512bw,avx2,fma")]
        fn avx512(l: &[f32], t: &[f32], d: Option<&mut [f32]>, inv: f32) -> f64 {
            reconstruction_block_body(l, t, d, inv)
        }
        #[target_feature(enable = "avx2,fma")]
        fn avx2(l: &[f32], t: &[f32], d: Option<&mut [f32]>, inv: f32) -> f64 {
            reconstruction_block_body(l, t, d, inv)
        }
        match level {
            // SAFETY: the CPU has every feature the copy is compiled for (checked when the
            // kernels holding `level` were built).
            Level::Avx512 => return unsafe { avx512(l, t, d, inv) },
            Level::Avx2 => return unsafe { avx2(l, t, d, inv) },
            Level::Baseline => {}
        }
    }
    reconstruction_block_body(l, t, d, inv)
}

/// Lanes of [`reconstruction_block_body`]: one f64 partial sum each, so the sum vectorizes
/// and its order is fixed.
const LANES: usize = 16;

#[inline(always)]
fn reconstruction_block_body(l: &[f32], t: &[f32], d: Option<&mut [f32]>, inv: f32) -> f64 {
    let n = l.len().min(t.len());
    let mut acc = [0.0f64; LANES];
    // Per element: e = exp(−|l|) once gives both softplus(l) = max(l, 0) + log1p(e), stable
    // for any l, and the sigmoid, 1 / (1 + e) or e / (1 + e) by the sign of l. libm's
    // scalar exp and log1p calls kept this loop from vectorizing (3 calls per pixel, 8 % of
    // a conv-VAE step); these are branch-free polynomials accurate to a few ulp.
    let element = |l: f32, t: f32| -> (f32, f32) {
        let e = exp_nonpositive(-l.abs());
        let value = l.max(0.0) + log1p_unit(e) - t * l;
        let sigmoid = if l >= 0.0 { 1.0 } else { e } / (1.0 + e);
        (value, sigmoid - t)
    };
    let full = n / LANES * LANES;
    match d {
        Some(d) => {
            let d = &mut d[..n];
            for ((lc, tc), dc) in l[..full].chunks_exact(LANES).zip(t[..full].chunks_exact(LANES)).zip(d[..full].chunks_exact_mut(LANES)) {
                for k in 0..LANES {
                    let (v, g) = element(lc[k], tc[k]);
                    acc[k] += v as f64;
                    dc[k] = g * inv;
                }
            }
            for i in full..n {
                let (v, g) = element(l[i], t[i]);
                acc[i - full] += v as f64;
                d[i] = g * inv;
            }
        }
        None => {
            for (lc, tc) in l[..full].chunks_exact(LANES).zip(t[..full].chunks_exact(LANES)) {
                for k in 0..LANES {
                    acc[k] += element(lc[k], tc[k]).0 as f64;
                }
            }
            for i in full..n {
                acc[i - full] += element(l[i], t[i]).0 as f64;
            }
        }
    }
    acc.iter().sum()
}

/// e^a for a ≤ 0 (e^a for a < −87 is returned as e^−87 ≈ 1.6e−38, which no caller can tell
/// from 0 next to the terms it is added to). Cody–Waite reduction a = k·ln 2 + r, |r| ≤ ½ ln 2,
/// then Cephes' degree-6 polynomial for e^r: within 2 ulp of the exact value.
#[inline(always)]
fn exp_nonpositive(a: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    // ln 2 split so that k · LN2_HI is exact for |k| < 2^9.
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // Adding and subtracting 1.5 · 2^23 rounds to the nearest integer (|x| < 2^22).
    const ROUND: f32 = 12_582_912.0;
    let a = a.max(-87.0);
    let k = (a * LOG2E + ROUND) - ROUND;
    let r = (a - k * LN2_HI) - k * LN2_LO;
    let p = ((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r + 1.666_666_5e-1) * r + 5e-1;
    let er = (p * r * r + r) + 1.0;
    // 2^k with k in −126..=0: a normal number, built from its exponent bits.
    er * f32::from_bits(((k as i32 + 127) as u32) << 23)
}

/// ln(1 + e) for e in [0, 1], through ln u = 2 artanh((u − 1) / (u + 1)): for e ≤ √2 − 1 with
/// u = 1 + e, else u = (1 + e) / 2 and ln 2 added, so |s| ≤ 0.172 and five terms of the
/// series reach f32 precision; relative accuracy holds as e → 0 (s = e / (2 + e)).
#[inline(always)]
fn log1p_unit(e: f32) -> f32 {
    let big = e > std::f32::consts::SQRT_2 - 1.0;
    let s = if big { (e - 1.0) / (e + 3.0) } else { e / (e + 2.0) };
    let z = s * s;
    let series = (((((1.0 / 11.0) * z + 1.0 / 9.0) * z + 1.0 / 7.0) * z + 1.0 / 5.0) * z + 1.0 / 3.0) * z;
    let half_log = s + s * series;
    2.0 * half_log + if big { std::f32::consts::LN_2 } else { 0.0 }
}

/// Mean KL(q(z|x) ‖ N(0, I)) of n rows (the diagonal formula) minus ½ log det Σ.
pub fn kl(mu: &[f32], logvar: &[f32], n: usize, log_det: f64) -> f64 {
    let s: f64 = mu.iter().zip(logvar).map(|(&m, &l)| (m * m + l.exp() - 1.0 - l) as f64).sum();
    0.5 * s / n as f64 - 0.5 * log_det
}

/// Adds coef · ∂KL/∂(μ, log σ²).
pub fn kl_backward(mu: &[f32], logvar: &[f32], n: usize, coef: f64, dmu: &mut [f32], dlogvar: &mut [f32]) {
    let c = (coef / n as f64) as f32;
    for i in 0..mu.len() {
        dmu[i] += c * mu[i];
        dlogvar[i] += c * 0.5 * (logvar[i].exp() - 1.0);
    }
}

#[allow(clippy::too_many_arguments)]
/// DIP-VAE: the covariance regularizer λ_od Σ_{i≠j} C_ij² + λ_d Σ_i (C_ii − 1)² with
/// C = Cov[μ] (divisor n), plus E[diag σ²] for type II; adds its gradient if given.
pub fn dip_regularizer(
    mu: &[f32],
    logvar: &[f32],
    n: usize,
    j: usize,
    type_ii: bool,
    lambda_od: f64,
    lambda_d: f64,
    grads: Option<(&mut [f32], &mut [f32])>,
) -> f64 {
    let mut mean = vec![0.0f64; j];
    for row in mu.chunks(j).take(n) {
        mean.iter_mut().zip(row).for_each(|(m, &v)| *m += v as f64 / n as f64);
    }
    let centred: Vec<f64> = (0..n * j).map(|i| mu[i] as f64 - mean[i % j]).collect();
    let mut c = vec![0.0f64; j * j];
    for row in centred.chunks(j) {
        for a in 0..j {
            for b in 0..j {
                c[a * j + b] += row[a] * row[b] / n as f64;
            }
        }
    }
    if type_ii {
        for a in 0..j {
            c[a * j + a] += (0..n).map(|b| (logvar[b * j + a] as f64).exp()).sum::<f64>() / n as f64;
        }
    }
    let mut reg = 0.0;
    let mut dc = vec![0.0f64; j * j];
    for a in 0..j {
        for b in 0..j {
            let v = c[a * j + b];
            if a == b {
                reg += lambda_d * (v - 1.0) * (v - 1.0);
                dc[a * j + b] = 2.0 * lambda_d * (v - 1.0);
            } else {
                reg += lambda_od * v * v;
                dc[a * j + b] = 2.0 * lambda_od * v;
            }
        }
    }
    if let Some((dmu, dlogvar)) = grads {
        // C = M_cᵀ M_c / n with M_c centred, dC symmetric: ∂/∂μ = (2/n) M_c dC (centring
        // drops out because M_c's columns already have zero mean).
        for bi in 0..n {
            for a in 0..j {
                let s: f64 = (0..j).map(|b| centred[bi * j + b] * dc[b * j + a]).sum();
                dmu[bi * j + a] += (2.0 * s / n as f64) as f32;
                if type_ii {
                    dlogvar[bi * j + a] += (dc[a * j + a] * (logvar[bi * j + a] as f64).exp() / n as f64) as f32;
                }
            }
        }
    }
    reg
}

/// Where [`total_correlation`] adds coef · ∂TC/∂(z, μ, log σ²): (coef, dz, dμ, dlog σ²).
pub type TcGradients<'a> = (f64, &'a mut [f32], &'a mut [f32], &'a mut [f32]);

/// β-TCVAE's minibatch-weighted total correlation of codes z with posteriors (μ, log σ²)
/// over the n samples; adds coef · its gradient (w.r.t. z, μ, log σ²) if given.
pub fn total_correlation(
    z: &[f32],
    mu: &[f32],
    logvar: &[f32],
    n: usize,
    j: usize,
    grads: Option<TcGradients<'_>>,
) -> f64 {
    let ln2pi = (2.0 * PI).ln();
    // m[(i·n + k)·j + d] = log N(z_id; μ_kd, σ²_kd).
    let mut m = vec![0.0f64; n * n * j];
    for i in 0..n {
        for k in 0..n {
            for d in 0..j {
                let diff = z[i * j + d] as f64 - mu[k * j + d] as f64;
                let lv = logvar[k * j + d] as f64;
                m[(i * n + k) * j + d] = -0.5 * (diff * diff * (-lv).exp() + lv + ln2pi);
            }
        }
    }
    let lse = |vals: &mut dyn Iterator<Item = f64>, buf: &mut Vec<f64>| {
        buf.clear();
        buf.extend(vals);
        let mx = buf.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let s: f64 = buf.iter().map(|v| (v - mx).exp()).sum();
        mx + s.ln()
    };
    let mut buf = Vec::with_capacity(n);
    let mut tc = 0.0;
    let mut joint_lse = vec![0.0; n];
    let mut marg_lse = vec![0.0; n * j];
    for i in 0..n {
        joint_lse[i] = lse(&mut (0..n).map(|k| (0..j).map(|d| m[(i * n + k) * j + d]).sum()), &mut buf);
        let mut prod = 0.0;
        for d in 0..j {
            marg_lse[i * j + d] = lse(&mut (0..n).map(|k| m[(i * n + k) * j + d]), &mut buf);
            prod += marg_lse[i * j + d];
        }
        tc += joint_lse[i] - prod;
    }
    tc /= n as f64;
    if let Some((coef, dz, dmu, dlogvar)) = grads {
        let c = coef / n as f64;
        for i in 0..n {
            for k in 0..n {
                let a: f64 = (0..j).map(|d| m[(i * n + k) * j + d]).sum();
                let w = (a - joint_lse[i]).exp();
                for d in 0..j {
                    let mv = m[(i * n + k) * j + d];
                    let g = c * (w - (mv - marg_lse[i * j + d]).exp());
                    if g == 0.0 {
                        continue;
                    }
                    let diff = z[i * j + d] as f64 - mu[k * j + d] as f64;
                    let prec = (-(logvar[k * j + d] as f64)).exp();
                    dz[i * j + d] += (-g * diff * prec) as f32;
                    dmu[k * j + d] += (g * diff * prec) as f32;
                    dlogvar[k * j + d] += (g * 0.5 * (diff * diff * prec - 1.0)) as f32;
                }
            }
        }
    }
    tc
}

/// FactorVAE's TC estimate: the mean of logit₀ − logit₁ over rows of [n, 2] logits.
pub fn density_ratio(logits: &[f32], n: usize) -> f64 {
    logits.chunks(2).take(n).map(|l| (l[0] - l[1]) as f64).sum::<f64>() / n as f64
}

/// The discriminator's loss −½(mean log p₀(z) + mean log p₁(z_perm)) on logits [2n, 2]
/// (first n rows: codes, class 0; last n: permuted codes, class 1); writes ∂/∂logits.
pub fn discriminator_loss(logits: &[f32], n: usize, dlogits: &mut [f32]) -> f64 {
    let mut total = 0.0;
    for (r, (l, d)) in logits.chunks(2).zip(dlogits.chunks_mut(2)).take(2 * n).enumerate() {
        let class = usize::from(r >= n);
        let mx = l[0].max(l[1]) as f64;
        let lse = mx + ((l[0] as f64 - mx).exp() + (l[1] as f64 - mx).exp()).ln();
        total += l[class] as f64 - lse;
        for c in 0..2 {
            let p = (l[c] as f64 - lse).exp();
            let target = if c == class { 1.0 } else { 0.0 };
            d[c] = (-(target - p) * 0.5 / n as f64) as f32;
        }
    }
    -0.5 * total / n as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Central finite differences of `f` at `x` along each coordinate.
    fn numeric(f: &dyn Fn(&[f32]) -> f64, x: &[f32]) -> Vec<f64> {
        (0..x.len())
            .map(|i| {
                let h = 1e-3f32;
                let (mut a, mut b) = (x.to_vec(), x.to_vec());
                a[i] += h;
                b[i] -= h;
                (f(&a) - f(&b)) / (a[i] - b[i]) as f64
            })
            .collect()
    }

    fn close(a: &[f32], b: &[f64], tol: f64) {
        for (x, y) in a.iter().zip(b) {
            assert!((*x as f64 - y).abs() <= tol * (1.0 + y.abs()), "{x} vs {y}");
        }
    }

    fn data(n: usize, seed: f32) -> Vec<f32> {
        (0..n).map(|i| ((i as f32 + seed) * 0.618).sin()).collect()
    }

    /// Relative error of an f32 against an f64 reference, in units of f32's epsilon.
    fn ulps(x: f32, exact: f64) -> f64 {
        if exact == 0.0 { (x as f64).abs() / f32::EPSILON as f64 } else { ((x as f64 - exact) / exact).abs() / f32::EPSILON as f64 }
    }

    #[test]
    fn exp_and_log1p_polynomials_are_within_three_ulp_of_f64() {
        let mut worst = (0.0f64, 0.0f64);
        for i in 0..=2_000_000u32 {
            let a = -87.0 * i as f32 / 2_000_000.0;
            worst.0 = worst.0.max(ulps(exp_nonpositive(a), (a as f64).exp()));
            let e = i as f32 / 2_000_000.0;
            worst.1 = worst.1.max(ulps(log1p_unit(e), (e as f64).ln_1p()));
        }
        // Tiny arguments, where ln(1 + e) ≈ e must keep its relative accuracy.
        for p in 10..=140 {
            let e = 2f32.powi(-p);
            worst.1 = worst.1.max(ulps(log1p_unit(e), (e as f64).ln_1p()));
        }
        assert!(worst.0 <= 3.0 && worst.1 <= 3.0, "worst exp {} ulp, log1p {} ulp", worst.0, worst.1);
        // Below the clamp the value is negligible, never a NaN, infinity or negative.
        for a in [-87.5f32, -100.0, -1e4, f32::MIN, f32::NEG_INFINITY] {
            let v = exp_nonpositive(a);
            assert!((0.0..2e-38).contains(&v), "{a} gave {v}");
        }
    }

    #[test]
    fn reconstruction_and_its_gradient_equal_an_f64_computation() {
        // Logits over the range a decoder produces (and beyond), every remainder length.
        for len in [1usize, 15, 16, 17, 100, 4096 + 5] {
            let logits: Vec<f32> = (0..len).map(|i| 40.0 * ((i as f32 * 0.7311).sin())).collect();
            let x: Vec<f32> = (0..len).map(|i| if (i * 7919) % 3 == 0 { 1.0 } else { (i % 5) as f32 / 4.0 }).collect();
            let n = 3;
            let mut d = vec![f32::NAN; len];
            let value = reconstruction(Level::Baseline, &logits, &x, n, Some(&mut d));
            // Every copy this CPU runs gives the same bits (same operations, same order).
            for level in [Level::Avx2, Level::Avx512].into_iter().filter(|l| l.supported()) {
                let mut d2 = vec![f32::NAN; len];
                assert_eq!(reconstruction(level, &logits, &x, n, Some(&mut d2)).to_bits(), value.to_bits(), "{level:?} value, len {len}");
                assert!(d2.iter().zip(&d).all(|(a, b)| a.to_bits() == b.to_bits()), "{level:?} gradient, len {len}");
            }
            let (mut exact, mut terms) = (0.0f64, 0.0f64);
            for i in 0..len {
                let (l, t) = (logits[i] as f64, x[i] as f64);
                let term = l.max(0.0) + (-l.abs()).exp().ln_1p() - t * l;
                exact += term;
                terms += term.abs();
                let g = (1.0 / (1.0 + (-l).exp()) - t) / n as f64;
                assert!((d[i] as f64 - g).abs() <= 2e-7 / n as f64, "len {len} i {i}: {} vs {g}", d[i]);
            }
            exact /= n as f64;
            // Each term within a few ulp: the sum within that of the sum of magnitudes.
            assert!((value - exact).abs() <= 4e-7 * terms / n as f64, "len {len}: {value} vs {exact}");
            assert_eq!(value, reconstruction(Level::Baseline, &logits, &x, n, None), "the value without gradients differs");
        }
    }

    #[test]
    fn total_correlation_gradients_match_finite_differences() {
        let (n, j) = (5, 3);
        let (z, mu, lv) = (data(n * j, 0.3), data(n * j, 1.7), data(n * j, 4.1));
        let (mut dz, mut dmu, mut dlv) = (vec![0.0; n * j], vec![0.0; n * j], vec![0.0; n * j]);
        total_correlation(&z, &mu, &lv, n, j, Some((1.0, &mut dz, &mut dmu, &mut dlv)));
        close(&dz, &numeric(&|v| total_correlation(v, &mu, &lv, n, j, None), &z), 2e-3);
        close(&dmu, &numeric(&|v| total_correlation(&z, v, &lv, n, j, None), &mu), 2e-3);
        close(&dlv, &numeric(&|v| total_correlation(&z, &mu, v, n, j, None), &lv), 2e-3);
    }

    #[test]
    fn dip_gradients_match_finite_differences() {
        let (n, j) = (6, 3);
        let (mu, lv) = (data(n * j, 0.9), data(n * j, 2.2));
        for type_ii in [false, true] {
            let (mut dmu, mut dlv) = (vec![0.0; n * j], vec![0.0; n * j]);
            dip_regularizer(&mu, &lv, n, j, type_ii, 2.0, 5.0, Some((&mut dmu, &mut dlv)));
            close(&dmu, &numeric(&|v| dip_regularizer(v, &lv, n, j, type_ii, 2.0, 5.0, None), &mu), 2e-3);
            close(&dlv, &numeric(&|v| dip_regularizer(&mu, v, n, j, type_ii, 2.0, 5.0, None), &lv), 2e-3);
        }
    }

    #[test]
    fn reconstruction_and_discriminator_gradients_match_finite_differences() {
        let logits: Vec<f32> = data(8, 0.5).iter().map(|v| 3.0 * v).collect();
        let x: Vec<f32> = (0..8).map(|i| (i % 2) as f32).collect();
        let mut d = vec![0.0; 8];
        reconstruction(Level::detect(), &logits, &x, 2, Some(&mut d));
        close(&d, &numeric(&|l| reconstruction(Level::detect(), l, &x, 2, None), &logits), 2e-3);
        let mut d = vec![0.0; 8];
        discriminator_loss(&logits, 2, &mut d);
        close(&d, &numeric(&|l| discriminator_loss(l, 2, &mut [0.0; 8]), &logits), 2e-3);
    }
}
