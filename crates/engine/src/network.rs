//! The model family as layer plans over a [`ParamSet`]: the three encoders (conv / conv-k4,
//! split, shared), the decoder and the FactorVAE discriminator, with forward and backward
//! passes over a [`Workspace`] that is allocated once for a batch size and then reused.

use disentangle_spec::config::{EncoderConfig, ModelConfig, ObjectiveConfig};

use rayon::prelude::*;

use crate::conv::{ConvLayer, Geometry, Scratch, SendPtr, per_task};
use crate::dense::{Activation, DenseLayer, column_sums};
use crate::kernels::Kernels;
use crate::simd::wide;
use crate::matmul::{View, matmul};
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

/// Forward activations and (for training) gradient buffers for up to `capacity` samples.
#[derive(Debug)]
pub struct Workspace {
    pub capacity: usize,
    pub enc: Vec<Vec<f32>>,
    /// Split encoder: hidden activations [J, n, H] and head outputs [J, n, 2].
    pub split_hidden: Vec<f32>,
    pub split_out: Vec<f32>,
    pub mu: Vec<f32>,
    pub logvar: Vec<f32>,
    pub eps: Vec<f32>,
    pub z: Vec<f32>,
    pub dec: Vec<Vec<f32>>,
    /// Discriminator input [2n, J] (codes, then permuted codes) and layer outputs [2n, width].
    pub disc_in: Vec<f32>,
    pub disc: Vec<Vec<f32>>,
    pub scratch: Vec<Scratch>,
    /// Training only: each encoder conv's column matrices, kept for its backward pass.
    pub enc_cols: Vec<Vec<f32>>,
    pub grads: Option<Gradients>,
    /// Samples each thread carries through a whole run of conv layers before its next ones
    /// ([`Kernels::group`], which a test may change here).
    pub run_group: usize,
}

/// Gradient buffers mirroring the activations, and the parameter gradients. A conv stage
/// followed by another conv has an empty buffer in `enc` / `dec`: its output gradient never
/// leaves the thread that carries a sample through the run (see [`Scratch::run_grads`]).
#[derive(Debug)]
pub struct Gradients {
    pub enc: Vec<Vec<f32>>,
    pub split_hidden: Vec<f32>,
    pub split_out: Vec<f32>,
    /// Split encoder: each latent's gradient of its feature block [J, n, F], before they are
    /// interleaved into the body's output gradient.
    pub split_dfeats: Vec<f32>,
    pub mu: Vec<f32>,
    pub logvar: Vec<f32>,
    pub z: Vec<f32>,
    pub dec: Vec<Vec<f32>>,
    pub disc: Vec<Vec<f32>>,
    pub disc_in: Vec<f32>,
    pub vae: Vec<f32>,
    pub disc_params: Vec<f32>,
}

