//! A study: a TOML file describing grids of datasets × objectives (with hyperparameter values)
//! × encoders × noises, crossed with seeds, and how to train and score each run.
//!
//! ```toml
//! name = "my-study"
//! seeds = 5                      # seeds 0..5, or an explicit list [0, 7, 9]
//! steps = 300000
//! metrics = ["mig", "factor-vae"]
//!
//! [[grid]]
//! datasets = ["dsprites"]
//! encoders = ["conv", "split"]   # conv | conv-k4 | split | shared
//! noises = ["independent"]       # independent | correlated (ρ = 0.9) | correlated:RHO
//! objectives = [{ model = "vae" }, { model = "factor-vae", gamma = [10, 30] }]
//!
//! [eval]                         # overrides of the metric settings (default: the reference study's)
//! mig = { num_train = 10000 }
//! ```
//! A study is the union of its grids (so ablations need not be crossed with everything).
//! Jobs are ordered seed-major: every configuration's seed 0 comes before any seed 1, so a
//! study stopped half way still has comparable results for every configuration.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use disentangle_models::config::{ENCODER_VARIANTS, EncoderConfig, ModelConfig, NoiseConfig, ObjectiveConfig};
use disentangle_train::TrainConfig;
// Training defaults are the training config's own (the reference study's).
use disentangle_train::config::{SeriesConfig, default_batch_size, default_device, default_lr, default_summary_batches};
use serde::{Deserialize, Serialize};

use crate::error::{Result, StudyError};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Seeds {
    Count(u64),
    List(Vec<u64>),
}

/// A scalar or a list of values for one hyperparameter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Values {
    One(f64),
    Many(Vec<f64>),
}

impl Values {
    fn list(&self) -> Vec<f64> {
        match self {
            Values::One(v) => vec![*v],
            Values::Many(v) => v.clone(),
        }
    }
}

// No `deny_unknown_fields` here: serde cannot combine it with `flatten`; unknown
// hyperparameter names are rejected by `ObjectiveConfig::from_params` instead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectiveSpec {
    /// vae, beta-vae, annealed-vae, factor-vae, dip-vae-i, dip-vae-ii, beta-tcvae.
    pub model: String,
    #[serde(flatten)]
    pub params: BTreeMap<String, Values>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grid {
    pub datasets: Vec<String>,
    pub objectives: Vec<ObjectiveSpec>,
    #[serde(default = "default_encoders")]
    pub encoders: Vec<String>,
    #[serde(default = "default_noises")]
    pub noises: Vec<String>,
}

