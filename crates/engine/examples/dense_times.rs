//! The FactorVAE discriminator's dense products one at a time (forward, weight gradient,
//! input gradient) at the reference's width, against the `gemm` crate on the same shapes.
//! Medians over repetitions, milliseconds and GFLOP/s.
//!
//!     RAYON_NUM_THREADS=2 cargo run --release -p disentangle-engine --example dense_times [ROWS] [REPS]

mod common;
use common::median_ms;
use disentangle_engine::dense::{Activation, DenseLayer};
use disentangle_engine::matmul::{View, matmul};

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let (rows, reps) = (args.first().copied().unwrap_or(64), args.get(1).copied().unwrap_or(21));
    let (din, dout) = (1000, 1000);
    let layer = DenseLayer { din, dout, act: Activation::LeakyRelu(0.2), kernels: disentangle_engine::Kernels::current() };
    let w: Vec<f32> = (0..din * dout).map(|k| ((k * 7919) % 997) as f32 / 997.0 - 0.5).collect();
    let b = vec![0.01; dout];
    let x: Vec<f32> = (0..rows * din).map(|k| ((k * 31) % 101) as f32 / 101.0).collect();
    let mut y = vec![0.0; rows * dout];
    let mut dy: Vec<f32> = (0..rows * dout).map(|k| ((k % 13) as f32 - 6.0) * 0.1).collect();
    let (mut dx, mut dw, mut db) = (vec![0.0; rows * din], vec![0.0; din * dout], vec![0.0; dout]);
    let gflop = 2.0 * (rows * din * dout) as f64 / 1e9;
    println!("rows {rows}, {din} → {dout}, {} threads, kernels {}, median of {reps}", rayon::current_num_threads(), layer.kernels);
    let report = |name: &str, ms: f64| println!("{name:<28} {ms:>8.3} ms {:>8.1} GFLOP/s", gflop / ms * 1e3);
    report("forward (engine)", median_ms(|| layer.forward(&w, &b, &x, &mut y, rows), reps));
    report("forward (gemm crate)", median_ms(|| matmul(rows, dout, din, &mut y, dout, false, View::rows(&x, din), View::rows(&w, dout), true), reps));
    report("weight gradient (engine)", median_ms(|| layer.backward(&w, &x, &y, &mut dy, Some((&mut dw, &mut db)), None, rows), reps));
    report("weight gradient (gemm)", median_ms(|| matmul(din, dout, rows, &mut dw, dout, false, View::transposed(&x, din), View::rows(&dy, dout), true), reps));
    report("input gradient (engine)", median_ms(|| layer.backward(&w, &x, &y, &mut dy, None, Some(&mut dx), rows), reps));
    report("input gradient (gemm)", median_ms(|| matmul(rows, din, dout, &mut dx, din, false, View::rows(&dy, dout), View::transposed(&w, dout), true), reps));
}
