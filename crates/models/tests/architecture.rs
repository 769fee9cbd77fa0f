//! Structural properties of the encoders: the split encoder's branches are independent and
//! its fused form is exactly the per-branch network; the sharing-parameter encoder really
//! ties its kernel across latents.

use disentangle_models::burn::module::{Module, Param};
use disentangle_models::burn::tensor::{Device, Tensor};
use disentangle_models::encoder::{SharedEncoder, SplitEncoder};
use disentangle_models::init::init_weights;
use disentangle_models::ops::{tensor_from, to_vec};
use rand::{Rng, SeedableRng};

fn device() -> Device {
    Device::flex()
}

fn images(n: usize, seed: u64, device: &Device) -> Tensor<4> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let v: Vec<f32> = (0..n * 64 * 64).map(|_| rng.random_range(0.0..1.0)).collect();
    tensor_from(v, [n, 1, 64, 64], device)
}

/// Adds 0.5 to the slice [start, start + len) of dimension `dim` of a parameter.
fn perturb<const D: usize>(p: Param<Tensor<D>>, dim: usize, start: usize, len: usize) -> Param<Tensor<D>> {
    p.map(|t| {
        let mut delta_shape = t.dims();
        delta_shape[dim] = len;
        let delta = Tensor::<D>::ones(delta_shape, &t.device()) * 0.5;
        let mut ranges = t.dims().map(|d| 0..d);
        ranges[dim] = start..start + len;
        let current = t.clone().slice(ranges.clone());
        t.slice_assign(ranges, current + delta)
    })
}

fn columns(t: Tensor<2>) -> Vec<Vec<f32>> {
    let [b, j] = t.dims();
    let v = to_vec(t);
    (0..j).map(|c| (0..b).map(|r| v[r * j + c]).collect()).collect()
}

#[test]
fn split_branch_weights_only_move_their_own_latent() {
    let d = device();
    let (j, cb) = (5, 4);
    let enc = init_weights(SplitEncoder::new(1, j, cb, 8, &d), 3);
    let x = images(3, 1, &d);
    let (mu0, lv0) = enc.forward(x.clone());
    for branch in [0, 2, 4] {
        let mut e = enc.clone();
        e.branch_conv.weight = perturb(e.branch_conv.weight, 0, branch * cb, cb);
        e.dense1_weight = perturb(e.dense1_weight, 0, branch, 1);
        e.dense2_bias = perturb(e.dense2_bias, 0, branch, 1);
        let (mu1, lv1) = e.forward(x.clone());
        for (before, after) in [(columns(mu0.clone()), columns(mu1)), (columns(lv0.clone()), columns(lv1))] {
            for l in 0..j {
                if l == branch {
                    assert_ne!(before[l], after[l], "branch {branch} did not move its own latent");
                } else {
                    assert_eq!(before[l], after[l], "branch {branch} moved latent {l}");
                }
            }
        }
    }
}

#[test]
fn split_fused_form_equals_per_branch_loop() {
    let d = device();
    let enc = init_weights(SplitEncoder::new(1, 7, 3, 5, &d), 11);
    let x = images(4, 2, &d);
    let (mu, lv) = enc.forward(x.clone());
    let (mu_ref, lv_ref) = enc.forward_per_branch(x);
    for (a, b) in to_vec(mu).iter().zip(to_vec(mu_ref)).chain(to_vec(lv).iter().zip(to_vec(lv_ref))) {
        assert!((a - b).abs() <= 1e-5 * (1.0 + b.abs()), "{a} vs {b}");
    }
}

#[test]
fn shared_encoder_ties_one_kernel_across_latents() {
    let d = device();
    let j = 10; // laid out on a 2×5 grid: head kernel 7×4
    let enc = init_weights(SharedEncoder::new(1, j, &d), 5);
    // Parameters: the three shared convs plus a single 2-channel head.
    let convs = enc.convs.num_params();
    assert_eq!(convs, (16 * 32 + 32) + (16 * 32 * 32 + 32) + (4 * 32 * 64 + 64));
    assert_eq!(enc.num_params(), convs + 2 * 64 * 7 * 4 + 2);

    // Every μ_j is the same kernel applied at a different position of the feature map.
    let x = images(2, 9, &d);
    let feats = to_vec(enc.convs.forward(x.clone())); // [2, 64, 8, 8]
    let w = to_vec(enc.head.weight.val()); // [2, 64, 7, 4]
    let bias = to_vec(enc.head.bias.as_ref().unwrap().val());
    let (mu, logvar) = enc.forward(x);
    let (mu, logvar) = (to_vec(mu), to_vec(logvar));
    for b in 0..2 {
        for (p, q) in (0..2).flat_map(|p| (0..5).map(move |q| (p, q))) {
            for (out, got) in [(0usize, &mu), (1, &logvar)] {
                let mut s = bias[out] as f64;
                for c in 0..64 {
                    for u in 0..7 {
                        for v in 0..4 {
                            s += w[((out * 64 + c) * 7 + u) * 4 + v] as f64 * feats[((b * 64 + c) * 8 + p + u) * 8 + q + v] as f64;
                        }
                    }
                }
                let g = got[b * j + p * 5 + q] as f64;
                assert!((g - s).abs() < 1e-4 * (1.0 + s.abs()), "latent ({p},{q}): {g} vs {s}");
            }
        }
    }
}
