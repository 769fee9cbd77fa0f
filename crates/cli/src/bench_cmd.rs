//! `disentangle bench …`: timings of the hot paths, printed with the build profile and
//! thread count so numbers can be compared across machines.

use std::time::Instant;

use anyhow::Result;
use clap::Subcommand;
use disentangle_data::{DSpritesProcedural, FactorDataset, generate_cars3d};
use disentangle_models::config::{EncoderConfig, ModelConfig, NoiseConfig, ObjectiveConfig};
use disentangle_models::noise::sample_eps;
use disentangle_models::ops::scalar;
use disentangle_train::TrainConfig;
use disentangle_train::device::parse_device;
use disentangle_train::trainer::{State, batch};

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Dataset generation: all 737,280 procedural dSprites images (bit-packed) and
    /// procedural Cars3D models.
    Data {
        /// Number of Cars3D models to render (0 skips Cars3D).
        #[arg(long, default_value_t = 183)]
        cars_models: usize,
    },
    /// ms per training step for each encoder (conv, split, shared) × objective (vae,
    /// factor-vae), split into data, forward and backward + optimizer phases.
    Train {
        #[arg(long, default_value_t = 64)]
        batch_size: usize,
        /// Timed steps per configuration (after 2 warm-up steps).
        #[arg(long, default_value_t = 10)]
        steps: usize,
        #[arg(long, default_value = "flex")]
        device: String,
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
        BenchCommand::Train { batch_size, steps, device } => bench_train(batch_size, steps, &device)?,
    }
    Ok(())
}

fn bench_train(batch_size: usize, steps: usize, device_name: &str) -> Result<()> {
    let device = parse_device(device_name)?;
    let dataset = DSpritesProcedural::new();
    println!("device: {device_name}, batch {batch_size}, {steps} timed steps after 2 warm-up steps");
    println!("{:<8} {:<11} {:>9} {:>9} {:>9} {:>12}", "encoder", "objective", "data ms", "fwd ms", "bwd+opt ms", "total ms/step");
    for encoder in [EncoderConfig::Conv { k4_all: false }, EncoderConfig::Split { branch_channels: 16, branch_hidden: 64 }, EncoderConfig::Shared] {
        for objective in [ObjectiveConfig::Vae { beta: 1.0 }, ObjectiveConfig::FactorVae { gamma: 30.0 }] {
            let config = TrainConfig {
                dataset: "dsprites".into(),
                steps: 1_000_000,
                batch_size,
                learning_rate: 1e-4,
                discriminator_learning_rate: 1e-4,
                seed: 0,
                log_every: 100,
                checkpoint_every: 10_000,
                summary_batches: 1,
                device: device_name.into(),
                model: ModelConfig { latents: 10, channels: 1, encoder: encoder.clone(), noise: NoiseConfig::Independent, objective: objective.clone() },
            };
            let mut state = State::new(&config, &device)?;
            let (mut data, mut fwd, mut bwd) = (0.0, 0.0, 0.0);
            for i in 0..steps + 2 {
                let t0 = Instant::now();
                let x = batch(&dataset, batch_size, &mut state.rngs.data, &device)?;
                let eps = sample_eps(&config.model.noise, batch_size, 10, &mut state.rngs.noise);
                let t1 = Instant::now();
                let parts = state.model.loss(x, eps, i as u64);
                let _ = scalar(parts.loss.clone()); // forces the forward pass to finish
                let t2 = Instant::now();
                state.vae_step(&config, parts.loss);
                state.discriminator_step(&config, parts.z, &device);
                let _ = scalar(state.model.vae.decoder.dense1.bias.as_ref().expect("bias").val().narrow(0, 0, 1));
                let t3 = Instant::now();
                if i >= 2 {
                    data += (t1 - t0).as_secs_f64();
                    fwd += (t2 - t1).as_secs_f64();
                    bwd += (t3 - t2).as_secs_f64();
                }
            }
            let ms = |s: f64| 1000.0 * s / steps as f64;
            println!(
                "{:<8} {:<11} {:>9.1} {:>9.1} {:>9.1} {:>12.1}",
                encoder.name(),
                objective.name(),
                ms(data),
                ms(fwd),
                ms(bwd),
                ms(data + fwd + bwd)
            );
        }
    }
    Ok(())
}

fn rayon_threads() -> usize {
    rayon::current_num_threads()
}
