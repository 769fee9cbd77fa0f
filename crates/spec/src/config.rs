//! Model configuration: which encoder, noise and objective, with their hyperparameters.
//! Serialised into each run's `config.toml`, so every field has a documented default.

use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("invalid model config `{field}`: {message}")]
pub struct ConfigError {
    pub field: &'static str,
    pub message: String,
}

fn bad(field: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError { field, message: message.into() }
}

/// The encoder architecture.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum EncoderConfig {
    /// The reference encoder: conv 32 k4 → 32 k4 → 64 k2 → 64 k2 (all stride 2) → dense 256
    /// → μ, log σ² heads. `k4_all` uses kernel 4 in all four convs (as some ports do).
    Conv {
        #[serde(default)]
        k4_all: bool,
    },
    /// The split encoder: the first three reference convs are shared; then each latent has
    /// its own conv (k2 s2, `branch_channels` filters) and two dense layers
    /// (`branch_hidden` units, then 2 outputs: μ_j, log σ²_j).
    Split {
        #[serde(default = "default_branch_channels")]
        branch_channels: usize,
        #[serde(default = "default_branch_hidden")]
        branch_hidden: usize,
    },
    /// The sharing-parameter ablation: the first three reference convs, then one conv with
    /// two output channels (μ, log σ²) whose r×c output positions (r·c = J) are flattened
    /// straight into the code, so all latents share that conv's kernel.
    Shared,
}

/// Branch widths of the split encoder (not given in the paper). 16 filters and 64 hidden
/// units per latent give J = 10 about the same parameter count as the reference dense layers.
pub fn default_branch_channels() -> usize {
    16
}
pub fn default_branch_hidden() -> usize {
    64
}

impl Default for EncoderConfig {
    fn default() -> Self {
        EncoderConfig::Conv { k4_all: false }
    }
}

/// Names accepted by [`EncoderConfig::from_variant`].
pub const ENCODER_VARIANTS: [&str; 4] = ["conv", "conv-k4", "split", "shared"];

impl EncoderConfig {
    pub fn name(&self) -> &'static str {
        match self {
            EncoderConfig::Conv { .. } => "conv",
            EncoderConfig::Split { .. } => "split",
            EncoderConfig::Shared => "shared",
        }
    }

    /// The name that tells every variant apart (`conv-k4` for the reference encoder with k4 convs).
    pub fn variant(&self) -> &'static str {
        match self {
            EncoderConfig::Conv { k4_all: true } => "conv-k4",
            other => other.name(),
        }
    }

    /// The encoder named by [`EncoderConfig::variant`], with default branch widths.
    pub fn from_variant(name: &str) -> Option<Self> {
        Some(match name {
            "conv" => EncoderConfig::Conv { k4_all: false },
            "conv-k4" => EncoderConfig::Conv { k4_all: true },
            "split" => EncoderConfig::Split { branch_channels: default_branch_channels(), branch_hidden: default_branch_hidden() },
            "shared" => EncoderConfig::Shared,
            _ => return None,
        })
    }
}

/// Reparameterization noise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum NoiseConfig {
    /// ε ~ N(0, I).
    #[default]
    Independent,
    /// ε ~ N(0, (1 − ρ) I + ρ 11ᵀ), the paper's ablation (ρ = 0.9 there).
    Correlated { rho: f64 },
}

impl NoiseConfig {
    pub fn name(&self) -> &'static str {
        match self {
            NoiseConfig::Independent => "independent",
            NoiseConfig::Correlated { .. } => "correlated",
        }
    }
}

