//! FactorVAE (Kim & Mnih 2018): recon + KL + γ·TC, the total correlation estimated by the
//! discriminator's log density ratio. The discriminator itself is trained by a separate
//! optimizer on detached codes (see `Discriminator::loss`); here its parameters only carry
//! gradients that the VAE's optimizer ignores.

use super::{ObjectiveInputs, ObjectiveOutput};

pub fn loss(gamma: f64, i: ObjectiveInputs<'_>) -> ObjectiveOutput {
    let d = i.discriminator.expect("factor-vae models own a discriminator");
    let tc = d.tc_estimate(i.z);
    ObjectiveOutput { loss: i.recon + i.kl + tc.clone() * gamma, tc: Some(tc) }
}
