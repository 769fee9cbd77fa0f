//! Every fast path of the engine against the portable one, on one machine: the tests below
//! are written once and run for each [`Kernels`] preset (`avx2-gemm`, `avx2`, `avx2-taps`,
//! `avx512-gemm`, `avx512`), each comparing its results with [`Kernels::portable`] (plain loops, the `gemm`
//! crate) on the same inputs. A preset this CPU cannot run is reported as ignored, with the
//! reason, so the test output says what was not tested here. (The portable path itself is
//! compared with burn by `crates/train/tests/cpu_engine.rs`, which CI also runs with
//! `DISENTANGLE_ENGINE_KERNELS=portable`.)
//!
//! Two f32 computations that sum in different orders agree to ~1e-6 relative, except where a
//! ReLU's pre-activation lies within rounding of zero: one may pass a gradient the other
//! blocks. So whole-network gradients must agree within 1e-4 on one of three batches and
//! within 1e-2 on all (a wrong kernel is wrong on every batch); single layers, whose inputs
//! are the same bits, within 2e-5.

use disentangle_engine::conv::ConvLayer;
use disentangle_engine::dense::{Activation, DenseLayer};
use disentangle_engine::network::Stage;
use disentangle_engine::simd::Level;
use disentangle_engine::transpose::transpose;
use disentangle_engine::{Kernels, Network, Trainer, Workspace};
use disentangle_spec::config::{EncoderConfig, ModelConfig, NoiseConfig, ObjectiveConfig};
use libtest_mimic::{Arguments, Completion, Failed, Trial};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

const PRESETS: [&str; 5] = ["avx2-gemm", "avx2", "avx2-taps", "avx512-gemm", "avx512"];

/// A comparison of one preset's results with the portable path's.
type KernelsTest = fn(Kernels) -> Result<(), Failed>;

fn main() {
    let args = Arguments::from_args();
    let tests: [(&str, KernelsTest); 5] = [
        ("training_step", training_step),
        ("conv_layers", conv_layers),
        ("dense_layers", dense_layers),
        ("transposes", transposes),
        ("three_steps_of_training", three_steps_of_training),
    ];
    let mut trials = Vec::new();
    for preset in PRESETS {
        let kernels = Kernels::preset(preset);
        for (name, test) in tests {
            let kernels = kernels.clone();
            trials.push(Trial::ignorable_test(format!("{preset}::{name}"), move || match kernels {
                Ok(k) => test(k).map(|()| Completion::Completed),
                Err(e) => Ok(Completion::ignored_with(e.to_string())),
            }));
        }
    }
    libtest_mimic::run(&args, trials).exit();
}

fn encoders() -> Vec<EncoderConfig> {
    ["conv", "conv-k4", "split", "shared"].iter().map(|n| EncoderConfig::from_variant(n).expect("known encoder")).collect()
}

/// Every encoder with VAE, with FactorVAE (discriminator), and one with correlated noise.
fn configs() -> Vec<ModelConfig> {
    let mut all = Vec::new();
    for encoder in encoders() {
        for objective in [ObjectiveConfig::Vae { beta: 1.0 }, ObjectiveConfig::FactorVae { gamma: 30.0 }] {
            all.push(ModelConfig { latents: 10, channels: 1, encoder: encoder.clone(), noise: NoiseConfig::Independent, objective });
        }
    }
    all.push(ModelConfig { latents: 10, channels: 1, encoder: encoders()[2].clone(), noise: NoiseConfig::Correlated { rho: 0.9 }, objective: ObjectiveConfig::Vae { beta: 4.0 } });
    all
}

fn label(c: &ModelConfig) -> String {
    format!("{} / {} / {}", c.encoder.variant(), c.objective.name(), c.noise.name())
}

