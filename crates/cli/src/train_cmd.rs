//! `disentangle train`: builds a `TrainConfig` from flags (or a TOML file plus flags) and
//! runs it, or resumes a run directory.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use disentangle_models::config::{EncoderConfig, NoiseConfig, ObjectiveConfig};
use disentangle_train::{TrainConfig, ValidTrainConfig};
use disentangle_train::trainer::{TrainOptions, resume, train};

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum ModelKind {
    /// recon + β·KL with β = --beta (default 1: the vanilla VAE).
    Vae,
    /// The same objective, --beta defaulting to 4.
    BetaVae,
    /// recon + γ·|KL − C| (--gamma 1000, --c-max 25, --iteration-threshold 100000).
    AnnealedVae,
    /// recon + KL + γ·TC with a discriminator (--gamma 30).
    FactorVae,
    /// DIP-VAE-I (--lambda-od 10, --lambda-d 10·λ_od).
    DipVaeI,
    /// DIP-VAE-II (--lambda-od 10, --lambda-d λ_od).
    DipVaeIi,
    /// β-TCVAE (--beta 6).
    BetaTcvae,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum EncoderKind {
    /// The reference encoder.
    Conv,
    /// The reference encoder with kernel 4 in all four convs.
    ConvK4,
    /// The paper's split encoder.
    Split,
    /// The sharing-parameter ablation.
    Shared,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum NoiseKind {
    Independent,
    /// Equicorrelated noise with correlation --rho (default 0.9).
    Correlated,
}

#[derive(Args, Debug)]
pub struct TrainArgs {
    /// Continue the run in this directory from its last checkpoint (other flags but --steps are ignored).
    #[arg(long, value_name = "RUN_DIR", conflicts_with = "out")]
    pub resume: Option<PathBuf>,
    /// Run directory to create.
    #[arg(long, value_name = "DIR", required_unless_present = "resume")]
    pub out: Option<PathBuf>,
    /// A TrainConfig TOML file (e.g. another run's config.toml); flags given override it.
    #[arg(long, value_name = "FILE.toml")]
    pub config: Option<PathBuf>,
    #[arg(long)]
    pub dataset: Option<String>,
    #[arg(long, value_enum)]
    pub model: Option<ModelKind>,
    #[arg(long)]
    pub beta: Option<f64>,
    #[arg(long)]
    pub gamma: Option<f64>,
    #[arg(long)]
    pub c_max: Option<f64>,
    #[arg(long)]
    pub iteration_threshold: Option<u64>,
    #[arg(long)]
    pub lambda_od: Option<f64>,
    #[arg(long)]
    pub lambda_d: Option<f64>,
    #[arg(long, value_enum)]
    pub encoder: Option<EncoderKind>,
    /// Split encoder: filters of each latent's conv (default 16).
    #[arg(long)]
    pub branch_channels: Option<usize>,
    /// Split encoder: hidden units of each latent's first dense layer (default 64).
    #[arg(long)]
    pub branch_hidden: Option<usize>,
    #[arg(long, value_enum)]
    pub noise: Option<NoiseKind>,
    #[arg(long)]
    pub rho: Option<f64>,
    /// Number of latents (default 10).
    #[arg(long)]
    pub latents: Option<usize>,
    /// Training steps (default 300000, the reference).
    #[arg(long)]
    pub steps: Option<u64>,
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Adam learning rate (default 1e-4).
    #[arg(long)]
    pub lr: Option<f64>,
    #[arg(long)]
    pub seed: Option<u64>,
    #[arg(long)]
    pub log_every: Option<u64>,
    #[arg(long)]
    pub checkpoint_every: Option<u64>,
    /// Batches averaged for summary.json (default 1000).
    #[arg(long)]
    pub summary_batches: Option<usize>,
    /// cpu (the CPU engine, default), flex (burn on the CPU), cuda, cuda:N, wgpu (GPU backends
    /// need the cargo features). With --resume: continue the run on this device.
    #[arg(long)]
    pub device: Option<String>,
    /// Score the model every N steps during training (and at step 0 and the last step),
    /// appending the values with their step to RUN_DIR/metrics.jsonl (a resumed run continues
    /// the series without duplicates or gaps).
    #[arg(long, value_name = "N")]
    pub eval_every: Option<u64>,
    /// Metrics of --eval-every (reference sample sizes; default mig).
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub eval_metrics: Option<Vec<String>>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

fn objective(kind: ModelKind, a: &TrainArgs) -> Result<ObjectiveConfig> {
    let name = kind.to_possible_value().expect("no skipped variants").get_name().to_string();
    let flags = [
        ("beta", a.beta),
        ("gamma", a.gamma),
        ("c_max", a.c_max),
        ("iteration_threshold", a.iteration_threshold.map(|v| v as f64)),
        ("lambda_od", a.lambda_od),
        ("lambda_d", a.lambda_d),
    ];
    let given: Vec<&str> = flags.iter().filter(|(_, v)| v.is_some()).map(|(k, _)| *k).collect();
    let get = |k: &str| flags.iter().find(|(n, _)| *n == k).and_then(|(_, v)| *v);
    ObjectiveConfig::from_params(&name, &get, &given).map_err(|e| anyhow::anyhow!("--model {name}: {}", e.message.replace('_', "-")))
}

/// Merges a base config (file or defaults) with the flags given, and checks the result
/// (once: training takes it as checked).
pub fn build_config(a: &TrainArgs) -> Result<ValidTrainConfig> {
    let mut c = match &a.config {
        Some(path) => TrainConfig::load(path).with_context(|| format!("reading --config {}", path.display()))?,
        None => TrainConfig::reference("dsprites"),
    };
    if let Some(d) = &a.dataset {
        c.dataset = d.clone();
        c.model.channels = disentangle_data::dataset_channels(d);
    }
    if let Some(kind) = a.model {
        c.model.objective = objective(kind, a)?;
    } else if a.beta.is_some() || a.gamma.is_some() || a.lambda_od.is_some() || a.c_max.is_some() {
        bail!("--beta/--gamma/--lambda-od/--c-max need --model");
    }
    if let Some(e) = a.encoder {
        let name = e.to_possible_value().expect("no skipped variants");
        c.model.encoder = EncoderConfig::from_variant(name.get_name()).expect("every --encoder value is an encoder variant");
        if let EncoderConfig::Split { branch_channels, branch_hidden } = &mut c.model.encoder {
            *branch_channels = a.branch_channels.unwrap_or(*branch_channels);
            *branch_hidden = a.branch_hidden.unwrap_or(*branch_hidden);
        }
    }
    if let Some(n) = a.noise {
        c.model.noise = match n {
            NoiseKind::Independent => NoiseConfig::Independent,
            NoiseKind::Correlated => NoiseConfig::Correlated { rho: a.rho.unwrap_or(0.9) },
        };
    }
    macro_rules! set {
        ($($flag:ident => $($field:ident).+),*) => { $(if let Some(v) = a.$flag.clone() { c.$($field).+ = v; })* };
    }
    set!(latents => model.latents, steps => steps, batch_size => batch_size, lr => learning_rate, seed => seed,
         log_every => log_every, checkpoint_every => checkpoint_every, summary_batches => summary_batches, device => device);
    if let Some(every) = a.eval_every {
        c.series.every = every;
    }
    if let Some(metrics) = &a.eval_metrics {
        if c.series.is_off() {
            bail!("--eval-metrics needs --eval-every N");
        }
        c.series.metrics = metrics.clone();
    }
    Ok(c.validated()?)
}

pub fn run(a: TrainArgs, data_dir: Option<&std::path::Path>) -> Result<()> {
    let options = TrainOptions {
        progress: !a.quiet,
        data_dir: data_dir.map(Into::into),
        device: a.resume.as_ref().and(a.device.clone()),
        ..Default::default()
    };
    let outcome = if let Some(dir) = &a.resume {
        resume(dir, a.steps, &options).with_context(|| format!("resuming {}", dir.display()))?
    } else {
        let config = build_config(&a)?;
        let out = a.out.as_ref().expect("clap requires --out without --resume");
        eprintln!(
            "training {} / {} encoder / {} noise on {} for {} steps → {}",
            config.model.objective.name(),
            config.model.encoder.name(),
            config.model.noise.name(),
            config.dataset,
            config.steps,
            out.display()
        );
        train(config, out, &options).with_context(|| format!("training into {}", out.display()))?
    };
    let s = &outcome.summary;
    println!("run          {}", outcome.run_dir.display());
    println!("steps        {}  ({:.1} s)", s.steps, s.train_seconds);
    println!("recon        {:.3}", s.reconstruction_loss);
    println!("KL           {:.3}", s.kl);
    println!("ELBO         {:.3}", s.elbo);
    println!("regularizer  {:.3}", s.regularizer);
    if let Some(tc) = s.tc {
        println!("TC           {tc:.4}");
    }
    Ok(())
}
