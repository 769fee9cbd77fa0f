//! Information diagnostics of a Gaussian encoder (the seed paper's analysis), computed
//! from posterior parameters μ_n, log σ²_n (N×D) of a dataset sample and the correlation
//! ρ of the reparameterization noise: q(z|x_n) = N(μ_n, D_n Σ D_n), D_n = diag(σ_n),
//! Σ = (1 − ρ) I + ρ 11ᵀ.
//!
//! All quantities are defined for the empirical data distribution (uniform over the N
//! given samples), so q(z) = (1/N) Σ_n q(z|x_n) and q(z_j) = (1/N) Σ_n N(z_j; μ_nj, σ²_nj)
//! (the marginals of q(z|x) do not depend on ρ).
//!
//! Estimators:
//! - Analytic, averaged over all N samples: the entropies H(q(z|x_n)) = ½ D ln(2πe) +
//!   Σ_j ln σ_nj + ½ ln det Σ and H(q(z_j|x_n)) = ½ ln(2πe) + ln σ_nj, and the prior
//!   cross-entropies E_q(z_j|x_n)[−ln N(z_j; 0, 1)] = ½ ln 2π + ½(μ²_nj + σ²_nj).
//! - Monte Carlo: one z_m ~ q(z|x_m) for each of `num_z_samples` samples x_m (default
//!   10,000; all N samples, each once, when N ≤ that, else that many distinct samples
//!   drawn uniformly); ln q(z_m) and ln q(z_mj) by log-sum-exp over all N components
//!   minus ln N (the self term included: it is part of the empirical mixture). Cost
//!   O(M · N · D).
//!
//! From these: I(z; x) = −E H(q(z|x)) − E ln q(z); I(z_j; x) = −E H(q(z_j|x)) − E ln q(z_j);
//! aggregate TC = E ln q(z) − Σ_j E ln q(z_j); conditional TC = E_x KL(q(z|x) ‖ Π_j
//! q(z_j|x)) = −½ ln det Σ (exactly 0 for diagonal posteriors); isolation gap =
//! Σ_j I(z_j; x) − I(z; x), which equals TC − conditional TC (Lemma 2) term by term for
//! these estimators, not only in expectation. ELBO decomposition (Chen et al. 2018) of
//! E_x KL(q(z|x) ‖ N(0, I)) = index-code MI + TC + dimension-wise KL, with index-code MI =
//! I(z; x) and dimension-wise KL_j = E ln q(z_j) − E ln N(z_j; 0, 1); the average KL is
//! analytic and the decomposition holds exactly for the estimates too.
//!
//! The mixture estimate of ln q(z) is biased for finite N (it cannot exceed ln N of
//! information); use the largest sample the budget allows.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::GaussianPosteriors;
use crate::error::{Result, invalid};
use crate::gaussian::{LN_2PI, Params, choose_samples, draw_latents, log_sum_exp_slice, with_avx2};
use crate::report::{Report, ToReport, vector};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InfoConfig {
    /// Monte Carlo samples z_m (one per chosen x_m); capped at N.
    pub num_z_samples: usize,
}