impl Workspace {
    /// Buffers for batches of up to `capacity`; `training` adds the gradient buffers.
    pub fn new(net: &Network, capacity: usize, training: bool) -> Self {
        let n = capacity.max(1);
        let j = net.latents();
        let bufs = |stages: &[Stage], rows: usize| stages.iter().map(|s| vec![0.0; rows * s.output_len()]).collect::<Vec<_>>();
        let (sh, so, sf) = match net.encoder.head {
            Head::Split { latents, hidden, features, .. } => (latents * n * hidden, latents * n * 2, latents * n * features),
            _ => (0, 0, 0),
        };
        let disc_stages = net.discriminator.as_deref().unwrap_or(&[]);
        let threads = rayon::current_num_threads().max(1);
        let col = net.encoder.body.iter().chain(&net.decoder).map(Stage::col_len).max().unwrap_or(0);
        let phases = net.encoder.body.iter().chain(&net.decoder).map(Stage::phase_len).max().unwrap_or(0);
        // A run of conv layers keeps every layer's weight-gradient partials and packed
        // weights at once (one body's conv layers bound a run).
        let run_total = |f: &dyn Fn(&ConvLayer) -> usize| {
            let body = |stages: &[Stage]| stages.iter().map(|s| if let Stage::Conv { layer, .. } = s { f(layer) } else { 0 }).sum::<usize>();
            body(&net.encoder.body).max(body(&net.decoder))
        };
        let (wmax, bmax) = (run_total(&ConvLayer::partial_len), run_total(&ConvLayer::bias_len));
        let wperm = run_total(&ConvLayer::wperm_len);
        let inner = |stages: &[Stage]| (0..stages.len()).filter(|&i| gradient_stays_in_run(stages, i)).map(|i| stages[i].output_len()).sum::<usize>();
        let group = net.kernels.group().clamp(1, per_task(n, threads));
        let run_grads = if training { group * inner(&net.encoder.body).max(inner(&net.decoder)) } else { 0 };
        let scratch = (0..threads)
            .map(|_| {
                let mut s = Scratch::default();
                s.reserve(col, wmax, bmax, phases, wperm);
                s.run_grads = vec![0.0; run_grads];
                s
            })
            .collect();
        // Output gradients inside a conv run live in the threads' scratch, not here.
        let grad_bufs = |stages: &[Stage]| {
            (0..stages.len()).map(|i| if gradient_stays_in_run(stages, i) { Vec::new() } else { vec![0.0; n * stages[i].output_len()] }).collect::<Vec<_>>()
        };
        let grads = training.then(|| Gradients {
            enc: grad_bufs(&net.encoder.body),
            split_hidden: vec![0.0; sh],
            split_out: vec![0.0; so],
            split_dfeats: vec![0.0; sf],
            mu: vec![0.0; n * j],
            logvar: vec![0.0; n * j],
            z: vec![0.0; n * j],
            dec: grad_bufs(&net.decoder),
            disc: bufs(disc_stages, 2 * n),
            disc_in: vec![0.0; 2 * n * j],
            vae: vec![0.0; net.vae.len()],
            disc_params: vec![0.0; net.disc.as_ref().map_or(0, ParamSet::len)],
        });
        Workspace {
            capacity: n,
            enc: bufs(&net.encoder.body, n),
            split_hidden: vec![0.0; sh],
            split_out: vec![0.0; so],
            mu: vec![0.0; n * j],
            logvar: vec![0.0; n * j],
            eps: vec![0.0; n * j],
            z: vec![0.0; n * j],
            dec: bufs(&net.decoder, n),
            disc_in: vec![0.0; 2 * n * j],
            disc: bufs(disc_stages, 2 * n),
            scratch,
            enc_cols: if training { net.encoder.body.iter().map(|s| vec![0.0; n * s.saved_len()]).collect() } else { Vec::new() },
            grads,
            run_group: net.kernels.group(),
        }
    }
}

/// Most conv stages one run of [`conv_run_forward`] / [`conv_run_backward`] carries.
const MAX_RUN: usize = 8;

/// The conv layer of a stage known to be one.
fn conv_of(stage: &Stage) -> (ConvLayer, TensorId, TensorId) {
    match *stage {
        Stage::Conv { layer, w, b } => (layer, w, b),
        Stage::Dense { .. } => unreachable!("a conv run holds conv stages only"),
    }
}

/// Whether a stage is a conv that runs on its own, a group of samples at once
/// ([`ConvLayer::grouped`]), rather than sample by sample inside a run.
fn runs_alone(stage: &Stage) -> bool {
    matches!(stage, Stage::Conv { layer, .. } if layer.grouped())
}

/// Whether a stage is a conv that joins its neighbours in a run.
fn joins_run(stage: &Stage) -> bool {
    matches!(stage, Stage::Conv { .. }) && !runs_alone(stage)
}

/// The number of conv stages from the first on: a run is every conv up to the next dense
/// stage (at most [`MAX_RUN`], which the models' plans stay below), or one conv that
/// [`runs_alone`].
fn conv_run_len(stages: &[Stage]) -> usize {
    match stages.first() {
        Some(s) if runs_alone(s) => 1,
        _ => stages.iter().take_while(|s| joins_run(s)).count(),
    }
}

/// [`conv_run_len`] from the last stage back: the run that ends there.
fn conv_run_len_back(stages: &[Stage]) -> usize {
    match stages.last() {
        Some(s) if runs_alone(s) => 1,
        _ => stages.iter().rev().take_while(|s| joins_run(s)).count(),
    }
}

