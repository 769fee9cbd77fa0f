//! `disentangle evaluate` and `disentangle export-codes`: score a trained run (or codes from
//! any model, given as an .npz) with the metrics crate.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use disentangle_data::npy::{self, DType, NpzArray, NpzEntry};
use disentangle_data::open_recorded_dataset;
use disentangle_metrics::{
    CodeSample, Codes, EvalConfig, FactorSizes, Factors, GaussianPosteriors, GridLookup, Metric, Report, evaluate_codes,
    evaluate_representation, parse_metrics,
};
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

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum KeyNames {
    Ours,
    DisentanglementLib,
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
    /// dci, sap, modularity, explicitness, unsupervised, info [default: mig,factor-vae].
    /// Members of the default or of `all` that the inputs cannot give are skipped, with the
    /// reason; a metric named here must run.
    #[arg(long)]
    pub metrics: Option<String>,
    #[arg(long, value_enum, default_value_t = RepresentationKind::Mean)]
    pub representation: RepresentationKind,
    /// Seed of the metric samples.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Samples for the posterior-based metrics (info, mig-continuous): encoded from a run, or
    /// the first rows (in the seeded order) of a codes file. Their cost grows with the square
    /// of this number.
    #[arg(long, default_value_t = 10_000)]
    pub posterior_samples: usize,
    /// TOML overriding metric settings, e.g. `[mig]\nnum_train = 1000` (defaults: the reference study's).
    #[arg(long, value_name = "FILE.toml")]
    pub eval_config: Option<PathBuf>,
    /// Also write the report here (a run's own metrics.json is written either way).
    #[arg(long, value_name = "FILE.json")]
    pub out: Option<PathBuf>,
    /// Key names of the --out file: ours (`mig.discrete`, flat) or disentanglement-lib's
    /// (`{"mig": {"discrete_mig": …}, "sap_score": {"SAP_score": …}, …}`; docs/metrics.md
    /// lists the mapping).
    #[arg(long, value_enum, default_value_t = KeyNames::Ours)]
    pub key_names: KeyNames,
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
    /// Every point of the factor grid instead, in C order (the last factor fastest): the file
    /// then gives every metric, FactorVAE and BetaVAE included (dSprites: 737,280 rows).
    #[arg(long, conflicts_with = "num")]
    pub grid: bool,
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
    for (k, v) in report.iter() {
        if k.ends_with(".seed") || k.contains("num_") || k.starts_with("errors.") || k.starts_with("skipped.") {
            continue;
        }
        match v {
            serde_json::Value::Number(x) => println!("  {k:<40} {:.4}", x.as_f64().unwrap_or(f64::NAN)),
            serde_json::Value::Null => println!("  {k:<40} -"),
            serde_json::Value::String(s) if k.ends_with("_note") || k.starts_with("warnings.") => println!("  {k:<40} {s}"),
            _ => {}
        }
    }
    for (m, why) in report.skipped() {
        println!("  skipped {m}: {why}");
    }
    for (m, e) in report.errors() {
        println!("  failed  {m}: {e}");
    }
}

fn write_report(out: &Path, report: &Report, names: KeyNames) -> Result<()> {
    let json = match names {
        KeyNames::Ours => report.to_json_pretty(),
        KeyNames::DisentanglementLib => {
            serde_json::to_string_pretty(&disentangle_metrics::to_dlib_names(report)).expect("JSON values serialise")
        }
    };
    disentangle_train::run_dir::write_atomic(out, json.as_bytes()).with_context(|| format!("writing {}", out.display()))?;
    println!("wrote {}", out.display());
    Ok(())
}

/// Exit status 1 when a metric failed, after everything else was printed and written.
fn fail_on_metric_errors(report: &Report) -> Result<()> {
    let failed: Vec<&str> = report.errors().map(|(m, _)| m).collect();
    if failed.is_empty() {
        return Ok(());
    }
    bail!("{} failed (the other results are above and in the report)", failed.join(", "))
}

pub fn evaluate(a: EvaluateArgs, data_dir: Option<&Path>) -> Result<()> {
    let selection = MetricSelection::parse(a.metrics.as_deref())?;
    let config = eval_config(a.eval_config.as_deref())?;
    if let Some(path) = &a.codes {
        let report = evaluate_npz(path, &selection, a.seed, a.posterior_samples, &config)?;
        print_table(&report);
        if let Some(out) = &a.out {
            write_report(out, &report, a.key_names)?;
        }
        return fail_on_metric_errors(&report);
    }
    let metrics = selection.metrics;
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
    if let Some(out) = &a.out {
        write_report(out, &report, a.key_names)?;
    }
    fail_on_metric_errors(&report)
}

