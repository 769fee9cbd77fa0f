//! The CPU engine is the same model as the burn reference: same initial weights, the same
//! loss and gradients on a fixed batch for every encoder × objective × noise, the same
//! discriminator gradients, and training curves that agree.

mod common;
use common::objectives;
use disentangle_data::DSpritesProcedural;
use disentangle_engine::{Network, Trainer, Workspace};
use disentangle_models::burn::module::{Module, ModuleVisitor, Param};
use disentangle_models::burn::optim::GradientsParams;
use disentangle_models::burn::tensor::{Device, Tensor};
use disentangle_models::config::{EncoderConfig, ModelConfig, NoiseConfig, ObjectiveConfig};
use disentangle_models::discriminator::{column_permutations, permute_dims};
use disentangle_models::noise::sample_eps;
use disentangle_models::ops::{flat_parameters, scalar, tensor_from, to_vec};
use disentangle_models::Model;
use disentangle_train::trainer::batch_values;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn encoders() -> Vec<EncoderConfig> {
    ["conv", "conv-k4", "split", "shared"].iter().map(|n| EncoderConfig::from_variant(n).unwrap()).collect()
}


fn model_config(encoder: EncoderConfig, objective: ObjectiveConfig, noise: NoiseConfig) -> ModelConfig {
    ModelConfig { latents: 10, channels: 1, encoder, noise, objective }
}

/// The gradient of every float parameter of `module`, flattened in visiting order.
fn flat_gradients<M: Module>(module: &M, grads: &GradientsParams) -> Vec<Vec<f32>> {
    struct Collect<'a>(&'a GradientsParams, Vec<Vec<f32>>);
    impl ModuleVisitor for Collect<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let n = param.val().dims().iter().product();
            self.1.push(self.0.get::<D>(param.id).map(to_vec).unwrap_or_else(|| vec![0.0; n]));
        }
    }
    let mut c = Collect(grads, Vec::new());
    module.visit(&mut c);
    c.1
}

/// max |a − b| / max |b| over one tensor (0 when both are zero).
fn rel_max_err(a: &[f32], b: &[f32]) -> f64 {
    let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs() as f64));
    let err = a.iter().zip(b).fold(0.0f64, |m, (x, y)| m.max((*x as f64 - *y as f64).abs()));
    if scale == 0.0 { err } else { err / scale }
}

#[test]
fn initial_weights_equal_the_burn_models_bit_for_bit() {
    let device = Device::flex();
    for encoder in encoders() {
        for objective in [ObjectiveConfig::Vae { beta: 1.0 }, ObjectiveConfig::FactorVae { gamma: 30.0 }] {
            let c = model_config(encoder.clone(), objective, NoiseConfig::Independent);
            let burn = Model::new(c.clone(), 11, &device).unwrap();
            let net = Network::init(&c, 11).unwrap();
            assert_eq!(net.vae.data, flat_parameters(&burn.vae), "{encoder:?}");
            if let Some(d) = &burn.discriminator {
                assert_eq!(net.disc.as_ref().unwrap().data, flat_parameters(d));
            }
        }
    }
}

/// A fixed batch of dSprites images and noise.
fn fixed_batch(n: usize, noise: &NoiseConfig, seed: u64) -> (Vec<f32>, Vec<f32>) {
    let dataset = DSpritesProcedural::new();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let x = batch_values(&dataset, n, &mut rng).unwrap();
    (x, sample_eps(noise, n, 10, &mut rng))
}