/// Prefix sums of `f` over a run's layers: where each layer's share of a buffer starts.
fn offsets(stages: &[Stage], f: impl Fn(&ConvLayer) -> usize) -> [usize; MAX_RUN + 1] {
    let mut at = [0; MAX_RUN + 1];
    for (l, s) in stages.iter().enumerate() {
        at[l + 1] = at[l] + f(&conv_of(s).0);
    }
    at
}

/// Runs consecutive conv stages forward, carrying each thread's samples through all of them
/// `group` samples at a time (see [`Workspace::run_group`]): a layer then reads its input
/// right after the layer below wrote it, from cache, instead of a whole batch's activations
/// (8 MB for the first conv's output at batch 64) one layer later. Same arithmetic, sample by
/// sample, as the layer-by-layer passes, so the results are the same bits.
#[allow(clippy::too_many_arguments)]
fn conv_run_forward(stages: &[Stage], p: &ParamSet, x: &[f32], outs: &mut [Vec<f32>], r0: usize, n: usize, scratch: &mut [Scratch], saved: &mut [Vec<f32>], group: usize) {
    let len = stages.len();
    assert!((1..=MAX_RUN).contains(&len) && outs.len() >= len, "conv run: stages and outputs");
    let in_len = conv_of(&stages[0]).0.input_len();
    let level = conv_of(&stages[0]).0.kernels().vectors();
    assert!(x.len() >= n * in_len, "conv run: input too small");
    let mut out = [SendPtr(std::ptr::null_mut()); MAX_RUN];
    let mut keep = [None; MAX_RUN];
    for (l, stage) in stages.iter().enumerate() {
        let ol = stage.output_len();
        assert!(outs[l].len() >= (r0 + n) * ol, "conv run: output too small");
        out[l] = SendPtr(outs[l][r0 * ol..].as_mut_ptr());
        if stage.saved_len() > 0
            && let Some(v) = saved.get_mut(l).filter(|v| !v.is_empty())
        {
            assert!(v.len() >= n * stage.saved_len(), "conv run: saved columns too small");
            keep[l] = Some(SendPtr(v.as_mut_ptr()));
        }
    }
    let wat = offsets(stages, ConvLayer::wperm_len);
    let mut wperm = std::mem::take(&mut scratch[0].wperm);
    assert!(wperm.len() >= wat[len], "conv run: weight buffer too small");
    for (l, stage) in stages.iter().enumerate() {
        let (layer, w, _) = conv_of(stage);
        layer.prepare_forward(p.get(w), &mut wperm[wat[l]..wat[l + 1]]);
    }
    let per = per_task(n, scratch.len());
    let (tasks, group) = (n.div_ceil(per), group.clamp(1, per));
    scratch[..tasks].par_iter_mut().enumerate().for_each(|(t, sc)| wide(level, #[inline(always)] || {
        let mine = t * per..((t + 1) * per).min(n);
        for g0 in mine.clone().step_by(group) {
            let samples = g0..(g0 + group).min(mine.end);
            for (l, stage) in stages.iter().enumerate() {
                let (layer, w, b) = conv_of(stage);
                let (il, ol, cl) = (layer.input_len(), layer.output_len(), stage.saved_len());
                for s in samples.clone() {
                    // SAFETY: sample s's rows of every buffer of the run belong to this task
                    // alone; the layer below finished writing them (same task, earlier).
                    let xs = if l == 0 { &x[s * il..][..il] } else { unsafe { std::slice::from_raw_parts(out[l - 1].0.add(s * il), il) } };
                    let yo = unsafe { std::slice::from_raw_parts_mut(out[l].0.add(s * ol), ol) };
                    let cols = keep[l].map(|ptr| unsafe { std::slice::from_raw_parts_mut(ptr.0.add(s * cl), cl) });
                    layer.forward_one(p.get(w), &wperm[wat[l]..wat[l + 1]], p.get(b), xs, yo, sc, cols);
                }
            }
        }
    }));
    scratch[0].wperm = wperm;
}

