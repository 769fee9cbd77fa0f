//! The full resolved configuration of a training run (written to `config.toml`).

use std::path::Path;

use disentangle_models::ModelConfig;
use serde::{Deserialize, Serialize};

use crate::error::{Result, TrainError};

/// Largest batch a config may ask for (64 is the reference; 4,096 dSprites images already
/// need gigabytes of activations).
pub const MAX_BATCH_SIZE: usize = 4096;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// Dataset name or path (see `disentangle data info`).
    pub dataset: String,
    /// Training steps (reference: 300,000).
    pub steps: u64,
    /// Batch size (reference: 64).
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// Adam learning rate of the VAE (reference: 1e-4; β1 0.9, β2 0.999, ε 1e-8).
    #[serde(default = "default_lr")]
    pub learning_rate: f64,
    /// Adam learning rate of the FactorVAE discriminator (reference: 1e-4; β1 0.5, β2 0.9).
    #[serde(default = "default_lr")]
    pub discriminator_learning_rate: f64,
    /// Seed of the weights, the data stream and the noise.
    #[serde(default)]
    pub seed: u64,
    /// Write a line to log.jsonl every this many steps.
    #[serde(default = "default_log_every")]
    pub log_every: u64,
    /// Write a checkpoint every this many steps (and always at the end).
    #[serde(default = "default_checkpoint_every")]
    pub checkpoint_every: u64,
    /// Batches averaged for summary.json at the end (reference: 1,000).
    #[serde(default = "default_summary_batches")]
    pub summary_batches: usize,
    /// `cpu` (the CPU engine), `flex` (burn on the CPU), `cuda`, `cuda:N` or `wgpu` (burn; GPU
    /// backends need the cargo features).
    #[serde(default = "default_device")]
    pub device: String,
    /// Scores taken during training (`metrics.jsonl`); off unless `every` > 0.
    #[serde(default, skip_serializing_if = "SeriesConfig::is_off")]
    pub series: SeriesConfig,
    pub model: ModelConfig,
}

/// Metrics during training: every `every` steps (and at step 0 and the last step) the model is
/// scored with `metrics` at the reference sample sizes on the sample drawn from `seed`, and
/// the loss terms are averaged over `summary_batches` batches of the summary stream; each
/// point is one line of the run's `metrics.jsonl`. The training itself is unchanged: scoring
/// reads the weights and draws from streams of its own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeriesConfig {
    /// Steps between two points (0: no series).
    #[serde(default)]
    pub every: u64,
    /// Metric names as `disentangle evaluate --metrics` takes them.
    #[serde(default = "default_series_metrics")]
    pub metrics: Vec<String>,
    /// Seed of the metric samples: the same at every point, so the series follows the model,
    /// not the sample (and its last point equals `evaluate --seed` with this seed).
    #[serde(default)]
    pub seed: u64,
    /// Batches averaged for the reconstruction loss and KL at each point.
    #[serde(default = "default_series_summary_batches")]
    pub summary_batches: usize,
    /// Samples of MIG (its `num_train`) and of the posterior-based metrics at each point
    /// (default: the reference's 10,000); the other metrics use the reference's sizes.
    #[serde(default = "default_series_samples")]
    pub samples: usize,
}

impl Default for SeriesConfig {
    fn default() -> Self {
        SeriesConfig {
            every: 0,
            metrics: default_series_metrics(),
            seed: 0,
            summary_batches: default_series_summary_batches(),
            samples: default_series_samples(),
        }
    }
}

impl SeriesConfig {
    pub fn is_off(&self) -> bool {
        self.every == 0
    }

    /// Whether a point is taken after step `step` of a run of `steps` steps.
    pub fn due(&self, step: u64, steps: u64) -> bool {
        self.every > 0 && (step.is_multiple_of(self.every) || step == steps)
    }

    /// The metrics, parsed.
    pub fn parsed_metrics(&self) -> Result<Vec<disentangle_metrics::Metric>> {
        disentangle_metrics::parse_metrics(&self.metrics.join(","))
            .map_err(|e| TrainError::Invalid(format!("invalid training config: series.metrics: {e}")))
    }
}

pub fn default_series_metrics() -> Vec<String> {
    vec!["mig".into()]
}
fn default_series_summary_batches() -> usize {
    50
}
fn default_series_samples() -> usize {
    10_000
}

pub fn default_batch_size() -> usize {
    64
}
pub fn default_lr() -> f64 {
    1e-4
}
fn default_log_every() -> u64 {
    100
}
fn default_checkpoint_every() -> u64 {
    10_000
}
pub fn default_summary_batches() -> usize {
    1000
}
/// The reference study's code size J.
pub fn default_latents() -> usize {
    10
}
pub fn default_device() -> String {
    "cpu".into()
}

