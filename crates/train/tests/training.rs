//! Training behaviour: every objective × encoder learns, FactorVAE's two updates touch only
//! their own networks, resume is exact, and a diverging run stops cleanly.

mod common;
use common::objectives;
use disentangle_data::DSpritesProcedural;
use disentangle_models::burn::tensor::Device;
use disentangle_models::config::{EncoderConfig, ModelConfig, NoiseConfig, ObjectiveConfig};
use disentangle_models::noise::sample_eps;
use disentangle_models::ops::{flat_parameters, scalar};
use disentangle_engine::{Trainer, Workspace};
use disentangle_models::discriminator::column_permutations;
use disentangle_models::ops::tensor_from;
use disentangle_train::device::Backend;
use disentangle_train::trainer::{Nets, State, TrainOptions, batch, batch_values, burn_discriminator_step, burn_vae_step, resume, train_with};
use disentangle_train::{TrainConfig, TrainError};
use rand::SeedableRng;

fn config(encoder: EncoderConfig, objective: ObjectiveConfig, noise: NoiseConfig) -> TrainConfig {
    TrainConfig {
        dataset: "dsprites".into(),
        steps: 200,
        batch_size: 16,
        learning_rate: 1e-3,
        discriminator_learning_rate: 1e-4,
        seed: 7,
        log_every: 50,
        checkpoint_every: 1000,
        summary_batches: 2,
        device: "flex".into(),
        series: Default::default(),
        model: ModelConfig { latents: 10, channels: 1, encoder, noise, objective },
    }
}


/// Mean objective loss on four fixed held-out batches (same data and noise every time).
fn held_out_loss(state: &State, config: &TrainConfig, dataset: &DSpritesProcedural) -> f64 {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(12345);
    let mut total = 0.0;
    let mut ws = match &state.nets {
        Nets::Cpu(t) => Some(Workspace::new(&t.net, 32, false)),
        Nets::Burn { .. } => None,
    };
    for _ in 0..4 {
        let x = batch_values(dataset, 32, &mut rng).unwrap();
        let eps = sample_eps(&config.model.noise, 32, config.model.latents, &mut rng);
        total += match &state.nets {
            Nets::Burn { model, device, .. } => scalar(model.loss(tensor_from(x, [32, 1, 64, 64], device), eps, 0).loss),
            Nets::Cpu(t) => t.net.forward_loss(ws.as_mut().unwrap(), &x, &eps, 32, 0).loss,
        };
    }
    total / 4.0
}

/// 100 steps of every objective lower the held-out loss (on the CPU engine, the default;
/// the burn reference is held to the engine by `cpu_engine.rs`).
fn lowers_loss_for_every_objective(encoder: EncoderConfig) {
    let dataset = DSpritesProcedural::new();
    for objective in objectives() {
        let c = config(encoder.clone(), objective.clone(), NoiseConfig::Independent);
        let mut c = c;
        c.batch_size = 8;
        c.steps = 100;
        let mut state = State::new(&c, &Backend::Cpu).unwrap();
        let before = held_out_loss(&state, &c, &dataset);
        for _ in 0..c.steps {
            state.step_once(&c, &dataset).unwrap().finite().expect("finite loss");
        }
        let after = held_out_loss(&state, &c, &dataset);
        assert!(after < before - 0.1 * before.abs().min(300.0), "{} / {}: held-out loss {before:.1} → {after:.1}", objective.name(), encoder.name());
    }
}

#[test]
fn conv_encoder_learns_under_every_objective() {
    lowers_loss_for_every_objective(EncoderConfig::Conv { k4_all: false });
}

#[test]
fn split_encoder_learns_under_every_objective() {
    lowers_loss_for_every_objective(EncoderConfig::Split { branch_channels: 16, branch_hidden: 64 });
}

#[test]
fn shared_encoder_learns_under_every_objective() {
    lowers_loss_for_every_objective(EncoderConfig::Shared);
}

