//! Burn modules of disentangle: the reference convolutional encoder, the paper's split
//! encoder and the sharing-parameter ablation, the deconvolutional decoder, independent and
//! correlated reparameterization noise, the FactorVAE discriminator, and the objectives of
//! the reference study (β-VAE, AnnealedVAE, FactorVAE, DIP-VAE-I/II, β-TCVAE).
//!
//! Modules follow burn 0.22's device dispatch: no backend type parameter, tensors live on a
//! `Device` (`Device::flex().autodiff()` on CPU). Every random draw (initial weights,
//! reparameterization noise, permutations) comes from a seeded ChaCha RNG owned by the
//! caller, so the same seed gives the same numbers on any backend.

/// The configuration types live in the burn-free `disentangle-spec` (the CPU engine uses them).
pub use disentangle_spec::config;
pub mod decoder;
pub mod discriminator;
pub mod encoder;
pub mod init;
pub mod model;
pub mod noise;
pub mod objective;
pub mod ops;

pub use config::{EncoderConfig, ModelConfig, NoiseConfig, ObjectiveConfig};
pub use model::{LossParts, Model, Vae};

pub use burn;
