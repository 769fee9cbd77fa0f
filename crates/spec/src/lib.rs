//! What defines a model, with no deep-learning dependency: the configuration types (encoder,
//! noise, objective; serialised into each run's `config.toml`) and the few pure functions of
//! the architecture that both the burn modules (`disentangle-models`) and the CPU engine
//! (`disentangle-engine`) need, so that the engine builds without burn.

pub mod config;

pub use config::{ConfigError, EncoderConfig, ModelConfig, NoiseConfig, ObjectiveConfig};

/// The r×c output grid (r ≤ c, both ≤ 8, r·c = J) on which the shared encoder lays out its J
/// latents; None when J has no such factorisation.
pub fn output_grid(latents: usize) -> Option<(usize, usize)> {
    (1..=8).rev().filter(|&r| r * r <= latents).find_map(|r| {
        let c = latents / r;
        (r * c == latents && c <= 8).then_some((r, c))
    })
}

/// log det Σ for the correlated noise's Σ = (1 − ρ) I + ρ 11ᵀ of size J:
/// (J − 1)·log(1 − ρ) + log(1 − ρ + Jρ); 0 for independent noise.
pub fn log_det_correlation(noise: &NoiseConfig, latents: usize) -> f64 {
    match *noise {
        NoiseConfig::Independent => 0.0,
        NoiseConfig::Correlated { rho } => (latents as f64 - 1.0) * (1.0 - rho).ln() + (1.0 - rho + latents as f64 * rho).ln(),
    }
}

/// AnnealedVAE's capacity C at `step`: min(c_max, c_max·step / iteration_threshold).
pub fn annealed_capacity(c_max: f64, iteration_threshold: u64, step: u64) -> f64 {
    (c_max * step as f64 / iteration_threshold as f64).min(c_max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grids_and_closed_forms() {
        assert_eq!(output_grid(10), Some((2, 5)));
        assert_eq!(output_grid(16), Some((4, 4)));
        assert_eq!(output_grid(11), None);
        assert_eq!(output_grid(64), Some((8, 8)));
        // det of (1 − ρ) I + ρ 11ᵀ for J = 2: (1)(1) − ρ² = 1 − ρ².
        let rho = 0.9;
        assert!((log_det_correlation(&NoiseConfig::Correlated { rho }, 2) - (1.0f64 - rho * rho).ln()).abs() < 1e-12);
        assert_eq!(log_det_correlation(&NoiseConfig::Independent, 10), 0.0);
        assert_eq!(annealed_capacity(25.0, 100, 50), 12.5);
        assert_eq!(annealed_capacity(25.0, 100, 500), 25.0);
    }
}