/// The training objective (reconstruction is always the Bernoulli log-likelihood).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ObjectiveConfig {
    /// recon + β·KL (β = 1: the vanilla VAE).
    Vae { beta: f64 },
    /// recon + γ·|KL − C|, C = min(c_max, c_max·step / iteration_threshold).
    AnnealedVae { gamma: f64, c_max: f64, iteration_threshold: u64 },
    /// recon + KL + γ·TC, TC from a discriminator trained alongside.
    FactorVae { gamma: f64 },
    /// recon + KL + λ_od Σ_{i≠j} Cov[μ]²_ij + λ_d Σ_i (Cov[μ]_ii − 1)².
    DipVaeI { lambda_od: f64, lambda_d: f64 },
    /// As DIP-VAE-I with Cov[μ] + E[diag σ²].
    DipVaeIi { lambda_od: f64, lambda_d: f64 },
    /// recon + KL + (β − 1)·TC, TC from the minibatch-weighted sampling estimator.
    BetaTcvae { beta: f64 },
}

impl Default for ObjectiveConfig {
    fn default() -> Self {
        ObjectiveConfig::Vae { beta: 1.0 }
    }
}

/// Names accepted by [`ObjectiveConfig::from_params`] (`beta-vae` is `vae` with β defaulting to 4).
pub const OBJECTIVE_NAMES: [&str; 7] = ["vae", "beta-vae", "annealed-vae", "factor-vae", "dip-vae-i", "dip-vae-ii", "beta-tcvae"];

impl ObjectiveConfig {
    /// Builds an objective from its name and named hyperparameters (`beta`, `gamma`, `c_max`,
    /// `iteration_threshold`, `lambda_od`, `lambda_d`); missing ones take the defaults below,
    /// which are the usual values of the reference study. Parameters the objective does not
    /// use are an error, so a typo in a sweep file cannot silently train the default.
    pub fn from_params(name: &str, get: &dyn Fn(&str) -> Option<f64>, given: &[&str]) -> Result<Self, ConfigError> {
        let uses: &[&str] = match name {
            "vae" | "beta-vae" | "beta-tcvae" => &["beta"],
            "annealed-vae" => &["gamma", "c_max", "iteration_threshold"],
            "factor-vae" => &["gamma"],
            "dip-vae-i" | "dip-vae-ii" => &["lambda_od", "lambda_d"],
            other => return Err(bad("model", format!("unknown objective `{other}` (one of {})", OBJECTIVE_NAMES.join(", ")))),
        };
        if let Some(p) = given.iter().find(|p| !uses.contains(p)) {
            return Err(bad("model", format!("`{name}` takes {}, not `{p}`", uses.join(", "))));
        }
        let od = get("lambda_od").unwrap_or(10.0);
        Ok(match name {
            "vae" => ObjectiveConfig::Vae { beta: get("beta").unwrap_or(1.0) },
            "beta-vae" => ObjectiveConfig::Vae { beta: get("beta").unwrap_or(4.0) },
            "annealed-vae" => ObjectiveConfig::AnnealedVae {
                gamma: get("gamma").unwrap_or(1000.0),
                c_max: get("c_max").unwrap_or(25.0),
                iteration_threshold: get("iteration_threshold").unwrap_or(100_000.0) as u64,
            },
            "factor-vae" => ObjectiveConfig::FactorVae { gamma: get("gamma").unwrap_or(30.0) },
            "dip-vae-i" => ObjectiveConfig::DipVaeI { lambda_od: od, lambda_d: get("lambda_d").unwrap_or(10.0 * od) },
            "dip-vae-ii" => ObjectiveConfig::DipVaeIi { lambda_od: od, lambda_d: get("lambda_d").unwrap_or(od) },
            _ => ObjectiveConfig::BetaTcvae { beta: get("beta").unwrap_or(6.0) },
        })
    }

