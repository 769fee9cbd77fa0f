//! Shared pieces of the Monte Carlo estimators over Gaussian posteriors: standard normal
//! draws, per-sample posterior parameters in `f64`, the choice of the x_m whose z_m are
//! drawn, and log-sum-exp.

use rand::Rng;

use crate::data::GaussianPosteriors;
use crate::linalg::cholesky;

pub(crate) const LN_2PI: f64 = 1.837_877_066_409_345_3;

/// One N(0, 1) draw (Box–Muller; u ∈ (0, 1] so the logarithm is finite).
pub(crate) fn standard_normal<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    let u: f64 = 1.0 - rng.random::<f64>();
    let v: f64 = rng.random::<f64>();
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

/// Posterior parameters widened to f64, N×D row-major.
pub(crate) struct Params {
    pub n: usize,
    pub d: usize,
    pub mean: Vec<f64>,
    pub sigma: Vec<f64>,
    pub inv_sigma: Vec<f64>,
    /// ln σ + ½ ln 2π: minus the log-density of a standardized value 0.
    pub log_norm: Vec<f64>,
}

impl Params {
    pub fn new(p: &GaussianPosteriors) -> Self {
        let mean = p.mean().iter().map(|&v| v as f64).collect();
        let log_sigma: Vec<f64> = p.log_variance().iter().map(|&v| 0.5 * v as f64).collect();
        Params {
            n: p.num_samples(),
            d: p.num_dims(),
            mean,
            sigma: log_sigma.iter().map(|v| v.exp()).collect(),
            inv_sigma: log_sigma.iter().map(|v| (-v).exp()).collect(),
            log_norm: log_sigma.iter().map(|v| v + 0.5 * LN_2PI).collect(),
        }
    }
}

/// Indices of the samples whose posteriors are sampled: all of them when `num` ≥ N (each
/// once), otherwise `num` distinct ones drawn uniformly (partial Fisher–Yates).
pub(crate) fn choose_samples<R: Rng + ?Sized>(n: usize, num: usize, rng: &mut R) -> Vec<usize> {
    let mut all: Vec<usize> = (0..n).collect();
    if num >= n {
        return all;
    }
    for i in 0..num {
        let j = rng.random_range(i..n);
        all.swap(i, j);
    }
    all.truncate(num);
    all
}

/// z_m = μ_m + σ_m ⊙ (L ε), ε ~ N(0, I), L L ᵀ = (1 − ρ) I + ρ 11ᵀ; one row per chosen
/// sample, drawn in order.
pub(crate) fn draw_latents<R: Rng + ?Sized>(params: &Params, rho: f64, chosen: &[usize], rng: &mut R) -> Vec<f64> {
    let d = params.d;
    let factor = if rho == 0.0 {
        None
    } else {
        let corr: Vec<f64> = (0..d * d).map(|ij| if ij / d == ij % d { 1.0 } else { rho }).collect();
        Some(cholesky(&corr, d).expect("ρ was validated to make Σ positive definite"))
    };
    let mut z = Vec::with_capacity(chosen.len() * d);
    let mut eps = vec![0.0; d];
    for &m in chosen {
        for e in eps.iter_mut() {
            *e = standard_normal(rng);
        }
        for j in 0..d {
            let noise = match &factor {
                None => eps[j],
                Some(l) => (0..=j).map(|i| l[j * d + i] * eps[i]).sum(),
            };
            z.push(params.mean[m * d + j] + params.sigma[m * d + j] * noise);
        }
    }
    z
}

/// ln Σ exp(v) over `values`.
pub(crate) fn log_sum_exp(values: impl Iterator<Item = f64> + Clone) -> f64 {
    let m = values.clone().fold(f64::NEG_INFINITY, f64::max);
    if m == f64::NEG_INFINITY {
        return m;
    }
    m + values.map(|v| (v - m).exp()).sum::<f64>().ln()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn normal_draws_have_unit_moments() {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let x: Vec<f64> = (0..200_000).map(|_| standard_normal(&mut rng)).collect();
        let mean = x.iter().sum::<f64>() / x.len() as f64;
        let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / x.len() as f64;
        assert!(mean.abs() < 0.01 && (var - 1.0).abs() < 0.01, "{mean} {var}");
    }

    #[test]
    fn correlated_draws_have_the_requested_correlation() {
        let mean = vec![0.0f32; 3 * 20_000];
        let logvar: Vec<f32> = (0..3 * 20_000).map(|i| [0.0, 2.0f32.ln(), 0.0][i % 3]).collect();
        let post = GaussianPosteriors::new(&mean, &logvar, 20_000, 3).unwrap();
        let params = Params::new(&post);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let chosen: Vec<usize> = (0..20_000).collect();
        let z = draw_latents(&params, 0.6, &chosen, &mut rng);
        let cov = crate::linalg::covariance(&z.iter().map(|&v| v as f32).collect::<Vec<_>>(), 20_000, 3);
        assert!((cov[4] - 2.0).abs() < 0.06, "{cov:?}");
        // corr(z0, z1) = ρ.
        assert!((cov[1] / (cov[0] * cov[4]).sqrt() - 0.6).abs() < 0.02, "{cov:?}");
        assert_eq!(log_sum_exp([0.0, 0.0].into_iter()), 2f64.ln());
    }
}
