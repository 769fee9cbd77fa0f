//! β-VAE (Higgins et al. 2017): recon + β·KL; β = 1 is the vanilla VAE.

use super::{ObjectiveInputs, ObjectiveOutput};

pub fn loss(beta: f64, i: ObjectiveInputs<'_>) -> ObjectiveOutput {
    ObjectiveOutput { loss: i.recon + i.kl * beta, tc: None }
}
