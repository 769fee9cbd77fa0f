//! Where a FactorVAE training step's time goes, phase by phase: the forward pass (the
//! discriminator's logits on the codes included), the VAE's backward pass and Adam step, and
//! the discriminator's update (its own forward, backward and Adam step), against the same
//! phases of a plain VAE. Medians over steps, milliseconds.
//!
//!     RAYON_NUM_THREADS=2 cargo run --release -p disentangle-engine --example step_phases [ENCODER] [STEPS]

use std::time::Instant;

use disentangle_engine::{Network, Trainer};
use disentangle_engine::adam::Adam;
use disentangle_spec::config::{EncoderConfig, ModelConfig, NoiseConfig, ObjectiveConfig};

fn median(mut t: Vec<f64>) -> f64 {
    t.sort_by(f64::total_cmp);
    t[t.len() / 2]
}

fn timed(f: impl FnOnce()) -> f64 {
    let start = Instant::now();
    f();
    start.elapsed().as_secs_f64() * 1e3
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let variant = args.first().map_or("conv", String::as_str);
    let steps: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(30);
    let n = 64;
    println!("{variant} encoder, batch {n}, {} threads, median of {steps} steps (ms)", rayon::current_num_threads());
    for objective in [ObjectiveConfig::Vae { beta: 1.0 }, ObjectiveConfig::FactorVae { gamma: 35.0 }] {
        let config = ModelConfig { latents: 10, channels: 1, encoder: EncoderConfig::from_variant(variant).expect("known variant"), noise: NoiseConfig::Independent, objective: objective.clone() };
        let mut trainer = Trainer::new(Network::init(&config, 0).expect("valid config"), n);
        let x: Vec<f32> = (0..n * 4096).map(|k| f32::from(u8::from((k * 7919) % 11 < 3))).collect();
        let eps: Vec<f32> = (0..n * 10).map(|k| ((k * 31) % 17) as f32 / 8.0 - 1.0).collect();
        let perm: Vec<i64> = (0..n * 10).map(|k| (((k / 10) * 37 + k % 10) % n) as i64).collect();
        let (mut fwd, mut vae, mut disc, mut disc_adam) = (vec![], vec![], vec![], vec![]);
        let mut adam_probe: Option<(Adam, Vec<f32>, Vec<f32>)> = None;
        for step in 0..steps + 2 {
            let f = timed(|| {
                trainer.forward(&x, &eps, step as u64);
            });
            let v = timed(|| trainer.vae_update(&x, step as u64, 1e-4));
            let d = timed(|| {
                trainer.discriminator_update(&perm, 1e-4);
            });
            // Adam alone, on buffers of the discriminator's size that stay allocated.
            let a = match (&mut adam_probe, trainer.net.disc.as_ref()) {
                (Some((adam, params, grads)), _) => timed(|| adam.step(trainer.net.kernels.vectors(), 1e-4, params, grads)),
                (None, Some(p)) => {
                    adam_probe = Some((Adam::for_discriminator(p.len()), p.data.clone(), vec![1e-3; p.len()]));
                    0.0
                }
                (None, None) => 0.0,
            };
            if step >= 2 {
                fwd.push(f);
                vae.push(v);
                disc.push(d);
                disc_adam.push(a);
            }
        }
        if trainer.net.disc.is_some() {
            let reps: Vec<f64> = (0..steps).map(|_| timed(|| trainer.net.discriminate(&mut trainer.ws, 0, n))).collect();
            println!("discriminator forward alone, {n} rows, repeated: {:.2}", median(reps));
        }
        println!(
            "{:<11} forward {:>6.2}  vae backward+adam {:>6.2}  discriminator update {:>6.2} (Adam alone {:>5.2})",
            match objective { ObjectiveConfig::Vae { .. } => "vae", _ => "factor-vae" },
            median(fwd), median(vae), median(disc), median(disc_adam)
        );
    }
}

