//! The reference deconvolutional decoder: code [B, J] → Bernoulli logits [B, C, 64, 64].

use burn::module::Module;
use burn::nn::conv::{ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor, activation::relu};

/// dense 256 ReLU → dense 1024 ReLU → reshape 64×4×4 → deconv 64 → 32 → 32 → C (k4 s2,
/// padding 1: each doubles the size, 4 → 8 → 16 → 32 → 64), ReLU between, logits out.
#[derive(Module, Debug)]
pub struct Decoder {
    pub dense1: Linear,
    pub dense2: Linear,
    pub deconv1: ConvTranspose2d,
    pub deconv2: ConvTranspose2d,
    pub deconv3: ConvTranspose2d,
    pub deconv4: ConvTranspose2d,
}

fn doubling(cin: usize, cout: usize, device: &Device) -> ConvTranspose2d {
    ConvTranspose2dConfig::new([cin, cout], [4, 4]).with_stride([2, 2]).with_padding([1, 1]).init(device)
}

impl Decoder {
    pub fn new(latents: usize, channels: usize, device: &Device) -> Self {
        Decoder {
            dense1: LinearConfig::new(latents, 256).init(device),
            dense2: LinearConfig::new(256, 1024).init(device),
            deconv1: doubling(64, 64, device),
            deconv2: doubling(64, 32, device),
            deconv3: doubling(32, 32, device),
            deconv4: doubling(32, channels, device),
        }
    }

    pub fn forward(&self, z: Tensor<2>) -> Tensor<4> {
        let b = z.dims()[0];
        let h = relu(self.dense2.forward(relu(self.dense1.forward(z))));
        let h: Tensor<4> = h.reshape([b, 64, 4, 4]);
        let h = relu(self.deconv1.forward(h));
        let h = relu(self.deconv2.forward(h));
        let h = relu(self.deconv3.forward(h));
        self.deconv4.forward(h)
    }
}