/// Runs consecutive conv stages backward, each thread's samples a group at a time through
/// all of them (as [`conv_run_forward`]), from douts[last] (already set). Parameter
/// gradients are written into `grads`, the input gradient into `dx` if asked. The gradients
/// between the run's layers never leave the thread: each lives in its scratch
/// ([`Scratch::run_grads`], one group's worth per layer) from the layer above writing it to
/// the layer below reading it, so douts holds only the run's last output gradient.
#[allow(clippy::too_many_arguments)]
fn conv_run_backward(
    stages: &[Stage],
    p: &ParamSet,
    grads: &mut [f32],
    x: &[f32],
    outs: &[Vec<f32>],
    douts: &mut [Vec<f32>],
    dx: Option<&mut [f32]>,
    n: usize,
    scratch: &mut [Scratch],
    saved: &[Vec<f32>],
    group: usize,
) {
    let len = stages.len();
    assert!((1..=MAX_RUN).contains(&len) && outs.len() >= len && douts.len() >= len, "conv run: stages and buffers");
    let in_len = conv_of(&stages[0]).0.input_len();
    let level = conv_of(&stages[0]).0.kernels().vectors();
    assert!(x.len() >= n * in_len, "conv run: input too small");
    for (l, stage) in stages.iter().enumerate() {
        assert!(outs[l].len() >= n * stage.output_len(), "conv run: outputs too small");
    }
    let top_len = stages[len - 1].output_len();
    assert!(douts[len - 1].len() >= n * top_len, "conv run: output gradient too small");
    let top = SendPtr(douts[len - 1].as_mut_ptr());
    let dx = dx.map(|d| {
        assert!(d.len() >= n * in_len, "conv run: dx too small");
        SendPtr(d.as_mut_ptr())
    });
    let (wat, gwat, gbat) = (offsets(stages, ConvLayer::wperm_len), offsets(stages, ConvLayer::partial_len), offsets(stages, ConvLayer::bias_len));
    let mut wperm = std::mem::take(&mut scratch[0].wperm);
    assert!(wperm.len() >= wat[len], "conv run: weight buffer too small");
    for (l, stage) in stages.iter().enumerate() {
        let (layer, w, _) = conv_of(stage);
        if l > 0 || dx.is_some() {
            layer.prepare_backward(p.get(w), &mut wperm[wat[l]..wat[l + 1]]);
        }
    }
    let per = per_task(n, scratch.len());
    let (tasks, group) = (n.div_ceil(per), group.clamp(1, per));
    // Where each layer's group of output gradients starts in a thread's run_grads (the last
    // layer's live in douts).
    let mut gat = offsets(&stages[..len - 1], ConvLayer::output_len);
    gat.iter_mut().for_each(|o| *o *= group);
    let inner = gat[len - 1];
    scratch[..tasks].par_iter_mut().enumerate().for_each(|(t, sc)| wide(level, #[inline(always)] || {
        // Whole copies, so the closure captures the Sync wrappers rather than their pointers.
        let (top, dx) = (top, dx);
        let (mut dwp, mut dbp, mut between) = (std::mem::take(&mut sc.dw), std::mem::take(&mut sc.db), std::mem::take(&mut sc.run_grads));
        if between.len() < inner {
            // Only when the group size grew since the workspace was made (comparisons).
            between.resize(inner, 0.0);
        }
        dwp[..gwat[len]].fill(0.0);
        dbp[..gbat[len]].fill(0.0);
        let mine = t * per..((t + 1) * per).min(n);
        for g0 in mine.clone().step_by(group) {
            let samples = g0..(g0 + group).min(mine.end);
            for (l, stage) in stages.iter().enumerate().rev() {
                let (layer, w, _) = conv_of(stage);
                let (il, ol, cl) = (layer.input_len(), layer.output_len(), stage.saved_len());
                for s in samples.clone() {
                    let i = s - g0;
                    let xs = if l == 0 { &x[s * il..][..il] } else { &outs[l - 1][s * il..][..il] };
                    let (below, this) = between.split_at_mut(gat[l]);
                    let dyo = if l + 1 == len {
                        // SAFETY: sample s's rows of the run's output gradient belong to this task alone.
                        unsafe { std::slice::from_raw_parts_mut(top.0.add(s * ol), ol) }
                    } else {
                        &mut this[i * ol..][..ol]
                    };
                    let dxs = if l == 0 {
                        // SAFETY: as above, for the run's input gradient.
                        dx.map(|ptr| unsafe { std::slice::from_raw_parts_mut(ptr.0.add(s * il), il) })
                    } else {
                        Some(&mut below[gat[l - 1] + i * il..][..il])
                    };
                    let cols = saved.get(l).filter(|v| cl > 0 && !v.is_empty()).map(|v| &v[s * cl..][..cl]);
                    let (dw, db) = (&mut dwp[gwat[l]..gwat[l + 1]], &mut dbp[gbat[l]..gbat[l + 1]]);
                    layer.backward_one(p.get(w), &wperm[wat[l]..wat[l + 1]], xs, &outs[l][s * ol..][..ol], dyo, dw, db, dxs, sc, cols);
                }
            }
        }
        (sc.dw, sc.db, sc.run_grads) = (dwp, dbp, between);
    }));
    scratch[0].wperm = wperm;
    for (l, stage) in stages.iter().enumerate() {
        let (layer, w, b) = conv_of(stage);
        let (dw, db) = tensor_pair_mut(p, grads, w, b);
        layer.reduce_gradients(scratch[..tasks].iter().map(|sc| (&sc.dw[gwat[l]..gwat[l + 1]], &sc.db[gbat[l]..gbat[l + 1]])), dw, db);
    }
}