fn float_matrix(a: NpzArray, path: &Path, name: &str) -> Result<(Vec<f32>, usize, usize)> {
    match a {
        NpzArray::Float { shape, data } if shape.len() == 2 => Ok((data.iter().map(|&v| v as f32).collect(), shape[0], shape[1])),
        NpzArray::Int { shape, .. } => bail!(
            "{}: `{name}` must be a float array (N×D, float32 or float64), got an integer array of shape {shape:?}",
            path.display()
        ),
        other => bail!("{}: `{name}` must be a 2-D float array (N×D), got shape {:?}", path.display(), other.shape()),
    }
}

/// Class indices of an integer array, or of a float array holding whole numbers (numpy
/// users often keep labels in float arrays).
fn classes(a: NpzArray, path: &Path, name: &str) -> Result<(Vec<usize>, Vec<usize>)> {
    match a {
        NpzArray::Int { shape, data } => {
            let data = data
                .into_iter()
                .map(|v| usize::try_from(v).map_err(|_| anyhow::anyhow!("{}: `{name}` holds a negative class {v}", path.display())))
                .collect::<Result<_>>()?;
            Ok((shape, data))
        }
        NpzArray::Float { shape, data } => {
            let data = data
                .into_iter()
                .map(|v| {
                    if v.fract() == 0.0 && (0.0..=u32::MAX as f64).contains(&v) {
                        Ok(v as usize)
                    } else {
                        Err(anyhow::anyhow!("{}: `{name}` must hold class indices (whole numbers ≥ 0), found {v}", path.display()))
                    }
                })
                .collect::<Result<_>>()?;
            Ok((shape, data))
        }
    }
}

/// The metrics asked for. Members of the default list or of `all` run when the arrays allow
/// them and are reported as skipped otherwise; a metric named explicitly must run.
pub struct MetricSelection {
    pub metrics: Vec<Metric>,
    pub named: Vec<Metric>,
}

pub const DEFAULT_METRICS: &str = "mig,factor-vae";

impl MetricSelection {
    pub fn parse(list: Option<&str>) -> Result<Self> {
        let metrics = parse_metrics(list.unwrap_or(DEFAULT_METRICS))?;
        let named = match list {
            None => Vec::new(),
            Some(list) => list
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty() && !p.eq_ignore_ascii_case("all"))
                .map(|p| p.parse::<Metric>())
                .collect::<Result<_, _>>()?,
        };
        Ok(MetricSelection { metrics, named })
    }
}

/// Every array of a codes file that some metric may use.
struct CodesFile {
    codes: Vec<f32>,
    n: usize,
    d: usize,
    /// n×k classes of the same rows: from `factors`, or the grid points when the rows are
    /// the grid in C order (`factor_sizes` without `factors`).
    factors: Option<(Vec<usize>, usize)>,
    factors_from_grid_order: bool,
    sizes: Option<Vec<usize>>,
    posteriors: Option<(Vec<f32>, Vec<f32>)>,
}