/// Per parameter tensor: (name, relative max-norm difference of the engine's gradient from
/// burn autodiff's) on one fixed batch; asserts the losses agree within 1e-5.
fn gradient_differences(c: &ModelConfig, label: &str, batch_seed: u64) -> Vec<(String, f64)> {
    let device = Device::flex().autodiff();
    let n = 8;
    let (x, eps) = fixed_batch(n, &c.noise, batch_seed);
    // Step 50 000: AnnealedVAE's capacity is 12.5, away from the kink of |KL − C|.
    let step = 50_000;
    let burn = Model::new(c.clone(), 3, &device).unwrap();
    let parts = burn.loss(tensor_from(x.clone(), [n, 1, 64, 64], &device), eps.clone(), step);
    let burn_loss = scalar(parts.loss.clone());
    let grads = GradientsParams::from_grads(parts.loss.backward(), &burn.vae);
    let burn_grads = flat_gradients(&burn.vae, &grads);

    let mut t = Trainer::new(Network::init(c, 3).unwrap(), n);
    let v = t.forward(&x, &eps, step);
    assert!((v.loss - burn_loss).abs() <= 1e-5 * burn_loss.abs().max(1.0), "{label}: loss {} vs burn {burn_loss}", v.loss);
    t.net.backward(&mut t.ws, &x, n, step);
    let g = &t.ws.grads.as_ref().unwrap().vae;
    t.net.vae.tensors.iter().zip(&burn_grads).map(|(info, bg)| (info.name.clone(), rel_max_err(&g[info.offset..info.offset + info.len], bg))).collect()
}

#[test]
fn loss_and_every_gradient_equal_burn_autodiff_for_every_configuration() {
    // Two f32 implementations that sum in different orders agree to ~1e-6 relative, except
    // where a ReLU's pre-activation lies within rounding of zero: there one of them may pass
    // the gradient and the other block it (seen: one unit of 262,144 in the decoder's third
    // deconv, which moved every upstream gradient by 1e-4–1e-3). So each configuration must
    // agree within 1e-4 on at least one of three fixed batches — a wrong gradient is wrong
    // on all three — and within 1e-2 on every one, which such a flip stays far below.
    let mut worst = (0.0f64, String::new());
    let mut retried = Vec::new();
    for encoder in encoders() {
        for objective in objectives() {
            for noise in [NoiseConfig::Independent, NoiseConfig::Correlated { rho: 0.9 }] {
                let c = model_config(encoder.clone(), objective.clone(), noise.clone());
                let label = format!("{} / {} / {}", encoder.variant(), objective.name(), noise.name());
                let mut best: Option<(f64, String)> = None;
                for batch_seed in [5, 6, 7] {
                    let diffs = gradient_differences(&c, &label, batch_seed);
                    let (name, e) = diffs.iter().fold((String::new(), 0.0f64), |acc, (n, e)| if *e > acc.1 { (n.clone(), *e) } else { acc });
                    assert!(e <= 1e-2, "{label}, batch {batch_seed}: gradient of {name} differs by {e:.2e} (relative max-norm)");
                    if best.as_ref().is_none_or(|b| e < b.0) {
                        best = Some((e, format!("{label}, batch {batch_seed}: {name}")));
                    }
                    if e <= 1e-4 {
                        break;
                    }
                    retried.push(format!("{label} (batch {batch_seed}: {e:.1e})"));
                }
                let (e, what) = best.expect("three batches");
                assert!(e <= 1e-4, "{what}: the gradient differs by {e:.2e} (relative max-norm) on every batch");
                if e > worst.0 {
                    worst = (e, what);
                }
            }
        }
    }
    eprintln!("largest relative gradient difference: {:.2e} ({}); beyond 1e-4 on a first batch: {retried:?}", worst.0, worst.1);
}

