//! AnnealedVAE (Burgess et al. 2018): recon + γ·|KL − C| with the capacity C growing
//! linearly from 0 to c_max over `iteration_threshold` steps.

use super::{ObjectiveInputs, ObjectiveOutput};

/// C at `step` (shared with the CPU engine).
pub use disentangle_spec::annealed_capacity as capacity;

pub fn loss(gamma: f64, c_max: f64, iteration_threshold: u64, i: ObjectiveInputs<'_>) -> ObjectiveOutput {
    let c = capacity(c_max, iteration_threshold, i.step);
    ObjectiveOutput { loss: i.recon + (i.kl - c).abs() * gamma, tc: None }
}
