//! `disentangle study …` and `disentangle visualize`: thin wrappers over the study crate.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use disentangle_study::claims::{self, PAPER_CLAIMS, compare};
use disentangle_study::export::to_csv;
use disentangle_study::series::{recorded_steps, rows_at_step, series_csv_path, series_from_csv, series_to_csv};
use disentangle_study::pictures::{PictureOptions, visualize};
use disentangle_study::report::{ReportOptions, write_report};
use disentangle_study::slurm::{SlurmOptions, sbatch_script};
use disentangle_study::{PRESETS, RunOptions, StudyDir, StudySpec, load_study, run_one, run_study};

#[derive(Subcommand, Debug)]
pub enum StudyCommand {
    /// Train and evaluate every job of a study not done yet (restartable; safe to run several at once).
    Run(RunArgs),
    /// Run one job of a study by its index (what Slurm array tasks call).
    RunOne(RunOneArgs),
    /// List the jobs of a study file or preset without running anything.
    List {
        study: String,
    },
    /// Print a preset's TOML (to copy and edit), or list the presets.
    Show {
        preset: Option<String>,
    },
    /// Write a Slurm job-array script running the study's jobs against a shared study folder.
    Slurm(SlurmArgs),
    /// Write the results table as CSV (one row per job, one column per metric), and the
    /// metrics during training (runs trained with eval_every) as a long table beside it.
    Export {
        /// The study folder.
        dir: PathBuf,
        /// Default: DIR/results.csv.
        #[arg(long, value_name = "FILE.csv")]
        out: Option<PathBuf>,
        /// The series table (run, step, metric, value); default: beside --out, `-series`
        /// added to its name (results.csv → results-series.csv). Written only when a run has one.
        #[arg(long, value_name = "FILE.csv")]
        series: Option<PathBuf>,
    },
    /// Write the HTML report with the paper's figures (and every plot as PNG and SVG).
    Report {
        /// The study folder.
        dir: PathBuf,
        /// Default: DIR/report/report.html.
        #[arg(long, value_name = "FILE.html")]
        out: Option<PathBuf>,
        /// Skip the reconstructions and traversals of the best runs.
        #[arg(long)]
        no_pictures: bool,
    },
    /// Test the seed paper's claims on a study's finished runs: paired differences over seeds
    /// and a sign-test verdict per claim (holds at this scale / reversed / inconclusive)
    Compare {
        /// The study folder, or a CSV table it exported (`study export`).
        dir: PathBuf,
        /// Print Markdown tables (one per claim) instead of plain text.
        #[arg(long)]
        markdown: bool,
        /// Test the claims on the runs as they were at this training step, from the metrics
        /// during training (MIG and the loss terms of each series point). From a CSV, the
        /// series table beside it (`study export`) is read.
        #[arg(long, value_name = "S")]
        step: Option<u64>,
    },
    /// UDR (unsupervised model selection) of every configuration's seeds: stores each run's
    /// score as the metric `udr.lasso` (or `udr.spearman`), which export, report and compare use.
    Udr {
        /// The study folder.
        dir: PathBuf,
        #[arg(long, value_enum, default_value = "lasso")]
        correlation: crate::eval_cmd::UdrCorrelationArg,
        /// Observations every run encodes (disentanglement_lib: 1,000).
        #[arg(long, default_value_t = 1000)]
        num_data_points: usize,
        /// Keep latents whose mean KL is at most this out of the comparison (disentanglement_lib: 0.01).
        #[arg(long, default_value_t = 0.01)]
        kl_filter_threshold: f64,
        /// Seed of the observations drawn.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        #[arg(long)]
        device: Option<String>,
    },
}

#[derive(Args, Debug)]
pub struct StudyDirArgs {
    /// Study folder (default: studies/NAME).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Take over a running job whose worker has not reported for this many seconds
    /// (workers on this host that died are detected at once).
    #[arg(long, default_value_t = 600)]
    pub stale_after: u64,
    /// Samples for the posterior-based metrics (info, mig-continuous).
    #[arg(long, default_value_t = 10_000)]
    pub posterior_samples: usize,
    /// Train and score on this device instead of the study's `device` (cpu, flex, wgpu, vulkan,
    /// cuda:N); with --jobs N the workers share it.
    #[arg(long)]
    pub device: Option<String>,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// A study TOML file or a preset (paper-dsprites, paper-cars3d, paper-mini-dsprites, paper-mini-cars3d, paper-medium-dsprites, dlib-grid).
    pub study: String,
    #[command(flatten)]
    pub common: StudyDirArgs,
    /// Worker threads in this process.
    #[arg(long, default_value_t = 1)]
    pub jobs: usize,
    /// Also rerun jobs that failed.
    #[arg(long)]
    pub retry_failed: bool,
    #[arg(long)]
    pub quiet: bool,
}