impl TrainConfig {
    /// The reference study's run on `dataset` (300,000 steps, batch 64, Adam 1e-4, 10 latents,
    /// the reference encoder, a vanilla VAE, summaries over 1,000 batches): the one place the
    /// defaults are assembled — `train` starts from it, `bench` and studies override what they
    /// set. Each value is the serde default of its field, so a config.toml that omits a field
    /// means the same.
    pub fn reference(dataset: &str) -> TrainConfig {
        TrainConfig {
            dataset: dataset.to_string(),
            steps: 300_000,
            batch_size: default_batch_size(),
            learning_rate: default_lr(),
            discriminator_learning_rate: default_lr(),
            seed: 0,
            log_every: default_log_every(),
            checkpoint_every: default_checkpoint_every(),
            summary_batches: default_summary_batches(),
            device: default_device(),
            series: SeriesConfig::default(),
            model: ModelConfig {
                latents: default_latents(),
                channels: disentangle_data::dataset_channels(dataset),
                encoder: Default::default(),
                noise: Default::default(),
                objective: Default::default(),
            },
        }
    }

    /// Checks every field; sizes are bounded so that a typo is an error, not an allocation
    /// failure.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(TrainError::Invalid(format!("invalid training config: {m}")));
        if self.steps == 0 {
            return bad("steps must be at least 1".into());
        }
        if self.batch_size < 2 {
            return bad(format!("batch_size {} (need ≥ 2: the objectives use batch statistics)", self.batch_size));
        }
        if self.batch_size > MAX_BATCH_SIZE {
            return bad(format!("batch_size {} (at most {MAX_BATCH_SIZE}: a batch's activations must fit in memory)", self.batch_size));
        }
        for (name, lr) in [("learning_rate", self.learning_rate), ("discriminator_learning_rate", self.discriminator_learning_rate)] {
            if !(lr.is_finite() && lr > 0.0) {
                return bad(format!("{name} {lr} (need a positive number)"));
            }
        }
        if self.log_every == 0 || self.checkpoint_every == 0 {
            return bad("log_every and checkpoint_every must be at least 1".into());
        }
        if !self.series.is_off() {
            if self.series.metrics.is_empty() {
                return bad("series.metrics is empty (name at least one metric, e.g. mig)".into());
            }
            self.series.parsed_metrics()?;
            if self.series.summary_batches == 0 || self.series.summary_batches > 100_000 {
                return bad(format!("series.summary_batches {} (need 1 … 100,000)", self.series.summary_batches));
            }
            if self.series.samples < 2 || self.series.samples > disentangle_metrics::evaluate::MAX_METRIC_SAMPLES {
                return bad(format!("series.samples {} (need 2 … {})", self.series.samples, disentangle_metrics::evaluate::MAX_METRIC_SAMPLES));
            }
        }
        self.model.validate()?;
        Ok(())
    }

    /// The config, checked ([`TrainConfig::validate`]): what training takes.
    pub fn validated(self) -> Result<ValidTrainConfig> {
        self.validate()?;
        Ok(ValidTrainConfig(self))
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("a TrainConfig always serialises")
    }

    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| TrainError::io(path, e))?;
        toml::from_str(&text).map_err(|e| TrainError::Config { path: path.to_path_buf(), message: e.to_string() })
    }
}

/// A [`TrainConfig`] that passed [`TrainConfig::validate`]: made only by
/// [`TrainConfig::validated`] and read-only after (it derefs to the config), so a run checks
/// its config once, where it is assembled, and nothing downstream checks it again.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidTrainConfig(TrainConfig);

impl ValidTrainConfig {
    /// The same config with its dataset recorded as `dataset` (a spelling of the same
    /// dataset: the dataset is not part of what [`TrainConfig::validate`] checks).
    pub fn with_dataset_spelled(mut self, dataset: String) -> Self {
        self.0.dataset = dataset;
        self
    }
}

impl std::ops::Deref for ValidTrainConfig {
    type Target = TrainConfig;
    fn deref(&self) -> &TrainConfig {
        &self.0
    }
}

/// What training accepts: a config checked already, or one to check now.
pub trait IntoValidConfig {
    fn into_valid(self) -> Result<ValidTrainConfig>;
}

impl IntoValidConfig for ValidTrainConfig {
    fn into_valid(self) -> Result<ValidTrainConfig> {
        Ok(self)
    }
}

impl IntoValidConfig for TrainConfig {
    fn into_valid(self) -> Result<ValidTrainConfig> {
        self.validated()
    }
}
