//! β-TCVAE (Chen et al. 2018): recon + KL + (β − 1)·TC, the total correlation estimated by
//! minibatch-weighted sampling over the batch. Like the reference implementation, the
//! log(N·M) normalising constants are left out: they shift TC by (J − 1)·log(N·M), a
//! constant that does not change gradients.

use std::f64::consts::PI;

use burn::tensor::Tensor;

use super::{ObjectiveInputs, ObjectiveOutput};
use crate::ops::logsumexp;

/// log N(z_i,k; μ_j,k, σ²_j,k) for every pair (i, j) of batch elements: [B, B, J].
pub fn log_density_matrix(z: Tensor<2>, mu: Tensor<2>, logvar: Tensor<2>) -> Tensor<3> {
    let z: Tensor<3> = z.unsqueeze_dim(1); // [B, 1, J]
    let mu: Tensor<3> = mu.unsqueeze_dim(0); // [1, B, J]
    let logvar: Tensor<3> = logvar.unsqueeze_dim(0);
    let diff2 = (z - mu).square();
    (diff2 * (-logvar.clone()).exp() + logvar + (2.0 * PI).ln()) * -0.5
}

/// mean_i [ log Σ_j Π_k q(z_ik|x_j) − Σ_k log Σ_j q(z_ik|x_j) ].
pub fn total_correlation(z: Tensor<2>, mu: Tensor<2>, logvar: Tensor<2>) -> Tensor<1> {
    let m = log_density_matrix(z, mu, logvar); // [B, B, J]
    let log_qz = logsumexp(m.clone().sum_dim(2), 1); // [B, 1, 1]
    let log_qz_product = logsumexp(m, 1).sum_dim(2); // [B, 1, 1]
    (log_qz - log_qz_product).mean()
}

pub fn loss(beta: f64, i: ObjectiveInputs<'_>) -> ObjectiveOutput {
    let tc = total_correlation(i.z, i.mu, i.logvar);
    ObjectiveOutput { loss: i.recon + i.kl + tc.clone() * (beta - 1.0), tc: Some(tc) }
}