#[test]
fn factor_vae_updates_touch_only_their_own_network() {
    let device = Device::flex().autodiff();
    let dataset = DSpritesProcedural::new();
    let c = config(EncoderConfig::Split { branch_channels: 4, branch_hidden: 8 }, ObjectiveConfig::FactorVae { gamma: 30.0 }, NoiseConfig::Independent);
    let mut state = State::new(&c, &Backend::Burn(device.clone())).unwrap();
    let x = batch(&dataset, 16, &mut state.rngs.data, &device).unwrap();
    let eps = sample_eps(&c.model.noise, 16, 10, &mut state.rngs.noise);
    let Nets::Burn { model, vae_optim, disc_optim, .. } = &mut state.nets else { unreachable!() };
    let parts = model.loss(x, eps, 0);
    let (vae0, disc0) = (flat_parameters(&model.vae), flat_parameters(model.discriminator.as_ref().unwrap()));
    // The VAE step: the loss includes γ·TC through the discriminator, yet only the VAE moves.
    burn_vae_step(model, vae_optim, c.learning_rate, parts.loss);
    let (vae1, disc1) = (flat_parameters(&model.vae), flat_parameters(model.discriminator.as_ref().unwrap()));
    assert_ne!(vae0, vae1);
    assert_eq!(disc0, disc1, "the VAE step moved the discriminator");
    // The discriminator step on the (detached) codes: only the discriminator moves.
    let perm = column_permutations(16, 10, &mut state.rngs.permutation);
    burn_discriminator_step(model, disc_optim.as_mut().unwrap(), 1e-4, parts.z, perm, &device).unwrap();
    let (vae2, disc2) = (flat_parameters(&model.vae), flat_parameters(model.discriminator.as_ref().unwrap()));
    assert_ne!(disc1, disc2);
    assert_eq!(vae1, vae2, "the discriminator step moved the VAE");
}

#[test]
fn factor_vae_updates_touch_only_their_own_network_on_the_cpu_engine() {
    let c = config(EncoderConfig::Split { branch_channels: 4, branch_hidden: 8 }, ObjectiveConfig::FactorVae { gamma: 30.0 }, NoiseConfig::Independent);
    let mut state = State::new(&c, &Backend::Cpu).unwrap();
    let x = batch_values(&DSpritesProcedural::new(), 16, &mut state.rngs.data).unwrap();
    let eps = sample_eps(&c.model.noise, 16, 10, &mut state.rngs.noise);
    let Nets::Cpu(t) = &mut state.nets else { unreachable!() };
    let disc = |t: &Trainer| t.net.disc.as_ref().unwrap().data.clone();
    t.forward(&x, &eps, 0);
    let (vae0, disc0) = (t.net.vae.data.clone(), disc(t));
    t.vae_update(&x, 0, c.learning_rate);
    let (vae1, disc1) = (t.net.vae.data.clone(), disc(t));
    assert_ne!(vae0, vae1);
    assert_eq!(disc0, disc1, "the VAE step moved the discriminator");
    let perm = column_permutations(16, 10, &mut state.rngs.permutation);
    t.discriminator_update(&perm, 1e-4).unwrap();
    assert_ne!(disc1, disc(t));
    assert_eq!(vae1, t.net.vae.data, "the discriminator step moved the VAE");
}