/// Whether stage i's output gradient stays inside a conv run ([`conv_run_backward`]): a conv
/// followed by a conv.
fn gradient_stays_in_run(stages: &[Stage], i: usize) -> bool {
    joins_run(&stages[i]) && stages.get(i + 1).is_some_and(joins_run)
}

/// Runs `stages` forward: outs[i] = stage_i(outs[i − 1]), outs[−1] = x; rows `r0..r0 + n`.
/// `saved`: per stage, where a conv keeps its column matrices (empty: not kept).
#[allow(clippy::too_many_arguments)]
fn body_forward(stages: &[Stage], p: &ParamSet, x: &[f32], outs: &mut [Vec<f32>], r0: usize, n: usize, scratch: &mut [Scratch], saved: &mut [Vec<f32>], group: usize) {
    let mut i = 0;
    while i < stages.len() {
        let (done, rest) = outs.split_at_mut(i);
        let input = if i == 0 { x } else { &done[i - 1][r0 * stages[i - 1].output_len()..] };
        let run = conv_run_len(&stages[i..]);
        if let Stage::Conv { layer, w, b } = stages[i]
            && layer.grouped()
        {
            let ol = layer.output_len();
            layer.forward(p.get(w), p.get(b), input, &mut rest[0][r0 * ol..], n, scratch, None);
            i += 1;
        } else if run > 0 {
            let keep = saved.get_mut(i..i + run).unwrap_or(&mut []);
            conv_run_forward(&stages[i..i + run], p, input, rest, r0, n, scratch, keep, group);
            i += run;
        } else {
            let ol = stages[i].output_len();
            stages[i].dense_forward(p, input, &mut rest[0][r0 * ol..], n);
            i += 1;
        }
    }
}

/// Runs `stages` backward from douts[last] (∂loss/∂ last output, already set). Param
/// gradients are written into `grads`; `dx` (∂loss/∂x) if asked.
#[allow(clippy::too_many_arguments)]
fn body_backward(
    stages: &[Stage],
    p: &ParamSet,
    grads: &mut [f32],
    x: &[f32],
    outs: &[Vec<f32>],
    douts: &mut [Vec<f32>],
    dx: Option<&mut [f32]>,
    n: usize,
    scratch: &mut [Scratch],
    saved: &[Vec<f32>],
    group: usize,
) {
    let mut dx = dx;
    let mut end = stages.len();
    while end > 0 {
        let convs = conv_run_len_back(&stages[..end]);
        let start = end - convs.max(1);
        let input = if start == 0 { x } else { &outs[start - 1][..] };
        let (lower, upper) = douts.split_at_mut(start);
        let d_in: Option<&mut [f32]> = if start == 0 { dx.take() } else { Some(&mut lower[start - 1][..]) };
        if let Stage::Conv { layer, w, b } = stages[start]
            && layer.grouped()
        {
            let (dw, db) = tensor_pair_mut(p, grads, w, b);
            layer.backward(p.get(w), input, &outs[start], &mut upper[0], dw, db, d_in, n, scratch, None);
        } else if convs > 0 {
            let cols = saved.get(start..end).unwrap_or(&[]);
            conv_run_backward(&stages[start..end], p, grads, input, &outs[start..end], upper, d_in, n, scratch, cols, group);
        } else {
            stages[start].dense_backward(p, grads, input, &outs[start], &mut upper[0], d_in, n);
        }
        end = start;
    }
}

