//! The training loop.

use std::path::{Path, PathBuf};
use std::time::Instant;

use disentangle_data::{FactorDataset, open_dataset};
use disentangle_models::burn::module::Module;
use disentangle_models::burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use disentangle_models::burn::tensor::{Device, Tensor};
use disentangle_models::discriminator::{column_permutations, permute_dims};
use disentangle_models::noise::sample_eps;
use disentangle_models::ops::{scalar, tensor_from};
use disentangle_models::{LossParts, Model};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::checkpoint::{self, CheckpointState, Parts};
use crate::config::TrainConfig;
use crate::device::parse_device;
use crate::error::{Result, TrainError};
use crate::rng::{RunRngs, summary_rng};
use crate::run_dir::{RunDir, write_atomic};

/// The reference optimizer of the VAE: Adam β1 0.9, β2 0.999, ε 1e-8 (burn's default ε is 1e-5).
pub fn vae_optimizer() -> ModuleOptimizer {
    AdamConfig::new().with_beta_1(0.9).with_beta_2(0.999).with_epsilon(1e-8).init()
}

/// The reference optimizer of the FactorVAE discriminator: Adam β1 0.5, β2 0.9, ε 1e-8.
pub fn discriminator_optimizer() -> ModuleOptimizer {
    AdamConfig::new().with_beta_1(0.5).with_beta_2(0.9).with_epsilon(1e-8).init()
}

/// End-of-run averages over `batches` fresh batches (the reference logs these; they feed
/// the KL-vs-reconstruction plots).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub reconstruction_loss: f64,
    pub kl: f64,
    /// −(reconstruction + KL).
    pub elbo: f64,
    /// loss − reconstruction: everything the objective adds to the reconstruction term.
    pub regularizer: f64,
    pub loss: f64,
    /// The objective's total-correlation estimate (FactorVAE, β-TCVAE).
    pub tc: Option<f64>,
    pub batches: usize,
    pub batch_size: usize,
    pub steps: u64,
    pub train_seconds: f64,
}

pub struct TrainOutcome {
    pub run_dir: PathBuf,
    pub summary: Summary,
    pub model: Model,
}

/// How to run: progress bar or not, and an optional early stop (to interrupt a run on
/// purpose, as the resume tests do).
#[derive(Debug, Clone, Default)]
pub struct TrainOptions {
    pub progress: bool,
    pub stop_after: Option<u64>,
    /// Folder of official dataset files (default `$DISENTANGLE_DATA`).
    pub data_dir: Option<PathBuf>,
    /// Called with (step, total steps) every 10 steps and at the end — how a caller with its
    /// own display (a study's progress bar) follows the run.
    pub on_progress: Option<ProgressCallback>,
}

/// A shareable progress callback (see [`TrainOptions::on_progress`]).
#[derive(Clone)]
pub struct ProgressCallback(pub std::sync::Arc<dyn Fn(u64, u64) + Send + Sync>);

impl std::fmt::Debug for ProgressCallback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProgressCallback")
    }
}

/// Everything that changes during training.
pub struct State {
    pub model: Model,
    pub vae_optim: ModuleOptimizer,
    pub disc_optim: Option<ModuleOptimizer>,
    pub rngs: RunRngs,
    /// Steps completed.
    pub step: u64,
}

/// The losses of one training step.
#[derive(Debug, Clone, Copy)]
pub struct StepStats {
    pub loss: f64,
    pub recon: f64,
    pub kl: f64,
    pub tc: Option<f64>,
    pub discriminator_loss: Option<f64>,
}

impl State {
    /// A fresh state: initial weights and streams from `config.seed`.
    pub fn new(config: &TrainConfig, device: &Device) -> Result<Self> {
        let model = Model::new(config.model.clone(), config.seed, device)?;
        let disc_optim = model.discriminator.as_ref().map(|_| discriminator_optimizer());
        Ok(State { model, vae_optim: vae_optimizer(), disc_optim, rngs: RunRngs::new(config.seed), step: 0 })
    }