impl Default for InfoConfig {
    fn default() -> Self {
        InfoConfig {
            num_z_samples: 10_000,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InfoDiagnostics {
    /// E_x KL(q(z|x) ‖ Π_j q(z_j|x)) = −½ ln det Σ.
    pub conditional_tc: f64,
    /// KL(q(z) ‖ Π_j q(z_j)).
    pub aggregate_tc: f64,
    /// I(z_j; x) per dimension.
    pub mi_per_dim: Vec<f64>,
    /// I(z; x), also the index-code MI of the ELBO decomposition.
    pub mi_joint: f64,
    /// Σ_j I(z_j; x) − I(z; x).
    pub isolation_gap: f64,
    /// Σ_j KL(q(z_j) ‖ N(0, 1)).
    pub dimension_wise_kl: f64,
    pub dimension_wise_kl_per_dim: Vec<f64>,
    /// E_x KL(q(z|x) ‖ N(0, I)), analytic.
    pub average_kl: f64,
    pub noise_correlation: f64,
    pub num_samples: usize,
    pub num_z_samples: usize,
    pub seed: Option<u64>,
}

/// Information diagnostics with z drawn from ChaCha8 seeded with `seed`.
pub fn information_diagnostics(
    posteriors: &GaussianPosteriors,
    seed: u64,
    config: &InfoConfig,
) -> Result<InfoDiagnostics> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut result = information_diagnostics_with_rng(posteriors, &mut rng, config)?;
    result.seed = Some(seed);
    Ok(result)
}

pub fn information_diagnostics_with_rng(
    posteriors: &GaussianPosteriors,
    rng: &mut ChaCha8Rng,
    config: &InfoConfig,
) -> Result<InfoDiagnostics> {
    if config.num_z_samples == 0 {
        return Err(invalid("info.num_z_samples", "must be positive"));
    }
    let p = Params::new(posteriors);
    let (n, d) = (p.n, p.d);
    let rho = posteriors.noise_correlation();
    let log_det = posteriors.log_det_noise_correlation();

    // Analytic averages over all N samples.
    let ln_2pi_e = LN_2PI + 1.0;
    let mut entropy_dim = vec![0.0; d];
    let mut prior_cross_entropy = vec![0.0; d];
    for j in 0..d {
        for i in p.col(j) {
            entropy_dim[j] += 0.5 * ln_2pi_e + (p.log_norm[i] - 0.5 * LN_2PI);
            prior_cross_entropy[j] += 0.5 * LN_2PI + 0.5 * (p.mean[i].powi(2) + p.sigma[i].powi(2));
        }
    }
    for j in 0..d {
        entropy_dim[j] /= n as f64;
        prior_cross_entropy[j] /= n as f64;
    }
    let conditional_tc = -0.5 * log_det;
    let entropy_joint = entropy_dim.iter().sum::<f64>() - conditional_tc;

    // Monte Carlo: E ln q(z) and E ln q(z_j).
    let chosen = choose_samples(n, config.num_z_samples, rng);
    let m = chosen.len();
    let z = draw_latents(&p, rho, &chosen, rng);
    // Σ⁻¹ = a I − b 11ᵀ for the equicorrelated Σ.
    let a = 1.0 / (1.0 - rho);
    let b = if rho == 0.0 {
        0.0
    } else {
        rho / ((1.0 - rho) * (1.0 + (d as f64 - 1.0) * rho))
    };
    let ln_n = (n as f64).ln();
    let per_sample: Vec<(f64, Vec<f64>)> = z
        .par_chunks(d)
        .map_init(
            || vec![0.0; n * (d + 3)],
            |buffer, zm| {
                if crate::interrupt::is_requested() {
                    // Skip the work; the check after the pass returns the error.
                    return (0.0, Vec::new());
                }
                with_avx2(|| {
                    // Blocks of N: ln q(z_j|x_n) for each j, then ln q(z|x_n), Σ_j u, Σ_j u².
                    let (columns, rest) = buffer.split_at_mut(d * n);
                    let (joint, rest) = rest.split_at_mut(n);
                    let (sum_u, sum_u2) = rest.split_at_mut(n);
                    sum_u.fill(0.0);
                    sum_u2.fill(0.0);
                    for (j, column) in columns.chunks_exact_mut(n).enumerate() {
                        p.log_densities(j, zm[j], column, Some((&mut *sum_u, &mut *sum_u2)));
                    }
                    for i in 0..n {
                        joint[i] = -0.5 * (a * sum_u2[i] - b * sum_u[i] * sum_u[i])
                            - p.log_norm_sum[i]
                            - 0.5 * log_det;
                    }
                    let dims = columns
                        .chunks_exact(n)
                        .map(|c| log_sum_exp_slice(c) - ln_n)
                        .collect();
                    (log_sum_exp_slice(joint) - ln_n, dims)
                })
            },
        )
        .collect();
    crate::interrupt::check()?;
    let log_q_joint = per_sample.iter().map(|s| s.0).sum::<f64>() / m as f64;
    let log_q_dim: Vec<f64> = (0..d)
        .map(|j| per_sample.iter().map(|s| s.1[j]).sum::<f64>() / m as f64)
        .collect();

    let mi_joint = -entropy_joint - log_q_joint;
    let mi_per_dim: Vec<f64> = (0..d).map(|j| -entropy_dim[j] - log_q_dim[j]).collect();
    let aggregate_tc = log_q_joint - log_q_dim.iter().sum::<f64>();
    let dimension_wise_kl_per_dim: Vec<f64> = (0..d)
        .map(|j| log_q_dim[j] + prior_cross_entropy[j])
        .collect();
    Ok(InfoDiagnostics {
        conditional_tc,
        aggregate_tc,
        isolation_gap: mi_per_dim.iter().sum::<f64>() - mi_joint,
        mi_per_dim,
        mi_joint,
        dimension_wise_kl: dimension_wise_kl_per_dim.iter().sum(),
        dimension_wise_kl_per_dim,
        average_kl: prior_cross_entropy.iter().sum::<f64>() - entropy_joint,
        noise_correlation: rho,
        num_samples: n,
        num_z_samples: m,
        seed: None,
    })
}

impl ToReport for InfoDiagnostics {
    fn write_to(&self, r: &mut Report) {
        r.insert_f64("info.conditional_tc", self.conditional_tc);
        r.insert_f64("info.aggregate_tc", self.aggregate_tc);
        r.insert("info.mi_per_dim", vector(&self.mi_per_dim));
        r.insert_f64("info.mi_joint", self.mi_joint);
        r.insert_f64("info.isolation_gap", self.isolation_gap);
        r.insert_f64("info.elbo.index_code_mi", self.mi_joint);
        r.insert_f64("info.elbo.total_correlation", self.aggregate_tc);
        r.insert_f64("info.elbo.dimension_wise_kl", self.dimension_wise_kl);
        r.insert(
            "info.elbo.dimension_wise_kl_per_dim",
            vector(&self.dimension_wise_kl_per_dim),
        );
        r.insert_f64("info.elbo.average_kl", self.average_kl);
        r.insert_f64("info.noise_correlation", self.noise_correlation);
        r.insert("info.num_samples", self.num_samples);
        r.insert("info.num_z_samples", self.num_z_samples);
        r.insert_seed("info", self.seed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gaussian::standard_normal;
    use crate::linalg::{cholesky, log_det_from_cholesky};

    /// Toy encoder: x ~ N(0, I_3), μ(x) = A x, fixed σ, noise correlation ρ.
    /// Population values: V = AAᵀ + S with S = DΣD; I(z; x) = ½ ln det V − ½ ln det S;
    /// I(z_j; x) = ½ ln(V_jj / S_jj); TC = ½(Σ ln V_jj − ln det V); conditional TC =
    /// −½ ln det Σ; KL_j(q(z_j) ‖ N(0,1)) = ½(V_jj − 1 − ln V_jj);
    /// E KL(q(z|x) ‖ N(0, I)) = ½(tr AAᵀ + tr S − D − ln det S).
    struct Toy {
        mean: Vec<f32>,
        logvar: Vec<f32>,
        n: usize,
        mi_joint: f64,
        mi_dim: Vec<f64>,
        tc: f64,
        cond_tc: f64,
        dw_kl: f64,
        avg_kl: f64,
    }

    fn toy(n: usize, rho: f64, seed: u64) -> Toy {
        let d = 3;
        let a = [[1.0, 0.0, 0.0], [0.6, 0.8, 0.0], [0.0, 0.3, 0.5]];
        let sigma2: [f64; 3] = [0.5, 0.3, 0.8];
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut mean = Vec::with_capacity(n * d);
        for _ in 0..n {
            let x: Vec<f64> = (0..3).map(|_| standard_normal(&mut rng)).collect();
            for row in &a {
                mean.push((0..3).map(|k| row[k] * x[k]).sum::<f64>() as f32);
            }
        }
        let logvar: Vec<f32> = (0..n * d).map(|i| sigma2[i % d].ln() as f32).collect();
        let s = |i: usize, j: usize| {
            let corr = if i == j { 1.0 } else { rho };
            sigma2[i].sqrt() * sigma2[j].sqrt() * corr
        };
        let v: Vec<f64> = (0..9)
            .map(|ij| {
                let (i, j) = (ij / 3, ij % 3);
                (0..3).map(|k| a[i][k] * a[j][k]).sum::<f64>() + s(i, j)
            })
            .collect();
        let s_mat: Vec<f64> = (0..9).map(|ij| s(ij / 3, ij % 3)).collect();
        let ld = |m: &[f64]| log_det_from_cholesky(&cholesky(m, 3).unwrap(), 3);
        let corr: Vec<f64> = (0..9)
            .map(|ij| if ij / 3 == ij % 3 { 1.0 } else { rho })
            .collect();
        let trace_aat: f64 = a.iter().flatten().map(|x| x * x).sum();
        Toy {
            mean,
            logvar,
            n,
            mi_joint: 0.5 * (ld(&v) - ld(&s_mat)),
            mi_dim: (0..3)
                .map(|j| 0.5 * (v[j * 4] / s_mat[j * 4]).ln())
                .collect(),
            tc: 0.5 * ((0..3).map(|j| v[j * 4].ln()).sum::<f64>() - ld(&v)),
            cond_tc: -0.5 * ld(&corr),
            dw_kl: (0..3).map(|j| 0.5 * (v[j * 4] - 1.0 - v[j * 4].ln())).sum(),
            avg_kl: 0.5 * (trace_aat + sigma2.iter().sum::<f64>() - 3.0 - ld(&s_mat)),
        }
    }

    #[test]
    fn lemma_two_and_closed_form_values_on_a_toy_gaussian_encoder() {
        for rho in [0.0, 0.5] {
            let t = toy(4000, rho, 11);
            let post = GaussianPosteriors::new(&t.mean, &t.logvar, t.n, 3)
                .unwrap()
                .with_noise_correlation(rho)
                .unwrap();
            let r = information_diagnostics(&post, 1, &InfoConfig::default()).unwrap();
            // Lemma 2 holds for the estimates themselves.
            assert!(
                (r.isolation_gap - (r.aggregate_tc - r.conditional_tc)).abs() < 1e-9,
                "{r:?}"
            );
            // The ELBO decomposition too.
            assert!(
                (r.average_kl - (r.mi_joint + r.aggregate_tc + r.dimension_wise_kl)).abs() < 1e-9
            );
            // Conditional TC is exact.
            assert!((r.conditional_tc - t.cond_tc).abs() < 1e-12);
            if rho == 0.0 {
                assert_eq!(r.conditional_tc, 0.0);
            }
            // Estimates against the population values (sampling error of the 4000
            // samples of x and of z, plus the mixture bias).
            let tol = 0.06;
            assert!(
                (r.mi_joint - t.mi_joint).abs() < tol,
                "I(z;x) {} vs {}",
                r.mi_joint,
                t.mi_joint
            );
            for j in 0..3 {
                assert!(
                    (r.mi_per_dim[j] - t.mi_dim[j]).abs() < tol,
                    "I(z_{j};x) {} vs {}",
                    r.mi_per_dim[j],
                    t.mi_dim[j]
                );
            }
            assert!(
                (r.aggregate_tc - t.tc).abs() < tol,
                "TC {} vs {}",
                r.aggregate_tc,
                t.tc
            );
            assert!(
                (r.dimension_wise_kl - t.dw_kl).abs() < tol,
                "dwKL {} vs {}",
                r.dimension_wise_kl,
                t.dw_kl
            );
            assert!(
                (r.average_kl - t.avg_kl).abs() < tol,
                "KL {} vs {}",
                r.average_kl,
                t.avg_kl
            );
            // Population Lemma 2 as a check on the closed forms themselves.
            let gap: f64 = t.mi_dim.iter().sum::<f64>() - t.mi_joint;
            assert!((gap - (t.tc - t.cond_tc)).abs() < 1e-12);
        }
    }

    #[test]
    fn conditional_tc_for_correlated_noise_is_minus_half_log_det() {
        let mean = vec![0.0f32; 5 * 10];
        let logvar = vec![0.0f32; 5 * 10];
        let rho = 0.3;
        let post = GaussianPosteriors::new(&mean, &logvar, 10, 5)
            .unwrap()
            .with_noise_correlation(rho)
            .unwrap();
        let r = information_diagnostics(&post, 0, &InfoConfig { num_z_samples: 5 }).unwrap();
        let expected = -0.5 * (4.0 * (1.0f64 - rho).ln() + (1.0 + 4.0 * rho).ln());
        assert!((r.conditional_tc - expected).abs() < 1e-12);
        assert_eq!(r.num_z_samples, 5);
        assert!(
            GaussianPosteriors::new(&mean, &logvar, 10, 5)
                .unwrap()
                .with_noise_correlation(-0.3)
                .is_err()
        );
        assert!(
            GaussianPosteriors::new(&mean, &logvar, 10, 5)
                .unwrap()
                .with_noise_correlation(1.0)
                .is_err()
        );
    }
}
