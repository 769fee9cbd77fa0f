//! `disentangle evaluate` and `disentangle export-codes`: score a trained run (or codes from
//! any model, given as an .npz) with the metrics crate.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use disentangle_data::npy::{self, DType, NpzArray, NpzEntry};
use disentangle_data::{FactorDataset, open_dataset};
use disentangle_metrics::{
    CodeSample, Codes, EvalConfig, FactorSizes, Factors, GaussianPosteriors, Metric, Report, evaluate_codes,
    evaluate_representation, parse_metrics,
};
use disentangle_models::config::NoiseConfig;
use disentangle_models::noise::sample_eps;
use disentangle_train::inference::{TrainedModel, load_trained};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum RepresentationKind {
    /// The encoder mean μ(x) (the reference study's default).
    Mean,
    /// A sample z = μ + σ ε with the model's own noise.
    Sampled,
}

#[derive(Args, Debug)]
pub struct EvaluateArgs {
    /// Run directory to evaluate (writes RUN_DIR/metrics.json).
    #[arg(required_unless_present = "codes", conflicts_with = "codes")]
    pub run_dir: Option<PathBuf>,
    /// Score arrays `codes` (N×D) and `factors` (N×K integer classes) of an .npz instead;
    /// with arrays `mu` and `logvar` also the posterior-based metrics.
    #[arg(long, value_name = "FILE.npz")]
    pub codes: Option<PathBuf>,
    /// Comma-separated metric names or `all`: mig, mig-continuous, factor-vae, beta-vae,
    /// dci, sap, modularity, explicitness, unsupervised, info.
    #[arg(long, default_value = "mig,factor-vae")]
    pub metrics: String,
    #[arg(long, value_enum, default_value_t = RepresentationKind::Mean)]
    pub representation: RepresentationKind,
    /// Seed of the metric samples.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Samples encoded for the posterior-based metrics (info, mig-continuous).
    #[arg(long, default_value_t = 10_000)]
    pub posterior_samples: usize,
    /// TOML overriding metric settings, e.g. `[mig]\nnum_train = 1000` (defaults: the reference study's).
    #[arg(long, value_name = "FILE.toml")]
    pub eval_config: Option<PathBuf>,
    /// With --codes: also write the report here.
    #[arg(long, value_name = "FILE.json")]
    pub out: Option<PathBuf>,
    /// Device for the encoder (default: the run's).
    #[arg(long)]
    pub device: Option<String>,
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    pub run_dir: PathBuf,
    #[arg(long, value_name = "FILE.npz")]
    pub out: PathBuf,
    /// Number of factor vectors sampled (uniformly, seeded).
    #[arg(long, default_value_t = 10_000)]
    pub num: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[arg(long)]
    pub device: Option<String>,
}

/// Reads an EvalConfig: the reference defaults, overridden by whatever the TOML file sets.
fn eval_config(path: Option<&Path>) -> Result<EvalConfig> {
    let Some(path) = path else { return Ok(EvalConfig::default()) };
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let overrides: toml::Table = toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let mut base = toml::Table::try_from(EvalConfig::default()).expect("EvalConfig serialises");
    fn merge(base: &mut toml::Table, over: toml::Table, at: &str) -> Result<()> {
        for (k, v) in over {
            match (base.get_mut(&k), v) {
                (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o, &format!("{at}{k}."))?,
                (Some(slot), v) => *slot = v,
                (None, _) => bail!("unknown setting `{at}{k}`"),
            }
        }
        Ok(())
    }
    merge(&mut base, overrides, "").with_context(|| format!("in {}", path.display()))?;
    toml::Value::Table(base).try_into().with_context(|| format!("invalid metric settings in {}", path.display()))
}

/// Encodes factor vectors of `dataset` with the trained model: (μ, log σ²).
fn encode_factors(m: &TrainedModel, dataset: &dyn FactorDataset, factors: &[usize]) -> Result<(Vec<f32>, Vec<f32>)> {
    let n = factors.len() / dataset.factors().num_factors();
    let images = dataset.observations(factors)?;
    Ok(m.encode(&images, n))
}