/// The discriminator's loss on a fixed batch (from `batch_seed`) through burn autodiff and
/// the engine, then each parameter's relative max-norm gradient difference; also checks
/// the loss and that the engine's update moved the weights by Adam's first step only.
fn discriminator_gradient_differences(batch_seed: u64) -> Vec<(String, f64)> {
    let device = Device::flex().autodiff();
    let n = 16;
    let c = model_config(EncoderConfig::from_variant("split").unwrap(), ObjectiveConfig::FactorVae { gamma: 30.0 }, NoiseConfig::Independent);
    let (x, eps) = fixed_batch(n, &c.noise, batch_seed);
    let mut t = Trainer::new(Network::init(&c, 4).unwrap(), n);
    t.forward(&x, &eps, 0);
    let z: Vec<f32> = t.ws.z[..n * 10].to_vec();
    let perm = column_permutations(n, 10, &mut ChaCha8Rng::seed_from_u64(batch_seed + 4));
    let d_before = t.net.disc.clone().unwrap();
    let burn = Model::new(c.clone(), 4, &device).unwrap();
    let d = burn.discriminator.unwrap();
    assert_eq!(flat_parameters(&d), d_before.data);
    let zt = tensor_from(z, [n, 10], &device);
    let zp = permute_dims(zt.clone(), perm.clone(), &device);
    let loss = d.loss(zt, zp);
    let burn_loss = scalar(loss.clone());
    let grads = GradientsParams::from_grads(loss.backward(), &d);
    let burn_grads = flat_gradients(&d, &grads);
    let engine_loss = t.discriminator_update(&perm, 1e-4).unwrap();
    assert!((engine_loss - burn_loss).abs() <= 1e-5 * burn_loss.abs(), "{engine_loss} vs {burn_loss}");
    // The update moved the discriminator, and only by Adam's first step (≤ lr per weight).
    let after = &t.net.disc.as_ref().unwrap().data;
    let moved = after.iter().zip(&d_before.data).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(moved > 0.0 && moved <= 1.0001e-4, "{moved}");
    let g = &t.ws.grads.as_ref().unwrap().disc_params;
    d_before.tensors.iter().zip(&burn_grads).map(|(info, bg)| (info.name.clone(), rel_max_err(&g[info.offset..info.offset + info.len], bg))).collect()
}

#[test]
fn discriminator_gradients_equal_burn_autodiff() {
    // As for the VAE's gradients, a leaky ReLU whose pre-activation lies within rounding of
    // zero may take slope 1 in one implementation and 0.2 in the other. Here that moves
    // more: the batch is 2 × 16 rows, so the flipped unit's term is one of 32 in its
    // weights' gradients, and it propagates to every layer below (seen: batch 5 on the
    // packing-free dense kernels, 4.6e-2 in hidden.5, 2e-3–6e-3 below, 1e-6 on batches
    // 6–10). So the gradients must agree within 1e-4 on one of three batches and within
    // 1e-1 on every one; a wrong gradient is wrong on all three.
    let mut seen = Vec::new();
    for batch_seed in [5, 6, 7] {
        let diffs = discriminator_gradient_differences(batch_seed);
        let (name, e) = diffs.iter().fold((String::new(), 0.0f64), |acc, (n, e)| if *e > acc.1 { (n.clone(), *e) } else { acc });
        assert!(e <= 1e-1, "batch {batch_seed}: gradient of {name} differs by {e:.2e} (relative max-norm)");
        if e <= 1e-4 {
            return;
        }
        seen.push(format!("batch {batch_seed}: {name} {e:.1e}"));
    }
    panic!("the discriminator's gradients differ beyond 1e-4 on every batch: {seen:?}");
}