    /// One training step: a fresh batch, the VAE update, then (FactorVAE) the discriminator
    /// update on the same batch's detached codes. A non-finite loss changes nothing and is
    /// returned as `Ok(Err((loss, recon, kl)))`.
    #[allow(clippy::type_complexity)]
    pub fn step_once(&mut self, config: &TrainConfig, dataset: &dyn FactorDataset, device: &Device) -> Result<std::result::Result<StepStats, (f64, f64, f64)>> {
        let (bs, j) = (config.batch_size, config.model.latents);
        let x = batch(dataset, bs, &mut self.rngs.data, device)?;
        let eps = sample_eps(&config.model.noise, bs, j, &mut self.rngs.noise);
        let LossParts { loss, recon, kl, tc, z } = self.model.loss(x, eps, self.step);
        let (lv, rv, kv) = (scalar(loss.clone()), scalar(recon), scalar(kl));
        if !lv.is_finite() {
            return Ok(Err((lv, rv, kv)));
        }
        let tv = tc.map(scalar);
        self.vae_step(config, loss);
        let dv = self.discriminator_step(config, z, device);
        self.step += 1;
        Ok(Ok(StepStats { loss: lv, recon: rv, kl: kv, tc: tv, discriminator_loss: dv }))
    }

    /// Applies the VAE optimizer to the gradients of `loss` (only the VAE's parameters).
    pub fn vae_step(&mut self, config: &TrainConfig, loss: Tensor<1>) {
        let grads = GradientsParams::from_grads(loss.backward(), &self.model.vae);
        let vae = self.model.vae.clone();
        self.model.vae = self.vae_optim.step(config.learning_rate, vae, grads);
    }

    /// Trains the discriminator to tell `z` from its dimension-wise permutation; `z` is
    /// detached, so this moves only the discriminator. Returns its loss.
    pub fn discriminator_step(&mut self, config: &TrainConfig, z: Tensor<2>, device: &Device) -> Option<f64> {
        let (d, opt) = (self.model.discriminator.take()?, self.disc_optim.as_mut()?);
        let perm = column_permutations(config.batch_size, config.model.latents, &mut self.rngs.permutation);
        let z = z.detach();
        let z_perm = permute_dims(z.clone(), perm, device);
        let dloss = d.loss(z, z_perm);
        let dv = scalar(dloss.clone());
        let grads = GradientsParams::from_grads(dloss.backward(), &d);
        self.model.discriminator = Some(opt.step(config.discriminator_learning_rate, d, grads));
        Some(dv)
    }
}

/// Starts a new run in `out` (which must not already hold one).
pub fn train(config: TrainConfig, out: &Path, options: &TrainOptions) -> Result<TrainOutcome> {
    config.validate()?;
    let dataset = open_dataset(&config.dataset, disentangle_data::data_dir(options.data_dir.as_deref()).as_deref())?;
    train_with(config, &*dataset, out, options)
}

/// As [`train`], on an already opened dataset.
pub fn train_with(config: TrainConfig, dataset: &dyn FactorDataset, out: &Path, options: &TrainOptions) -> Result<TrainOutcome> {
    config.validate()?;
    check_dataset(&config, dataset)?;
    let device = parse_device(&config.device)?;
    let state = State::new(&config, &device)?;
    let run = RunDir::create(out, &config)?;
    run_loop(&config, dataset, &run, state, &device, options)
}