    /// The hyperparameters as (name, value) pairs, for labels and result tables.
    pub fn params(&self) -> Vec<(&'static str, f64)> {
        match *self {
            ObjectiveConfig::Vae { beta } | ObjectiveConfig::BetaTcvae { beta } => vec![("beta", beta)],
            ObjectiveConfig::AnnealedVae { gamma, c_max, iteration_threshold } => {
                vec![("gamma", gamma), ("c_max", c_max), ("iteration_threshold", iteration_threshold as f64)]
            }
            ObjectiveConfig::FactorVae { gamma } => vec![("gamma", gamma)],
            ObjectiveConfig::DipVaeI { lambda_od, lambda_d } | ObjectiveConfig::DipVaeIi { lambda_od, lambda_d } => {
                vec![("lambda_od", lambda_od), ("lambda_d", lambda_d)]
            }
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            ObjectiveConfig::Vae { .. } => "vae",
            ObjectiveConfig::AnnealedVae { .. } => "annealed-vae",
            ObjectiveConfig::FactorVae { .. } => "factor-vae",
            ObjectiveConfig::DipVaeI { .. } => "dip-vae-i",
            ObjectiveConfig::DipVaeIi { .. } => "dip-vae-ii",
            ObjectiveConfig::BetaTcvae { .. } => "beta-tcvae",
        }
    }
}

/// Everything that defines a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    /// Number of latents J.
    pub latents: usize,
    /// Image channels C (1 for dSprites, 3 for Cars3D).
    pub channels: usize,
    pub encoder: EncoderConfig,
    pub noise: NoiseConfig,
    pub objective: ObjectiveConfig,
}

impl ModelConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.latents == 0 || self.latents > 1024 {
            return Err(bad("latents", format!("{} (need 1 … 1024)", self.latents)));
        }
        if self.channels != 1 && self.channels != 3 {
            return Err(bad("channels", format!("{} (images have 1 or 3 channels)", self.channels)));
        }
        match &self.encoder {
            EncoderConfig::Split { branch_channels, branch_hidden } => {
                if *branch_channels == 0 || *branch_hidden == 0 {
                    return Err(bad("encoder.branch_channels", "branch widths must be positive"));
                }
                // Bounded so that a typo is an error, not an allocation failure.
                if *branch_channels > 1024 || *branch_hidden > 4096 {
                    return Err(bad(
                        "encoder.branch_channels",
                        format!("{branch_channels} channels, {branch_hidden} hidden units (at most 1024 and 4096)"),
                    ));
                }
            }
            EncoderConfig::Shared => {
                if crate::output_grid(self.latents).is_none() {
                    return Err(bad(
                        "latents",
                        format!(
                            "the shared encoder lays the {} latents out on an r×c grid with r, c ≤ 8; {} has no such factorisation",
                            self.latents, self.latents
                        ),
                    ));
                }
            }
            EncoderConfig::Conv { .. } => {}
        }
        if let NoiseConfig::Correlated { rho } = self.noise
            && !(0.0..1.0).contains(&rho) {
                return Err(bad("noise.rho", format!("{rho} (need 0 ≤ ρ < 1)")));
            }
        let positive = |field, v: f64| if v.is_finite() && v >= 0.0 { Ok(()) } else { Err(bad(field, format!("{v} (need a finite value ≥ 0)"))) };
        match &self.objective {
            ObjectiveConfig::Vae { beta } => positive("objective.beta", *beta)?,
            ObjectiveConfig::AnnealedVae { gamma, c_max, iteration_threshold } => {
                positive("objective.gamma", *gamma)?;
                positive("objective.c_max", *c_max)?;
                if *iteration_threshold == 0 {
                    return Err(bad("objective.iteration_threshold", "must be at least 1"));
                }
            }
            ObjectiveConfig::FactorVae { gamma } => positive("objective.gamma", *gamma)?,
            ObjectiveConfig::DipVaeI { lambda_od, lambda_d } | ObjectiveConfig::DipVaeIi { lambda_od, lambda_d } => {
                positive("objective.lambda_od", *lambda_od)?;
                positive("objective.lambda_d", *lambda_d)?;
            }
            ObjectiveConfig::BetaTcvae { beta } => {
                positive("objective.beta", *beta)?;
            }
        }
        Ok(())
    }
}