impl Network {
    /// μ and log σ² of `n` images x [n, C, 64, 64] into ws.mu, ws.logvar.
    pub fn encode(&self, ws: &mut Workspace, x: &[f32], n: usize) {
        assert!(n <= ws.capacity, "batch larger than the workspace");
        let j = self.latents();
        let p = &self.vae;
        body_forward(&self.encoder.body, p, x, &mut ws.enc, 0, n, &mut ws.scratch, &mut ws.enc_cols, ws.run_group);
        let feats = ws.enc.last().expect("encoders have a body");
        match self.encoder.head {
            Head::Dense { mu, logvar } => {
                mu.dense_forward(p, feats, &mut ws.mu, n);
                logvar.dense_forward(p, feats, &mut ws.logvar, n);
            }
            Head::Split { latents, features: f, hidden: h, w1, b1, w2, b2 } => {
                let (w1, b1, w2, b2) = (p.get(w1), p.get(b1), p.get(w2), p.get(b2));
                // One task per latent: each head's products are too small to share, and the
                // heads are independent (the same bits whatever the threads).
                let hidden = ws.split_hidden[..latents * n * h].par_chunks_mut(n * h);
                let outs = ws.split_out[..latents * n * 2].par_chunks_mut(n * 2);
                hidden.zip(outs).enumerate().for_each(|(l, (hid, out))| {
                    let a = View { data: &feats[l * f..], rs: latents * f, cs: 1 };
                    matmul(n, h, f, hid, h, false, a, View::rows(&w1[l * f * h..(l + 1) * f * h], h), false);
                    Activation::Relu.bias_and_apply(self.kernels.vectors(), hid, &b1[l * h..(l + 1) * h]);
                    matmul(n, 2, h, out, 2, false, View::rows(hid, h), View::rows(&w2[l * h * 2..(l + 1) * h * 2], 2), false);
                    Activation::Identity.bias_and_apply(self.kernels.vectors(), out, &b2[l * 2..(l + 1) * 2]);
                });
                for l in 0..latents {
                    let out = &ws.split_out[l * n * 2..(l + 1) * n * 2];
                    for b in 0..n {
                        ws.mu[b * j + l] = out[2 * b];
                        ws.logvar[b * j + l] = out[2 * b + 1];
                    }
                }
            }
            Head::Interleaved => {
                for b in 0..n {
                    ws.mu[b * j..(b + 1) * j].copy_from_slice(&feats[b * 2 * j..b * 2 * j + j]);
                    ws.logvar[b * j..(b + 1) * j].copy_from_slice(&feats[b * 2 * j + j..(b + 1) * 2 * j]);
                }
            }
        }
    }

    /// Bernoulli logits [n, C, 64, 64] of codes `z` [n, J], into ws.dec.last().
    pub fn decode(&self, ws: &mut Workspace, z: &[f32], n: usize) {
        assert!(n <= ws.capacity, "batch larger than the workspace");
        body_forward(&self.decoder, &self.vae, z, &mut ws.dec, 0, n, &mut ws.scratch, &mut [], ws.run_group);
    }

    /// Discriminator logits of rows `r0..r0 + n` of ws.disc_in into ws.disc.last().
    pub fn discriminate(&self, ws: &mut Workspace, r0: usize, n: usize) {
        let (stages, p) = (self.discriminator.as_ref().expect("factor-vae"), self.disc.as_ref().expect("factor-vae"));
        let j = self.latents();
        let input = std::mem::take(&mut ws.disc_in);
        body_forward(stages, p, &input[r0 * j..], &mut ws.disc, r0, n, &mut ws.scratch, &mut [], ws.run_group);
        ws.disc_in = input;
    }

