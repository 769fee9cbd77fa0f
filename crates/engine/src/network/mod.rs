//! The model family as layer plans over a [`ParamSet`]: the three encoders (conv / conv-k4,
//! split, shared), the decoder and the FactorVAE discriminator, with forward and backward
//! passes over a [`Workspace`] that is allocated once for a batch size and then reused.

use disentangle_spec::config::{EncoderConfig, ModelConfig, ObjectiveConfig};

use crate::conv::{ConvLayer, Geometry, Scratch};
use crate::dense::{Activation, DenseLayer};
use crate::kernels::Kernels;
use crate::params::{ParamSet, TensorId};

/// One layer of a sequential body, with its weight and bias tensors.
#[derive(Debug, Clone, Copy)]
pub enum Stage {
    Conv { layer: ConvLayer, w: TensorId, b: TensorId },
    Dense { layer: DenseLayer, w: TensorId, b: TensorId },
}

impl Stage {
    pub fn output_len(&self) -> usize {
        match self {
            Stage::Conv { layer, .. } => layer.output_len(),
            Stage::Dense { layer, .. } => layer.dout,
        }
    }
    fn col_len(&self) -> usize {
        match self {
            Stage::Conv { layer, .. } => layer.scratch_len(),
            Stage::Dense { .. } => 0,
        }
    }
    fn phase_len(&self) -> usize {
        match self {
            Stage::Conv { layer, .. } => layer.scratch_phase_len(),
            Stage::Dense { .. } => 0,
        }
    }
    /// Column-matrix elements per sample kept from forward to backward: the small ones.
    /// The second reference conv's (512 × 256 per sample, 32 MiB at batch 64) is rebuilt in
    /// backward instead, which keeps a FactorVAE run's memory under 200 MB.
    fn saved_len(&self) -> usize {
        const KEEP_MAX: usize = 1 << 15;
        match self {
            Stage::Conv { layer, .. } if !layer.transposed && layer.parity_shape().is_none() && layer.col_len() <= KEEP_MAX => layer.col_len(),
            _ => 0,
        }
    }

    /// The dense layer of a stage known to be one (conv stages run in runs, see
    /// [`conv_run_forward`]).
    fn dense(&self) -> (DenseLayer, TensorId, TensorId) {
        match *self {
            Stage::Dense { layer, w, b } => (layer, w, b),
            Stage::Conv { .. } => unreachable!("conv stages run through conv_run_forward / conv_run_backward"),
        }
    }

    /// A dense stage forward over `n` rows.
    fn dense_forward(&self, p: &ParamSet, x: &[f32], y: &mut [f32], n: usize) {
        let (layer, w, b) = self.dense();
        layer.forward(p.get(w), p.get(b), x, y, n);
    }

    /// A dense stage backward over `n` rows: parameter gradients into `grads`, the input
    /// gradient into `dx` if asked.
    #[allow(clippy::too_many_arguments)]
    fn dense_backward(&self, p: &ParamSet, grads: &mut [f32], x: &[f32], y: &[f32], dy: &mut [f32], dx: Option<&mut [f32]>, n: usize) {
        let (layer, w, b) = self.dense();
        let (dw, db) = tensor_pair_mut(p, grads, w, b);
        layer.backward(p.get(w), x, y, dy, Some((dw, db)), dx, n);
    }
}

/// The gradient slices of a weight and its bias (adjacent tensors, weight first).
fn tensor_pair_mut<'g>(p: &ParamSet, grads: &'g mut [f32], w: TensorId, b: TensorId) -> (&'g mut [f32], &'g mut [f32]) {
    let (tw, tb) = (&p.tensors[w], &p.tensors[b]);
    debug_assert!(tw.offset + tw.len <= tb.offset);
    let (lo, hi) = grads.split_at_mut(tb.offset);
    (&mut lo[tw.offset..tw.offset + tw.len], &mut hi[..tb.len])
}

/// The gradient slices of the split head's four tensors (w1, b1, w2, b2), which `ParamSet`
/// lays out one after another in that order.
fn head_gradients_mut<'g>(p: &ParamSet, grads: &'g mut [f32], ids: [TensorId; 4]) -> (&'g mut [f32], &'g mut [f32], &'g mut [f32], &'g mut [f32]) {
    let t = ids.map(|id| &p.tensors[id]);
    assert!(t.windows(2).all(|w| w[0].offset + w[0].len <= w[1].offset), "split head tensors out of order");
    let rest = &mut grads[t[0].offset..];
    let (w1, rest) = rest.split_at_mut(t[1].offset - t[0].offset);
    let (b1, rest) = rest.split_at_mut(t[2].offset - t[1].offset);
    let (w2, rest) = rest.split_at_mut(t[3].offset - t[2].offset);
    (&mut w1[..t[0].len], &mut b1[..t[1].len], &mut w2[..t[2].len], &mut rest[..t[3].len])
}

