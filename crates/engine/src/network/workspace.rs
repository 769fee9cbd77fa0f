//! The buffers of a network's passes: activations, gradients and each thread's scratch,
//! allocated once for a batch size.

use super::runs::gradient_stays_in_run;
use super::*;
use crate::conv::per_task;

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
