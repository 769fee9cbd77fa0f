//! Running a study: workers claim jobs from the results database, train (or resume) each
//! run in `STUDY_DIR/runs/KEY`, score it, and record the result — until nothing is left.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use disentangle_metrics::{EvalConfig, Metric, parse_metrics};
use disentangle_train::TrainConfig;
use disentangle_train::checkpoint;
use disentangle_train::run_dir::write_atomic;
use disentangle_train::series::read_series;
use disentangle_train::trainer::{ProgressCallback, Summary, TrainOptions, resume, train};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::error::{Result, StudyError};
use crate::evaluation::{EvaluateOptions, RepresentationKind, evaluate_run};
use crate::spec::StudySpec;
use crate::store::{Claim, ClaimOne, RunNumbers, Store, WorkerId};

pub const DB_FILE: &str = "results.sqlite";
pub const SPEC_FILE: &str = "study.toml";

/// Where a study lives: `study.toml` (the spec it was last run with), `results.sqlite`,
/// `runs/KEY/` (one run directory per job).
#[derive(Clone, Debug)]
pub struct StudyDir {
    pub root: PathBuf,
}

impl StudyDir {
    pub fn new(root: &Path) -> Self {
        StudyDir { root: root.to_path_buf() }
    }
    pub fn db_path(&self) -> PathBuf {
        self.root.join(DB_FILE)
    }
    pub fn spec_path(&self) -> PathBuf {
        self.root.join(SPEC_FILE)
    }

    /// Creates the folder, records the spec and adds its jobs to the database.
    pub fn prepare(&self, spec: &StudySpec) -> Result<Store> {
        std::fs::create_dir_all(self.root.join("runs")).map_err(|e| StudyError::io(&self.root, e))?;
        write_atomic(&self.spec_path(), spec.to_toml().as_bytes())?;
        let mut store = Store::open(&self.db_path())?;
        store.sync_jobs(&spec.jobs()?)?;
        Ok(store)
    }

    /// Opens an existing study folder (for export and report).
    pub fn open(&self) -> Result<(StudySpec, Store)> {
        let db = self.db_path();
        if !db.is_file() {
            return Err(StudyError::Invalid(format!("{} holds no study (no {DB_FILE}); run `disentangle study run` first", self.root.display())));
        }
        let spec = StudySpec::load(&self.spec_path())?;
        Ok((spec, Store::open(&db)?))
    }
}

#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Worker threads in this process.
    pub jobs: usize,
    pub progress: bool,
    /// A running job whose heartbeat is older than this is taken over (workers on other hosts).
    pub stale_after: Duration,
    /// Also run jobs that failed before.
    pub retry_failed: bool,
    pub data_dir: Option<PathBuf>,
    /// Samples for the posterior-based metrics (info, mig-continuous).
    pub posterior_samples: usize,
    /// Device this process trains and scores on, instead of the study's `device` (`--jobs N`
    /// workers then share it, one GPU for N runs). Results agree across devices up to floating
    /// point, and a job continued elsewhere resumes from its checkpoint on that worker's device.
    pub device: Option<String>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions { jobs: 1, progress: true, stale_after: Duration::from_secs(600), retry_failed: false, data_dir: None, posterior_samples: 10_000, device: None }
    }
}

/// What one `run` call did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunReport {
    pub completed: usize,
    pub failed: usize,
    /// Jobs already done when the call started.
    pub already_done: usize,
    pub total: usize,
}

/// Everything a worker needs to run a job, shared by threads.
struct Context {
    dir: StudyDir,
    metrics: Vec<Metric>,
    eval_config: EvalConfig,
    eval_seed: u64,
    options: RunOptions,
    /// What each worker thread is doing, shown as the progress bar's message.
    status: Arc<Mutex<Vec<String>>>,
}

impl Context {
    fn new(spec: &StudySpec, dir: &StudyDir, options: &RunOptions) -> Result<Self> {
        Ok(Context {
            dir: dir.clone(),
            metrics: parse_metrics(&spec.metrics.join(","))?,
            eval_config: spec.eval_config()?,
            eval_seed: spec.eval_seed,
            options: options.clone(),
            status: Arc::new(Mutex::new(vec![String::new(); options.jobs.max(1)])),
        })
    }

