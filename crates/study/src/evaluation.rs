//! Scoring a trained run directory with the metrics crate (used by `disentangle evaluate`
//! and by study workers): encodes the metric samples with the trained encoder and merges the
//! results into `RUN_DIR/metrics.json`.

use std::path::{Path, PathBuf};

use disentangle_data::{FactorDataset, open_recorded_dataset};
use disentangle_metrics::{EvalConfig, Metric, Report};
use disentangle_train::inference::{TrainedModel, load_trained};
use disentangle_train::run_dir::write_atomic;
use disentangle_train::scoring::{self, ScoreOptions};
use rand::RngCore;

use crate::error::{Result, StudyError};

/// The reference defaults, overridden by whatever `overrides` sets (same layout as the
/// serialised `EvalConfig`: `rows_per_call`, `[mig] num_train = …`, …). Unknown keys are errors.
pub fn eval_config_with(overrides: &toml::Table, origin: &str) -> Result<EvalConfig> {
    let mut base = toml::Table::try_from(EvalConfig::default()).expect("EvalConfig serialises");
    fn merge(base: &mut toml::Table, over: &toml::Table, at: &str, origin: &str) -> Result<()> {
        for (k, v) in over {
            match (base.get_mut(k), v) {
                (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o, &format!("{at}{k}."), origin)?,
                (Some(slot), v) => *slot = v.clone(),
                (None, _) => return Err(StudyError::spec(origin, format!("unknown metric setting `{at}{k}`"))),
            }
        }
        Ok(())
    }
    merge(&mut base, overrides, "", origin)?;
    let config: EvalConfig =
        toml::Value::Table(base).try_into().map_err(|e: toml::de::Error| StudyError::spec(origin, format!("invalid metric settings: {e}")))?;
    config.validate().map_err(|e| StudyError::spec(origin, e.to_string()))?;
    Ok(config)
}

/// Reads metric settings from a TOML file (see [`eval_config_with`]).
pub fn eval_config_file(path: &Path) -> Result<EvalConfig> {
    let text = std::fs::read_to_string(path).map_err(|e| StudyError::io(path, e))?;
    let table: toml::Table = toml::from_str(&text).map_err(|e| StudyError::spec(path.display().to_string(), e.to_string()))?;
    eval_config_with(&table, &path.display().to_string())
}

pub use disentangle_train::scoring::RepresentationKind;

#[derive(Clone, Debug)]
pub struct EvaluateOptions {
    pub metrics: Vec<Metric>,
    pub representation: RepresentationKind,
    pub seed: u64,
    /// Samples encoded for the posterior-based metrics (info, mig-continuous).
    pub posterior_samples: usize,
    pub config: EvalConfig,
    /// Device for the encoder (default: the run's).
    pub device: Option<String>,
    pub data_dir: Option<PathBuf>,
}

/// Encodes factor vectors of `dataset` with the trained model: (μ, log σ²), rendered and
/// encoded 1,024 at a time. A stochastic dataset draws its observations' nuisance from `rng`.
pub fn encode_in_chunks(m: &TrainedModel, dataset: &dyn FactorDataset, factors: &[usize], rng: &mut dyn RngCore) -> Result<(Vec<f32>, Vec<f32>)> {
    Ok(scoring::encode_in_chunks(&m.engine_ref(), &m.config.model, dataset, factors, rng)?)
}

/// Scores the run in `run_dir`, merges the results into `run_dir/metrics.json` (results of
/// other metrics already there are kept) and returns this evaluation's report.
pub fn evaluate_run(run_dir: &Path, o: &EvaluateOptions) -> Result<Report> {
    let model = load_trained(run_dir, o.device.as_deref())?;
    let dataset = open_recorded_dataset(&model.config.dataset, run_dir, o.data_dir.as_deref())?;
    let options = ScoreOptions {
        metrics: o.metrics.clone(),
        representation: o.representation,
        seed: o.seed,
        posterior_samples: o.posterior_samples,
        config: o.config.clone(),
    };
    let mut report = scoring::score(&model.engine_ref(), &model.config.model, &*dataset, &options)?;
    report.insert("evaluation.checkpoint", model.checkpoint.display().to_string());
    report.insert("evaluation.step", model.step);
    // Merge into metrics.json: earlier results for other metrics are kept.
    let path = run_dir.join("metrics.json");
    let mut all: serde_json::Map<String, serde_json::Value> = match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| StudyError::Invalid(format!("{} is not valid JSON ({e}); not overwriting it", path.display())))?,
        Err(_) => serde_json::Map::new(),
    };
    // A metric evaluated now replaces all it wrote before: a new error removes the old
    // numbers (they belong to another evaluation), a new result removes an old error.
    for &m in &o.metrics {
        all.retain(|k, _| !m.owns_key(k) && *k != format!("errors.{m}"));
    }
    for (k, v) in report.iter() {
        all.insert(k.clone(), v.clone());
    }
    let json = serde_json::to_string_pretty(&all).expect("JSON values serialise");
    write_atomic(&path, json.as_bytes())?;
    Ok(report)
}