/// Continues the run in `run_dir` from its last checkpoint; `steps` extends the run.
pub fn resume(run_dir: &Path, steps: Option<u64>, options: &TrainOptions) -> Result<TrainOutcome> {
    let (run, mut config) = RunDir::open(run_dir)?;
    if let Some(s) = steps {
        config.steps = s;
        config.validate()?;
        run.write_config(&config)?;
    }
    config.validate()?;
    let dataset = open_dataset(&config.dataset, disentangle_data::data_dir(options.data_dir.as_deref()).as_deref())?;
    check_dataset(&config, &*dataset)?;
    let device = parse_device(&config.device)?;
    let mut model = Model::new(config.model.clone(), config.seed, &device)?;
    let mut vae_optim = vae_optimizer();
    let mut disc_optim = model.discriminator.as_ref().map(|_| discriminator_optimizer());
    let mut rngs = RunRngs::new(config.seed);
    let mut step = 0;
    if let Some(ckpt) = checkpoint::latest(&run.checkpoints())? {
        let st = checkpoint::load_state(&ckpt)?;
        model.vae = checkpoint::load_module(model.vae, &ckpt, false)?;
        vae_optim = checkpoint::load_optimizer(vae_optim, &ckpt, false)?;
        if let Some(d) = model.discriminator.take() {
            model.discriminator = Some(checkpoint::load_module(d, &ckpt, true)?);
            disc_optim = Some(checkpoint::load_optimizer(disc_optim.expect("paired with the discriminator"), &ckpt, true)?);
        }
        rngs = RunRngs::restore(config.seed, &st.rng)
            .ok_or_else(|| TrainError::Invalid(format!("{}: unreadable RNG state", ckpt.display())))?;
        step = st.step;
    }
    if step > config.steps {
        return Err(TrainError::Invalid(format!(
            "{} has trained {step} steps, more than the {} asked for",
            run_dir.display(),
            config.steps
        )));
    }
    run.truncate_log_after(step)?;
    let state = State { model, vae_optim, disc_optim, rngs, step };
    run_loop(&config, &*dataset, &run, state, &device, options)
}

fn check_dataset(config: &TrainConfig, dataset: &dyn FactorDataset) -> Result<()> {
    let shape = dataset.observation_shape();
    if shape[1] != 64 || shape[2] != 64 || shape[0] != config.model.channels {
        if shape[1] == 64 && shape[2] == 64 && (shape[0] == 1 || shape[0] == 3) {
            return Err(TrainError::Invalid(format!(
                "model.channels = {} but dataset `{}` has {} channels",
                config.model.channels,
                dataset.name(),
                shape[0]
            )));
        }
        return Err(TrainError::Shape { dataset: dataset.name().into(), shape });
    }
    Ok(())
}

/// One batch of images as a tensor.
pub fn batch(dataset: &dyn FactorDataset, n: usize, rng: &mut dyn RngCore, device: &Device) -> Result<Tensor<4>> {
    let factors = dataset.sample_factors(n, rng);
    let obs = dataset.observations(&factors)?;
    let [c, h, w] = dataset.observation_shape();
    Ok(tensor_from(obs, [n, c, h, w], device))
}

#[derive(Default)]
struct Running {
    n: f64,
    loss: f64,
    recon: f64,
    kl: f64,
    tc: f64,
    disc: f64,
}

