//! Metrics during training: the points of `config.series`, one JSON line each in the run's
//! `metrics.jsonl`:
//!
//! ```json
//! {"step":2000,"seconds":1.9,"summary":{"reconstruction_loss":41.2,"kl":23.0,"loss":64.2},
//!  "metrics":{"mig.discrete":0.13,"mig.num_train":10000,...}}
//! ```
//!
//! A resumed run first drops the points at and after the step it resumes from, then takes the
//! point of that step again if one is due (the weights and the scoring sample are the same, so
//! the value is too): the file never holds a step twice and never misses one.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use disentangle_data::FactorDataset;
use disentangle_metrics::EvalConfig;
use disentangle_models::burn::module::Module;
use indicatif::ProgressBar;
use serde::{Deserialize, Serialize};

use crate::config::TrainConfig;
use crate::error::{Result, TrainError};
use crate::inference::{CHUNK, EngineRef};
use crate::run_dir::write_atomic;
use crate::scoring::{RepresentationKind, ScoreOptions, score};
use crate::losses::{LossWorkspace, average_losses};
use crate::nets::Nets;

/// The file name of the series in a run directory.
pub const SERIES_FILE: &str = "metrics.jsonl";

/// The loss terms at a point, over `SeriesConfig::summary_batches` batches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PointSummary {
    pub reconstruction_loss: f64,
    pub kl: f64,
    pub loss: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tc: Option<f64>,
}

/// One point of the series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesPoint {
    pub step: u64,
    /// Time the point took (scoring and summary).
    pub seconds: f64,
    pub summary: PointSummary,
    /// The metrics' report (`errors.NAME` for a metric that failed at this point).
    pub metrics: serde_json::Map<String, serde_json::Value>,
}

impl SeriesPoint {
    /// Every number of the point as (name, value): the metrics' scalars under their own keys,
    /// the loss terms as `summary.reconstruction_loss`, `summary.kl`, ….
    pub fn scalars(&self) -> Vec<(String, f64)> {
        let mut out: Vec<(String, f64)> = self.metrics.iter().filter_map(|(k, v)| Some((k.clone(), v.as_f64()?))).collect();
        out.push(("summary.reconstruction_loss".into(), self.summary.reconstruction_loss));
        out.push(("summary.kl".into(), self.summary.kl));
        out.push(("summary.loss".into(), self.summary.loss));
        if let Some(tc) = self.summary.tc {
            out.push(("summary.tc".into(), tc));
        }
        out
    }
}

pub fn series_path(run_dir: &Path) -> PathBuf {
    run_dir.join(SERIES_FILE)
}

/// Reads a run's series (empty when it has none). A line that is not a point is an error
/// naming the file and line.
pub fn read_series(run_dir: &Path) -> Result<Vec<SeriesPoint>> {
    let path = series_path(run_dir);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(TrainError::io(&path, e)),
    };
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| TrainError::Invalid(format!("{} line {}: not a series point ({e})", path.display(), i + 1)))
        })
        .collect()
}

/// Drops the points at step `step` and after (a resumed run takes them again).
pub fn truncate_from(run_dir: &Path, step: u64) -> Result<()> {
    let path = series_path(run_dir);
    if !path.is_file() {
        return Ok(());
    }
    let kept: String = read_series(run_dir)?
        .into_iter()
        .filter(|p| p.step < step)
        .map(|p| serde_json::to_string(&p).expect("a point serialises") + "\n")
        .collect();
    write_atomic(&path, kept.as_bytes())
}

/// Appends one point (one line; the file is rewritten whole, so a killed process never
/// leaves half a line).
pub fn append(run_dir: &Path, point: &SeriesPoint) -> Result<()> {
    let path = series_path(run_dir);
    let mut text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(TrainError::io(&path, e)),
    };
    text.push_str(&serde_json::to_string(point).expect("a point serialises"));
    text.push('\n');
    write_atomic(&path, text.as_bytes())
}

/// Scores the networks as they are after `step` steps. Neither the weights nor any stream or
/// buffer of the training changes.
pub fn take_point(config: &TrainConfig, dataset: &dyn FactorDataset, nets: &mut Nets, step: u64) -> Result<SeriesPoint> {
    let started = Instant::now();
    let mut settings = EvalConfig::default();
    settings.mig.num_train = config.series.samples;
    let options = ScoreOptions {
        metrics: config.series.parsed_metrics()?,
        representation: RepresentationKind::Mean,
        seed: config.series.seed,
        posterior_samples: config.series.samples,
        config: settings,
    };
    let report = match &*nets {
        Nets::Cpu(t) => {
            let workspace = Mutex::new(disentangle_engine::Workspace::new(&t.net, CHUNK, false));
            score(&EngineRef::Cpu { net: &t.net, workspace: &workspace }, &config.model, dataset, &options)?
        }
        Nets::Burn { model, device, .. } => {
            let vae = model.vae.valid();
            let inner = device.clone().inner();
            score(&EngineRef::Burn { vae: &vae, device: &inner }, &config.model, dataset, &options)?
        }
    };
    let losses = average_losses(config, dataset, nets, config.series.summary_batches, step, LossWorkspace::Separate, &ProgressBar::hidden())?;
    let metrics = match serde_json::to_value(&report).expect("a report serialises") {
        serde_json::Value::Object(map) => map,
        _ => unreachable!("a report is a JSON object"),
    };
    Ok(SeriesPoint {
        step,
        seconds: started.elapsed().as_secs_f64(),
        summary: PointSummary { reconstruction_loss: losses.recon, kl: losses.kl, loss: losses.loss, tc: losses.tc },
        metrics,
    })
}
