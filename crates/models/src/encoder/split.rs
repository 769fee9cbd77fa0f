//! The paper's split encoder: shared convolutions, then a *no-sharing-parameter block* —
//! for each latent j its own conv layer and two dense layers producing (μ_j, log σ²_j).
//!
//! Fused form, so it is not J times slower than a single network: the J branch convs are one
//! conv with J·C_b output channels (every output channel has its own kernel, so channels
//! j·C_b … (j+1)·C_b − 1 are exactly branch j's conv), and the per-branch dense layers are
//! one batched matmul over [J, in, out] weight tensors.

use burn::module::{Module, Param};
use burn::nn::conv::Conv2d;
use burn::tensor::{Device, Tensor, activation::relu};

use super::{SharedConvs, halving_conv};
use crate::ops::tensor_from;

#[derive(Module, Debug)]
pub struct SplitEncoder {
    pub convs: SharedConvs,
    /// All branch convs fused: 64 → J·C_b channels, k2 s2 (8×8 → 4×4).
    pub branch_conv: Conv2d,
    /// [J, C_b·16, H].
    pub dense1_weight: Param<Tensor<3>>,
    /// [J, 1, H].
    pub dense1_bias: Param<Tensor<3>>,
    /// [J, H, 2]: column 0 → μ_j, column 1 → log σ²_j.
    pub dense2_weight: Param<Tensor<3>>,
    /// [J, 1, 2].
    pub dense2_bias: Param<Tensor<3>>,
    latents: usize,
    branch_channels: usize,
}

impl SplitEncoder {
    pub fn new(channels: usize, latents: usize, branch_channels: usize, branch_hidden: usize, device: &Device) -> Self {
        let zeros = |shape: [usize; 3]| Param::from_tensor(tensor_from(vec![0.0; shape.iter().product()], shape, device));
        SplitEncoder {
            convs: SharedConvs::new(channels, false, device),
            branch_conv: halving_conv(64, latents * branch_channels, false, device),
            // Real values come from `init::init_weights` (Glorot from the run's seed).
            dense1_weight: zeros([latents, branch_channels * 16, branch_hidden]),
            dense1_bias: zeros([latents, 1, branch_hidden]),
            dense2_weight: zeros([latents, branch_hidden, 2]),
            dense2_bias: zeros([latents, 1, 2]),
            latents,
            branch_channels,
        }
    }

    pub fn latents(&self) -> usize {
        self.latents
    }
    pub fn branch_channels(&self) -> usize {
        self.branch_channels
    }

    pub fn forward(&self, x: Tensor<4>) -> (Tensor<2>, Tensor<2>) {
        let b = x.dims()[0];
        let (j, cb) = (self.latents, self.branch_channels);
        let h = relu(self.branch_conv.forward(self.convs.forward(x))); // [B, J·C_b, 4, 4]
        let h: Tensor<3> = h.reshape([b, j, cb * 16]).swap_dims(0, 1); // [J, B, C_b·16]
        let h = relu(h.matmul(self.dense1_weight.val()) + self.dense1_bias.val()); // [J, B, H]
        let out = h.matmul(self.dense2_weight.val()) + self.dense2_bias.val(); // [J, B, 2]
        let mu: Tensor<2> = out.clone().narrow(2, 0, 1).reshape([j, b]).transpose();
        let logvar: Tensor<2> = out.narrow(2, 1, 1).reshape([j, b]).transpose();
        (mu, logvar)
    }

    /// The same network evaluated branch by branch with separate per-branch convolutions
    /// and matmuls (slices of the fused weights): the definition the fused form must equal.
    pub fn forward_per_branch(&self, x: Tensor<4>) -> (Tensor<2>, Tensor<2>) {
        use burn::tensor::module::conv2d;
        use burn::tensor::ops::ConvOptions;
        let (j, cb) = (self.latents, self.branch_channels);
        let shared = self.convs.forward(x);
        let w = self.branch_conv.weight.val();
        let bias = self.branch_conv.bias.as_ref().map(|p| p.val());
        let mut mus = Vec::with_capacity(j);
        let mut logvars = Vec::with_capacity(j);
        for l in 0..j {
            let wl = w.clone().narrow(0, l * cb, cb);
            let bl = bias.clone().map(|b| b.narrow(0, l * cb, cb));
            let h = relu(conv2d(shared.clone(), wl, bl, ConvOptions::new([2, 2], [0, 0], [1, 1], 1)));
            let h: Tensor<2> = h.flatten(1, 3);
            let w1: Tensor<2> = self.dense1_weight.val().narrow(0, l, 1).squeeze_dim(0);
            let b1: Tensor<2> = self.dense1_bias.val().narrow(0, l, 1).squeeze_dim(0);
            let h = relu(h.matmul(w1) + b1);
            let w2: Tensor<2> = self.dense2_weight.val().narrow(0, l, 1).squeeze_dim(0);
            let b2: Tensor<2> = self.dense2_bias.val().narrow(0, l, 1).squeeze_dim(0);
            let out = h.matmul(w2) + b2; // [B, 2]
            mus.push(out.clone().narrow(1, 0, 1));
            logvars.push(out.narrow(1, 1, 1));
        }
        (Tensor::cat(mus, 1), Tensor::cat(logvars, 1))
    }
}