    /// Encoder backward from gradients in g.mu, g.logvar; parameter gradients into g.vae.
    pub fn encoder_backward(&self, ws: &mut Workspace, x: &[f32], n: usize) {
        let j = self.latents();
        let p = &self.vae;
        let g = ws.grads.as_mut().expect("training workspace");
        let last = self.encoder.body.len() - 1;
        let feats = &ws.enc[last];
        match self.encoder.head {
            Head::Dense { mu, logvar } => {
                let dfeats = &mut g.enc[last];
                let (Stage::Dense { layer: lm, w: wm, b: bm }, Stage::Dense { layer: ll, w: wl, b: bl }) = (mu, logvar) else {
                    unreachable!("dense heads")
                };
                {
                    let (dw, db) = tensor_pair_mut(p, &mut g.vae, wm, bm);
                    lm.backward(p.get(wm), feats, &ws.mu, &mut g.mu, Some((dw, db)), Some(dfeats), n);
                }
                let (dw, db) = tensor_pair_mut(p, &mut g.vae, wl, bl);
                // dfeats += dlogvar · W_lvᵀ: the identity head's backward, accumulated by hand.
                column_sums(&g.logvar[..n * j], j, db);
                matmul(ll.din, j, n, dw, j, false, View::transposed(feats, ll.din), View::rows(&g.logvar, j), true);
                matmul(n, ll.din, j, dfeats, ll.din, true, View::rows(&g.logvar, j), View::transposed(p.get(wl), j), true);
            }
            Head::Split { latents, features: f, hidden: h, w1, b1, w2, b2 } => {
                let dfeats = &mut g.enc[last];
                let (w1v, w2v) = (p.get(w1), p.get(w2));
                for l in 0..latents {
                    let dout = &mut g.split_out[l * n * 2..(l + 1) * n * 2];
                    for b in 0..n {
                        dout[2 * b] = g.mu[b * j + l];
                        dout[2 * b + 1] = g.logvar[b * j + l];
                    }
                }
                // One task per latent, as in the forward pass; each writes its own slices of
                // the four head tensors' gradients and its own feature-gradient block.
                let (dw1, db1, dw2, db2) = head_gradients_mut(p, &mut g.vae, [w1, b1, w2, b2]);
                let per_latent = g.split_out[..latents * n * 2]
                    .par_chunks(n * 2)
                    .zip(g.split_hidden[..latents * n * h].par_chunks_mut(n * h))
                    .zip(g.split_dfeats[..latents * n * f].par_chunks_mut(n * f))
                    .zip(dw1.par_chunks_mut(f * h).zip(db1.par_chunks_mut(h)))
                    .zip(dw2.par_chunks_mut(h * 2).zip(db2.par_chunks_mut(2)));
                per_latent.enumerate().for_each(|(l, ((((dout, dhid), dfl), (dw1, db1)), (dw2, db2)))| {
                    let hid = &ws.split_hidden[l * n * h..(l + 1) * n * h];
                    column_sums(dout, 2, db2);
                    matmul(h, 2, n, dw2, 2, false, View::transposed(hid, h), View::rows(dout, 2), false);
                    let w2l = &w2v[l * h * 2..(l + 1) * h * 2];
                    matmul(n, h, 2, dhid, h, false, View::rows(dout, 2), View::transposed(w2l, 2), false);
                    Activation::Relu.backward_in_place(self.kernels.vectors(), hid, dhid);
                    column_sums(dhid, h, db1);
                    let a = View { data: &feats[l * f..], rs: 1, cs: latents * f };
                    matmul(f, h, n, dw1, h, false, a, View::rows(dhid, h), false);
                    let w1l = &w1v[l * f * h..(l + 1) * f * h];
                    matmul(n, f, h, dfl, f, false, View::rows(dhid, h), View::transposed(w1l, h), false);
                });
                for b in 0..n {
                    for l in 0..latents {
                        let src = &g.split_dfeats[(l * n + b) * f..(l * n + b + 1) * f];
                        dfeats[(b * latents + l) * f..(b * latents + l + 1) * f].copy_from_slice(src);
                    }
                }
            }
            Head::Interleaved => {
                let dfeats = &mut g.enc[last];
                for b in 0..n {
                    dfeats[b * 2 * j..b * 2 * j + j].copy_from_slice(&g.mu[b * j..(b + 1) * j]);
                    dfeats[b * 2 * j + j..(b + 1) * 2 * j].copy_from_slice(&g.logvar[b * j..(b + 1) * j]);
                }
            }
        }
        body_backward(&self.encoder.body, p, &mut g.vae, x, &ws.enc, &mut g.enc, None, n, &mut ws.scratch, &ws.enc_cols, ws.run_group);
    }

