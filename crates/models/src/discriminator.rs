//! The FactorVAE discriminator: an MLP on codes, 6 hidden layers of 1000 units with leaky
//! ReLU (slope 0.2), 2 logits. Class 0: a sample of q(z); class 1: a "permuted" sample,
//! each latent column shuffled independently across the batch (a sample of Π_j q(z_j)).

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Int, Tensor, activation::leaky_relu, activation::log_softmax};

use crate::ops::int_tensor_from;

#[derive(Module, Debug)]
pub struct Discriminator {
    pub hidden: Vec<Linear>,
    pub out: Linear,
}

impl Discriminator {
    pub fn new(latents: usize, device: &Device) -> Self {
        let mut hidden = vec![LinearConfig::new(latents, 1000).init(device)];
        for _ in 0..5 {
            hidden.push(LinearConfig::new(1000, 1000).init(device));
        }
        Discriminator { hidden, out: LinearConfig::new(1000, 2).init(device) }
    }

    /// Logits [B, 2].
    pub fn forward(&self, z: Tensor<2>) -> Tensor<2> {
        let mut h = z;
        for layer in &self.hidden {
            h = leaky_relu(layer.forward(h), 0.2);
        }
        self.out.forward(h)
    }

    /// TC estimate: batch mean of logit₀ − logit₁ (the log density ratio q(z) / Π q(z_j)).
    pub fn tc_estimate(&self, z: Tensor<2>) -> Tensor<1> {
        let logits = self.forward(z);
        (logits.clone().narrow(1, 0, 1) - logits.narrow(1, 1, 1)).mean()
    }

    /// Cross-entropy of classifying `z` as class 0 and `z_permuted` as class 1 (mean of both).
    pub fn loss(&self, z: Tensor<2>, z_permuted: Tensor<2>) -> Tensor<1> {
        let l0 = log_softmax(self.forward(z), 1).narrow(1, 0, 1).mean();
        let l1 = log_softmax(self.forward(z_permuted), 1).narrow(1, 1, 1).mean();
        -(l0 + l1) * 0.5
    }
}

/// Row indices [B, J] that shuffle each column of a [B, J] code independently.
pub fn column_permutations(batch: usize, latents: usize, rng: &mut impl rand::Rng) -> Vec<i64> {
    let mut idx = vec![0i64; batch * latents];
    for j in 0..latents {
        let mut perm: Vec<i64> = (0..batch as i64).collect();
        for i in (1..batch).rev() {
            perm.swap(i, rng.random_range(0..=i));
        }
        for (b, p) in perm.into_iter().enumerate() {
            idx[b * latents + j] = p;
        }
    }
    idx
}

/// z with each column permuted by `indices` (from [`column_permutations`]).
pub fn permute_dims(z: Tensor<2>, indices: Vec<i64>, device: &Device) -> Tensor<2> {
    let dims = z.dims();
    let idx: Tensor<2, Int> = int_tensor_from(indices, dims, device);
    z.gather(0, idx)
}
