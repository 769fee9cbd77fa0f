//! Objectives: each adds its regularizer to the Bernoulli reconstruction loss. All terms
//! are batch means, as in the reference implementation.

pub mod annealed_vae;
pub mod beta_tcvae;
pub mod dip_vae;
pub mod factor_vae;
pub mod vae;

use burn::tensor::Tensor;

use crate::config::ObjectiveConfig;
use crate::discriminator::Discriminator;

/// What an objective sees of one forward pass.
pub struct ObjectiveInputs<'a> {
    /// Mean reconstruction loss (sum over pixels, mean over batch), [1].
    pub recon: Tensor<1>,
    /// Mean KL(q(z|x) ‖ p(z)), [1].
    pub kl: Tensor<1>,
    pub mu: Tensor<2>,
    pub logvar: Tensor<2>,
    pub z: Tensor<2>,
    pub discriminator: Option<&'a Discriminator>,
    /// Training step (AnnealedVAE's capacity schedule).
    pub step: u64,
}

/// The loss to minimise and the objective's total-correlation estimate where it has one.
pub struct ObjectiveOutput {
    pub loss: Tensor<1>,
    pub tc: Option<Tensor<1>>,
}

pub fn evaluate(config: &ObjectiveConfig, inputs: ObjectiveInputs<'_>) -> ObjectiveOutput {
    match *config {
        ObjectiveConfig::Vae { beta } => vae::loss(beta, inputs),
        ObjectiveConfig::AnnealedVae { gamma, c_max, iteration_threshold } => {
            annealed_vae::loss(gamma, c_max, iteration_threshold, inputs)
        }
        ObjectiveConfig::FactorVae { gamma } => factor_vae::loss(gamma, inputs),
        ObjectiveConfig::DipVaeI { lambda_od, lambda_d } => dip_vae::loss(dip_vae::Variant::I, lambda_od, lambda_d, inputs),
        ObjectiveConfig::DipVaeIi { lambda_od, lambda_d } => dip_vae::loss(dip_vae::Variant::Ii, lambda_od, lambda_d, inputs),
        ObjectiveConfig::BetaTcvae { beta } => beta_tcvae::loss(beta, inputs),
    }
}
