//! `disentangle evaluate` and `disentangle export-codes`: score a trained run (or codes from
//! any model, given as an .npz) with the metrics crate.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use disentangle_data::npy::{self, DType, NpzArray, NpzEntry};
use disentangle_data::open_dataset;
use disentangle_metrics::{CodeSample, Codes, EvalConfig, Factors, GaussianPosteriors, Metric, Report, evaluate_codes, parse_metrics};
use disentangle_study::evaluation::{EvaluateOptions, RepresentationKind as StudyRepresentation, encode_in_chunks, eval_config_file, evaluate_run};
use disentangle_train::inference::load_trained;
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

fn eval_config(path: Option<&Path>) -> Result<EvalConfig> {
    match path {
        Some(p) => Ok(eval_config_file(p)?),
        None => Ok(EvalConfig::default()),
    }
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
    let options = EvaluateOptions {
        metrics,
        representation: match a.representation {
            RepresentationKind::Mean => StudyRepresentation::Mean,
            RepresentationKind::Sampled => StudyRepresentation::Sampled,
        },
        seed: a.seed,
        posterior_samples: a.posterior_samples,
        config,
        device: a.device.clone(),
        data_dir: data_dir.map(Into::into),
    };
    let report = evaluate_run(run_dir, &options).with_context(|| format!("evaluating {}", run_dir.display()))?;
    print_table(&report);
    println!("wrote {}", run_dir.join("metrics.json").display());
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
        // numpy users often keep class labels in float arrays: accept whole numbers.
        NpzArray::Float { shape, data } if shape.len() == 2 && shape[0] == n => data
            .into_iter()
            .map(|v| {
                if v.fract() == 0.0 && (0.0..=u32::MAX as f64).contains(&v) {
                    Ok(v as usize)
                } else {
                    Err(anyhow::anyhow!("{}: `factors` must hold class indices (whole numbers ≥ 0), found {v}", path.display()))
                }
            })
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
    // The metrics take their train / test rows from the front of the sample, so a dump in
    // factor-index order would train on one corner of the grid and test on another: the
    // rows are first put in a seeded random order (the --seed, recorded in the report).
    let order = row_order(n, seed);
    let codes = permute_rows(&codes, d, &order);
    let factors = permute_rows(&factors, k, &order);
    let posterior_arrays = posterior_arrays.map(|(mu, lv)| (permute_rows(&mu, d, &order), permute_rows(&lv, d, &order)));
    let posteriors = match &posterior_arrays {
        Some((mu, lv)) => Some(GaussianPosteriors::new(mu, lv, n, d)?),
        None => None,
    };
    let sample = CodeSample { codes: Codes::new(&codes, n, d)?, factors: Some(Factors::new(&factors, n, k)?), posteriors };
    let mut report = evaluate_codes(metrics, &sample, Some(seed), config)?;
    report.insert("rows.count", n as u64);
    report.insert_seed("rows.permutation", Some(seed));
    Ok(report)
}

/// A uniformly random order of `n` rows, the same for the same seed.
fn row_order(n: usize, seed: u64) -> Vec<usize> {
    use rand::SeedableRng;
    use rand::seq::SliceRandom;
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(seed));
    order
}

/// The rows of a row-major matrix with `cols` columns, in `order`.
fn permute_rows<T: Copy>(m: &[T], cols: usize, order: &[usize]) -> Vec<T> {
    order.iter().flat_map(|&r| &m[r * cols..(r + 1) * cols]).copied().collect()
}

pub fn export_codes(a: ExportArgs, data_dir: Option<&Path>) -> Result<()> {
    let model = load_trained(&a.run_dir, a.device.as_deref()).with_context(|| format!("loading {}", a.run_dir.display()))?;
    let dataset = open_dataset(&model.config.dataset, data_dir)?;
    let mut rng = ChaCha8Rng::seed_from_u64(a.seed);
    let factors = dataset.sample_factors(a.num, &mut rng);
    let (mu, logvar) = encode_in_chunks(&model, &*dataset, &factors)?;
    let k = dataset.factors().num_factors();
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