#[derive(Args, Debug)]
pub struct RunOneArgs {
    pub study: String,
    #[command(flatten)]
    pub common: StudyDirArgs,
    /// Job index (0-based, as listed by `study list`).
    #[arg(long)]
    pub index: usize,
}

#[derive(Args, Debug)]
pub struct SlurmArgs {
    pub study: String,
    /// The sbatch script to write.
    #[arg(long, value_name = "FILE.sbatch")]
    pub out: PathBuf,
    /// Shared study folder the tasks use (default: studies/NAME, made absolute).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    #[arg(long, default_value_t = 4)]
    pub cpus: usize,
    #[arg(long, default_value = "48:00:00")]
    pub time: String,
    #[arg(long, default_value = "8G")]
    pub mem: String,
    #[arg(long)]
    pub partition: Option<String>,
    /// Most array tasks at once.
    #[arg(long)]
    pub max_parallel: Option<usize>,
    /// A line to run before each task (repeatable), e.g. "module load cuda".
    #[arg(long)]
    pub setup: Vec<String>,
}

#[derive(Args, Debug)]
pub struct VisualizeArgs {
    pub run_dir: PathBuf,
    /// Default: RUN_DIR/pictures.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Traversal values over [−RANGE, RANGE].
    #[arg(long, default_value_t = 2.0)]
    pub range: f32,
    /// Traversal columns.
    #[arg(long, default_value_t = 9)]
    pub steps: usize,
    /// Flat dataset index of the traversal's base image (default: the first seeded sample).
    #[arg(long)]
    pub base_index: Option<usize>,
    #[arg(long, default_value_t = 10)]
    pub reconstructions: usize,
    #[arg(long, default_value_t = 16)]
    pub samples: usize,
    /// Images encoded to order the latents by mean KL.
    #[arg(long, default_value_t = 1000)]
    pub kl_samples: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[arg(long)]
    pub device: Option<String>,
    /// Also write the interactive latent explorer: one self-contained HTML page
    /// (OUT/explorer.html) with a slider per latent, the MI heatmap and reconstructions.
    #[arg(long)]
    pub explore: bool,
    /// Explorer: seeded dataset samples offered as base codes (the prior mean is added).
    #[arg(long, default_value_t = 4, requires = "explore")]
    pub explore_bases: usize,
    /// Explorer: frames per latent and base over [−3, 3].
    #[arg(long, default_value_t = 15, requires = "explore")]
    pub explore_steps: usize,
}

fn study_dir(spec: &StudySpec, dir: Option<&Path>) -> StudyDir {
    StudyDir::new(&dir.map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("studies").join(&spec.name)))
}

fn run_options(c: &StudyDirArgs, data_dir: Option<&Path>) -> RunOptions {
    RunOptions {
        stale_after: Duration::from_secs(c.stale_after.max(1)),
        posterior_samples: c.posterior_samples,
        data_dir: data_dir.map(Into::into),
        device: c.device.clone(),
        ..RunOptions::default()
    }
}