/// `n` binary 64 × 64 images of random rectangles (dSprites-like inputs: mostly zeros, so
/// ReLUs see both signs), standard-normal noise, and a column-wise permutation of the codes.
fn batch(n: usize, j: usize, seed: u64) -> (Vec<f32>, Vec<f32>, Vec<i64>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut x = vec![0.0f32; n * 4096];
    for img in x.chunks_mut(4096) {
        let (y0, x0) = (rng.random_range(0..48), rng.random_range(0..48));
        let (h, w) = (rng.random_range(4..16), rng.random_range(4..16));
        for r in y0..y0 + h {
            img[r * 64 + x0..r * 64 + x0 + w].fill(1.0);
        }
    }
    let eps = (0..n * j).map(|_| StandardNormal.sample(&mut rng)).collect();
    let mut perm = vec![0i64; n * j];
    for d in 0..j {
        let mut rows: Vec<i64> = (0..n as i64).collect();
        for i in (1..n).rev() {
            rows.swap(i, rng.random_range(0..=i));
        }
        for (b, r) in rows.into_iter().enumerate() {
            perm[b * j + d] = r;
        }
    }
    (x, eps, perm)
}

/// max |a − b| / max |b| (0 when both are zero).
fn rel_max_err(a: &[f32], b: &[f32]) -> f64 {
    if a.len() != b.len() {
        return f64::INFINITY;
    }
    let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs() as f64));
    let err = a.iter().zip(b).fold(0.0f64, |m, (x, y)| m.max((*x as f64 - *y as f64).abs()));
    if scale == 0.0 { err } else { err / scale }
}

fn check(what: &str, e: f64, tolerance: f64) -> Result<(), Failed> {
    if e <= tolerance { Ok(()) } else { Err(format!("{what}: differs by {e:.2e} (relative max-norm), beyond {tolerance:.0e}").into()) }
}

/// One forward and backward pass on one batch with both kernels: the loss terms, then the
/// worst relative difference over the VAE's gradient tensors and (FactorVAE) the
/// discriminator's loss and updated weights.
fn step_difference(c: &ModelConfig, k: Kernels, seed: u64) -> Result<(f64, String), Failed> {
    let n = 8;
    let (x, eps, perm) = batch(n, c.latents, seed);
    let step = 1_000;
    let mut results = Vec::new();
    for kernels in [Kernels::portable(), k] {
        let mut t = Trainer::new(Network::init_with_kernels(c, 3, kernels).map_err(|e| e.to_string())?, n);
        let v = t.forward_with_permutation(&x, &eps, step, Some(&perm));
        t.net.backward(&mut t.ws, &x, n, step);
        let g = t.ws.grads.as_ref().expect("training workspace").vae.clone();
        let disc = t.discriminator_update(&perm, 1e-4);
        let disc_weights = t.net.disc.as_ref().map(|d| d.data.clone());
        results.push((v, g, disc, disc_weights, t.net.vae.tensors.clone()));
    }
    let (want, got) = (&results[0], &results[1]);
    for (name, a, b) in [("loss", got.0.loss, want.0.loss), ("reconstruction", got.0.recon, want.0.recon), ("KL", got.0.kl, want.0.kl)] {
        if (a - b).abs() > 1e-5 * b.abs().max(1.0) {
            return Err(format!("{}: {name} {a} vs portable {b}", label(c)).into());
        }
    }
    if let (Some(a), Some(b)) = (got.2, want.2)
        && (a - b).abs() > 1e-5 * b.abs().max(1.0)
    {
        return Err(format!("{}: discriminator loss {a} vs portable {b}", label(c)).into());
    }
    let mut worst = (0.0f64, String::new());
    for info in &want.4 {
        let e = rel_max_err(&got.1[info.offset..][..info.len], &want.1[info.offset..][..info.len]);
        if e > worst.0 {
            worst = (e, format!("gradient of {}", info.name));
        }
    }
    if let (Some(a), Some(b)) = (&got.3, &want.3) {
        // Adam's first step moves each weight by ±lr whatever its gradient's size.
        let e = rel_max_err(a, b);
        if e > worst.0 {
            worst = (e, "discriminator after one update".into());
        }
    }
    Ok(worst)
}

