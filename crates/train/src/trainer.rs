//! The training loop.

use std::path::{Path, PathBuf};
use std::time::Instant;

use disentangle_data::{FactorDataset, open_dataset};
use disentangle_models::burn::optim::{GradientsParams, ModuleOptimizer};
use disentangle_models::burn::tensor::{Device, Tensor};
use disentangle_models::discriminator::{column_permutations, permute_dims};
use disentangle_models::noise::sample_eps;
use disentangle_models::ops::{scalar, tensor_from};
use disentangle_models::{LossParts, Model};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::checkpoint::{self, CheckpointState};
use crate::config::{IntoValidConfig, TrainConfig};
use crate::device::{Backend, parse_backend};
use crate::error::{Result, TrainError};
use crate::rng::RunRngs;
use crate::run_dir::{RunDir, write_atomic};
use crate::series;

// Where they lived before `nets.rs`; callers keep importing them from here.
pub use crate::nets::{Nets, burn_model, burn_vae, discriminator_optimizer, vae_optimizer};
pub use crate::losses::{LossAverages, LossWorkspace, average_losses, batch, batch_values};


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
    /// [`resume`] only: continue on this device instead of the run's own (checkpoints are
    /// the same files on every engine); recorded in the run's config.
    pub device: Option<String>,
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
    pub nets: Nets,
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

/// What one training step did, on either engine.
#[derive(Debug, Clone, Copy)]
pub enum StepOutcome {
    /// The weights were updated.
    Taken(StepStats),
    /// The loss was not finite: nothing was changed (the loss terms say how it failed).
    NonFinite { loss: f64, recon: f64, kl: f64 },
}

impl StepOutcome {
    /// The step's losses, or the non-finite loss as an error message.
    pub fn finite(self) -> std::result::Result<StepStats, String> {
        match self {
            StepOutcome::Taken(s) => Ok(s),
            StepOutcome::NonFinite { loss, recon, kl } => Err(format!("non-finite loss {loss} (recon {recon}, KL {kl})")),
        }
    }
}


impl State {
    /// A fresh state: initial weights and streams from `config.seed`.
    pub fn new(config: &TrainConfig, backend: &Backend) -> Result<Self> {
        Ok(State { nets: Nets::new(config, backend)?, rngs: RunRngs::new(config.seed), step: 0 })
    }

    /// One training step: a fresh batch, the VAE update, then (FactorVAE) the discriminator
    /// update on the same batch's detached codes. A non-finite loss changes nothing
    /// ([`StepOutcome::NonFinite`]).
    pub fn step_once(&mut self, config: &TrainConfig, dataset: &dyn FactorDataset) -> Result<StepOutcome> {
        let (bs, j) = (config.batch_size, config.model.latents);
        let x = batch_values(dataset, bs, &mut self.rngs.data)?;
        let eps = sample_eps(&config.model.noise, bs, j, &mut self.rngs.noise);
        let stats = match &mut self.nets {
            Nets::Burn { model, vae_optim, disc_optim, device } => {
                let [c, h, w] = dataset.observation_shape();
                let x = tensor_from(x, [bs, c, h, w], device);
                let LossParts { loss, recon, kl, tc, z } = model.loss(x, eps, self.step);
                let (lv, rv, kv) = (scalar(loss.clone()), scalar(recon), scalar(kl));
                if !lv.is_finite() {
                    return Ok(StepOutcome::NonFinite { loss: lv, recon: rv, kl: kv });
                }
                let tv = tc.map(scalar);
                burn_vae_step(model, vae_optim, config.learning_rate, loss);
                let dv = match disc_optim.as_mut() {
                    Some(opt) => {
                        let perm = column_permutations(bs, j, &mut self.rngs.permutation);
                        burn_discriminator_step(model, opt, config.discriminator_learning_rate, z, perm, device)
                    }
                    None => None,
                };
                StepStats { loss: lv, recon: rv, kl: kv, tc: tv, discriminator_loss: dv }
            }
            Nets::Cpu(t) => {
                // FactorVAE: the permutation is drawn before the forward pass, which then
                // computes the discriminator's logits on the permuted codes with those on the
                // codes; from a copy of its stream, kept only if the step goes on, so the
                // stream advances exactly as on the burn path.
                let mut permutation_rng = self.rngs.permutation.clone();
                let perm = t.disc_adam.is_some().then(|| column_permutations(bs, j, &mut permutation_rng));
                let v = t.forward_with_permutation(&x, &eps, self.step, perm.as_deref());
                if !v.loss.is_finite() {
                    return Ok(StepOutcome::NonFinite { loss: v.loss, recon: v.recon, kl: v.kl });
                }
                t.vae_update(&x, self.step, config.learning_rate);
                let dv = match perm {
                    Some(perm) => {
                        self.rngs.permutation = permutation_rng;
                        t.discriminator_update(&perm, config.discriminator_learning_rate)
                    }
                    None => None,
                };
                StepStats { loss: v.loss, recon: v.recon, kl: v.kl, tc: v.tc, discriminator_loss: dv }
            }
        };
        self.step += 1;
        Ok(StepOutcome::Taken(stats))
    }
}