fn default_encoders() -> Vec<String> {
    vec!["conv".into()]
}
fn default_noises() -> Vec<String> {
    vec!["independent".into()]
}
fn default_metrics() -> Vec<String> {
    vec!["mig".into(), "factor-vae".into()]
}
fn default_latents() -> usize {
    disentangle_train::config::default_latents()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StudySpec {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub seeds: Seeds,
    pub steps: u64,
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    #[serde(default = "default_latents")]
    pub latents: usize,
    #[serde(default = "default_lr")]
    pub learning_rate: f64,
    #[serde(default = "default_summary_batches")]
    pub summary_batches: usize,
    /// Default: every steps/10 (at least 1), so a killed job loses at most a tenth of its work.
    #[serde(default)]
    pub checkpoint_every: Option<u64>,
    #[serde(default)]
    pub log_every: Option<u64>,
    #[serde(default = "default_device")]
    pub device: String,
    #[serde(default = "default_metrics")]
    pub metrics: Vec<String>,
    /// Seed of the metric samples (the same for every run, so runs are scored alike).
    #[serde(default)]
    pub eval_seed: u64,
    /// Metrics during training: every this many steps (and at step 0 and the last step) each
    /// run is scored with `eval_every_metrics` (seed `eval_seed`; MIG with `[eval]`'s
    /// `mig.num_train`, so the last point equals the end-of-run MIG); the series go into the
    /// results database. Off when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eval_every: Option<u64>,
    #[serde(default = "disentangle_train::config::default_series_metrics")]
    pub eval_every_metrics: Vec<String>,
    /// Overrides of `disentangle_metrics::EvalConfig` (same layout as `evaluate --eval-config`).
    #[serde(default)]
    pub eval: toml::Table,
    pub grid: Vec<Grid>,
}

/// One configuration (everything but the seed).
#[derive(Debug, Clone, PartialEq)]
pub struct Configuration {
    pub dataset: String,
    pub objective: ObjectiveConfig,
    pub encoder: EncoderConfig,
    pub noise: NoiseConfig,
}

impl Configuration {
    /// The configuration a training config describes (for runs made outside a study).
    pub fn from_train(t: &TrainConfig) -> Self {
        Configuration { dataset: t.dataset.clone(), objective: t.model.objective.clone(), encoder: t.model.encoder.clone(), noise: t.model.noise.clone() }
    }

    /// `conv`, `conv-k4`, `split` or `shared`.
    pub fn encoder_name(&self) -> &'static str {
        self.encoder.variant()
    }

    /// e.g. `factor-vae γ=30`.
    pub fn objective_label(&self) -> String {
        objective_label(&self.objective)
    }
    pub fn noise_label(&self) -> String {
        match self.noise {
            NoiseConfig::Independent => "independent".into(),
            NoiseConfig::Correlated { rho } => format!("correlated ρ={}", fmt_num(rho)),
        }
    }
    /// Human label without the dataset: `factor-vae γ=30 · split · independent`.
    pub fn label(&self) -> String {
        self.label_with_encoder(self.encoder_name())
    }
    /// The same configuration with another encoder (to pair split with conv).
    pub fn label_with_encoder(&self, encoder: &str) -> String {
        format!("{} · {} · {}", self.objective_label(), encoder, self.noise_label())
    }
    /// File-name-safe identifier including the dataset.
    pub fn slug(&self) -> String {
        let params: Vec<String> = self.objective.params().iter().map(|(k, v)| format!("{k}-{}", fmt_num(*v))).collect();
        let noise = match self.noise {
            NoiseConfig::Independent => "independent".to_string(),
            NoiseConfig::Correlated { rho } => format!("correlated-{}", fmt_num(rho)),
        };
        let objective = if params.is_empty() { self.objective.name().to_string() } else { format!("{}_{}", self.objective.name(), params.join("_")) };
        sanitize(&format!("{}.{}.{}.{}", self.dataset, objective, self.encoder_name(), noise))
    }
}

pub fn objective_label(o: &ObjectiveConfig) -> String {
    let sym = |k: &str| match k {
        "beta" => "β",
        "gamma" => "γ",
        "c_max" => "C",
        "lambda_od" => "λod",
        "lambda_d" => "λd",
        other => other,
    }
    .to_string();
    let params: Vec<String> = o
        .params()
        .iter()
        .filter(|(k, _)| *k != "iteration_threshold" && !(matches!(o, ObjectiveConfig::DipVaeI { .. } | ObjectiveConfig::DipVaeIi { .. }) && *k == "lambda_d"))
        .map(|(k, v)| format!("{}={}", sym(k), fmt_num(*v)))
        .collect();
    let name = match o {
        ObjectiveConfig::Vae { beta } if *beta == 1.0 => return "vae".into(),
        ObjectiveConfig::Vae { .. } => "beta-vae",
        other => other.name(),
    };
    format!("{name} {}", params.join(" "))
}

/// Shortest decimal form: 30 → "30", 0.9 → "0.9".
pub fn fmt_num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 { format!("{}", v as i64) } else { format!("{v}") }
}

fn sanitize(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect()
}

/// One training run of the study.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// Position in the study's job list (what `study run-one --index` takes).
    pub index: usize,
    /// Stable identifier: the configuration slug and the seed (also the run folder's name).
    pub key: String,
    pub configuration: Configuration,
    pub seed: u64,
    pub train: TrainConfig,
}