fn training_step(k: Kernels) -> Result<(), Failed> {
    for c in configs() {
        let mut best = f64::INFINITY;
        for seed in [5, 6, 7] {
            let (e, what) = step_difference(&c, k, seed)?;
            check(&format!("{} ({k}), batch {seed}, {what}", label(&c)), e, 1e-2)?;
            best = best.min(e);
            if e <= 1e-4 {
                break;
            }
        }
        check(&format!("{} ({k}) on every batch", label(&c)), best, 1e-4)?;
    }
    Ok(())
}

/// Pairs of the same conv layer planned for the portable kernels and for `k`, from every
/// encoder and the decoder, with each layer's parameter ids.
fn conv_layer_pairs(k: Kernels) -> Vec<(String, ConvLayer, ConvLayer)> {
    let mut pairs = Vec::new();
    for encoder in encoders() {
        let c = ModelConfig { latents: 10, channels: 1, encoder: encoder.clone(), noise: NoiseConfig::Independent, objective: ObjectiveConfig::Vae { beta: 1.0 } };
        let (a, b) = (Network::with_kernels(&c, Kernels::portable()).expect("valid"), Network::with_kernels(&c, k).expect("valid"));
        let body = |net: &Network| net.encoder.body.iter().chain(&net.decoder).copied().collect::<Vec<Stage>>();
        for (i, (sa, sb)) in body(&a).into_iter().zip(body(&b)).enumerate() {
            if let (Stage::Conv { layer: la, .. }, Stage::Conv { layer: lb, .. }) = (sa, sb) {
                pairs.push((format!("{} stage {i} ({:?})", encoder.variant(), lb.algorithm()), la, lb));
            }
        }
    }
    pairs
}

/// One conv layer's batch forward and backward: output, input, weight and bias gradients.
fn run_conv(layer: &ConvLayer, w: &[f32], b: &[f32], x: &[f32], dy: &[f32], n: usize) -> [Vec<f32>; 4] {
    let threads = rayon::current_num_threads().max(1);
    let mut scratch: Vec<_> = (0..threads).map(|_| disentangle_engine::conv::Scratch::default()).collect();
    for s in &mut scratch {
        s.reserve(layer.scratch_len(), layer.partial_len(), layer.bias_len(), layer.scratch_phase_len(), layer.wperm_len());
    }
    let mut y = vec![f32::NAN; n * layer.output_len()];
    layer.forward(w, b, x, &mut y, n, &mut scratch, None);
    let mut dy = dy.to_vec();
    let (mut dw, mut db, mut dx) = (vec![f32::NAN; layer.weight_len()], vec![f32::NAN; layer.bias_len()], vec![f32::NAN; n * layer.input_len()]);
    layer.backward(w, x, &y, &mut dy, &mut dw, &mut db, Some(&mut dx), n, &mut scratch, None);
    [y, dx, dw, db]
}

fn conv_layers(k: Kernels) -> Result<(), Failed> {
    let n = 9; // two full groups of the grouped layer and a partial one
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let mut values = |len: usize| -> Vec<f32> { (0..len).map(|_| rng.random_range(-1.0..1.0)).collect() };
    for (what, portable, fast) in conv_layer_pairs(k) {
        let (w, b) = (values(fast.weight_len()), values(fast.bias_len()));
        let (x, dy) = (values(n * fast.input_len()), values(n * fast.output_len()));
        let want = run_conv(&portable, &w, &b, &x, &dy, n);
        let got = run_conv(&fast, &w, &b, &x, &dy, n);
        for (i, name) in ["output", "input gradient", "weight gradient", "bias gradient"].into_iter().enumerate() {
            check(&format!("{what} ({k}) {name}"), rel_max_err(&got[i], &want[i]), 2e-5)?;
        }
    }
    Ok(())
}

