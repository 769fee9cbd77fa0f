//! The batches a run draws and its loss terms averaged over batches without gradients: what
//! the training loop, the end-of-run summary and the metrics during training share.

use disentangle_data::FactorDataset;
use disentangle_models::Model;
use disentangle_models::burn::module::Module;
use disentangle_models::burn::tensor::{Device, Tensor};
use disentangle_models::noise::sample_eps;
use disentangle_models::ops::{scalar, tensor_from};
use disentangle_engine::Trainer;
use indicatif::ProgressBar;
use rand::RngCore;

use crate::config::TrainConfig;
use crate::error::Result;
use crate::nets::Nets;
use crate::rng::summary_rng;

/// One batch of `n` images [n, C, H, W], drawn i.i.d. over the factor space (a stochastic
/// dataset draws its nuisance from the same generator, after the factors).
pub fn batch_values(dataset: &dyn FactorDataset, n: usize, rng: &mut dyn RngCore) -> Result<Vec<f32>> {
    let factors = dataset.sample_factors(n, rng);
    Ok(dataset.observations_with(&factors, rng)?)
}

/// One batch of images as a tensor.
pub fn batch(dataset: &dyn FactorDataset, n: usize, rng: &mut dyn RngCore, device: &Device) -> Result<Tensor<4>> {
    let [c, h, w] = dataset.observation_shape();
    Ok(tensor_from(batch_values(dataset, n, rng)?, [n, c, h, w], device))
}

/// Loss terms averaged over batches without gradients.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LossAverages {
    pub loss: f64,
    pub recon: f64,
    pub kl: f64,
    pub tc: Option<f64>,
}

/// Which CPU-engine buffers [`average_losses`] runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LossWorkspace {
    /// The training workspace (its gradient buffers set aside): at the end of a run.
    Training,
    /// Buffers of its own, so a run scored in the middle of its training keeps every buffer
    /// of the training step exactly as it was.
    Separate,
}

/// The loss terms (at training step `step`: annealed objectives depend on it) averaged over
/// `batches` batches of the run's batch size, drawn from the run's summary stream.
pub fn average_losses(
    config: &TrainConfig,
    dataset: &dyn FactorDataset,
    nets: &mut Nets,
    batches: usize,
    step: u64,
    workspace: LossWorkspace,
    bar: &ProgressBar,
) -> Result<LossAverages> {
    let mut rng = summary_rng(config.seed);
    let (bs, j) = (config.batch_size, config.model.latents);
    let n = batches.max(1);
    let (mut loss, mut recon, mut kl, mut tc) = (0.0, 0.0, 0.0, 0.0);
    let mut has_tc = false;
    let mut add = |l: f64, r: f64, k: f64, t: Option<f64>| {
        loss += l;
        recon += r;
        kl += k;
        if let Some(t) = t {
            tc += t;
            has_tc = true;
        }
    };
    match nets {
        Nets::Burn { model, device, .. } => {
            let inner = device.clone().inner();
            let eval = Model {
                config: model.config.clone(),
                vae: model.vae.valid(),
                discriminator: model.discriminator.as_ref().map(|d| d.valid()),
            };
            for _ in 0..n {
                let x = batch(dataset, bs, &mut rng, &inner)?;
                let eps = sample_eps(&config.model.noise, bs, j, &mut rng);
                let p = eval.loss(x, eps, step);
                add(scalar(p.loss), scalar(p.recon), scalar(p.kl), p.tc.map(scalar));
                bar.inc(1);
            }
        }
        Nets::Cpu(t) => {
            let Trainer { net, ws, .. } = &mut **t;
            let mut own = match workspace {
                LossWorkspace::Separate => Some(disentangle_engine::Workspace::new(net, bs, false)),
                LossWorkspace::Training => None,
            };
            // Without its gradient buffers the forward pass skips ∂recon/∂logits.
            let grads = ws.grads.take();
            let mut pass = |ws: &mut disentangle_engine::Workspace| -> Result<()> {
                for _ in 0..n {
                    let x = batch_values(dataset, bs, &mut rng)?;
                    let eps = sample_eps(&config.model.noise, bs, j, &mut rng);
                    let v = net.forward_loss(ws, &x, &eps, bs, step);
                    add(v.loss, v.recon, v.kl, v.tc);
                    bar.inc(1);
                }
                Ok(())
            };
            let result = match own.as_mut() {
                Some(w) => pass(w),
                None => pass(ws),
            };
            ws.grads = grads;
            result?;
        }
    }
    let n_f = n as f64;
    Ok(LossAverages { loss: loss / n_f, recon: recon / n_f, kl: kl / n_f, tc: has_tc.then_some(tc / n_f) })
}
