//! `export-model` and `import-model`: a trained model as a safetensors file in PyTorch's
//! layouts (`disentanglekit.torch` loads and saves it), and such a file as a run directory.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use disentangle_train::safetensors_model::{ImportOptions, export_run, import_model};

#[derive(Args)]
pub struct ExportModelArgs {
    /// The run directory (its newest checkpoint is written).
    pub run_dir: PathBuf,
    /// The file to write.
    #[arg(long, value_name = "FILE.safetensors")]
    pub out: PathBuf,
}

#[derive(Args)]
pub struct ImportModelArgs {
    /// A file written by `export-model` or `disentanglekit.torch.save`.
    pub file: PathBuf,
    /// The run directory to create (must not exist).
    #[arg(long, value_name = "RUN_DIR")]
    pub out: PathBuf,
    /// The dataset the model was trained on (when the file does not name it, or to override it).
    #[arg(long)]
    pub dataset: Option<String>,
    /// Training steps behind the weights (when the file does not say).
    #[arg(long)]
    pub steps: Option<u64>,
    /// The run's seed (it seeds the summary batches; default: the file's, else 0).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Batches averaged for summary.json (default: the file's, else 1,000 as in training).
    #[arg(long, value_name = "N")]
    pub summary_batches: Option<usize>,
}

pub fn export_model(args: ExportModelArgs) -> anyhow::Result<()> {
    let done = export_run(&args.run_dir, &args.out)
        .with_context(|| format!("exporting {} to {}", args.run_dir.display(), args.out.display()))?;
    println!(
        "wrote {} ({} tensors{}, {:.1} MB, step {})",
        args.out.display(),
        done.tensors,
        if done.with_discriminator { " with the discriminator" } else { "" },
        done.bytes as f64 / 1e6,
        done.step
    );
    Ok(())
}

pub fn import(args: ImportModelArgs, data_dir: Option<&Path>) -> anyhow::Result<()> {
    let options = ImportOptions {
        dataset: args.dataset,
        steps: args.steps,
        seed: args.seed,
        summary_batches: args.summary_batches,
        data_dir: data_dir.map(Path::to_path_buf),
    };
    let done = import_model(&args.file, &args.out, &options)
        .with_context(|| format!("importing {} into {}", args.file.display(), args.out.display()))?;
    let s = &done.summary;
    println!(
        "wrote run {} ({} encoder, {}, {} latents, {} steps on {}): recon {:.2}  KL {:.2} over {} summary batches",
        done.run_dir.display(),
        done.config.model.encoder.variant(),
        done.config.model.objective.name(),
        done.config.model.latents,
        done.config.steps,
        done.config.dataset,
        s.reconstruction_loss,
        s.kl,
        s.batches
    );
    Ok(())
}