    fn set_status(&self, thread: usize, text: String, bar: &ProgressBar) {
        show_status(&self.status, thread, text, bar);
    }
}

fn show_status(status: &Mutex<Vec<String>>, thread: usize, text: String, bar: &ProgressBar) {
    let mut s = status.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(slot) = s.get_mut(thread) {
        *slot = text;
    }
    bar.set_message(s.iter().filter(|t| !t.is_empty()).cloned().collect::<Vec<_>>().join("  |  "));
}

/// Runs every job not done yet with `options.jobs` worker threads.
pub fn run_study(spec: &StudySpec, dir: &StudyDir, options: &RunOptions) -> Result<RunReport> {
    let store = dir.prepare(spec)?;
    let counts = store.counts()?;
    let ctx = Arc::new(Context::new(spec, dir, options)?);
    let bar = ProgressBar::with_draw_target(
        Some(counts.total() as u64),
        if options.progress { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() },
    );
    bar.set_style(ProgressStyle::with_template("study {bar:30} {pos}/{len} runs  ETA {eta}  {msg}").expect("valid template"));
    bar.set_position(counts.done as u64);
    let stop_heartbeat = Arc::new(AtomicBool::new(false));
    let heartbeat = spawn_heartbeat(dir.db_path(), stop_heartbeat.clone(), options.stale_after);
    let workers: Vec<_> = (0..options.jobs.max(1))
        .map(|t| {
            let (ctx, bar) = (ctx.clone(), bar.clone());
            std::thread::spawn(move || worker_loop(&ctx, t, &bar))
        })
        .collect();
    let mut report = RunReport { already_done: counts.done, total: counts.total(), ..Default::default() };
    let mut first_error = None;
    for w in workers {
        match w.join().expect("worker threads do not panic") {
            Ok((c, f)) => {
                report.completed += c;
                report.failed += f;
            }
            Err(e) => first_error = first_error.or(Some(e)),
        }
    }
    stop_heartbeat.store(true, Ordering::Relaxed);
    let _ = heartbeat.join();
    bar.finish_with_message("finished");
    match first_error {
        Some(e) => Err(e),
        None => Ok(report),
    }
}

/// Runs job `index` of the study (a Slurm array task): nothing if it is done or held by a
/// live worker. Returns whether this call ran it.
pub fn run_one(spec: &StudySpec, dir: &StudyDir, index: usize, options: &RunOptions) -> Result<bool> {
    let jobs = spec.jobs()?;
    let job = jobs
        .get(index)
        .ok_or_else(|| StudyError::Invalid(format!("--index {index}: the study `{}` has {} jobs (0 … {})", spec.name, jobs.len(), jobs.len().saturating_sub(1))))?;
    let mut store = dir.prepare(spec)?;
    let worker = WorkerId::this_process(0);
    let claim = match store.claim_key(&job.key, &worker, options.stale_after)? {
        ClaimOne::Claimed(c) => c,
        ClaimOne::AlreadyDone => {
            eprintln!("job {index} ({}) is already done", job.key);
            return Ok(false);
        }
        ClaimOne::HeldBy(w) => {
            eprintln!("job {index} ({}) is being run by {w}", job.key);
            return Ok(false);
        }
    };
    let ctx = Context::new(spec, dir, options)?;
    let stop = Arc::new(AtomicBool::new(false));
    let heartbeat = spawn_heartbeat(dir.db_path(), stop.clone(), options.stale_after);
    let result = execute_caught(&ctx, &claim, 0, &ProgressBar::hidden());
    stop.store(true, Ordering::Relaxed);
    let _ = heartbeat.join();
    record(&mut store, &claim, &worker, result, &ProgressBar::hidden())?;
    Ok(true)
}