#[test]
fn discriminator_learns_the_sign_of_total_correlation() {
    use disentangle_models::burn::optim::GradientsParams;
    use disentangle_models::discriminator::{Discriminator, column_permutations, permute_dims};
    use disentangle_models::init::init_weights;
    use disentangle_models::ops::tensor_from;
    use rand::Rng;
    use rand_distr::StandardNormal;

    // z ~ N(0, [[1, ρ], [ρ, 1]]), ρ = 0.9: TC = −½ log(1 − ρ²) ≈ 0.83 nats.
    let device = Device::flex().autodiff();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let sample = |n: usize, rng: &mut rand_chacha::ChaCha8Rng| -> Vec<f32> {
        (0..n)
            .flat_map(|_| {
                let (a, b): (f32, f32) = (rng.sample(StandardNormal), rng.sample(StandardNormal));
                [a, 0.9 * a + (1.0f32 - 0.81).sqrt() * b]
            })
            .collect()
    };
    let mut d = init_weights(Discriminator::new(2, &device), 3);
    let mut opt = disentangle_train::trainer::discriminator_optimizer();
    for _ in 0..300 {
        let z = tensor_from(sample(64, &mut rng), [64, 2], &device);
        let perm = column_permutations(64, 2, &mut rng);
        let zp = permute_dims(z.clone(), perm, &device);
        let loss = d.loss(z, zp);
        let grads = GradientsParams::from_grads(loss.backward(), &d);
        d = opt.step(1e-4, d, grads);
    }
    let z = tensor_from(sample(2000, &mut rng), [2000, 2], &device);
    let perm = column_permutations(2000, 2, &mut rng);
    let zp = permute_dims(z.clone(), perm, &device);
    let tc_joint = scalar(d.tc_estimate(z));
    let tc_perm = scalar(d.tc_estimate(zp));
    assert!(tc_joint > 0.2, "TC estimate on q(z) samples: {tc_joint}");
    assert!(tc_perm < -0.2, "TC estimate on permuted samples: {tc_perm}");
    let _ = rng.random::<u8>();
}

fn short(steps: u64) -> TrainConfig {
    let mut c = config(EncoderConfig::Split { branch_channels: 4, branch_hidden: 8 }, ObjectiveConfig::FactorVae { gamma: 10.0 }, NoiseConfig::Correlated { rho: 0.5 });
    c.steps = steps;
    c.batch_size = 8;
    c.learning_rate = 1e-4;
    c.log_every = 1;
    c.checkpoint_every = 2;
    c.summary_batches = 2;
    c
}

#[test]
fn resume_reproduces_an_uninterrupted_run_exactly_on_the_cpu_engine() {
    resume_reproduces_an_uninterrupted_run_exactly("cpu");
}

#[test]
fn resume_reproduces_an_uninterrupted_run_exactly_on_burn() {
    resume_reproduces_an_uninterrupted_run_exactly("flex");
}

fn resume_reproduces_an_uninterrupted_run_exactly(device: &str) {
    let dataset = DSpritesProcedural::new();
    let dir = tempfile::tempdir().unwrap();
    let quiet = TrainOptions::default();
    let short = |steps| TrainConfig { device: device.into(), ..short(steps) };
    let full = train_with(short(7), &dataset, &dir.path().join("full"), &quiet).unwrap();
    // Interrupted after 3 steps (checkpoints at 2 and 3), then resumed to 7.
    let cut = TrainOptions { progress: false, stop_after: Some(3), ..Default::default() };
    let part = train_with(short(7), &dataset, &dir.path().join("cut"), &cut).unwrap();
    assert!(!dir.path().join("cut/summary.json").exists(), "an interrupted run has no summary");
    assert_ne!(flat_parameters(&part.model.vae), flat_parameters(&full.model.vae));
    let resumed = resume(&dir.path().join("cut"), None, &quiet).unwrap();
    assert_eq!(flat_parameters(&resumed.model.vae), flat_parameters(&full.model.vae));
    assert_eq!(
        flat_parameters(resumed.model.discriminator.as_ref().unwrap()),
        flat_parameters(full.model.discriminator.as_ref().unwrap())
    );
    assert_eq!(resumed.summary.reconstruction_loss, full.summary.reconstruction_loss);
    // Same log, line for line, apart from wall-clock times.
    let strip = |p: &std::path::Path| -> Vec<serde_json::Value> {
        std::fs::read_to_string(p)
            .unwrap()
            .lines()
            .map(|l| {
                let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
                v.as_object_mut().unwrap().remove("elapsed_s");
                v
            })
            .collect()
    };
    assert_eq!(strip(&dir.path().join("cut/log.jsonl")), strip(&dir.path().join("full/log.jsonl")));
    assert_eq!(strip(&dir.path().join("full/log.jsonl")).len(), 7);
    // The run directory holds the resolved config, which reads back to the same value.
    let cfg = TrainConfig::load(&dir.path().join("full/config.toml")).unwrap();
    assert_eq!(cfg, short(7));
    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.path().join("full/summary.json")).unwrap()).unwrap();
    for key in ["reconstruction_loss", "kl", "elbo", "regularizer", "tc"] {
        assert!(summary[key].is_number(), "summary.json lacks {key}");
    }
    // Extending a finished run continues from its last checkpoint.
    let longer = resume(&dir.path().join("full"), Some(9), &quiet).unwrap();
    assert_eq!(longer.summary.steps, 9);
    // Starting a new run over an existing one is refused.
    assert!(matches!(train_with(short(7), &dataset, &dir.path().join("full"), &quiet), Err(TrainError::Invalid(_))));
}