/// The training loop hands the discriminator's permutation to the forward pass, which
/// computes the permuted codes' logits together with the codes' own; the discriminator
/// update must then be the one it is without that (same loss, same weights after), over a
/// few steps, and a permutation other than the one given must still be honoured.
#[test]
fn permuted_logits_from_the_forward_pass_give_the_same_discriminator_update() {
    let n = 16;
    let c = model_config(EncoderConfig::from_variant("conv").unwrap(), ObjectiveConfig::FactorVae { gamma: 30.0 }, NoiseConfig::Independent);
    let mut plain = Trainer::new(Network::init(&c, 4).unwrap(), n);
    let mut joint = Trainer::new(Network::init(&c, 4).unwrap(), n);
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    for step in 0..4u64 {
        let (x, eps) = fixed_batch(n, &c.noise, 5 + step);
        let perm = column_permutations(n, 10, &mut rng);
        // On the last step the forward pass is told another permutation than the update's.
        let told = if step == 3 { column_permutations(n, 10, &mut rng) } else { perm.clone() };
        let a = plain.forward(&x, &eps, step);
        let b = joint.forward_with_permutation(&x, &eps, step, Some(&told));
        assert!((a.loss - b.loss).abs() <= 1e-6 * a.loss.abs(), "step {step}: the loss moved with the permuted logits: {} vs {}", a.loss, b.loss);
        plain.vae_update(&x, step, 1e-4);
        joint.vae_update(&x, step, 1e-4);
        let (la, lb) = (plain.discriminator_update(&perm, 1e-4).unwrap(), joint.discriminator_update(&perm, 1e-4).unwrap());
        // On the packing-free kernels each logit is the same sum in the same order whichever
        // rows share its pass, so the updates are equal. The gemm crate may block a 2n-row
        // product differently (sums ~1e-7 apart), and Adam's first steps move a weight by
        // ±lr whatever its gradient's size, so a gradient within rounding of zero may move
        // one weight 2·lr the other way: 1e-3 of the weights' scale there.
        let tolerance = if disentangle_engine::Kernels::current().taps().is_some() { 1e-6 } else { 1e-3 };
        assert!((la - lb).abs() <= 1e-6 * la.abs(), "step {step}: {la} vs {lb}");
        let (da, db) = (&plain.net.disc.as_ref().unwrap().data, &joint.net.disc.as_ref().unwrap().data);
        let e = rel_max_err(db, da);
        assert!(e <= tolerance, "step {step}: discriminators differ by {e:.2e}");
    }
}

#[test]
fn encoding_and_decoding_equal_burn() {
    let device = Device::flex();
    let n = 5;
    for encoder in encoders() {
        let c = model_config(encoder.clone(), ObjectiveConfig::Vae { beta: 1.0 }, NoiseConfig::Independent);
        let (x, _) = fixed_batch(n, &c.noise, 5);
        let burn = Model::new(c.clone(), 8, &device).unwrap();
        let (mu, lv) = burn.vae.encoder.forward(tensor_from(x.clone(), [n, 1, 64, 64], &device));
        let net = Network::init(&c, 8).unwrap();
        let mut ws = Workspace::new(&net, 7, false);
        net.encode(&mut ws, &x, n);
        assert!(rel_max_err(&ws.mu[..n * 10], &to_vec(mu.clone())) < 1e-5, "{encoder:?} μ");
        assert!(rel_max_err(&ws.logvar[..n * 10], &to_vec(lv)) < 1e-5, "{encoder:?} log σ²");
        let z = to_vec(mu.clone());
        let logits = to_vec(burn.vae.decoder.forward(mu));
        net.decode(&mut ws, &z, n);
        assert!(rel_max_err(&ws.dec.last().unwrap()[..n * 4096], &logits) < 1e-5, "{encoder:?} decoder");
    }
}

fn run_config(device: &str, steps: u64, objective: ObjectiveConfig) -> disentangle_train::TrainConfig {
    disentangle_train::TrainConfig {
        dataset: "dsprites".into(),
        steps,
        batch_size: 16,
        learning_rate: 1e-4,
        discriminator_learning_rate: 1e-4,
        seed: 21,
        log_every: 1,
        checkpoint_every: 1000,
        summary_batches: 2,
        device: device.into(),
        series: Default::default(),
        model: model_config(EncoderConfig::from_variant("split").unwrap(), objective, NoiseConfig::Independent),
    }
}

/// (step, loss) of every line of a run's log.
fn logged_losses(run: &std::path::Path) -> Vec<(u64, f64)> {
    std::fs::read_to_string(run.join("log.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (v["step"].as_u64().unwrap(), v["loss"].as_f64().unwrap())
        })
        .collect()
}

/// Largest relative difference between two loss curves over the same steps.
fn curve_gap(a: &[(u64, f64)], b: &[(u64, f64)]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| {
        assert_eq!(x.0, y.0);
        (x.1 - y.1).abs() / y.1.abs()
    }).fold(0.0, f64::max)
}

