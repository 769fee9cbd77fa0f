//! The CPU engine is the same model as the burn reference: same initial weights, the same
//! loss and gradients on a fixed batch for every encoder × objective × noise, the same
//! discriminator gradients, and training curves that agree.

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

fn objectives() -> Vec<ObjectiveConfig> {
    vec![
        ObjectiveConfig::Vae { beta: 4.0 },
        ObjectiveConfig::AnnealedVae { gamma: 1000.0, c_max: 25.0, iteration_threshold: 100_000 },
        ObjectiveConfig::FactorVae { gamma: 30.0 },
        ObjectiveConfig::DipVaeI { lambda_od: 10.0, lambda_d: 100.0 },
        ObjectiveConfig::DipVaeIi { lambda_od: 10.0, lambda_d: 10.0 },
        ObjectiveConfig::BetaTcvae { beta: 6.0 },
    ]
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
fn fixed_batch(n: usize, noise: &NoiseConfig) -> (Vec<f32>, Vec<f32>) {
    let dataset = DSpritesProcedural::new();
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let x = batch_values(&dataset, n, &mut rng).unwrap();
    (x, sample_eps(noise, n, 10, &mut rng))
}

#[test]
fn loss_and_every_gradient_equal_burn_autodiff_for_every_configuration() {
    let device = Device::flex().autodiff();
    let n = 8;
    let mut worst = (0.0f64, String::new());
    for encoder in encoders() {
        for objective in objectives() {
            for noise in [NoiseConfig::Independent, NoiseConfig::Correlated { rho: 0.9 }] {
                let c = model_config(encoder.clone(), objective.clone(), noise.clone());
                let label = format!("{} / {} / {}", encoder.variant(), objective.name(), noise.name());
                let (x, eps) = fixed_batch(n, &noise);
                // Step 50 000: AnnealedVAE's capacity is 12.5, away from the kink of |KL − C|.
                let step = 50_000;
                let burn = Model::new(c.clone(), 3, &device).unwrap();
                let parts = burn.loss(tensor_from(x.clone(), [n, 1, 64, 64], &device), eps.clone(), step);
                let burn_loss = scalar(parts.loss.clone());
                let grads = GradientsParams::from_grads(parts.loss.backward(), &burn.vae);
                let burn_grads = flat_gradients(&burn.vae, &grads);

                let mut t = Trainer::new(Network::init(&c, 3).unwrap(), n);
                let v = t.forward(&x, &eps, step);
                assert!((v.loss - burn_loss).abs() <= 1e-5 * burn_loss.abs().max(1.0), "{label}: loss {} vs burn {burn_loss}", v.loss);
                t.net.backward(&mut t.ws, &x, n, step);
                let g = &t.ws.grads.as_ref().unwrap().vae;
                for (info, bg) in t.net.vae.tensors.iter().zip(&burn_grads) {
                    let e = rel_max_err(&g[info.offset..info.offset + info.len], bg);
                    if e > worst.0 {
                        worst = (e, format!("{label}: {}", info.name));
                    }
                    assert!(e <= 1e-4, "{label}: gradient of {} differs by {e:.2e} (relative max-norm)", info.name);
                }
            }
        }
    }
    eprintln!("largest relative gradient difference: {:.2e} ({})", worst.0, worst.1);
}

#[test]
fn discriminator_gradients_equal_burn_autodiff() {
    let device = Device::flex().autodiff();
    let n = 16;
    let c = model_config(EncoderConfig::from_variant("split").unwrap(), ObjectiveConfig::FactorVae { gamma: 30.0 }, NoiseConfig::Independent);
    let (x, eps) = fixed_batch(n, &c.noise);
    let mut t = Trainer::new(Network::init(&c, 4).unwrap(), n);
    t.forward(&x, &eps, 0);
    let z: Vec<f32> = t.ws.z[..n * 10].to_vec();
    let perm = column_permutations(n, 10, &mut ChaCha8Rng::seed_from_u64(9));
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
    let g = &t.ws.grads.as_ref().unwrap().disc_params;
    for (info, bg) in d_before.tensors.iter().zip(&burn_grads) {
        let e = rel_max_err(&g[info.offset..info.offset + info.len], bg);
        assert!(e <= 1e-4, "gradient of {} differs by {e:.2e}", info.name);
    }
    // The update moved the discriminator, and only by Adam's first step (≤ lr per weight).
    let after = &t.net.disc.as_ref().unwrap().data;
    let moved = after.iter().zip(&d_before.data).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(moved > 0.0 && moved <= 1.0001e-4, "{moved}");
}

#[test]
fn encoding_and_decoding_equal_burn() {
    let device = Device::flex();
    let n = 5;
    for encoder in encoders() {
        let c = model_config(encoder.clone(), ObjectiveConfig::Vae { beta: 1.0 }, NoiseConfig::Independent);
        let (x, _) = fixed_batch(n, &c.noise);
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
