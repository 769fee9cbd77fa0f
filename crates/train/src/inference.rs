//! Using a trained model: load the last checkpoint of a run directory (without optimizer
//! state) and encode images into Gaussian posterior parameters or decode codes into images,
//! on the CPU engine or on a burn device.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use disentangle_engine::{Network, Workspace};
use disentangle_models::{Model, Vae};
use disentangle_models::burn::tensor::Device;
use disentangle_models::ops::{tensor_from, to_vec};

use crate::checkpoint;
use crate::config::TrainConfig;
use crate::cpu_bridge;
use crate::device::{Backend, parse_backend};
use crate::error::{Result, TrainError};
use crate::run_dir::RunDir;

/// Images per forward pass when encoding or decoding.
pub const CHUNK: usize = 256;

/// What evaluates a loaded model.
#[allow(clippy::large_enum_variant)] // one per loaded model
pub enum InferenceEngine {
    Burn { model: Model, device: Device },
    /// The CPU engine with its forward buffers (one caller at a time).
    Cpu { net: Network, workspace: Mutex<Workspace> },
}

pub struct TrainedModel {
    pub config: TrainConfig,
    pub engine: InferenceEngine,
    /// The checkpoint the weights came from.
    pub checkpoint: PathBuf,
    /// Steps trained.
    pub step: u64,
}

/// Loads the newest checkpoint of `run_dir` (on its configured device unless `device` is given).
pub fn load_trained(run_dir: &Path, device: Option<&str>) -> Result<TrainedModel> {
    let (run, config) = RunDir::open(run_dir)?;
    let ckpt = checkpoint::latest(&run.checkpoints())?
        .ok_or_else(|| TrainError::Invalid(format!("{} has no checkpoint yet", run_dir.display())))?;
    let state = checkpoint::load_state(&ckpt)?;
    let engine = match parse_backend(device.unwrap_or(&config.device))? {
        Backend::Burn(device) => {
            let device = device.inner();
            let mut model = Model::new(config.model.clone(), config.seed, &device)?;
            model.vae = checkpoint::load_module(model.vae, &ckpt, false)?;
            model.discriminator = None; // not needed to encode or decode
            InferenceEngine::Burn { model, device }
        }
        Backend::Cpu => {
            let m = &config.model;
            m.validate()?;
            let vae = checkpoint::load_module(Vae::new(m, &Device::flex()), &ckpt, false)?;
            let mut net = Network::new(m)?;
            // Encoding and decoding never need the discriminator.
            (net.discriminator, net.disc) = (None, None);
            cpu_bridge::copy_from_module(&vae, &mut net.vae)?;
            let workspace = Mutex::new(Workspace::new(&net, CHUNK, false));
            InferenceEngine::Cpu { net, workspace }
        }
    };
    Ok(TrainedModel { config, engine, checkpoint: ckpt, step: state.step })
}

/// Borrowed weights that encode and decode: a loaded model's, or those of a run being
/// trained (scored during training without copying them).
pub enum EngineRef<'a> {
    Burn { vae: &'a Vae, device: &'a Device },
    /// The CPU engine with forward buffers of at least [`CHUNK`] rows (one caller at a time).
    Cpu { net: &'a Network, workspace: &'a Mutex<Workspace> },
}

impl EngineRef<'_> {
    /// Encodes `n` images (n×C×64×64 in [0, 1]) into (μ, log σ²), each n×J, in chunks.
    pub fn encode(&self, images: &[f32], n: usize, channels: usize, latents: usize) -> (Vec<f32>, Vec<f32>) {
        let per = channels * 64 * 64;
        assert_eq!(images.len(), n * per, "images must be n×C×64×64");
        let (mut mu, mut logvar) = (Vec::with_capacity(n * latents), Vec::with_capacity(n * latents));
        for chunk in images.chunks(CHUNK * per) {
            let m = chunk.len() / per;
            match self {
                EngineRef::Burn { vae, device } => {
                    let x = tensor_from(chunk.to_vec(), [m, channels, 64, 64], device);
                    let (a, b) = vae.encoder.forward(x);
                    mu.extend(to_vec(a));
                    logvar.extend(to_vec(b));
                }
                EngineRef::Cpu { net, workspace } => {
                    let mut ws = workspace.lock().unwrap_or_else(|e| e.into_inner());
                    net.encode(&mut ws, chunk, m);
                    mu.extend_from_slice(&ws.mu[..m * latents]);
                    logvar.extend_from_slice(&ws.logvar[..m * latents]);
                }
            }
        }
        (mu, logvar)
    }
}

impl TrainedModel {
    pub fn engine_ref(&self) -> EngineRef<'_> {
        match &self.engine {
            InferenceEngine::Burn { model, device } => EngineRef::Burn { vae: &model.vae, device },
            InferenceEngine::Cpu { net, workspace } => EngineRef::Cpu { net, workspace },
        }
    }

    /// Encodes `n` images (n×C×64×64 in [0, 1]) into (μ, log σ²), each n×J, in chunks.
    pub fn encode(&self, images: &[f32], n: usize) -> (Vec<f32>, Vec<f32>) {
        self.engine_ref().encode(images, n, self.config.model.channels, self.config.model.latents)
    }

    /// Decodes codes (n×J) into Bernoulli means (n×C×64×64, sigmoid of the logits).
    pub fn decode(&self, codes: &[f32], n: usize) -> Vec<f32> {
        let j = self.config.model.latents;
        assert_eq!(codes.len(), n * j, "codes must be n×J");
        let mut out = Vec::with_capacity(n * self.config.model.channels * 64 * 64);
        for chunk in codes.chunks(CHUNK * j) {
            let m = chunk.len() / j;
            match &self.engine {
                InferenceEngine::Burn { model, device } => {
                    let z = tensor_from(chunk.to_vec(), [m, j], device);
                    out.extend(to_vec(disentangle_models::burn::tensor::activation::sigmoid(model.vae.decoder.forward(z))));
                }
                InferenceEngine::Cpu { net, workspace } => {
                    let mut ws = workspace.lock().unwrap_or_else(|e| e.into_inner());
                    net.decode(&mut ws, chunk, m);
                    let logits = &ws.dec.last().expect("decoder output")[..m * net.image_len()];
                    out.extend(logits.iter().map(|&l| 1.0 / (1.0 + (-l).exp())));
                }
            }
        }
        out
    }
}