/// How the encoder's last features become (μ, log σ²).
// One per network, built once: the size of its largest variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Copy)]
pub enum Head {
    /// Two dense layers on the same features (the reference encoder).
    Dense { mu: Stage, logvar: Stage },
    /// Per latent j, its own dense layers on its own block of conv channels (split encoder).
    Split { latents: usize, features: usize, hidden: usize, w1: TensorId, b1: TensorId, w2: TensorId, b2: TensorId },
    /// The body's last conv already gives [μ (J) | log σ² (J)] per sample (shared encoder).
    Interleaved,
}

#[derive(Debug, Clone)]
pub struct EncoderPlan {
    pub body: Vec<Stage>,
    pub head: Head,
}

/// The whole model: plans and parameters.
#[derive(Debug, Clone)]
pub struct Network {
    pub config: ModelConfig,
    /// The kernels every layer was planned for.
    pub kernels: Kernels,
    pub encoder: EncoderPlan,
    pub decoder: Vec<Stage>,
    pub discriminator: Option<Vec<Stage>>,
    /// Encoder and decoder parameters, in burn's visiting order of `Vae`.
    pub vae: ParamSet,
    /// Discriminator parameters, in burn's visiting order of `Discriminator`.
    pub disc: Option<ParamSet>,
}

/// Discriminator width and depth (the reference's 6 × 1000, leaky ReLU 0.2).
pub const DISC_WIDTH: usize = 1000;
pub const DISC_HIDDEN: usize = 6;

#[allow(clippy::too_many_arguments)]
fn conv_stage(kernels: Kernels, p: &mut ParamSet, name: &str, cin: usize, cout: usize, hw: usize, k: [usize; 2], stride: usize, pad: usize, relu: bool) -> Stage {
    let w = p.add(format!("{name}.weight"), &[cout, cin, k[0], k[1]]);
    let b = p.add(format!("{name}.bias"), &[cout]);
    let geom = Geometry::new(cin, hw, hw, k[0], k[1], stride, pad);
    Stage::Conv { layer: ConvLayer::new(geom, cout, false, relu, kernels), w, b }
}

/// A transposed conv k4 s2 p1 doubling `hw` (its input size).
fn deconv_stage(k: Kernels, p: &mut ParamSet, name: &str, cin: usize, cout: usize, hw: usize, relu: bool) -> Stage {
    let w = p.add(format!("{name}.weight"), &[cin, cout, 4, 4]);
    let b = p.add(format!("{name}.bias"), &[cout]);
    let geom = Geometry::new(cout, 2 * hw, 2 * hw, 4, 4, 2, 1);
    Stage::Conv { layer: ConvLayer::new(geom, cin, true, relu, k), w, b }
}

fn dense_stage(k: Kernels, p: &mut ParamSet, name: &str, din: usize, dout: usize, act: Activation) -> Stage {
    let w = p.add(format!("{name}.weight"), &[din, dout]);
    let b = p.add(format!("{name}.bias"), &[dout]);
    Stage::Dense { layer: DenseLayer { din, dout, act, kernels: k }, w, b }
}

/// A halving conv of the reference encoder: k4 s2 p1 or k2 s2 p0.
fn halving(k: Kernels, p: &mut ParamSet, name: &str, cin: usize, cout: usize, hw: usize, k4: bool) -> Stage {
    if k4 { conv_stage(k, p, name, cin, cout, hw, [4, 4], 2, 1, true) } else { conv_stage(k, p, name, cin, cout, hw, [2, 2], 2, 0, true) }
}

impl Network {
    /// The plan for `config` with zero parameters (see [`Network::init`]), on this process's
    /// kernels ([`Kernels::current`]).
    pub fn new(config: &ModelConfig) -> Result<Self, disentangle_spec::config::ConfigError> {
        Self::with_kernels(config, Kernels::current())
    }