fn print_table(report: &Report) {
    for (k, v) in report.scalars() {
        if !k.ends_with(".seed") && !k.contains("num_") {
            println!("  {k:<40} {v:.4}");
        }
    }
}

pub fn evaluate(a: EvaluateArgs, data_dir: Option<&Path>) -> Result<()> {
    let metrics = parse_metrics(&a.metrics)?;
    let config = eval_config(a.eval_config.as_deref())?;
    if let Some(path) = &a.codes {
        let report = evaluate_npz(path, &metrics, a.seed, &config)?;
        print_table(&report);
        if let Some(out) = &a.out {
            disentangle_train::run_dir::write_atomic(out, report.to_json_pretty().as_bytes())?;
            println!("wrote {}", out.display());
        }
        return Ok(());
    }
    let run_dir = a.run_dir.as_ref().expect("clap requires RUN_DIR without --codes");
    let model = load_trained(run_dir, a.device.as_deref()).with_context(|| format!("loading {}", run_dir.display()))?;
    let dataset = open_dataset(&model.config.dataset, data_dir).with_context(|| format!("opening dataset `{}`", model.config.dataset))?;
    let sizes = FactorSizes::new(dataset.factors().sizes())?;
    let noise = model.config.model.noise.clone();
    let latents = model.config.model.latents;
    let mut noise_rng = ChaCha8Rng::seed_from_u64(a.seed ^ 0x5eed);
    let mut representation = |factors: &[usize]| -> Result<Vec<f32>, anyhow::Error> {
        let (mu, logvar) = encode_factors(&model, &*dataset, factors)?;
        Ok(match a.representation {
            RepresentationKind::Mean => mu,
            RepresentationKind::Sampled => {
                let eps = sample_eps(&noise, mu.len() / latents, latents, &mut noise_rng);
                mu.iter().zip(&logvar).zip(eps).map(|((m, l), e)| m + (0.5 * l).exp() * e).collect()
            }
        })
    };
    let (posterior, others): (Vec<Metric>, Vec<Metric>) = metrics.iter().partition(|m| m.needs_posteriors());
    let mut report = Report::new();
    if !others.is_empty() {
        report.extend(evaluate_representation(&others, &sizes, &mut representation, a.seed, &config)?);
    }
    if !posterior.is_empty() {
        let mut rng = ChaCha8Rng::seed_from_u64(a.seed);
        let n = a.posterior_samples;
        let factors = dataset.sample_factors(n, &mut rng);
        let (mu, logvar) = encode_factors(&model, &*dataset, &factors)?;
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
        report.extend(evaluate_codes(&posterior, &sample, Some(a.seed), &config)?);
    }
    report.insert("evaluation.representation", format!("{:?}", a.representation).to_lowercase());
    report.insert("evaluation.checkpoint", model.checkpoint.display().to_string());
    report.insert("evaluation.step", model.step);
    // Merge into metrics.json: earlier results for other metrics are kept.
    let path = run_dir.join("metrics.json");
    let mut all: serde_json::Map<String, serde_json::Value> = match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).with_context(|| format!("{} is not valid JSON; not overwriting it", path.display()))?,
        Err(_) => serde_json::Map::new(),
    };
    for (k, v) in report.iter() {
        all.insert(k.clone(), v.clone());
    }
    let json = serde_json::to_string_pretty(&all)?;
    disentangle_train::run_dir::write_atomic(&path, json.as_bytes())?;
    print_table(&report);
    println!("wrote {}", path.display());
    Ok(())
}

fn float_matrix(a: NpzArray, path: &Path, name: &str) -> Result<(Vec<f32>, usize, usize)> {
    match a {
        NpzArray::Float { shape, data } if shape.len() == 2 => Ok((data.iter().map(|&v| v as f32).collect(), shape[0], shape[1])),
        other => bail!("{}: `{name}` must be a 2-D float array (N×D), got shape {:?}", path.display(), other.shape()),
    }
}