pub fn run(command: StudyCommand, data_dir: Option<&Path>) -> Result<()> {
    match command {
        StudyCommand::Run(a) => {
            let spec = load_study(&a.study)?;
            let dir = study_dir(&spec, a.common.dir.as_deref());
            let options = RunOptions { jobs: a.jobs.max(1), progress: !a.quiet, retry_failed: a.retry_failed, ..run_options(&a.common, data_dir) };
            let r = run_study(&spec, &dir, &options).with_context(|| format!("running study `{}` in {}", spec.name, dir.root.display()))?;
            println!(
                "study {}: {} runs completed now, {} failed, {} were already done, of {} ({})",
                spec.name,
                r.completed,
                r.failed,
                r.already_done,
                r.total,
                dir.db_path().display()
            );
            if r.failed > 0 {
                bail!("{} runs failed; see `disentangle study export {}` (column `error`), rerun with --retry-failed", r.failed, dir.root.display());
            }
            Ok(())
        }
        StudyCommand::RunOne(a) => {
            let spec = load_study(&a.study)?;
            let dir = study_dir(&spec, a.common.dir.as_deref());
            let options = RunOptions { progress: false, ..run_options(&a.common, data_dir) };
            run_one(&spec, &dir, a.index, &options).with_context(|| format!("study `{}` job {}", spec.name, a.index))?;
            Ok(())
        }
        StudyCommand::List { study } => {
            let spec = load_study(&study)?;
            let jobs = spec.jobs()?;
            println!("study {}: {} configurations × {} seeds = {} jobs of {} steps", spec.name, spec.configurations()?.len(), spec.seeds().len(), jobs.len(), spec.steps);
            for j in &jobs {
                println!("{:>5}  {:<10} {}  seed {}", j.index, j.configuration.dataset, j.configuration.label(), j.seed);
            }
            Ok(())
        }
        StudyCommand::Show { preset } => {
            match preset {
                Some(p) => {
                    let text = disentangle_study::presets::preset_text(&p)
                        .with_context(|| format!("no preset `{p}` (presets: {})", PRESETS.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")))?;
                    print!("{text}");
                }
                None => {
                    let width = PRESETS.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
                    for (name, text) in PRESETS {
                        let spec = StudySpec::parse(text, name)?;
                        println!("{name:<width$}  {:>5} jobs  {}", spec.jobs()?.len(), spec.description);
                    }
                }
            }
            Ok(())
        }
        StudyCommand::Slurm(a) => {
            let spec = load_study(&a.study)?;
            let dir = study_dir(&spec, a.dir.as_deref()).root;
            let dir = std::path::absolute(&dir).with_context(|| format!("resolving {}", dir.display()))?;
            // Tasks get an absolute study file, unless it is a preset name.
            let study = if Path::new(&a.study).is_file() { std::path::absolute(&a.study)?.display().to_string() } else { a.study.clone() };
            // Create the database now so the array's tasks do not all race to create it.
            let n = StudyDir::new(&dir).prepare(&spec)?.counts()?.total();
            let o = SlurmOptions {
                cpus: a.cpus,
                time: a.time,
                memory: a.mem,
                partition: a.partition,
                max_parallel: a.max_parallel,
                setup: a.setup,
                executable: std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_else(|_| "disentangle".into()),
            };
            let script = sbatch_script(&spec.name, &study, &dir, n, &o);
            disentangle_train::run_dir::write_atomic(&a.out, script.as_bytes())?;
            println!("wrote {} ({n} array tasks); submit with: sbatch {}", a.out.display(), a.out.display());
            Ok(())
        }
        StudyCommand::Udr { dir, correlation, num_data_points, kl_filter_threshold, seed, device } => {
            let config = crate::eval_cmd::udr_config(correlation, num_data_points, kl_filter_threshold)?;
            let groups = disentangle_study::udr::udr_of_study(&dir, &config, seed, device.as_deref(), data_dir)
                .with_context(|| format!("UDR of the study in {}", dir.display()))?;
            if groups.is_empty() {
                bail!("{}: no configuration has two finished runs (UDR compares a configuration's seeds)", dir.display());
            }
            let mut failed = 0;
            for g in &groups {
                println!("{}", g.label);
                match &g.scores {
                    Ok(scores) => {
                        for ((key, seed), score) in g.keys.iter().zip(&g.seeds).zip(scores) {
                            println!("  seed {seed:>3}  UDR {score:.4}  {key}");
                        }
                    }
                    Err(e) => {
                        failed += 1;
                        println!("  not scored: {e}");
                    }
                }
            }
            println!("stored as udr.{} in {}", config.correlation.name(), dir.join("results.sqlite").display());
            if failed > 0 {
                bail!("{failed} configuration(s) could not be scored (above)");
            }
            Ok(())
        }
        StudyCommand::Compare { dir, markdown, step } => {
            // A study folder, or a table it exported (what docs/results/ publishes).
            let rows = if dir.is_file() {
                let text = std::fs::read_to_string(&dir).with_context(|| format!("reading {}", dir.display()))?;
                disentangle_study::export::from_csv(&text).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?
            } else {
                study_rows(&dir)?
            };
            let rows = match step {
                None => rows,
                Some(step) => {
                    let series = if dir.is_file() {
                        let path = series_csv_path(&dir);
                        let text = std::fs::read_to_string(&path)
                            .with_context(|| format!("reading {} (the series table `study export` writes beside {})", path.display(), dir.display()))?;
                        series_from_csv(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
                    } else {
                        StudyDir::new(&dir).open()?.1.series()?
                    };
                    let steps = recorded_steps(&series);
                    if !steps.contains(&step) {
                        bail!(
                            "--step {step}: no run of {} has a point at that step (recorded steps: {})",
                            dir.display(),
                            if steps.is_empty() { "none: no run was trained with eval_every".into() } else { steps.iter().map(u64::to_string).collect::<Vec<_>>().join(", ") }
                        );
                    }
                    println!("at step {step} (metrics during training; loss terms over the series' batches)\n");
                    rows_at_step(&rows, &series, step)
                }
            };
            let results = compare(PAPER_CLAIMS, &rows);
            let theory = claims::theory(&rows);
            if results.is_empty() && theory.is_empty() {
                println!("{}: no finished runs of any configuration the paper's claims compare", dir.display());
            } else if markdown {
                print!("{}", claims::to_markdown(&results));
                if !theory.is_empty() {
                    print!("{}", claims::theory_to_markdown(&theory));
                }
            } else {
                print!("{}", claims::to_text(&results));
                if !theory.is_empty() {
                    print!("\n{}", claims::theory_to_text(&theory));
                }
            }
            print!("{}", disentangle_study::udr::agreement_text(&rows, markdown));
            Ok(())
        }
        StudyCommand::Export { dir, out, series } => {
            let (_, store) = StudyDir::new(&dir).open()?;
            let rows = store.rows()?;
            let out = out.unwrap_or_else(|| dir.join("results.csv"));
            disentangle_train::run_dir::write_atomic(&out, to_csv(&rows).as_bytes())?;
            println!("wrote {} ({} rows)", out.display(), rows.len());
            let values = store.series()?;
            if !values.is_empty() {
                let path = series.unwrap_or_else(|| series_csv_path(&out));
                disentangle_train::run_dir::write_atomic(&path, series_to_csv(&rows, &values).as_bytes())?;
                println!("wrote {} ({} values of metrics during training)", path.display(), values.len());
            }
            Ok(())
        }
        StudyCommand::Report { dir, out, no_pictures } => {
            let sd = StudyDir::new(&dir);
            let mut o = ReportOptions { out, pictures: !no_pictures, ..ReportOptions::default() };
            o.picture_options.data_dir = data_dir.map(Into::into);
            let r = write_report(&sd, &o).with_context(|| format!("writing the report of {}", dir.display()))?;
            println!("wrote {} ({} plots as PNG and SVG beside it)", r.html.display(), r.plots.len() / 2);
            Ok(())
        }
    }
}

pub fn visualize_run(a: VisualizeArgs, data_dir: Option<&Path>) -> Result<()> {
    let out = a.out.clone().unwrap_or_else(|| a.run_dir.join("pictures"));
    let o = PictureOptions {
        reconstructions: a.reconstructions,
        samples: a.samples,
        range: a.range,
        steps: a.steps,
        base_index: a.base_index,
        kl_samples: a.kl_samples,
        seed: a.seed,
        device: a.device,
        data_dir: data_dir.map(Into::into),
        ..PictureOptions::default()
    };
    let p = visualize(&a.run_dir, &out, &o).with_context(|| format!("visualizing {}", a.run_dir.display()))?;
    for path in [&p.reconstructions, &p.samples, &p.traversals, &p.traversal_gif, &p.caption] {
        println!("wrote {}", path.display());
    }
    let order: Vec<String> = p.latent_order.iter().map(|&j| format!("z{j} ({:.2})", p.latent_kl[j])).collect();
    println!("latents by mean KL: {}", order.join(", "));
    if a.explore {
        let options = disentangle_study::explorer::ExplorerOptions {
            bases: a.explore_bases,
            steps: a.explore_steps,
            kl_samples: a.kl_samples,
            seed: a.seed,
            device: o.device.clone(),
            data_dir: o.data_dir.clone(),
            ..Default::default()
        };
        let page = disentangle_study::explorer::explore(&a.run_dir, &out.join("explorer.html"), &options)
            .with_context(|| format!("writing the explorer of {}", a.run_dir.display()))?;
        println!("wrote {} ({:.1} MB, {} frames; MIG {:.3})", page.path.display(), page.bytes as f64 / 1e6, page.frames, page.mig);
    }
    Ok(())
}

/// Every job row of the study in `dir`.
fn study_rows(dir: &Path) -> Result<Vec<disentangle_study::store::JobRow>> {
    let (_, store) = StudyDir::new(dir).open()?;
    Ok(store.rows()?)
}