/// burn: one optimizer step on the VAE's parameters from the gradients of `loss` (the
/// discriminator's gradients, which γ·TC produces, are ignored).
pub fn burn_vae_step(model: &mut Model, optim: &mut ModuleOptimizer, lr: f64, loss: Tensor<1>) {
    let grads = GradientsParams::from_grads(loss.backward(), &model.vae);
    model.vae = optim.step(lr, model.vae.clone(), grads);
}

/// burn: trains the discriminator to tell `z` from its column-wise permutation `perm`; `z`
/// is detached, so this moves only the discriminator. Returns its loss.
pub fn burn_discriminator_step(model: &mut Model, optim: &mut ModuleOptimizer, lr: f64, z: Tensor<2>, perm: Vec<i64>, device: &Device) -> Option<f64> {
    let d = model.discriminator.take()?;
    let z = z.detach();
    let z_perm = permute_dims(z.clone(), perm, device);
    let dloss = d.loss(z, z_perm);
    let dv = scalar(dloss.clone());
    let grads = GradientsParams::from_grads(dloss.backward(), &d);
    model.discriminator = Some(optim.step(lr, d, grads));
    Some(dv)
}

/// Starts a new run in `out` (which must not already hold one). A [`TrainConfig`] is
/// checked here; a [`ValidTrainConfig`] was checked where it was made.
pub fn train(config: impl IntoValidConfig, out: &Path, options: &TrainOptions) -> Result<TrainOutcome> {
    let config = config.into_valid()?;
    let dataset = open_dataset(&config.dataset, disentangle_data::data_dir(options.data_dir.as_deref()).as_deref())?;
    // A dataset given as a path is recorded absolute: the run finds it again from any folder.
    let stored = disentangle_data::dataset_spec_to_store(&config.dataset);
    train_with(config.with_dataset_spelled(stored), &*dataset, out, options)
}

/// As [`train`], on an already opened dataset.
pub fn train_with(config: impl IntoValidConfig, dataset: &dyn FactorDataset, out: &Path, options: &TrainOptions) -> Result<TrainOutcome> {
    let config = config.into_valid()?;
    check_dataset(&config, dataset)?;
    let backend = parse_backend(&config.device)?;
    let state = State::new(&config, &backend)?;
    let run = RunDir::create(out, &config)?;
    run_loop(&config, dataset, &run, state, options)
}