fn run_loop(
    config: &TrainConfig,
    dataset: &dyn FactorDataset,
    run: &RunDir,
    mut s: State,
    device: &Device,
    options: &TrainOptions,
) -> Result<TrainOutcome> {
    let end = options.stop_after.map_or(config.steps, |stop| stop.min(config.steps));
    let bar = ProgressBar::with_draw_target(
        Some(config.steps),
        if options.progress { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() },
    );
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} steps  {per_sec}  ETA {eta}  {msg}")
            .expect("valid template"),
    );
    bar.set_position(s.step);
    let start = Instant::now();
    let mut last_checkpoint = checkpoint::latest(&run.checkpoints())?;
    let mut running = Running::default();
    while s.step < end {
        let stats = match s.step_once(config, dataset, device)? {
            Ok(stats) => stats,
            Err((loss, recon, kl)) => {
                bar.abandon();
                return Err(TrainError::NonFinite { step: s.step + 1, loss, recon, kl, last_checkpoint });
            }
        };
        let StepStats { loss: lv, recon: rv, kl: kv, tc: tv, discriminator_loss: dv } = stats;
        running.n += 1.0;
        running.loss += lv;
        running.recon += rv;
        running.kl += kv;
        running.tc += tv.unwrap_or(0.0);
        running.disc += dv.unwrap_or(0.0);
        bar.set_position(s.step);
        if s.step % 10 == 0 || s.step == end {
            if let Some(cb) = &options.on_progress {
                (cb.0)(s.step, config.steps);
            }
            let mut msg = format!("loss {lv:.2}  recon {rv:.2}  KL {kv:.2}");
            if let Some(t) = tv {
                msg += &format!("  TC {t:.3}");
            }
            bar.set_message(msg);
        }
        if s.step % config.log_every == 0 || s.step == end {
            let n = running.n;
            let mut line = json!({
                "step": s.step,
                "loss": running.loss / n,
                "recon": running.recon / n,
                "kl": running.kl / n,
                "elapsed_s": start.elapsed().as_secs_f64(),
            });
            if tv.is_some() {
                line["tc"] = json!(running.tc / n);
            }
            if dv.is_some() {
                line["discriminator_loss"] = json!(running.disc / n);
            }
            run.log(&line)?;
            running = Running::default();
        }
        if s.step % config.checkpoint_every == 0 || s.step == end {
            last_checkpoint = Some(save_checkpoint(run, &s)?);
        }
    }
    bar.finish();
    let train_seconds = start.elapsed().as_secs_f64();
    let summary = summarize(config, dataset, &s.model, device, train_seconds)?;
    if s.step == config.steps {
        let json = serde_json::to_vec_pretty(&summary).expect("summary serialises");
        write_atomic(&run.summary_path(), &json)?;
    }
    Ok(TrainOutcome { run_dir: run.root().to_path_buf(), summary, model: s.model })
}

fn save_checkpoint(run: &RunDir, s: &State) -> Result<PathBuf> {
    checkpoint::save(
        &run.checkpoints(),
        Parts {
            vae: &s.model.vae,
            vae_optim: &s.vae_optim,
            discriminator: s.model.discriminator.as_ref().zip(s.disc_optim.as_ref()),
            state: CheckpointState { step: s.step, rng: s.rngs.state() },
        },
    )
}

/// Averages of the loss terms over `summary_batches` fresh batches, without gradients,
/// drawn from the run's summary stream (so they never shift the training streams).
pub fn summarize(config: &TrainConfig, dataset: &dyn FactorDataset, model: &Model, device: &Device, train_seconds: f64) -> Result<Summary> {
    let inner = device.clone().inner();
    let eval = Model {
        config: model.config.clone(),
        vae: model.vae.valid(),
        discriminator: model.discriminator.as_ref().map(|d| d.valid()),
    };
    let mut rng = summary_rng(config.seed);
    let (bs, j) = (config.batch_size, config.model.latents);
    let n = config.summary_batches.max(1);
    let (mut loss, mut recon, mut kl, mut tc) = (0.0, 0.0, 0.0, 0.0);
    let mut has_tc = false;
    for _ in 0..n {
        let x = batch(dataset, bs, &mut rng, &inner)?;
        let eps = sample_eps(&config.model.noise, bs, j, &mut rng);
        let p = eval.loss(x, eps, config.steps);
        loss += scalar(p.loss);
        recon += scalar(p.recon);
        kl += scalar(p.kl);
        if let Some(t) = p.tc {
            tc += scalar(t);
            has_tc = true;
        }
    }
    let n_f = n as f64;
    let (loss, recon, kl) = (loss / n_f, recon / n_f, kl / n_f);
    Ok(Summary {
        reconstruction_loss: recon,
        kl,
        elbo: -(recon + kl),
        regularizer: loss - recon,
        loss,
        tc: has_tc.then_some(tc / n_f),
        batches: n,
        batch_size: bs,
        steps: config.steps,
        train_seconds,
    })
}