#[test]
fn non_finite_loss_stops_and_keeps_the_last_good_checkpoint_on_burn() {
    non_finite_loss_stops_and_keeps_the_last_good_checkpoint("flex");
}

#[test]
fn non_finite_loss_stops_and_keeps_the_last_good_checkpoint_on_the_cpu_engine() {
    non_finite_loss_stops_and_keeps_the_last_good_checkpoint("cpu");
}

fn non_finite_loss_stops_and_keeps_the_last_good_checkpoint(device: &str) {
    let dataset = DSpritesProcedural::new();
    let dir = tempfile::tempdir().unwrap();
    let mut c = short(50);
    c.device = device.into();
    c.model.objective = ObjectiveConfig::Vae { beta: 1.0 };
    c.learning_rate = 1e30; // the first update sends weights to ±1e30: the next loss overflows
    c.checkpoint_every = 1;
    let err = train_with(c, &dataset, &dir.path().join("run"), &TrainOptions::default()).err().expect("diverges");
    match err {
        TrainError::NonFinite { step, last_checkpoint: Some(ckpt), .. } => {
            assert!(step >= 2, "step {step}");
            let state: serde_json::Value = serde_json::from_slice(&std::fs::read(ckpt.join("state.json")).unwrap()).unwrap();
            assert_eq!(state["step"].as_u64(), Some(step - 1), "the kept checkpoint is the last good step");
            let latest = std::fs::read_to_string(dir.path().join("run/checkpoints/latest")).unwrap();
            assert!(ckpt.ends_with(latest.trim()));
        }
        other => panic!("expected a non-finite error with a checkpoint, got {other}"),
    }
    assert!(!dir.path().join("run/summary.json").exists());
}

#[test]
fn a_series_is_taken_at_its_steps_and_a_resumed_run_continues_it_without_gaps_or_duplicates() {
    let dataset = DSpritesProcedural::new();
    let dir = tempfile::tempdir().unwrap();
    let quiet = TrainOptions::default();
    let with_series = |steps| {
        let mut c = TrainConfig { device: "cpu".into(), ..short(steps) };
        c.series.every = 3;
        c.series.samples = 400;
        c.series.summary_batches = 2;
        c.series.metrics = vec!["mig".into(), "unsupervised".into()];
        c
    };
    // Scoring during training reads the weights only: the run trains exactly as without it.
    let plain = train_with(TrainConfig { device: "cpu".into(), ..short(7) }, &dataset, &dir.path().join("plain"), &quiet).unwrap();
    let full = train_with(with_series(7), &dataset, &dir.path().join("full"), &quiet).unwrap();
    assert_eq!(flat_parameters(&full.model.vae), flat_parameters(&plain.model.vae));
    assert_eq!(full.summary, disentangle_train::Summary { train_seconds: full.summary.train_seconds, ..plain.summary.clone() });
    let points = disentangle_train::series::read_series(&dir.path().join("full")).unwrap();
    assert_eq!(points.iter().map(|p| p.step).collect::<Vec<_>>(), vec![0, 3, 6, 7], "step 0, every 3 steps and the last");
    for p in &points {
        let mig = p.metrics["mig.discrete"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&mig), "{mig}");
        assert_eq!(p.metrics["mig.num_samples"].as_u64(), Some(400));
        assert!(p.summary.reconstruction_loss > 0.0 && p.summary.kl >= 0.0);
        assert!(p.metrics.contains_key("unsupervised.gaussian_total_correlation"));
    }
    assert_ne!(points[0].summary.reconstruction_loss, points[3].summary.reconstruction_loss, "the model changes between points");
    // Interrupted after 5 steps (points 0 and 3 written, last checkpoint at 5), resumed to 7.
    let cut = TrainOptions { progress: false, stop_after: Some(5), ..Default::default() };
    train_with(with_series(7), &dataset, &dir.path().join("cut"), &cut).unwrap();
    // A point past the last checkpoint (as a process killed after it would leave) is dropped
    // and taken again.
    let mut extra = disentangle_train::series::read_series(&dir.path().join("cut")).unwrap().last().unwrap().clone();
    extra.step = 5;
    disentangle_train::series::append(&dir.path().join("cut"), &extra).unwrap();
    assert_eq!(disentangle_train::series::read_series(&dir.path().join("cut")).unwrap().len(), 3);
    let resumed = resume(&dir.path().join("cut"), None, &quiet).unwrap();
    assert_eq!(flat_parameters(&resumed.model.vae), flat_parameters(&full.model.vae));
    let again = disentangle_train::series::read_series(&dir.path().join("cut")).unwrap();
    let strip = |ps: &[disentangle_train::series::SeriesPoint]| -> Vec<_> {
        ps.iter().map(|p| disentangle_train::series::SeriesPoint { seconds: 0.0, ..p.clone() }).collect()
    };
    assert_eq!(strip(&again), strip(&points), "the same points, value for value");
    // Extending the finished run: its end point (7) is no longer an end, 9 is.
    resume(&dir.path().join("full"), Some(9), &quiet).unwrap();
    let extended = disentangle_train::series::read_series(&dir.path().join("full")).unwrap();
    assert_eq!(extended.iter().map(|p| p.step).collect::<Vec<_>>(), vec![0, 3, 6, 9]);
}