fn read_codes_file(path: &Path) -> Result<CodesFile> {
    let names = npy::npz_array_names(path)?;
    let has = |name: &str| names.iter().any(|n| n == name);
    if !has("codes") {
        bail!("{}: no array `codes` (N×D); the file holds {:?}", path.display(), names);
    }
    let (codes, n, d) = float_matrix(npy::read_npz_array(path, "codes")?, path, "codes")?;
    let sizes = if has("factor_sizes") {
        let (shape, sizes) = classes(npy::read_npz_array(path, "factor_sizes")?, path, "factor_sizes")?;
        if shape.len() != 1 || sizes.is_empty() || sizes.contains(&0) {
            bail!("{}: `factor_sizes` must be a 1-D array of positive class counts, got shape {shape:?} {sizes:?}", path.display());
        }
        Some(sizes)
    } else {
        None
    };
    let mut factors_from_grid_order = false;
    let factors = if has("factors") {
        let (shape, f) = classes(npy::read_npz_array(path, "factors")?, path, "factors")?;
        if shape.len() != 2 || shape[0] != n {
            bail!("{}: `factors` must be an N×K array with N = {n} (the rows of `codes`), got shape {shape:?}", path.display());
        }
        if let Some(s) = &sizes {
            if s.len() != shape[1] {
                bail!("{}: `factor_sizes` has {} entries but `factors` has {} columns", path.display(), s.len(), shape[1]);
            }
            FactorSizes::new(s)?
                .check(&Factors::new(&f, n, shape[1])?)
                .with_context(|| format!("{}: `factors` against `factor_sizes`", path.display()))?;
        }
        Some((f, shape[1]))
    } else if let Some(s) = &sizes {
        // Rows in grid order: row i is grid point i (C order), as in the dSprites file.
        let grid = FactorSizes::new(s)?;
        if grid.num_points() == Some(n) {
            factors_from_grid_order = true;
            Some((GridLookup::grid_factors(&grid).expect("the product fits"), s.len()))
        } else {
            None
        }
    } else {
        None
    };
    let posteriors = match (has("mu"), has("logvar")) {
        (true, true) => {
            let (mu, a, b) = float_matrix(npy::read_npz_array(path, "mu")?, path, "mu")?;
            let (lv, c, e) = float_matrix(npy::read_npz_array(path, "logvar")?, path, "logvar")?;
            if (a, b) != (n, d) || (c, e) != (n, d) {
                bail!("{}: `mu` ({a}×{b}) and `logvar` ({c}×{e}) must have the shape of `codes` ({n}×{d})", path.display());
            }
            Some((mu, lv))
        }
        _ => None,
    };
    Ok(CodesFile { codes, n, d, factors, factors_from_grid_order, sizes, posteriors })
}

/// Why a metric cannot run on this file, or None when it can.
fn missing_input(m: Metric, file: &CodesFile, grid: &Result<GridLookup, String>) -> Option<String> {
    if m.is_interventional() {
        return grid.as_ref().err().map(|why| {
            format!(
                "it draws its own interventional batches, so it needs codes for every point of the factor grid \
                 (`factors` covering it, with `factor_sizes` or without, or `factor_sizes` with the rows in grid order): {why}"
            )
        });
    }
    if m.needs_factors() && file.factors.is_none() {
        return Some("needs array `factors` (N×K classes of the rows of `codes`)".into());
    }
    if m.needs_posteriors() && file.posteriors.is_none() {
        return Some("needs arrays `mu` and `logvar` (N×D, the Gaussian posteriors the codes came from)".into());
    }
    None
}

