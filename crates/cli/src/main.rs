//! `disentangle`: train, evaluate and compare VAEs for disentangled representation
//! learning. This binary is a thin layer over the library crates.

mod bench_cmd;
mod data_cmd;
mod eval_cmd;
mod model_cmd;
mod study_cmd;
mod train_cmd;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "disentangle", version, about = "Train, evaluate and compare VAEs for disentangled representation learning")]
struct Cli {
    /// Folder holding official dataset files (dsprites/…npz, cars/*.mat); default $DISENTANGLE_DATA.
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per process
enum Command {
    /// Inspect, preview and generate ground-truth datasets.
    Data {
        #[command(subcommand)]
        command: data_cmd::DataCommand,
    },
    /// Train a model into a run directory (or resume one).
    Train(train_cmd::TrainArgs),
    /// Score a trained run (writes RUN_DIR/metrics.json) or precomputed codes (--codes FILE.npz).
    Evaluate(eval_cmd::EvaluateArgs),
    /// Write codes (μ, log σ²) and factors of a trained run for a seeded sample as .npz.
    ExportCodes(eval_cmd::ExportArgs),
    /// UDR (unsupervised model selection): score runs of one configuration, trained with different seeds.
    Udr(eval_cmd::UdrArgs),
    /// Write a run's trained model as safetensors in PyTorch's layouts (`disentanglekit.torch.load`).
    ExportModel(model_cmd::ExportModelArgs),
    /// Make a run directory from a model file (`export-model`, `disentanglekit.torch.save`), for
    /// evaluate, export-codes, visualize and studies.
    ImportModel(model_cmd::ImportModelArgs),
    /// Reconstructions, prior samples and latent traversals (PNG, GIF) of a trained run.
    Visualize(study_cmd::VisualizeArgs),
    /// Sweeps: run, list, export and report studies (TOML files or presets).
    Study {
        #[command(subcommand)]
        command: study_cmd::StudyCommand,
    },
    /// Benchmarks (timings printed with the build profile and thread count).
    Bench {
        #[command(subcommand)]
        command: bench_cmd::BenchCommand,
    },
}

/// Exit status of a run that failed (a usage error is clap's status 2).
const FAILURE: u8 = 1;

fn main() -> ExitCode {
    // Rust ignores SIGPIPE, so `println!` into a closed pipe (`disentangle study list … | head`)
    // panics. Restore the default a command-line tool is expected to have: the process ends
    // quietly when its reader goes away.
    #[cfg(unix)]
    // SAFETY: called first thing in main, before any thread exists; SIG_DFL is a valid action.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // Usage errors exit with status 2; --help and --version print and exit 0.
        Err(e) => e.exit(),
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // The message and its causes only: a user error is not a crash, so no backtrace
            // even when RUST_BACKTRACE is set in the user's shell.
            eprintln!("error: {e}");
            for cause in e.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::from(FAILURE)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    // The CPU engine reads its kernel settings once, falling back to the best kernels on a
    // value it does not know; a user who set one should hear that it is wrong instead.
    disentangle_engine::Kernels::from_env().map_err(|e| anyhow::anyhow!("the CPU engine's settings in the environment: {e}"))?;
    let data_dir = disentangle_data::data_dir(cli.data_dir.as_deref());
    match cli.command {
        Command::Data { command } => data_cmd::run(command, data_dir.as_deref()),
        Command::Train(args) => train_cmd::run(args, data_dir.as_deref()),
        Command::Evaluate(args) => eval_cmd::evaluate(args, data_dir.as_deref()),
        Command::ExportCodes(args) => eval_cmd::export_codes(args, data_dir.as_deref()),
        Command::Udr(args) => eval_cmd::udr(args, data_dir.as_deref()),
        Command::ExportModel(args) => model_cmd::export_model(args),
        Command::ImportModel(args) => model_cmd::import(args, data_dir.as_deref()),
        Command::Visualize(args) => study_cmd::visualize_run(args, data_dir.as_deref()),
        Command::Study { command } => study_cmd::run(command, data_dir.as_deref()),
        Command::Bench { command } => bench_cmd::run(command),
    }
}