fn dense_layers(k: Kernels) -> Result<(), Failed> {
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    let mut values = |len: usize| -> Vec<f32> { (0..len).map(|_| rng.random_range(-1.0..1.0)).collect() };
    // The discriminator's hidden layer, the decoder's widest, an encoder head, ragged sizes.
    for (din, dout, rows, act) in [(1000, 1000, 128, Activation::LeakyRelu(0.2)), (256, 1024, 64, Activation::Relu), (256, 10, 64, Activation::Identity), (37, 50, 13, Activation::Relu)] {
        let (w, b, x, dy0) = (values(din * dout), values(dout), values(rows * din), values(rows * dout));
        let mut results = Vec::new();
        for kernels in [Kernels::portable(), k] {
            let layer = DenseLayer { din, dout, act, kernels };
            let mut y = vec![f32::NAN; rows * dout];
            layer.forward(&w, &b, &x, &mut y, rows);
            let mut dy = dy0.clone();
            let (mut dw, mut db, mut dx) = (vec![f32::NAN; din * dout], vec![f32::NAN; dout], vec![f32::NAN; rows * din]);
            layer.backward(&w, &x, &y, &mut dy, Some((&mut dw, &mut db)), Some(&mut dx), rows);
            results.push([y, dx, dw, db]);
        }
        for (i, name) in ["output", "input gradient", "weight gradient", "bias gradient"].into_iter().enumerate() {
            check(&format!("dense {din} → {dout}, {rows} rows ({k}) {name}"), rel_max_err(&results[1][i], &results[0][i]), 2e-5)?;
        }
    }
    Ok(())
}

fn transposes(k: Kernels) -> Result<(), Failed> {
    for (rows, cols) in [(16, 1024), (1024, 16), (64, 256), (37, 50), (3, 17), (17, 3), (1, 1)] {
        let m: Vec<f32> = (0..rows * cols).map(|i| i as f32 * 0.5 - 7.0).collect();
        let (mut want, mut got) = (vec![f32::NAN; rows * cols], vec![f32::NAN; rows * cols]);
        transpose(Level::Baseline, &m, rows, cols, &mut want);
        transpose(k.vectors(), &m, rows, cols, &mut got);
        if want.iter().zip(&got).any(|(a, b)| a.to_bits() != b.to_bits()) {
            return Err(format!("{rows} × {cols} transpose ({k}) differs from the portable one").into());
        }
    }
    Ok(())
}

/// Three steps of training (Adam included) of the split FactorVAE: losses within 1e-4 and
/// weights within 1e-3 of their scale (Adam's first steps move a weight by ±lr whatever its
/// gradient's size, so a gradient within rounding of zero may move one weight 2·lr the other
/// way); then the encoder's codes for new images within 1e-3.
fn three_steps_of_training(k: Kernels) -> Result<(), Failed> {
    let c = ModelConfig { latents: 10, channels: 1, encoder: encoders()[2].clone(), noise: NoiseConfig::Independent, objective: ObjectiveConfig::FactorVae { gamma: 30.0 } };
    let n = 8;
    let mut trainers: Vec<Trainer> = [Kernels::portable(), k].into_iter().map(|kernels| Trainer::new(Network::init_with_kernels(&c, 4, kernels).expect("valid"), n)).collect();
    for step in 1..=3 {
        let (x, eps, perm) = batch(n, 10, 20 + step);
        let mut losses = Vec::new();
        for t in &mut trainers {
            let v = t.forward_with_permutation(&x, &eps, step, Some(&perm));
            t.vae_update(&x, step, 1e-3);
            t.discriminator_update(&perm, 1e-4);
            losses.push(v.loss);
        }
        if (losses[1] - losses[0]).abs() > 1e-4 * losses[0].abs() {
            return Err(format!("step {step} ({k}): loss {} vs portable {}", losses[1], losses[0]).into());
        }
    }
    check(&format!("VAE weights after three steps ({k})"), rel_max_err(&trainers[1].net.vae.data, &trainers[0].net.vae.data), 1e-3)?;
    let (x, _, _) = batch(n, 10, 99);
    let mut codes = Vec::new();
    for t in &trainers {
        let mut ws = Workspace::new(&t.net, n, false);
        t.net.encode(&mut ws, &x, n);
        codes.push(ws.mu[..n * 10].to_vec());
    }
    check(&format!("codes after three steps ({k})"), rel_max_err(&codes[1], &codes[0]), 1e-3)
}
