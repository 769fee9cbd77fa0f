//! Encoders: images [B, C, 64, 64] → (μ, log σ²), each [B, J].

pub mod conv;
pub mod shared;
pub mod split;

use burn::module::Module;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::tensor::{Device, Tensor, activation::relu};

pub use conv::ConvEncoder;
pub use shared::SharedEncoder;
pub use split::SplitEncoder;

use crate::config::EncoderConfig;

/// Any of the three encoders.
#[derive(Module, Debug)]
pub enum Encoder {
    Conv(ConvEncoder),
    Split(SplitEncoder),
    Shared(SharedEncoder),
}

impl Encoder {
    pub fn new(config: &EncoderConfig, channels: usize, latents: usize, device: &Device) -> Self {
        match config {
            EncoderConfig::Conv { k4_all } => Encoder::Conv(ConvEncoder::new(channels, latents, *k4_all, device)),
            EncoderConfig::Split { branch_channels, branch_hidden } => {
                Encoder::Split(SplitEncoder::new(channels, latents, *branch_channels, *branch_hidden, device))
            }
            EncoderConfig::Shared => Encoder::Shared(SharedEncoder::new(channels, latents, device)),
        }
    }

    /// (μ, log σ²), each [B, J].
    pub fn forward(&self, x: Tensor<4>) -> (Tensor<2>, Tensor<2>) {
        match self {
            Encoder::Conv(e) => e.forward(x),
            Encoder::Split(e) => e.forward(x),
            Encoder::Shared(e) => e.forward(x),
        }
    }
}

/// The first three convolutions of the reference encoder, shared by all three encoders:
/// 64×64×C → 32×32×32 → 16×16×32 → 8×8×64, ReLU after each.
#[derive(Module, Debug)]
pub struct SharedConvs {
    pub conv1: Conv2d,
    pub conv2: Conv2d,
    pub conv3: Conv2d,
}

/// conv k4 s2 with "same" padding (1 on each side) or k2 s2 (no padding): both halve the size.
pub(crate) fn halving_conv(cin: usize, cout: usize, k4: bool, device: &Device) -> Conv2d {
    let (k, p) = if k4 { (4, 1) } else { (2, 0) };
    Conv2dConfig::new([cin, cout], [k, k])
        .with_stride([2, 2])
        .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
        .init(device)
}

impl SharedConvs {
    pub fn new(channels: usize, k4_all: bool, device: &Device) -> Self {
        SharedConvs {
            conv1: halving_conv(channels, 32, true, device),
            conv2: halving_conv(32, 32, true, device),
            conv3: halving_conv(32, 64, k4_all, device),
        }
    }
    /// [B, C, 64, 64] → [B, 64, 8, 8].
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = relu(self.conv1.forward(x));
        let x = relu(self.conv2.forward(x));
        relu(self.conv3.forward(x))
    }
}
