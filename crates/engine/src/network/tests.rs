use disentangle_spec::config::NoiseConfig;

use super::*;
use crate::Trainer;

/// Loss, parameter gradients and code gradients of one step, as bits.
fn step_bits(c: &ModelConfig, x: &[f32], eps: &[f32], n: usize, group: usize) -> (u64, Vec<u32>, Vec<u32>) {
    let mut t = Trainer::new(Network::init(c, 5).unwrap(), n);
    t.ws.run_group = group;
    let v = t.forward(x, eps, 0);
    t.net.backward(&mut t.ws, x, n, 0);
    let g = t.ws.grads.as_ref().unwrap();
    let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
    (v.loss.to_bits(), bits(&g.vae), bits(&g.z[..n * c.latents]))
}

#[test]
fn carrying_samples_through_a_conv_run_gives_the_bits_of_layer_by_layer_passes() {
    // 7 samples: split unevenly over the threads, and over groups of 2 within a thread.
    let n = 7;
    let x: Vec<f32> = (0..n * 4096).map(|i| f32::from((i * 7919 % 1013) > 700)).collect();
    let eps: Vec<f32> = (0..n * 10).map(|i| (i as f32 * 0.37).sin()).collect();
    for variant in ["conv", "conv-k4", "split", "shared"] {
        for objective in [ObjectiveConfig::Vae { beta: 1.0 }, ObjectiveConfig::FactorVae { gamma: 30.0 }] {
            let encoder = EncoderConfig::from_variant(variant).unwrap();
            let c = ModelConfig { latents: 10, channels: 1, encoder, noise: NoiseConfig::Independent, objective: objective.clone() };
            let layerwise = step_bits(&c, &x, &eps, n, n);
            assert!(layerwise.1.iter().filter(|&&b| f32::from_bits(b) != 0.0).count() > layerwise.1.len() / 2, "{variant}: gradients mostly zero");
            for group in [1, 2] {
                let fused = step_bits(&c, &x, &eps, n, group);
                assert_eq!(fused.0, layerwise.0, "{variant} {objective:?} group {group}: loss");
                assert!(fused.1 == layerwise.1, "{variant} {objective:?} group {group}: parameter gradients differ");
                assert!(fused.2 == layerwise.2, "{variant} {objective:?} group {group}: code gradients differ");
            }
        }
    }
}
