//! DIP-VAE (Kumar et al. 2018): match the covariance of the aggregate posterior to I.
//! Type I uses Cov[μ(x)]; type II uses Cov[μ(x)] + E[diag σ²(x)] (the covariance of q(z)).
//! Covariances are batch estimates with divisor B, as in the reference implementation.

use burn::tensor::Tensor;

use super::{ObjectiveInputs, ObjectiveOutput};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    I,
    Ii,
}

/// The covariance the regularizer pushes towards I, [J, J].
pub fn covariance(variant: Variant, mu: Tensor<2>, logvar: Tensor<2>) -> Tensor<2> {
    let [b, j] = mu.dims();
    let centred = mu.clone() - mu.mean_dim(0);
    let cov = centred.clone().transpose().matmul(centred) / b as f64;
    match variant {
        Variant::I => cov,
        Variant::Ii => {
            // E[σ²] on the diagonal: I [J, J] scaled column-wise by the [1, J] means.
            let mean_var = logvar.exp().mean_dim(0);
            cov + Tensor::<2>::eye(j, &mean_var.device()) * mean_var
        }
    }
}

/// λ_od Σ_{i≠j} C_ij² + λ_d Σ_i (C_ii − 1)².
pub fn regularizer(cov: Tensor<2>, lambda_od: f64, lambda_d: f64) -> Tensor<1> {
    let j = cov.dims()[0];
    let eye = Tensor::<2>::eye(j, &cov.device());
    let diag = cov.clone() * eye.clone();
    let off = cov - diag.clone();
    let off_term = off.square().sum() * lambda_od;
    let diag_term = (diag - eye).square().sum() * lambda_d;
    off_term + diag_term
}

pub fn loss(variant: Variant, lambda_od: f64, lambda_d: f64, i: ObjectiveInputs<'_>) -> ObjectiveOutput {
    let reg = regularizer(covariance(variant, i.mu, i.logvar), lambda_od, lambda_d);
    ObjectiveOutput { loss: i.recon + i.kl + reg, tc: None }
}