#[test]
fn two_hundred_steps_follow_the_same_loss_curve_on_both_engines() {
    use disentangle_train::trainer::{TrainOptions, train_with};
    let dataset = DSpritesProcedural::new();
    let dir = tempfile::tempdir().unwrap();
    let quiet = TrainOptions::default();
    let objective = ObjectiveConfig::FactorVae { gamma: 30.0 };
    let cpu = train_with(run_config("cpu", 200, objective.clone()), &dataset, &dir.path().join("cpu"), &quiet).unwrap();
    let flex = train_with(run_config("flex", 200, objective), &dataset, &dir.path().join("flex"), &quiet).unwrap();
    let (a, b) = (logged_losses(&dir.path().join("cpu")), logged_losses(&dir.path().join("flex")));
    // Same data, noise and permutations: the first loss (the initial weights) agrees to
    // float rounding (measured 1.5e-8 relative), and the next four almost as closely
    // (measured ≤ 1.2e-6: a ReLU at its kink may let one engine's gradient through and the
    // other's not, which shifts a few Adam updates)...
    let first = curve_gap(&a[..1], &b[..1]);
    assert!(first < 1e-6, "the first losses differ by {first:.2e}");
    let early = curve_gap(&a[..5], &b[..5]);
    assert!(early < 1e-4, "the first five losses differ by {early:.2e}");
    // ...and then the runs drift apart as training amplifies rounding (measured here: 5e-5
    // at step 100 and 5e-4 by step 200 at this learning rate, growing faster at 1e-3), so
    // the curves are compared as 20-step means, which such drift moves by far less than 1 %
    // while a wrong gradient or update moves them by more within a few steps.
    let windows = |c: &[(u64, f64)]| c.chunks(20).map(|w| w.iter().map(|p| p.1).sum::<f64>() / w.len() as f64).collect::<Vec<_>>();
    let (wa, wb) = (windows(&a), windows(&b));
    let worst = wa.iter().zip(&wb).map(|(x, y)| (x - y).abs() / y).fold(0.0, f64::max);
    eprintln!("200-step FactorVAE loss curves: first 5 steps within {early:.1e}, 20-step means within {worst:.1e}; {:.1} → {:.1}", wa[0], wa[9]);
    assert!(worst < 1e-2, "20-step mean losses differ by {worst:.2e}");
    assert!(wa[9] < 0.7 * wa[0], "the run did not learn: {} → {}", wa[0], wa[9]);
    assert!((cpu.summary.reconstruction_loss - flex.summary.reconstruction_loss).abs() < 1e-2 * flex.summary.reconstruction_loss);
}

#[test]
fn a_run_resumes_across_engines_on_the_same_curve() {
    use disentangle_train::trainer::{TrainOptions, resume, train_with};
    let dataset = DSpritesProcedural::new();
    let dir = tempfile::tempdir().unwrap();
    let quiet = TrainOptions::default();
    let objective = ObjectiveConfig::FactorVae { gamma: 30.0 };
    let mut c = run_config("cpu", 12, objective);
    c.checkpoint_every = 6;
    train_with(c.clone(), &dataset, &dir.path().join("full"), &quiet).unwrap();
    let full = logged_losses(&dir.path().join("full"));
    for (first, second) in [("cpu", "flex"), ("flex", "cpu")] {
        let run = dir.path().join(format!("{first}-then-{second}"));
        let cut = TrainOptions { stop_after: Some(6), ..Default::default() };
        train_with(disentangle_train::TrainConfig { device: first.into(), ..c.clone() }, &dataset, &run, &cut).unwrap();
        let onto = TrainOptions { device: Some(second.into()), ..Default::default() };
        let resumed = resume(&run, None, &onto).unwrap();
        assert_eq!(resumed.summary.steps, 12);
        assert_eq!(disentangle_train::TrainConfig::load(&run.join("config.toml")).unwrap().device, second);
        let gap = curve_gap(&logged_losses(&run), &full);
        // Rounding alone: measured 6e-8 over 12 steps at this learning rate, or 1.9e-5 where
        // a ReLU at its kink was decided differently by the two engines in one step.
        assert!(gap < 1e-4, "{first} → {second}: the resumed curve departs by {gap:.2e}");
    }
}

