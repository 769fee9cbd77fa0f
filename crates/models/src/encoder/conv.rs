//! The reference ("dlib") convolutional encoder.

use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor, activation::relu};

use super::{SharedConvs, halving_conv};

/// conv 32 k4 s2 → conv 32 k4 s2 → conv 64 k2 s2 → conv 64 k2 s2 (ReLU each) → flatten 1024
/// → dense 256 ReLU → separate dense heads μ (J) and log σ² (J).
#[derive(Module, Debug)]
pub struct ConvEncoder {
    pub convs: SharedConvs,
    pub conv4: Conv2d,
    pub dense: Linear,
    pub mu: Linear,
    pub logvar: Linear,
}

impl ConvEncoder {
    pub fn new(channels: usize, latents: usize, k4_all: bool, device: &Device) -> Self {
        ConvEncoder {
            convs: SharedConvs::new(channels, k4_all, device),
            conv4: halving_conv(64, 64, k4_all, device),
            dense: LinearConfig::new(1024, 256).init(device),
            mu: LinearConfig::new(256, latents).init(device),
            logvar: LinearConfig::new(256, latents).init(device),
        }
    }

    pub fn forward(&self, x: Tensor<4>) -> (Tensor<2>, Tensor<2>) {
        let h = relu(self.conv4.forward(self.convs.forward(x)));
        let h: Tensor<2> = h.flatten(1, 3);
        let h = relu(self.dense.forward(h));
        (self.mu.forward(h.clone()), self.logvar.forward(h))
    }
}
