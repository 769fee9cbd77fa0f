//! `disentangle bench …`: timings of the hot paths, printed with the build profile and
//! thread count so numbers can be compared across machines.

use std::time::Instant;

use anyhow::{Context, Result};
use clap::Subcommand;
use disentangle_data::{DSpritesProcedural, FactorDataset, generate_cars3d};
use disentangle_models::config::{EncoderConfig, ObjectiveConfig};
use disentangle_engine::{Network, Workspace};
use disentangle_models::Model;
use disentangle_models::ops::{tensor_from, to_vec};
use disentangle_train::TrainConfig;
use disentangle_train::device::{Backend, parse_backend};
use disentangle_train::trainer::{State, batch_values};
use rand::SeedableRng;

/// Every encoder variant × the two objectives of the PyTorch peer.
const DEFAULT_CONFIGS: &str =
    "conv/vae,conv/factor-vae,conv-k4/vae,conv-k4/factor-vae,split/vae,split/factor-vae,shared/vae,shared/factor-vae";

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Dataset generation: all 737,280 procedural dSprites images (bit-packed) and
    /// procedural Cars3D models.
    Data {
        /// Number of Cars3D models to render (0 skips Cars3D).
        #[arg(long, default_value_t = 183)]
        cars_models: usize,
    },
    /// ms per training step (median and minimum; data generation included and also shown
    /// alone) for each encoder × objective.
    Train {
        #[arg(long, default_value_t = 64)]
        batch_size: usize,
        /// Timed steps per configuration (after 2 warm-up steps).
        #[arg(long, default_value_t = 10)]
        steps: usize,
        /// `cpu` (the CPU engine), `flex` (burn on the CPU) or a GPU device.
        #[arg(long, default_value = "cpu")]
        device: String,
        /// ENCODER/OBJECTIVE pairs, comma-separated.
        #[arg(long, default_value = DEFAULT_CONFIGS)]
        configs: String,
    },
    /// Images per second of encoding (no gradients), the metrics' hot path, per encoder.
    Encode {
        #[arg(long, default_value_t = 256)]
        batch_size: usize,
        /// Timed encodings (after 2 warm-up ones).
        #[arg(long, default_value_t = 10)]
        reps: usize,
        #[arg(long, default_value = "cpu")]
        device: String,
        /// ENCODER/OBJECTIVE pairs, comma-separated (only the encoders matter here).
        #[arg(long, default_value = DEFAULT_CONFIGS)]
        configs: String,
    },
}

pub fn run(cmd: BenchCommand) -> Result<()> {
    println!(
        "build profile: {}, threads: {}",
        if cfg!(debug_assertions) { "debug" } else { "release" },
        rayon_threads()
    );
    match cmd {
        BenchCommand::Data { cars_models } => {
            let start = Instant::now();
            let d = DSpritesProcedural::new();
            let setup = start.elapsed().as_secs_f64();
            let images = d.render_all();
            let total = start.elapsed().as_secs_f64();
            println!(
                "dsprites: {} images rendered and bit-packed ({:.0} MiB) in {total:.2} s (mask pre-rendering {setup:.2} s)",
                images.len(),
                images.resident_bytes() as f64 / (1 << 20) as f64
            );
            if cars_models > 0 {
                let start = Instant::now();
                let c = generate_cars3d(cars_models, 0)?;
                let secs = start.elapsed().as_secs_f64();
                println!(
                    "cars3d: {cars_models} models × 96 views rendered at 128×128 and resized to 64×64 ({} images) in {secs:.2} s",
                    c.num_observations()
                );
            }
        }
        BenchCommand::Train { batch_size, steps, device, configs } => bench_train(batch_size, steps, &device, &configs)?,
        BenchCommand::Encode { batch_size, reps, device, configs } => bench_encode(batch_size, reps, &device, &configs)?,
    }
    Ok(())
}

/// The encoder × objective pairs named in `--configs` (`conv/vae,split/factor-vae`, …).
fn parse_configs(list: &str) -> Result<Vec<(EncoderConfig, ObjectiveConfig)>> {
    list.split(',')
        .map(|item| {
            let (e, o) = item.trim().split_once('/').with_context(|| format!("--configs: `{item}` is not ENCODER/OBJECTIVE"))?;
            let encoder = EncoderConfig::from_variant(e).with_context(|| format!("--configs: unknown encoder `{e}`"))?;
            let objective = ObjectiveConfig::from_params(o, &|_| None, &[]).with_context(|| format!("--configs: objective `{o}`"))?;
            Ok((encoder, objective))
        })
        .collect()
}

fn bench_config(encoder: EncoderConfig, objective: ObjectiveConfig, batch_size: usize, device: &str) -> TrainConfig {
    let mut c = TrainConfig { steps: 1_000_000, batch_size, summary_batches: 1, device: device.into(), ..TrainConfig::reference("dsprites") };
    (c.model.encoder, c.model.objective) = (encoder, objective);
    c
}