fn spawn_heartbeat(db: PathBuf, stop: Arc<AtomicBool>, stale_after: Duration) -> std::thread::JoinHandle<()> {
    // Beat well within the stale limit; a failed beat is retried at the next tick.
    let every = (stale_after / 4).clamp(Duration::from_millis(200), Duration::from_secs(30));
    std::thread::spawn(move || {
        let Ok(store) = Store::open(&db) else { return };
        let mut last = Instant::now();
        while !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(100));
            if last.elapsed() >= every {
                let _ = store.heartbeat();
                last = Instant::now();
            }
        }
    })
}

fn worker_loop(ctx: &Context, thread: usize, bar: &ProgressBar) -> Result<(usize, usize)> {
    let mut store = Store::open(&ctx.dir.db_path())?;
    let worker = WorkerId::this_process(thread);
    let (mut completed, mut failed) = (0, 0);
    while let Some(claim) = store.claim_next(&worker, ctx.options.stale_after, ctx.options.retry_failed)? {
        ctx.set_status(thread, claim.key.clone(), bar);
        let result = execute_caught(ctx, &claim, thread, bar);
        if record(&mut store, &claim, &worker, result, bar)? {
            completed += 1;
        } else {
            failed += 1;
        }
    }
    ctx.set_status(thread, String::new(), bar);
    Ok((completed, failed))
}

/// A line above the progress bar, or on stderr when the bar is hidden (logs, Slurm output).
fn say(bar: &ProgressBar, line: String) {
    if bar.is_hidden() { eprintln!("{line}") } else { bar.println(line) }
}

/// Stores a job's outcome; true when it succeeded.
fn record(store: &mut Store, claim: &Claim, worker: &WorkerId, result: Result<JobResult>, bar: &ProgressBar) -> Result<bool> {
    match result {
        Ok(JobResult { numbers, metrics, series }) => {
            let mig = metrics.iter().find(|(k, _)| k == "mig.discrete").map(|(_, v)| format!("  MIG {v:.3}")).unwrap_or_default();
            if store.finish(&claim.key, worker, &numbers, &metrics, &series)? {
                bar.inc(1);
                say(bar, format!("done   {}  recon {:.2}  KL {:.2}{mig}  ({:.0} s)", claim.key, numbers.reconstruction_loss, numbers.kl, numbers.train_seconds + numbers.eval_seconds));
            } else {
                say(bar, format!("note   {}: another worker took this job over; its result is the one kept", claim.key));
            }
            Ok(true)
        }
        Err(e) => {
            say(bar, format!("FAILED {}: {e}", claim.key));
            store.fail(&claim.key, worker, &e.to_string())?;
            Ok(false)
        }
    }
}

/// [`execute`], with a panic (a bug, or a backend abort) turned into this job's failure so
/// the worker records it and goes on instead of leaving the job claimed by a live process.
fn execute_caught(ctx: &Context, claim: &Claim, thread: usize, bar: &ProgressBar) -> Result<JobResult> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| execute(ctx, claim, thread, bar))).unwrap_or_else(|payload| {
        let message = payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "unknown panic".into());
        Err(StudyError::Job { key: claim.key.clone(), message: format!("panicked: {message}") })
    })
}

/// What a finished job records: end-of-run numbers, metrics, and metrics during training as
/// (step, name, value).
struct JobResult {
    numbers: RunNumbers,
    metrics: Vec<(String, f64)>,
    series: Vec<(u64, String, f64)>,
}