#[test]
fn a_series_on_burn_equals_the_cpu_engines() {
    let dataset = DSpritesProcedural::new();
    let dir = tempfile::tempdir().unwrap();
    let run = |device: &str| {
        let mut c = TrainConfig { device: device.into(), ..short(2) };
        c.series.every = 2;
        c.series.samples = 300;
        c.series.summary_batches = 1;
        train_with(c, &dataset, &dir.path().join(device), &TrainOptions::default()).unwrap();
        disentangle_train::series::read_series(&dir.path().join(device)).unwrap()
    };
    let (cpu, flex) = (run("cpu"), run("flex"));
    assert_eq!(cpu.len(), 2);
    for (a, b) in cpu.iter().zip(&flex) {
        assert_eq!(a.step, b.step);
        let rel = |x: f64, y: f64| (x - y).abs() / y.abs().max(1e-9);
        assert!(rel(a.summary.reconstruction_loss, b.summary.reconstruction_loss) < 1e-4, "{a:?} vs {b:?}");
        // MIG bins the codes: engines that agree to float rounding give the same bins almost
        // always; allow a small difference from a code on a bin edge.
        let (ma, mb) = (a.metrics["mig.discrete"].as_f64().unwrap(), b.metrics["mig.discrete"].as_f64().unwrap());
        assert!((ma - mb).abs() < 0.02, "MIG {ma} vs {mb}");
    }
}

#[test]
fn a_bad_series_config_is_refused_by_field() {
    let mut c = short(5);
    c.series.every = 2;
    c.series.metrics = vec!["no-such-metric".into()];
    let e = c.validate().unwrap_err().to_string();
    assert!(e.contains("series.metrics") && e.contains("no-such-metric"), "{e}");
    c.series.metrics = vec![];
    assert!(c.validate().unwrap_err().to_string().contains("series.metrics"));
    c.series.metrics = vec!["mig".into()];
    c.series.samples = 1 << 30;
    assert!(c.validate().unwrap_err().to_string().contains("series.samples"));
    // Off: nothing of it is written to config.toml, so configs from before it read the same.
    let off = short(5);
    assert!(!off.to_toml().contains("series"));
    assert!(c.to_toml().contains("[series]"));
    assert_eq!(TrainConfig { series: Default::default(), ..c.clone() }.to_toml(), off.to_toml());
}