/// The CPU engine's kernels, for the header of a benchmark that runs on it.
fn engine_kernels(backend: &Backend) -> String {
    match backend {
        Backend::Cpu => format!(" (kernels {})", disentangle_engine::Kernels::current()),
        _ => String::new(),
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn bench_train(batch_size: usize, steps: usize, device_name: &str, configs: &str) -> Result<()> {
    let backend = parse_backend(device_name)?;
    let dataset = DSpritesProcedural::new();
    println!("device: {device_name}{}, batch {batch_size}, {steps} timed steps after 2 warm-up steps (data included)", engine_kernels(&backend));
    for (encoder, objective) in parse_configs(configs)? {
        let config = bench_config(encoder.clone(), objective.clone(), batch_size, device_name);
        if let Backend::Burn(device) = &backend {
            // The previous configuration's pages go back, so what the pool holds after this
            // one's steps is this configuration's own need.
            device.clone().inner().memory_cleanup();
        }
        let mut state = State::new(&config, &backend)?;
        let mut times = Vec::with_capacity(steps);
        for i in 0..steps + 2 {
            let t0 = Instant::now();
            state.step_once(&config, &dataset)?.finite().map_err(anyhow::Error::msg)?;
            if i >= 2 {
                times.push(1000.0 * t0.elapsed().as_secs_f64());
            }
        }
        // Data alone: the same number of batches from a copy of the data stream.
        let mut rng = state.rngs.data.clone();
        let t0 = Instant::now();
        for _ in 0..steps {
            std::hint::black_box(batch_values(&dataset, batch_size, &mut rng)?);
        }
        let data_ms = 1000.0 * t0.elapsed().as_secs_f64() / steps as f64;
        let min = times.iter().cloned().fold(f64::INFINITY, f64::min);
        println!(
            "{:<7} {:<11} median {:7.1} ms/step  min {:7.1}  (data {data_ms:.1} ms)",
            encoder.variant(),
            objective.name(),
            median(times),
            min
        );
        if let Backend::Burn(device) = &backend
            && let Some(usage) = device.clone().inner().memory_pool_usage()
        {
            // The device allocator's own account (cubecl's pools): what one run of this
            // configuration holds on the GPU, before the driver's per-process context.
            let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
            println!(
                "        device memory: {:.0} MiB reserved by the pools, {:.0} MiB in use after the steps",
                mib(usage.bytes_reserved),
                mib(usage.bytes_in_use)
            );
        }
    }
    Ok(())
}

/// Images per second of encoding one fixed batch (no gradients), median over `reps`.
fn bench_encode(batch_size: usize, reps: usize, device_name: &str, configs: &str) -> Result<()> {
    let backend = parse_backend(device_name)?;
    let dataset = DSpritesProcedural::new();
    println!("device: {device_name}{}, batch {batch_size}, median of {reps} encodings after 2 warm-up ones", engine_kernels(&backend));
    let mut encoders: Vec<EncoderConfig> = Vec::new();
    for (e, _) in parse_configs(configs)? {
        if !encoders.contains(&e) {
            encoders.push(e);
        }
    }
    for encoder in encoders {
        let config = bench_config(encoder.clone(), ObjectiveConfig::Vae { beta: 1.0 }, batch_size, device_name);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        let x = batch_values(&dataset, batch_size, &mut rng)?;
        let mut times = Vec::with_capacity(reps);
        match &backend {
            Backend::Cpu => {
                let net = Network::init(&config.model, 0)?;
                let mut ws = Workspace::new(&net, batch_size, false);
                for i in 0..reps + 2 {
                    let t0 = Instant::now();
                    net.encode(&mut ws, &x, batch_size);
                    std::hint::black_box(&ws.mu);
                    if i >= 2 {
                        times.push(t0.elapsed().as_secs_f64());
                    }
                }
            }
            Backend::Burn(device) => {
                let device = device.clone().inner();
                let model = Model::new(config.model.clone(), 0, &device)?;
                for i in 0..reps + 2 {
                    let t0 = Instant::now();
                    let xt = tensor_from(x.clone(), [batch_size, 1, 64, 64], &device);
                    let (mu, _) = model.vae.encoder.forward(xt);
                    std::hint::black_box(to_vec(mu));
                    if i >= 2 {
                        times.push(t0.elapsed().as_secs_f64());
                    }
                }
            }
        }
        println!("{:<7} encode      {:9.0} images/s (no grad, batch {batch_size})", encoder.variant(), batch_size as f64 / median(times));
    }
    Ok(())
}

fn rayon_threads() -> usize {
    rayon::current_num_threads()
}