#[test]
fn the_cpu_engine_reads_adam_state_written_by_burn() {
    use disentangle_train::trainer::{Nets, TrainOptions, train_with};
    let dataset = DSpritesProcedural::new();
    let dir = tempfile::tempdir().unwrap();
    let c = run_config("flex", 3, ObjectiveConfig::FactorVae { gamma: 30.0 });
    train_with(c.clone(), &dataset, &dir.path().join("run"), &TrainOptions::default()).unwrap();
    let ckpt = dir.path().join("run/checkpoints/step-000000003");
    let mut nets = Nets::new(&c, &disentangle_train::device::Backend::Cpu).unwrap();
    disentangle_train::checkpoint::load_into(&mut nets, &c, &ckpt).unwrap();
    let Nets::Cpu(t) = nets else { unreachable!() };
    assert_eq!(t.vae_adam.time, 3);
    assert_eq!(t.disc_adam.as_ref().unwrap().time, 3);
    assert!(t.vae_adam.moment_2.iter().all(|v| *v >= 0.0) && t.vae_adam.moment_2.iter().any(|v| *v > 0.0));
    // Written back in burn's layout and read again: the same state, exactly.
    let burn = disentangle_train::trainer::burn_model(&t.net).unwrap();
    let path = dir.path().join("again.bpk");
    disentangle_train::cpu_bridge::save_adam(&t.vae_adam, &burn.vae, &t.net.vae, &path).unwrap();
    let mut again = disentangle_engine::Adam::for_vae(t.net.vae.len());
    disentangle_train::cpu_bridge::load_adam(&mut again, &burn.vae, &t.net.vae, &path).unwrap();
    assert_eq!(again, t.vae_adam);
}


#[test]
fn a_trained_run_encodes_and_decodes_the_same_on_either_engine() {
    use disentangle_train::inference::load_trained;
    use disentangle_train::trainer::{TrainOptions, train_with};
    let dataset = DSpritesProcedural::new();
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    train_with(run_config("cpu", 3, ObjectiveConfig::FactorVae { gamma: 30.0 }), &dataset, &run, &TrainOptions::default()).unwrap();
    let (x, _) = fixed_batch(300, &NoiseConfig::Independent, 5); // more than one chunk of 256
    let cpu = load_trained(&run, None).unwrap();
    let flex = load_trained(&run, Some("flex")).unwrap();
    let ((mc, lc), (mf, lf)) = (cpu.encode(&x, 300), flex.encode(&x, 300));
    assert_eq!(mc.len(), 3000);
    assert!(rel_max_err(&mc, &mf) < 1e-5 && rel_max_err(&lc, &lf) < 1e-5);
    let (dc, df) = (cpu.decode(&mc, 300), flex.decode(&mc, 300));
    assert_eq!(dc.len(), 300 * 4096);
    assert!(rel_max_err(&dc, &df) < 1e-5);
}

#[test]
fn a_damaged_checkpoint_is_an_error_naming_the_file_on_the_cpu_engine() {
    use disentangle_train::trainer::{TrainOptions, resume, train_with};
    let dataset = DSpritesProcedural::new();
    let dir = tempfile::tempdir().unwrap();
    for file in ["vae-optimizer.bpk", "discriminator.bpk", "discriminator-optimizer.bpk", "vae.bpk"] {
        let run = dir.path().join(file);
        let mut c = run_config("cpu", 4, ObjectiveConfig::FactorVae { gamma: 30.0 });
        c.checkpoint_every = 2;
        train_with(c, &dataset, &run, &TrainOptions { stop_after: Some(2), ..Default::default() }).unwrap();
        let path = run.join("checkpoints/step-000000002").join(file);
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        let err = resume(&run, None, &TrainOptions::default()).err().expect("a truncated checkpoint must not load");
        assert!(err.to_string().contains(file), "{file}: {err}");
    }
}