    /// Decoder backward from g.dec.last(); writes g.z (overwritten) and parameter gradients.
    pub fn decoder_backward(&self, ws: &mut Workspace, n: usize) {
        let g = ws.grads.as_mut().expect("training workspace");
        body_backward(&self.decoder, &self.vae, &mut g.vae, &ws.z, &ws.dec, &mut g.dec, Some(&mut g.z), n, &mut ws.scratch, &[], ws.run_group);
    }

    /// Discriminator backward over rows 0..n of g.disc.last() (set by the caller): input
    /// gradients into g.disc_in rows 0..n; parameter gradients into g.disc_params if
    /// `param_grads`, else the input gradient alone (the VAE step must not train it).
    pub fn discriminator_backward(&self, ws: &mut Workspace, n: usize, param_grads: bool) {
        let (stages, p) = (self.discriminator.as_ref().expect("factor-vae"), self.disc.as_ref().expect("factor-vae"));
        let g = ws.grads.as_mut().expect("training workspace");
        if param_grads {
            body_backward(stages, p, &mut g.disc_params, &ws.disc_in, &ws.disc, &mut g.disc, None, n, &mut ws.scratch, &[], ws.run_group);
            return;
        }
        for i in (0..stages.len()).rev() {
            let Stage::Dense { layer, w, .. } = stages[i] else { unreachable!("dense discriminator") };
            let (lower, upper) = g.disc.split_at_mut(i);
            let dx: &mut [f32] = if i == 0 { &mut g.disc_in } else { &mut lower[i - 1] };
            let x = if i == 0 { &ws.disc_in[..] } else { &ws.disc[i - 1][..] };
            layer.backward(p.get(w), x, &ws.disc[i], &mut upper[0], None, Some(dx), n);
        }
    }
}

#[cfg(test)]
mod tests {
    use disentangle_spec::config::NoiseConfig;

    use super::*;
    use crate::Trainer;

    /// Loss, parameter gradients and code gradients of one step, as bits.
    fn step_bits(c: &ModelConfig, x: &[f32], eps: &[f32], n: usize, group: usize) -> (u64, Vec<u32>, Vec<u32>) {
        let mut t = Trainer::new(Network::init(c, 5).unwrap(), n);
        t.ws.run_group = group;
        let v = t.forward(x, eps, 0);
        t.net.backward(&mut t.ws, x, n, 0);
        let g = t.ws.grads.as_ref().unwrap();
        let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
        (v.loss.to_bits(), bits(&g.vae), bits(&g.z[..n * c.latents]))
    }

    #[test]
    fn carrying_samples_through_a_conv_run_gives_the_bits_of_layer_by_layer_passes() {
        // 7 samples: split unevenly over the threads, and over groups of 2 within a thread.
        let n = 7;
        let x: Vec<f32> = (0..n * 4096).map(|i| f32::from((i * 7919 % 1013) > 700)).collect();
        let eps: Vec<f32> = (0..n * 10).map(|i| (i as f32 * 0.37).sin()).collect();
        for variant in ["conv", "conv-k4", "split", "shared"] {
            for objective in [ObjectiveConfig::Vae { beta: 1.0 }, ObjectiveConfig::FactorVae { gamma: 30.0 }] {
                let encoder = EncoderConfig::from_variant(variant).unwrap();
                let c = ModelConfig { latents: 10, channels: 1, encoder, noise: NoiseConfig::Independent, objective: objective.clone() };
                let layerwise = step_bits(&c, &x, &eps, n, n);
                assert!(layerwise.1.iter().filter(|&&b| f32::from_bits(b) != 0.0).count() > layerwise.1.len() / 2, "{variant}: gradients mostly zero");
                for group in [1, 2] {
                    let fused = step_bits(&c, &x, &eps, n, group);
                    assert_eq!(fused.0, layerwise.0, "{variant} {objective:?} group {group}: loss");
                    assert!(fused.1 == layerwise.1, "{variant} {objective:?} group {group}: parameter gradients differ");
                    assert!(fused.2 == layerwise.2, "{variant} {objective:?} group {group}: code gradients differ");
                }
            }
        }
    }
}
