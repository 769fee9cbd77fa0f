//! Scoring a trained run directory with the metrics crate (used by `disentangle evaluate`
//! and by study workers): encodes the metric samples with the trained encoder and merges the
//! results into `RUN_DIR/metrics.json`.

use std::path::{Path, PathBuf};

use disentangle_data::{FactorDataset, open_recorded_dataset};
use disentangle_metrics::{
    CodeSample, Codes, EvalConfig, FactorSizes, Factors, GaussianPosteriors, Metric, Report, evaluate_codes, evaluate_representation,
};
use disentangle_models::config::NoiseConfig;
use disentangle_models::noise::sample_eps;
use disentangle_train::inference::{TrainedModel, load_trained};
use disentangle_train::run_dir::write_atomic;
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

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

/// Which code the interventional and code-based metrics see.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RepresentationKind {
    /// The encoder mean μ(x) (the reference study's default).
    Mean,
    /// A sample z = μ + σ ε with the model's own noise.
    Sampled,
}

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

/// Encodes factor vectors of `dataset` with the trained model: (μ, log σ²). A stochastic
/// dataset (Color-dSprites …) draws its observations' nuisance from `rng`.
pub fn encode_factors(m: &TrainedModel, dataset: &dyn FactorDataset, factors: &[usize], rng: &mut dyn RngCore) -> Result<(Vec<f32>, Vec<f32>)> {
    let n = factors.len() / dataset.factors().num_factors();
    let images = dataset.observations_with(factors, rng)?;
    Ok(m.encode(&images, n))
}

/// As [`encode_factors`] for any number of factor vectors: rendered and encoded 1,024 at a
/// time, so memory stays bounded.
pub fn encode_in_chunks(m: &TrainedModel, dataset: &dyn FactorDataset, factors: &[usize], rng: &mut dyn RngCore) -> Result<(Vec<f32>, Vec<f32>)> {
    let k = dataset.factors().num_factors();
    let (mut mu, mut logvar) = (Vec::with_capacity(factors.len() / k * m.config.model.latents), Vec::new());
    for chunk in factors.chunks(1024 * k) {
        let (a, b) = encode_factors(m, dataset, chunk, rng)?;
        mu.extend(a);
        logvar.extend(b);
    }
    Ok((mu, logvar))
}

/// Scores the run in `run_dir`, merges the results into `run_dir/metrics.json` (results of
/// other metrics already there are kept) and returns this evaluation's report.
pub fn evaluate_run(run_dir: &Path, o: &EvaluateOptions) -> Result<Report> {
    let model = load_trained(run_dir, o.device.as_deref())?;
    let dataset = open_recorded_dataset(&model.config.dataset, run_dir, o.data_dir.as_deref())?;
    let sizes = FactorSizes::new(dataset.factors().sizes())?;
    let noise = model.config.model.noise.clone();
    let latents = model.config.model.latents;
    let mut noise_rng = ChaCha8Rng::seed_from_u64(o.seed ^ 0x5eed);
    // Nuisance draws of stochastic datasets, a stream of their own.
    let mut observation_rng = ChaCha8Rng::seed_from_u64(o.seed ^ 0x0b5e_4a7e);
    let mut representation = |factors: &[usize]| -> Result<Vec<f32>, StudyError> {
        let (mu, logvar) = encode_factors(&model, &*dataset, factors, &mut observation_rng)?;
        Ok(match o.representation {
            RepresentationKind::Mean => mu,
            RepresentationKind::Sampled => {
                let eps = sample_eps(&noise, mu.len() / latents, latents, &mut noise_rng);
                mu.iter().zip(&logvar).zip(eps).map(|((m, l), e)| m + (0.5 * l).exp() * e).collect()
            }
        })
    };
    let (posterior, others): (Vec<Metric>, Vec<Metric>) = o.metrics.iter().partition(|m| m.needs_posteriors());
    let mut report = Report::new();
    if !others.is_empty() {
        report.extend(evaluate_representation(&others, &sizes, &mut representation, o.seed, &o.config)?);
    }
    if !posterior.is_empty() {
        let mut rng = ChaCha8Rng::seed_from_u64(o.seed);
        let n = o.posterior_samples;
        let factors = dataset.sample_factors(n, &mut rng);
        let (mu, logvar) = encode_in_chunks(&model, &*dataset, &factors, &mut rng)?;
        let rho = match noise {
            NoiseConfig::Correlated { rho } => rho,
            NoiseConfig::Independent => 0.0,
        };
        let posteriors = GaussianPosteriors::new(&mu, &logvar, n, latents)?.with_noise_correlation(rho)?;
        let k = dataset.factors().num_factors();
        let sample = CodeSample {
            codes: Codes::new(&mu, n, latents)?,
            factors: Some(Factors::new(&factors, n, k)?),
            posteriors: Some(posteriors),
        };
        report.extend(evaluate_codes(&posterior, &sample, Some(o.seed), &o.config)?);
    }
    report.insert("evaluation.representation", format!("{:?}", o.representation).to_lowercase());
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
