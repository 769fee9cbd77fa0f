//! Using a trained model: load the last checkpoint of a run directory on a device without
//! autodiff and encode images into Gaussian posterior parameters.

use std::path::{Path, PathBuf};

use disentangle_models::Model;
use disentangle_models::burn::tensor::Device;
use disentangle_models::ops::{tensor_from, to_vec};

use crate::checkpoint;
use crate::config::TrainConfig;
use crate::device::parse_device;
use crate::error::{Result, TrainError};
use crate::run_dir::RunDir;

pub struct TrainedModel {
    pub config: TrainConfig,
    pub model: Model,
    pub device: Device,
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
    let device = parse_device(device.unwrap_or(&config.device))?.inner();
    let mut model = Model::new(config.model.clone(), config.seed, &device)?;
    model.vae = checkpoint::load_module(model.vae, &ckpt, false)?;
    model.discriminator = None; // not needed to encode or decode
    Ok(TrainedModel { config, model, device, checkpoint: ckpt, step: state.step })
}

impl TrainedModel {
    /// Encodes `n` images (n×C×64×64 in [0, 1]) into (μ, log σ²), each n×J, in chunks.
    pub fn encode(&self, images: &[f32], n: usize) -> (Vec<f32>, Vec<f32>) {
        let c = self.config.model.channels;
        let per = c * 64 * 64;
        assert_eq!(images.len(), n * per, "images must be n×C×64×64");
        let (mut mu, mut logvar) = (Vec::with_capacity(n * self.config.model.latents), Vec::new());
        for chunk in images.chunks(256 * per) {
            let m = chunk.len() / per;
            let x = tensor_from(chunk.to_vec(), [m, c, 64, 64], &self.device);
            let (a, b) = self.model.vae.encoder.forward(x);
            mu.extend(to_vec(a));
            logvar.extend(to_vec(b));
        }
        (mu, logvar)
    }

    /// Decodes codes (n×J) into Bernoulli means (n×C×64×64, sigmoid of the logits).
    pub fn decode(&self, codes: &[f32], n: usize) -> Vec<f32> {
        let j = self.config.model.latents;
        let z = tensor_from(codes.to_vec(), [n, j], &self.device);
        to_vec(disentangle_models::burn::tensor::activation::sigmoid(self.model.vae.decoder.forward(z)))
    }
}
