//! Reparameterization noise and the objectives' estimators against direct computations.

use disentangle_models::burn::tensor::Device;
use disentangle_models::config::NoiseConfig;
use disentangle_models::noise::{kl_per_sample, log_det_correlation, sample_eps};
use disentangle_models::objective::annealed_vae::capacity;
use disentangle_models::objective::beta_tcvae::total_correlation;
use disentangle_models::objective::dip_vae::{Variant, covariance, regularizer};
use disentangle_models::ops::{scalar, tensor_from, to_vec};
use rand::{Rng, SeedableRng};

#[test]
fn correlated_noise_has_the_requested_covariance() {
    let (j, n, rho) = (4, 100_000, 0.9);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let eps = sample_eps(&NoiseConfig::Correlated { rho }, n, j, &mut rng);
    for a in 0..j {
        for b in 0..j {
            let c: f64 = eps.chunks(j).map(|r| r[a] as f64 * r[b] as f64).sum::<f64>() / n as f64;
            let want = if a == b { 1.0 } else { rho };
            // Standard error of a covariance estimate at n = 1e5 is ≈ 0.005.
            assert!((c - want).abs() < 0.02, "cov[{a}][{b}] = {c}, want {want}");
        }
    }
    let ind = sample_eps(&NoiseConfig::Independent, n, j, &mut rng);
    let c01: f64 = ind.chunks(j).map(|r| r[0] as f64 * r[1] as f64).sum::<f64>() / n as f64;
    assert!(c01.abs() < 0.02);
}

/// log det of a small symmetric positive-definite matrix by Cholesky.
fn log_det(m: &[Vec<f64>]) -> f64 {
    let n = m.len();
    let mut l = vec![vec![0.0; n]; n];
    for i in 0..n {
        for k in 0..=i {
            let s: f64 = (0..k).map(|p| l[i][p] * l[k][p]).sum();
            l[i][k] = if i == k { (m[i][i] - s).sqrt() } else { (m[i][k] - s) / l[k][k] };
        }
    }
    (0..n).map(|i| 2.0 * l[i][i].ln()).sum()
}

#[test]
fn kl_matches_the_full_covariance_formula() {
    let device = Device::flex();
    let mu = [0.3, -1.2, 0.5];
    let logvar = [-0.4, 0.2, -2.0];
    for noise in [NoiseConfig::Independent, NoiseConfig::Correlated { rho: 0.9 }, NoiseConfig::Correlated { rho: 0.3 }] {
        let rho = match noise {
            NoiseConfig::Correlated { rho } => rho,
            NoiseConfig::Independent => 0.0,
        };
        // S = D Σ D with D = diag σ.
        let sd: Vec<f64> = logvar.iter().map(|l: &f64| (0.5 * l).exp()).collect();
        let s: Vec<Vec<f64>> = (0..3).map(|a| (0..3).map(|b| sd[a] * sd[b] * if a == b { 1.0 } else { rho }).collect()).collect();
        let trace: f64 = (0..3).map(|a| s[a][a]).sum();
        let direct = 0.5 * (trace + mu.iter().map(|m| m * m).sum::<f64>() - 3.0 - log_det(&s));
        let kl = kl_per_sample(
            tensor_from(mu.iter().map(|&v| v as f32).collect(), [1, 3], &device),
            tensor_from(logvar.iter().map(|&v| v as f32).collect(), [1, 3], &device),
            &noise,
        );
        let got = scalar(kl);
        assert!((got - direct).abs() < 1e-5, "{noise:?}: {got} vs {direct}");
        let sigma: Vec<Vec<f64>> = (0..3).map(|a| (0..3).map(|b| if a == b { 1.0 } else { rho }).collect()).collect();
        assert!((log_det_correlation(&noise, 3) - log_det(&sigma)).abs() < 1e-12);
    }
}

#[test]
fn beta_tcvae_tc_equals_brute_force() {
    let device = Device::flex();
    let (b, j) = (5, 3);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
    let mut draw = |lo: f64, hi: f64| -> Vec<f64> { (0..b * j).map(|_| rng.random_range(lo..hi)).collect() };
    let (z, mu, lv) = (draw(-2.0, 2.0), draw(-1.0, 1.0), draw(-1.5, 0.5));
    let log_n = |x: f64, m: f64, l: f64| -0.5 * ((2.0 * std::f64::consts::PI).ln() + l + (x - m).powi(2) / l.exp());
    let mut want = 0.0;
    for i in 0..b {
        // log Σ_n Π_k q(z_ik|x_n)  −  Σ_k log Σ_n q(z_ik|x_n)
        let joint: f64 = (0..b).map(|n| (0..j).map(|k| log_n(z[i * j + k], mu[n * j + k], lv[n * j + k])).sum::<f64>().exp()).sum::<f64>().ln();
        let marg: f64 = (0..j).map(|k| (0..b).map(|n| log_n(z[i * j + k], mu[n * j + k], lv[n * j + k]).exp()).sum::<f64>().ln()).sum();
        want += (joint - marg) / b as f64;
    }
    let t = |v: &Vec<f64>| tensor_from(v.iter().map(|&x| x as f32).collect(), [b, j], &device);
    let got = scalar(total_correlation(t(&z), t(&mu), t(&lv)));
    assert!((got - want).abs() < 1e-4, "{got} vs {want}");
}

#[test]
fn dip_vae_covariances_and_regularizer() {
    let device = Device::flex();
    // μ rows (1, 2), (3, 6): Cov (divisor B = 2) = [[1, 2], [2, 4]].
    let mu = tensor_from(vec![1.0, 2.0, 3.0, 6.0], [2, 2], &device);
    let lv = tensor_from(vec![0.0, (2.0f32).ln(), 0.0, (2.0f32).ln()], [2, 2], &device);
    assert_eq!(to_vec(covariance(Variant::I, mu.clone(), lv.clone())), vec![1.0, 2.0, 2.0, 4.0]);
    let c2 = to_vec(covariance(Variant::Ii, mu.clone(), lv.clone()));
    assert!((c2[0] - 2.0).abs() < 1e-6 && (c2[3] - 6.0).abs() < 1e-5 && c2[1] == 2.0);
    // λ_od·(2² + 2²) + λ_d·((1 − 1)² + (4 − 1)²) with λ_od = 3, λ_d = 0.5.
    let r = scalar(regularizer(covariance(Variant::I, mu, lv), 3.0, 0.5));
    assert!((r - (3.0 * 8.0 + 0.5 * 9.0)).abs() < 1e-5, "{r}");
}

#[test]
fn annealed_capacity_schedule() {
    assert_eq!(capacity(25.0, 100_000, 0), 0.0);
    assert_eq!(capacity(25.0, 100_000, 50_000), 12.5);
    assert_eq!(capacity(25.0, 100_000, 300_000), 25.0);
}