fn parse_encoder(s: &str, origin: &str) -> Result<EncoderConfig> {
    EncoderConfig::from_variant(s)
        .ok_or_else(|| StudyError::spec(origin, format!("grid.encoders: unknown encoder `{s}` ({})", ENCODER_VARIANTS.join(", "))))
}

fn parse_noise(s: &str, origin: &str) -> Result<NoiseConfig> {
    match s.split_once(':') {
        None if s == "independent" => Ok(NoiseConfig::Independent),
        None if s == "correlated" => Ok(NoiseConfig::Correlated { rho: 0.9 }),
        Some(("correlated", r)) => match r.parse::<f64>() {
            Ok(rho) if (0.0..1.0).contains(&rho) => Ok(NoiseConfig::Correlated { rho }),
            _ => Err(StudyError::spec(origin, format!("grid.noises: `{s}`: ρ must be a number in [0, 1)"))),
        },
        _ => Err(StudyError::spec(origin, format!("grid.noises: unknown noise `{s}` (independent, correlated, correlated:RHO)"))),
    }
}

/// Cross product of the hyperparameter lists of one objective entry.
fn expand_objective(o: &ObjectiveSpec, origin: &str) -> Result<Vec<ObjectiveConfig>> {
    let mut combos: Vec<Vec<(String, f64)>> = vec![vec![]];
    for (k, v) in &o.params {
        let list = v.list();
        if list.is_empty() {
            return Err(StudyError::spec(origin, format!("objective `{}`: `{k}` has no values", o.model)));
        }
        combos = combos.into_iter().flat_map(|c| list.iter().map(move |x| { let mut c = c.clone(); c.push((k.clone(), *x)); c })).collect();
    }
    let given: Vec<&str> = o.params.keys().map(String::as_str).collect();
    combos
        .into_iter()
        .map(|c| {
            let get = |k: &str| c.iter().find(|(n, _)| n == k).map(|(_, v)| *v);
            ObjectiveConfig::from_params(&o.model, &get, &given).map_err(|e| StudyError::spec(origin, format!("objectives: {}", e.message)))
        })
        .collect()
}

/// Most seeds a study may count (`seeds = N`); a larger N is a typo that would allocate
/// its job list before failing.
const MAX_SEEDS: u64 = 100_000;
/// Most jobs a study may have, for the same reason.
const MAX_JOBS: u64 = 1_000_000;

