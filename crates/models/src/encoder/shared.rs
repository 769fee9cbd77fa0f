//! The sharing-parameter ablation: no no-sharing block. The conv features are flattened
//! straight into the representation, so latents produced at different spatial positions of
//! the same channel are computed with the same kernel weights.

use burn::module::Module;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::tensor::{Device, Tensor};

use super::SharedConvs;

pub use disentangle_spec::output_grid;

/// The three shared reference convs (→ 8×8×64), then one conv with 2 output channels
/// (μ, log σ²) and kernel (9 − r)×(9 − c), stride 1, whose r×c outputs are the J latents.
#[derive(Module, Debug)]
pub struct SharedEncoder {
    pub convs: SharedConvs,
    pub head: Conv2d,
    latents: usize,
}

impl SharedEncoder {
    /// Panics if J has no r×c layout (checked earlier by `ModelConfig::validate`).
    pub fn new(channels: usize, latents: usize, device: &Device) -> Self {
        let (r, c) = output_grid(latents).expect("validated latent count");
        SharedEncoder {
            convs: SharedConvs::new(channels, false, device),
            head: Conv2dConfig::new([64, 2], [9 - r, 9 - c]).with_padding(PaddingConfig2d::Valid).init(device),
            latents,
        }
    }

    pub fn forward(&self, x: Tensor<4>) -> (Tensor<2>, Tensor<2>) {
        let b = x.dims()[0];
        let out = self.head.forward(self.convs.forward(x)); // [B, 2, r, c]
        let out: Tensor<3> = out.reshape([b, 2, self.latents]);
        let mu: Tensor<2> = out.clone().narrow(1, 0, 1).reshape([b, self.latents]);
        let logvar: Tensor<2> = out.narrow(1, 1, 1).reshape([b, self.latents]);
        (mu, logvar)
    }
}