fn evaluate_npz(path: &Path, metrics: &[Metric], seed: u64, config: &EvalConfig) -> Result<Report> {
    if let Some(m) = metrics.iter().find(|m| m.is_interventional()) {
        bail!("{m} needs an encoder (it draws its own interventional batches): evaluate a run directory instead");
    }
    let (codes, n, d) = float_matrix(npy::read_npz_array(path, "codes")?, path, "codes")?;
    let factors: Vec<usize> = match npy::read_npz_array(path, "factors")? {
        NpzArray::Int { shape, data } if shape.len() == 2 && shape[0] == n => data
            .into_iter()
            .map(|v| usize::try_from(v).map_err(|_| anyhow::anyhow!("{}: `factors` holds a negative class {v}", path.display())))
            .collect::<Result<_>>()?,
        other => bail!("{}: `factors` must be an N×K integer array with N = {n}, got shape {:?}", path.display(), other.shape()),
    };
    let k = factors.len() / n.max(1);
    let posterior_arrays = if metrics.iter().any(|m| m.needs_posteriors()) {
        let (mu, _, _) = float_matrix(npy::read_npz_array(path, "mu")?, path, "mu")?;
        let (lv, _, _) = float_matrix(npy::read_npz_array(path, "logvar")?, path, "logvar")?;
        Some((mu, lv))
    } else {
        None
    };
    let posteriors = match &posterior_arrays {
        Some((mu, lv)) => Some(GaussianPosteriors::new(mu, lv, n, d)?),
        None => None,
    };
    let sample = CodeSample { codes: Codes::new(&codes, n, d)?, factors: Some(Factors::new(&factors, n, k)?), posteriors };
    Ok(evaluate_codes(metrics, &sample, Some(seed), config)?)
}

pub fn export_codes(a: ExportArgs, data_dir: Option<&Path>) -> Result<()> {
    let model = load_trained(&a.run_dir, a.device.as_deref()).with_context(|| format!("loading {}", a.run_dir.display()))?;
    let dataset = open_dataset(&model.config.dataset, data_dir)?;
    let mut rng = ChaCha8Rng::seed_from_u64(a.seed);
    let factors = dataset.sample_factors(a.num, &mut rng);
    let mut mu = Vec::with_capacity(a.num * model.config.model.latents);
    let mut logvar = Vec::with_capacity(mu.capacity());
    let k = dataset.factors().num_factors();
    for chunk in factors.chunks(1024 * k) {
        let (m, l) = encode_factors(&model, &*dataset, chunk)?;
        mu.extend(m);
        logvar.extend(l);
    }
    let j = model.config.model.latents;
    let f64s: Vec<i64> = factors.iter().map(|&v| v as i64).collect();
    let sizes: Vec<i64> = dataset.factors().sizes().iter().map(|&v| v as i64).collect();
    let (codes_b, lv_b, f_b, s_b) = (npy::f32_bytes(&mu), npy::f32_bytes(&logvar), npy::i64_bytes(&f64s), npy::i64_bytes(&sizes));
    npy::write_npz(
        &a.out,
        &[
            NpzEntry { name: "codes", dtype: DType::F32, shape: &[a.num, j], bytes: &codes_b },
            NpzEntry { name: "mu", dtype: DType::F32, shape: &[a.num, j], bytes: &codes_b },
            NpzEntry { name: "logvar", dtype: DType::F32, shape: &[a.num, j], bytes: &lv_b },
            NpzEntry { name: "factors", dtype: DType::I64, shape: &[a.num, k], bytes: &f_b },
            NpzEntry { name: "factor_sizes", dtype: DType::I64, shape: &[k], bytes: &s_b },
        ],
    )
    .with_context(|| format!("writing {}", a.out.display()))?;
    println!("wrote {} ({} codes of {j} dims; factors {:?})", a.out.display(), a.num, dataset.factors().names());
    Ok(())
}