impl StudySpec {
    pub fn parse(text: &str, origin: &str) -> Result<Self> {
        let spec: StudySpec = toml::from_str(text).map_err(|e| StudyError::spec(origin, e.to_string()))?;
        spec.validate(origin)?;
        Ok(spec)
    }

    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| StudyError::io(path, e))?;
        Self::parse(&text, &path.display().to_string())
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("a StudySpec always serialises")
    }

    fn validate(&self, origin: &str) -> Result<()> {
        let bad = |m: String| Err(StudyError::spec(origin, m));
        if self.name.is_empty() || self.name.contains(['/', '\\']) {
            return bad(format!("name `{}`: need a non-empty name without slashes", self.name));
        }
        if let Seeds::Count(n) = self.seeds
            && n > MAX_SEEDS
        {
            return bad(format!("seeds = {n}: more than {MAX_SEEDS} runs per configuration"));
        }
        if self.seeds().is_empty() {
            return bad("seeds: need at least one seed".into());
        }
        if self.grid.is_empty() {
            return bad("no [[grid]]: nothing to run".into());
        }
        for (i, g) in self.grid.iter().enumerate() {
            if g.datasets.is_empty() || g.objectives.is_empty() || g.encoders.is_empty() || g.noises.is_empty() {
                return bad(format!("grid {i}: datasets, objectives, encoders and noises must each be non-empty"));
            }
        }
        let seed_count = match &self.seeds {
            Seeds::Count(n) => *n,
            Seeds::List(l) => l.len() as u64,
        };
        let jobs = (self.configurations_checked(origin)?.len() as u64).saturating_mul(seed_count);
        if jobs > MAX_JOBS {
            return bad(format!("{jobs} jobs (configurations × seeds): more than {MAX_JOBS}"));
        }
        disentangle_metrics::parse_metrics(&self.metrics.join(",")).map_err(|e| StudyError::spec(origin, format!("metrics: {e}")))?;
        self.eval_config().map_err(|e| StudyError::spec(origin, e.to_string()))?;
        // Building every job validates every training config.
        for job in self.jobs_checked(origin)? {
            job.train.validate().map_err(|e| StudyError::spec(origin, format!("{}: {e}", job.key)))?;
        }
        Ok(())
    }

    pub fn seeds(&self) -> Vec<u64> {
        match &self.seeds {
            Seeds::Count(n) => (0..*n).collect(),
            Seeds::List(l) => {
                let mut seen = BTreeSet::new();
                l.iter().copied().filter(|s| seen.insert(*s)).collect()
            }
        }
    }

    /// The metric settings: reference defaults overridden by `[eval]`.
    pub fn eval_config(&self) -> Result<disentangle_metrics::EvalConfig> {
        crate::evaluation::eval_config_with(&self.eval, "[eval]")
    }

    /// The distinct configurations, in grid order.
    pub fn configurations(&self) -> Result<Vec<Configuration>> {
        self.configurations_checked("study")
    }

    fn configurations_checked(&self, origin: &str) -> Result<Vec<Configuration>> {
        let mut out: Vec<Configuration> = Vec::new();
        for g in &self.grid {
            for dataset in &g.datasets {
                for o in &g.objectives {
                    for objective in expand_objective(o, origin)? {
                        for e in &g.encoders {
                            for n in &g.noises {
                                let c = Configuration {
                                    dataset: dataset.clone(),
                                    objective: objective.clone(),
                                    encoder: parse_encoder(e, origin)?,
                                    noise: parse_noise(n, origin)?,
                                };
                                if !out.iter().any(|x| x.slug() == c.slug()) {
                                    out.push(c);
                                }
                            }
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    /// Every job, seed-major.
    pub fn jobs(&self) -> Result<Vec<Job>> {
        self.jobs_checked("study")
    }

    fn jobs_checked(&self, origin: &str) -> Result<Vec<Job>> {
        let configs = self.configurations_checked(origin)?;
        let mig_samples = self.eval_config().map_err(|e| StudyError::spec(origin, e.to_string()))?.mig.num_train;
        let mut jobs = Vec::with_capacity(configs.len() * self.seeds().len());
        for seed in self.seeds() {
            for c in &configs {
                let reference = TrainConfig::reference(&c.dataset);
                let train = TrainConfig {
                    dataset: c.dataset.clone(),
                    steps: self.steps,
                    batch_size: self.batch_size,
                    learning_rate: self.learning_rate,
                    discriminator_learning_rate: self.learning_rate,
                    seed,
                    log_every: self.log_every.unwrap_or((self.steps / 100).clamp(1, 1000)),
                    checkpoint_every: self.checkpoint_every.unwrap_or((self.steps / 10).max(1)),
                    summary_batches: self.summary_batches,
                    device: self.device.clone(),
                    series: SeriesConfig {
                        every: self.eval_every.unwrap_or(0),
                        metrics: self.eval_every_metrics.clone(),
                        seed: self.eval_seed,
                        samples: mig_samples,
                        ..Default::default()
                    },
                    model: ModelConfig {
                        latents: self.latents,
                        encoder: c.encoder.clone(),
                        noise: c.noise.clone(),
                        objective: c.objective.clone(),
                        ..reference.model
                    },
                };
                jobs.push(Job { index: jobs.len(), key: format!("{}.s{seed}", c.slug()), configuration: c.clone(), seed, train });
            }
        }
        Ok(jobs)
    }
}