    /// The plan for `config` with zero parameters, every layer planned for `k`.
    pub fn with_kernels(config: &ModelConfig, k: Kernels) -> Result<Self, disentangle_spec::config::ConfigError> {
        config.validate()?;
        let (c, j) = (config.channels, config.latents);
        let mut p = ParamSet::default();
        let shared_convs = |p: &mut ParamSet, k4_third: bool| {
            vec![
                halving(k, p, "encoder.convs.conv1", c, 32, 64, true),
                halving(k, p, "encoder.convs.conv2", 32, 32, 32, true),
                halving(k, p, "encoder.convs.conv3", 32, 64, 16, k4_third),
            ]
        };
        let encoder = match config.encoder {
            EncoderConfig::Conv { k4_all } => {
                let mut body = shared_convs(&mut p, k4_all);
                body.push(halving(k, &mut p, "encoder.conv4", 64, 64, 8, k4_all));
                body.push(dense_stage(k, &mut p, "encoder.dense", 1024, 256, Activation::Relu));
                let mu = dense_stage(k, &mut p, "encoder.mu", 256, j, Activation::Identity);
                let logvar = dense_stage(k, &mut p, "encoder.logvar", 256, j, Activation::Identity);
                EncoderPlan { body, head: Head::Dense { mu, logvar } }
            }
            EncoderConfig::Split { branch_channels: cb, branch_hidden: h } => {
                let mut body = shared_convs(&mut p, false);
                body.push(halving(k, &mut p, "encoder.branch_conv", 64, j * cb, 8, false));
                let f = cb * 16;
                let w1 = p.add("encoder.dense1_weight", &[j, f, h]);
                let b1 = p.add("encoder.dense1_bias", &[j, 1, h]);
                let w2 = p.add("encoder.dense2_weight", &[j, h, 2]);
                let b2 = p.add("encoder.dense2_bias", &[j, 1, 2]);
                EncoderPlan { body, head: Head::Split { latents: j, features: f, hidden: h, w1, b1, w2, b2 } }
            }
            EncoderConfig::Shared => {
                let (r, cc) = disentangle_spec::output_grid(j).expect("validated latent count");
                let mut body = shared_convs(&mut p, false);
                body.push(conv_stage(k, &mut p, "encoder.head", 64, 2, 8, [9 - r, 9 - cc], 1, 0, false));
                EncoderPlan { body, head: Head::Interleaved }
            }
        };
        let decoder = vec![
            dense_stage(k, &mut p, "decoder.dense1", j, 256, Activation::Relu),
            dense_stage(k, &mut p, "decoder.dense2", 256, 1024, Activation::Relu),
            deconv_stage(k, &mut p, "decoder.deconv1", 64, 64, 4, true),
            deconv_stage(k, &mut p, "decoder.deconv2", 64, 32, 8, true),
            deconv_stage(k, &mut p, "decoder.deconv3", 32, 32, 16, true),
            deconv_stage(k, &mut p, "decoder.deconv4", 32, c, 32, false),
        ];
        let (discriminator, disc) = if matches!(config.objective, ObjectiveConfig::FactorVae { .. }) {
            let mut d = ParamSet::default();
            let mut stages = Vec::new();
            let mut din = j;
            for i in 0..DISC_HIDDEN {
                stages.push(dense_stage(k, &mut d, &format!("hidden.{i}"), din, DISC_WIDTH, Activation::LeakyRelu(0.2)));
                din = DISC_WIDTH;
            }
            stages.push(dense_stage(k, &mut d, "out", DISC_WIDTH, 2, Activation::Identity));
            (Some(stages), Some(d))
        } else {
            (None, None)
        };
        Ok(Network { config: config.clone(), kernels: k, encoder, decoder, discriminator, vae: p, disc })
    }

    /// A freshly initialised model: the weights `disentangle_models::Model::new` gives for the
    /// same seed (VAE from `seed`, discriminator from `seed + 1`).
    pub fn init(config: &ModelConfig, seed: u64) -> Result<Self, disentangle_spec::config::ConfigError> {
        Self::init_with_kernels(config, seed, Kernels::current())
    }

    /// [`Network::init`] planned for `k`: the same weights.
    pub fn init_with_kernels(config: &ModelConfig, seed: u64, k: Kernels) -> Result<Self, disentangle_spec::config::ConfigError> {
        let mut net = Network::with_kernels(config, k)?;
        net.vae.init_glorot(seed);
        if let Some(d) = net.disc.as_mut() {
            d.init_glorot(seed.wrapping_add(1));
        }
        Ok(net)
    }

    pub fn latents(&self) -> usize {
        self.config.latents
    }
    pub fn image_len(&self) -> usize {
        self.config.channels * 64 * 64
    }
}

mod passes;
mod runs;
mod workspace;
pub use workspace::{Gradients, Workspace};

#[cfg(test)]
mod tests;
