//! `disentangle bench …`: timings of the hot paths, printed with the build profile and
//! thread count so numbers can be compared across machines.

use std::time::Instant;

use anyhow::Result;
use clap::Subcommand;
use disentangle_data::{DSpritesProcedural, FactorDataset, generate_cars3d};

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Dataset generation: all 737,280 procedural dSprites images (bit-packed) and
    /// procedural Cars3D models.
    Data {
        /// Number of Cars3D models to render (0 skips Cars3D).
        #[arg(long, default_value_t = 183)]
        cars_models: usize,
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
    }
    Ok(())
}

fn rayon_threads() -> usize {
    rayon::current_num_threads()
}
