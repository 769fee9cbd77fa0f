//! Reparameterization noise: independent, or equicorrelated with correlation ρ (the paper's
//! ablation that breaks the conditional independence of q(z|x)).

use burn::tensor::{Device, Tensor};
use rand::Rng;
use rand_distr::StandardNormal;

use crate::config::NoiseConfig;
use crate::ops::tensor_from;

/// Draws ε [B, J]: independent ε ~ N(0, I), or ε = √(1−ρ)·e + √ρ·e₀·1 with e ~ N(0, I_J)
/// and one scalar e₀ ~ N(0, 1) per sample, so Cov ε = (1 − ρ) I + ρ 11ᵀ.
pub fn sample_eps(noise: &NoiseConfig, batch: usize, latents: usize, rng: &mut impl Rng) -> Vec<f32> {
    let mut eps: Vec<f32> = (0..batch * latents).map(|_| rng.sample::<f32, _>(StandardNormal)).collect();
    if let NoiseConfig::Correlated { rho } = *noise {
        let (a, c) = ((1.0 - rho).sqrt() as f32, rho.sqrt() as f32);
        for row in eps.chunks_mut(latents) {
            let e0: f32 = rng.sample(StandardNormal);
            for v in row {
                *v = a * *v + c * e0;
            }
        }
    }
    eps
}

/// z = μ + σ ⊙ ε.
pub fn reparameterize(mu: Tensor<2>, logvar: Tensor<2>, eps: Vec<f32>, device: &Device) -> Tensor<2> {
    let dims = mu.dims();
    let eps = tensor_from(eps, dims, device);
    mu + (logvar * 0.5).exp() * eps
}

pub use disentangle_spec::log_det_correlation;

/// Per-sample KL(q(z|x) ‖ N(0, I)) [B]: the diagonal formula ½ Σ (μ² + σ² − 1 − log σ²),
/// minus ½ log det Σ for correlated noise (q = N(μ, D Σ D), D = diag σ, Σ_jj = 1).
pub fn kl_per_sample(mu: Tensor<2>, logvar: Tensor<2>, noise: &NoiseConfig) -> Tensor<1> {
    let j = mu.dims()[1];
    let kl = (mu.square() + logvar.clone().exp() - logvar - 1.0).sum_dim(1) * 0.5;
    let kl: Tensor<1> = kl.squeeze_dim(1);
    kl - 0.5 * log_det_correlation(noise, j)
}