/// Trains (or resumes, or reuses a finished training of) the job's run, then scores it.
fn execute(ctx: &Context, claim: &Claim, thread: usize, bar: &ProgressBar) -> Result<JobResult> {
    let job_err = |m: String| StudyError::Job { key: claim.key.clone(), message: m };
    let mut config: TrainConfig = toml::from_str(&claim.config_toml).map_err(|e| job_err(format!("stored config: {e}")))?;
    if let Some(device) = &ctx.options.device {
        config.device = device.clone();
    }
    let run_dir = ctx.dir.root.join(&claim.run_dir);
    let (status, bar2, key) = (ctx.status.clone(), bar.clone(), claim.key.clone());
    let on_progress = ProgressCallback(Arc::new(move |step, total| show_status(&status, thread, format!("{key} {step}/{total}"), &bar2)));
    let options = TrainOptions { progress: false, data_dir: ctx.options.data_dir.clone(), device: ctx.options.device.clone(), on_progress: Some(on_progress), ..Default::default() };
    let started = Instant::now();
    let summary = train_or_resume(&config, &run_dir, &options)?;
    let train_seconds = started.elapsed().as_secs_f64();
    ctx.set_status(thread, format!("{} scoring", claim.key), bar);
    let started = Instant::now();
    let eval = EvaluateOptions {
        metrics: ctx.metrics.clone(),
        representation: RepresentationKind::Mean,
        seed: ctx.eval_seed,
        posterior_samples: ctx.options.posterior_samples,
        config: ctx.eval_config.clone(),
        device: ctx.options.device.clone(),
        data_dir: ctx.options.data_dir.clone(),
    };
    let report = evaluate_run(&run_dir, &eval)?;
    // A failing metric leaves its message in the run's metrics.json and the other scores
    // stand; the study goes on (the study report shows the missing numbers as gaps).
    for (metric, message) in report.errors() {
        say(bar, format!("{}: {metric} failed: {message}", claim.key));
    }
    let metrics: Vec<(String, f64)> = report.scalars().map(|(k, v)| (k.to_string(), v)).collect();
    let numbers = RunNumbers {
        reconstruction_loss: summary.reconstruction_loss,
        kl: summary.kl,
        elbo: summary.elbo,
        regularizer: summary.regularizer,
        loss: summary.loss,
        tc: summary.tc,
        train_seconds,
        eval_seconds: started.elapsed().as_secs_f64(),
    };
    let series = read_series(&run_dir)?
        .iter()
        .flat_map(|p| p.scalars().into_iter().map(move |(name, value)| (p.step, name, value)))
        .collect();
    Ok(JobResult { numbers, metrics, series })
}

/// A run already in the job's folder (left by a killed worker, or put there by `import-model`)
/// must be of the job's configuration: the fields that make the run what it is must agree.
fn check_same_job(job: &TrainConfig, run_dir: &Path) -> Result<()> {
    let path = run_dir.join("config.toml");
    let found = TrainConfig::load(&path)?;
    let mut differ = Vec::new();
    if found.model != job.model {
        differ.push(format!("model ({:?} there, {:?} in the study)", found.model, job.model));
    }
    for (field, a, b) in [
        ("dataset", found.dataset.clone(), job.dataset.clone()),
        ("seed", found.seed.to_string(), job.seed.to_string()),
        ("batch_size", found.batch_size.to_string(), job.batch_size.to_string()),
    ] {
        if a != b {
            differ.push(format!("{field} ({a} there, {b} in the study)"));
        }
    }
    if differ.is_empty() {
        Ok(())
    } else {
        Err(StudyError::Invalid(format!("{} holds a run of another configuration: {}", run_dir.display(), differ.join("; "))))
    }
}

/// A fresh run; or the continuation of a run a killed worker left behind; or, when that run
/// had already finished training, its summary.
fn train_or_resume(config: &TrainConfig, run_dir: &Path, options: &TrainOptions) -> Result<Summary> {
    let has_config = run_dir.join("config.toml").is_file();
    let latest = if has_config { checkpoint::latest(&run_dir.join("checkpoints"))? } else { None };
    match latest {
        Some(ckpt) => {
            check_same_job(config, run_dir)?;
            let step = checkpoint::load_state(&ckpt)?.step;
            let summary_path = run_dir.join("summary.json");
            if step == config.steps
                && let Ok(bytes) = std::fs::read(&summary_path)
                && let Ok(summary) = serde_json::from_slice::<Summary>(&bytes)
            {
                return Ok(summary);
            }
            Ok(resume(run_dir, Some(config.steps), options)?.summary)
        }
        None => {
            // Nothing worth keeping (killed before the first checkpoint): start over.
            if run_dir.exists() {
                std::fs::remove_dir_all(run_dir).map_err(|e| StudyError::io(run_dir, e))?;
            }
            Ok(train(config.clone(), run_dir, options)?.summary)
        }
    }
}