/// Continues the run in `run_dir` from its last checkpoint; `steps` extends the run.
pub fn resume(run_dir: &Path, steps: Option<u64>, options: &TrainOptions) -> Result<TrainOutcome> {
    let (run, mut config) = RunDir::open(run_dir)?;
    let changed = steps.is_some() || options.device.is_some();
    config.steps = steps.unwrap_or(config.steps);
    config.device = options.device.clone().unwrap_or(config.device);
    // Checked once, before anything is written or loaded.
    let config = config.validated()?;
    let backend = parse_backend(&config.device)?;
    if changed {
        run.write_config(&config)?;
    }
    let data_dir = disentangle_data::data_dir(options.data_dir.as_deref());
    let dataset = disentangle_data::open_recorded_dataset(&config.dataset, run_dir, data_dir.as_deref())?;
    check_dataset(&config, &*dataset)?;
    let mut state = State::new(&config, &backend)?;
    if let Some(ckpt) = checkpoint::latest(&run.checkpoints())? {
        let st = checkpoint::load_state(&ckpt)?;
        checkpoint::load_into(&mut state.nets, &config, &ckpt)?;
        state.rngs = RunRngs::restore(config.seed, &st.rng)
            .ok_or_else(|| TrainError::Invalid(format!("{}: unreadable RNG state", ckpt.display())))?;
        state.step = st.step;
    }
    let step = state.step;
    if step > config.steps {
        return Err(TrainError::Invalid(format!(
            "{} has trained {step} steps, more than the {} asked for",
            run_dir.display(),
            config.steps
        )));
    }
    run.truncate_log_after(step)?;
    run_loop(&config, &*dataset, &run, state, options)
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
    if !config.series.is_off() {
        // Points at or after this step belong to steps about to be trained again.
        series::truncate_from(run.root(), s.step)?;
        if s.step.is_multiple_of(config.series.every) {
            take_point(config, dataset, &mut s, run, &bar)?;
        }
    }
    while s.step < end {
        let stats = match s.step_once(config, dataset)? {
            StepOutcome::Taken(stats) => stats,
            StepOutcome::NonFinite { loss, recon, kl } => {
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
        if s.step.is_multiple_of(10) || s.step == end {
            if let Some(cb) = &options.on_progress {
                (cb.0)(s.step, config.steps);
            }
            let mut msg = format!("loss {lv:.2}  recon {rv:.2}  KL {kv:.2}");
            if let Some(t) = tv {
                msg += &format!("  TC {t:.3}");
            }
            bar.set_message(msg);
        }
        if s.step.is_multiple_of(config.log_every) || s.step == end {
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
        // Before the checkpoint: a point is never missing behind the last checkpoint.
        if config.series.due(s.step, config.steps) {
            take_point(config, dataset, &mut s, run, &bar)?;
        }
        if s.step.is_multiple_of(config.checkpoint_every) || s.step == end {
            last_checkpoint = Some(save_checkpoint(run, &s)?);
        }
    }
    bar.finish();
    let train_seconds = start.elapsed().as_secs_f64();
    let summary = summarize_with_progress(config, dataset, &mut s.nets, train_seconds, options.progress)?;
    if s.step == config.steps {
        let json = serde_json::to_vec_pretty(&summary).expect("summary serialises");
        write_atomic(&run.summary_path(), &json)?;
    }
    Ok(TrainOutcome { run_dir: run.root().to_path_buf(), summary, model: s.nets.to_model()? })
}

/// Scores the model now and appends the point to the run's series.
fn take_point(config: &TrainConfig, dataset: &dyn FactorDataset, s: &mut State, run: &RunDir, bar: &ProgressBar) -> Result<()> {
    let point = series::take_point(config, dataset, &mut s.nets, s.step)?;
    let shown: Vec<String> = point
        .metrics
        .iter()
        .filter(|(k, _)| SHOWN_SCORES.contains(&k.as_str()))
        .filter_map(|(k, v)| Some(format!("{k} {:.3}", v.as_f64()?)))
        .collect();
    if !shown.is_empty() {
        bar.println(format!("step {}: {}  ({:.1} s)", s.step, shown.join("  "), point.seconds));
    }
    series::append(run.root(), &point)
}

/// The headline numbers printed when a series point is taken.
const SHOWN_SCORES: [&str; 4] = ["mig.discrete", "factor_vae.eval_accuracy", "dci.disentanglement", "info.isolation_gap"];

fn save_checkpoint(run: &RunDir, s: &State) -> Result<PathBuf> {
    checkpoint::save_nets(&run.checkpoints(), &s.nets, CheckpointState { step: s.step, rng: s.rngs.state() })
}

/// [`summarize`], shown: a bar of the summary batches on a terminal, a line before and
/// after otherwise (logs, CI), nothing when `progress` is off.
fn summarize_with_progress(
    config: &TrainConfig,
    dataset: &dyn FactorDataset,
    nets: &mut Nets,
    train_seconds: f64,
    progress: bool,
) -> Result<Summary> {
    let n = config.summary_batches.max(1);
    let target = if progress { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() };
    let bar = ProgressBar::with_draw_target(Some(n as u64), target);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} summary batches  {per_sec}  ETA {eta}").expect("valid template"),
    );
    let plain = progress && bar.is_hidden();
    if plain {
        eprintln!("summary: loss terms over {n} batches of {} without gradients ...", config.batch_size);
    }
    let started = Instant::now();
    let summary = summarize(config, dataset, nets, train_seconds, &bar)?;
    bar.finish_and_clear();
    if plain {
        eprintln!("summary: done in {:.1} s", started.elapsed().as_secs_f64());
    }
    Ok(summary)
}

/// Averages of the loss terms over `summary_batches` fresh batches, without gradients,
/// drawn from the run's summary stream (so they never shift the training streams).
/// `bar` advances by one per batch (pass a hidden one to show nothing).
pub fn summarize(
    config: &TrainConfig,
    dataset: &dyn FactorDataset,
    nets: &mut Nets,
    train_seconds: f64,
    bar: &ProgressBar,
) -> Result<Summary> {
    let n = config.summary_batches.max(1);
    let a = average_losses(config, dataset, nets, n, config.steps, LossWorkspace::Training, bar)?;
    Ok(Summary {
        reconstruction_loss: a.recon,
        kl: a.kl,
        elbo: -(a.recon + a.kl),
        regularizer: a.loss - a.recon,
        loss: a.loss,
        tc: a.tc,
        batches: n,
        batch_size: config.batch_size,
        steps: config.steps,
        train_seconds,
    })
}