fn evaluate_npz(path: &Path, selection: &MetricSelection, seed: u64, posterior_samples: usize, config: &EvalConfig) -> Result<Report> {
    let file = read_codes_file(path)?;
    let (n, d) = (file.n, file.d);
    let codes = Codes::new(&file.codes, n, d).with_context(|| format!("{}: array `codes`", path.display()))?;
    let grid: Result<GridLookup, String> = match (&file.factors, &file.sizes) {
        _ if file.factors_from_grid_order => {
            let sizes = FactorSizes::new(file.sizes.as_deref().expect("grid order needs sizes"))?;
            Ok(GridLookup::in_grid_order(codes, &sizes)?)
        }
        (Some((f, k)), sizes) => {
            let inferred = sizes.is_none();
            let sizes = match sizes {
                Some(s) => s.clone(),
                None => (0..*k).map(|j| f.iter().skip(j).step_by(*k).max().map_or(1, |&c| c + 1)).collect(),
            };
            let factors = Factors::new(f, n, *k)?;
            match GridLookup::from_factors(codes, &factors, &FactorSizes::new(&sizes)?)? {
                Ok(g) => Ok(g),
                Err(incomplete) if inferred => Err(format!(
                    "{incomplete}; factor sizes {sizes:?} inferred from each factor's largest class (store `factor_sizes` if that is wrong)"
                )),
                Err(incomplete) => Err(incomplete.to_string()),
            }
        }
        (None, Some(s)) => Err(format!(
            "`factor_sizes` {s:?} without `factors` means rows in grid order, which needs {} rows; the file has {n}",
            FactorSizes::new(s)?.num_points().map_or("more".to_string(), |p| p.to_string())
        )),
        (None, None) => Err("the file holds neither `factors` nor `factor_sizes`".into()),
    };

    let mut report = Report::new();
    let mut to_run = Vec::new();
    for &m in &selection.metrics {
        match missing_input(m, &file, &grid) {
            None => to_run.push(m),
            Some(why) if selection.named.contains(&m) => bail!("{}: cannot compute {m}: {why}", path.display()),
            Some(why) => report.insert_skipped(m, why),
        }
    }
    let (interventional, from_rows): (Vec<Metric>, Vec<Metric>) = to_run.iter().partition(|m| m.is_interventional());

    if !from_rows.is_empty() {
        // The metrics take their train / test rows from the front of the sample, so a dump in
        // factor-index order would train on one corner of the grid and test on another: the
        // rows are first put in a seeded random order (the --seed, recorded in the report).
        let order = row_order(n, seed);
        let codes = permute_rows(&file.codes, d, &order);
        let factors = file.factors.as_ref().map(|(f, k)| (permute_rows(f, *k, &order), *k));
        let factors = match &factors {
            Some((f, k)) => Some(Factors::new(f, n, *k)?),
            None => None,
        };
        let sample = CodeSample { codes: Codes::new(&codes, n, d)?, factors, posteriors: None };
        let (with_posteriors, plain): (Vec<Metric>, Vec<Metric>) = from_rows.iter().partition(|m| m.needs_posteriors());
        report.extend(evaluate_codes(&plain, &sample, Some(seed), config)?);
        if !with_posteriors.is_empty() {
            // Monte Carlo over all N mixture components costs O(samples · N · D): the
            // posterior metrics take the first --posterior-samples rows (random ones, after
            // the permutation), as many as a run's evaluation encodes.
            let m = n.min(posterior_samples.max(1));
            let (mu, lv) = file.posteriors.as_ref().expect("checked by missing_input");
            let (mu, lv) = (permute_rows(mu, d, &order[..m]), permute_rows(lv, d, &order[..m]));
            let head = CodeSample {
                codes: Codes::new(&codes[..m * d], m, d)?,
                factors: match &factors {
                    Some(f) => Some(Factors::new(&f.values()[..m * f.num_factors()], m, f.num_factors())?),
                    None => None,
                },
                posteriors: Some(GaussianPosteriors::new(&mu, &lv, m, d)?),
            };
            report.extend(evaluate_codes(&with_posteriors, &head, Some(seed), config)?);
            report.insert("rows.posterior_samples", m as u64);
        }
        report.insert("rows.count", n as u64);
        report.insert_seed("rows.permutation", Some(seed));
        for &m in &from_rows {
            let asked = config.sample_size(m);
            if n < asked {
                report.insert(
                    format!("warnings.{m}"),
                    format!("asked for {asked} rows (the metric's num_train + num_test), the file holds {n}: scored on {n}"),
                );
            }
        }
    }
    if !interventional.is_empty() {
        let mut lookup = grid.expect("checked by missing_input");
        report.insert("grid.points", lookup.sizes().num_points().expect("a complete grid fits in memory") as u64);
        report.insert("grid.duplicate_rows", lookup.duplicate_rows() as u64);
        let sizes = lookup.sizes().clone();
        report.extend(evaluate_representation(&interventional, &sizes, &mut lookup, seed, config)?);
    }
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
    let dataset = open_recorded_dataset(&model.config.dataset, &a.run_dir, data_dir)?;
    let mut rng = ChaCha8Rng::seed_from_u64(a.seed);
    let factors = if a.grid {
        let sizes = FactorSizes::new(dataset.factors().sizes())?;
        GridLookup::grid_factors(&sizes).context("the factor grid is too large to enumerate")?
    } else {
        dataset.sample_factors(a.num, &mut rng)
    };
    let num = factors.len() / dataset.factors().num_factors();
    let (mu, logvar) = encode_in_chunks(&model, &*dataset, &factors, &mut rng)?;
    let k = dataset.factors().num_factors();
    let j = model.config.model.latents;
    let f64s: Vec<i64> = factors.iter().map(|&v| v as i64).collect();
    let sizes: Vec<i64> = dataset.factors().sizes().iter().map(|&v| v as i64).collect();
    let (codes_b, lv_b, f_b, s_b) = (npy::f32_bytes(&mu), npy::f32_bytes(&logvar), npy::i64_bytes(&f64s), npy::i64_bytes(&sizes));
    npy::write_npz(
        &a.out,
        &[
            NpzEntry { name: "codes", dtype: DType::F32, shape: &[num, j], bytes: &codes_b },
            NpzEntry { name: "mu", dtype: DType::F32, shape: &[num, j], bytes: &codes_b },
            NpzEntry { name: "logvar", dtype: DType::F32, shape: &[num, j], bytes: &lv_b },
            NpzEntry { name: "factors", dtype: DType::I64, shape: &[num, k], bytes: &f_b },
            NpzEntry { name: "factor_sizes", dtype: DType::I64, shape: &[k], bytes: &s_b },
        ],
    )
    .with_context(|| format!("writing {}", a.out.display()))?;
    println!("wrote {} ({} codes of {j} dims; factors {:?})", a.out.display(), num, dataset.factors().names());
    Ok(())
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum UdrCorrelationArg {
    /// |Lasso coefficients| (α = 0.1) of one run's latents regressed on the other's.
    Lasso,
    /// |Spearman rank correlations|.
    Spearman,
}

#[derive(Args)]
pub struct UdrArgs {
    /// Run directories of one configuration (different seeds), at least two.
    #[arg(required = true, num_args = 2..)]
    pub runs: Vec<PathBuf>,
    #[arg(long, value_enum, default_value = "lasso")]
    pub correlation: UdrCorrelationArg,
    /// Observations every run encodes (disentanglement_lib: 1,000).
    #[arg(long, default_value_t = 1000)]
    pub num_data_points: usize,
    /// Keep latents whose mean KL is at most this out of the comparison (disentanglement_lib: 0.01).
    #[arg(long, default_value_t = 0.01)]
    pub kl_filter_threshold: f64,
    /// Seed of the observations drawn.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Also write the scores, the pairwise matrix and the raw correlations as JSON.
    #[arg(long, value_name = "FILE.json")]
    pub out: Option<PathBuf>,
    #[arg(long)]
    pub device: Option<String>,
}

/// UDR settings from the command line's values, checked.
pub fn udr_config(correlation: UdrCorrelationArg, num_data_points: usize, kl_filter_threshold: f64) -> Result<disentangle_metrics::UdrConfig> {
    use disentangle_metrics::{UdrConfig, UdrCorrelation};
    if !(2..=disentangle_metrics::evaluate::MAX_METRIC_SAMPLES).contains(&num_data_points) {
        bail!("--num-data-points {num_data_points} must be between 2 and {}", disentangle_metrics::evaluate::MAX_METRIC_SAMPLES);
    }
    if !kl_filter_threshold.is_finite() {
        bail!("--kl-filter-threshold {kl_filter_threshold} must be a finite number");
    }
    Ok(UdrConfig {
        correlation: match correlation {
            UdrCorrelationArg::Lasso => UdrCorrelation::Lasso,
            UdrCorrelationArg::Spearman => UdrCorrelation::Spearman,
        },
        num_data_points,
        kl_filter_threshold,
        ..UdrConfig::default()
    })
}

pub fn udr(a: UdrArgs, data_dir: Option<&Path>) -> Result<()> {
    let config = udr_config(a.correlation, a.num_data_points, a.kl_filter_threshold)?;
    let result = disentangle_study::udr::udr_of_runs(&a.runs, &config, a.seed, a.device.as_deref(), data_dir).context("computing UDR")?;
    println!("UDR ({}, {} observations, seed {}):", config.correlation.name(), config.num_data_points, a.seed);
    for (run, score) in a.runs.iter().zip(&result.model_scores) {
        println!("{score:.4}  {}", run.display());
    }
    if let Some(out) = &a.out {
        let json = serde_json::json!({
            "runs": a.runs.iter().map(|r| r.display().to_string()).collect::<Vec<_>>(),
            "model_scores": result.model_scores,
            "pairwise_disentanglement_scores": result.pairwise,
            "raw_correlations": result.raw_correlations,
            "correlation": config.correlation.name(),
            "num_data_points": config.num_data_points,
            "kl_filter_threshold": config.kl_filter_threshold,
            "seed": a.seed,
        });
        disentangle_train::run_dir::write_atomic(out, serde_json::to_string_pretty(&json)?.as_bytes())
            .with_context(|| format!("writing {}", out.display()))?;
        println!("wrote {}", out.display());
    }
    Ok(())
}
