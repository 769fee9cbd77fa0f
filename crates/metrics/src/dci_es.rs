//! DCI-ES's explicitness E and size S (Eastwood et al., ICLR 2023, "DCI-ES: An Extended
//! Disentanglement Framework with Connections to Identifiability").
//!
//! Explicitness asks how *simple* a probe can be and still predict a factor from the code: probes
//! of increasing capacity κ_1 < … < κ_max are trained to predict factor j, their test losses
//! ℓ(κ) form the loss–capacity curve, and
//!
//!   E_j = 1 − AULCC_j / Z_j,
//!
//! where AULCC_j is the area between the curve and its lowest loss ℓ* from κ_1 to the capacity
//! κ* that reaches ℓ* (capacities past κ* only overfit and are ignored), and Z_j = ½ (κ_max −
//! κ_1)(ℓ^b − ℓ*) is the area of the triangle from the baseline loss ℓ^b at κ_1 down to ℓ* at
//! κ_max (the normalizer the authors draw in their loss–capacity figure). E_j = 1 when the
//! smallest probe already reaches ℓ*; 0 for a curve falling linearly from ℓ^b to ℓ* across the
//! capacity range; negative for a curve above that line; and 0 by definition when no probe beats
//! the baseline (ℓ* ≥ ℓ^b: the code says nothing about the factor). E is the mean over factors.
//! Our convention where the definition breaks down: when the best probe removes less than
//! `min_informativeness` (5 %) of the baseline loss, AULCC / Z is a ratio of two areas of the size
//! of the test-loss noise (a flat curve near ℓ^b gives E ≈ 1), so E_j is set to 0; the
//! informativeness 1 − ℓ*/ℓ^b is reported beside E for every factor.
//!
//! Probes here: gradient-boosted regression trees ([`GradientBoostedRegressor`], 100 stages,
//! learning rate 0.1, as DCI's classifier) with capacity = the trees' maximum depth, 1 … 8; the
//! loss is the test mean squared error of the factor's class index standardized with the
//! training rows' mean and standard deviation, so the baseline (the training mean) has a test
//! loss ℓ^b ≈ 1. The paper's probes are MLPs (capacity: hidden units) and random forests
//! (capacity: depth) on continuous factors; its code (the authors' `loss_capacity` repository)
//! could not be obtained here, so this estimator follows the definitions and is tested against
//! the paper's properties, not against numbers (docs/metrics.md).
//!
//! Size: S = K / D, the number of factors over the number of code dimensions (1 for a code of
//! exactly one dimension per factor, smaller for larger codes).

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::{Codes, Factors, check_same_samples, train_test_sizes};
use crate::error::{Result, degenerate, invalid};
use crate::gbt::{GbtConfig, GradientBoostedRegressor};
use crate::report::{Report, ToReport, matrix, vector};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DciEsConfig {
    pub num_train: usize,
    pub num_test: usize,
    /// The probes' capacities: maximum tree depths, strictly increasing (at least two).
    pub capacities: Vec<usize>,
    /// Boosting stages of every probe.
    pub num_stages: usize,
    pub learning_rate: f64,
    /// Seed of the trees' feature orders (ties between equally good splits).
    pub seed: u64,
    /// E_j is set to 0 when the best probe removes less than this share of the baseline loss
    /// (1 − ℓ*/ℓ^b below it): then AULCC / Z is a ratio of two areas of the size of the
    /// test-loss noise, and a code that says nothing about the factor would get any E.
    #[serde(default = "default_min_informativeness")]
    pub min_informativeness: f64,
}

fn default_min_informativeness() -> f64 {
    0.05
}

impl Default for DciEsConfig {
    fn default() -> Self {
        DciEsConfig { num_train: 10_000, num_test: 5_000, capacities: (1..=8).collect(), num_stages: 100, learning_rate: 0.1, seed: 0, min_informativeness: default_min_informativeness() }
    }
}

impl DciEsConfig {
    pub fn validate(&self) -> Result<()> {
        if self.capacities.len() < 2 {
            return Err(invalid("dci_es.capacities", format!("{:?} (need at least two capacities)", self.capacities)));
        }
        if self.capacities.windows(2).any(|w| w[0] >= w[1]) || self.capacities[0] == 0 || *self.capacities.last().unwrap() > 30 {
            return Err(invalid("dci_es.capacities", format!("{:?} (need strictly increasing depths in 1..=30)", self.capacities)));
        }
        if self.num_stages == 0 || self.num_stages > 10_000 {
            return Err(invalid("dci_es.num_stages", format!("{} (need 1..=10000)", self.num_stages)));
        }
        if !(0.0..1.0).contains(&self.min_informativeness) {
            return Err(invalid("dci_es.min_informativeness", format!("{} (need 0 ≤ value < 1)", self.min_informativeness)));
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return Err(invalid("dci_es.learning_rate", format!("{} (need > 0)", self.learning_rate)));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DciEsResult {
    /// Mean of the per-factor explicitness.
    pub explicitness: f64,
    /// K / D.
    pub size: f64,
    pub per_factor_explicitness: Vec<f64>,
    /// 1 − ℓ*/ℓ^b per factor (clipped at 0): the share of the baseline loss the best probe
    /// removes (how much the code says about the factor; E says how simply).
    pub per_factor_informativeness: Vec<f64>,
    /// Mean of the per-factor informativeness.
    pub informativeness: f64,
    /// Test loss of each factor (rows) at each capacity (columns).
    pub losses: Vec<Vec<f64>>,
    /// Test loss of the baseline (the training mean) per factor.
    pub baseline_losses: Vec<f64>,
    /// The capacity reaching the lowest loss, per factor.
    pub best_capacities: Vec<usize>,
    pub capacities: Vec<usize>,
    pub num_train: usize,
    pub num_test: usize,
    pub seed: Option<u64>,
}

/// Explicitness of one loss–capacity curve (see the module notes): `losses[i]` is the test
/// loss at `capacities[i]` (strictly increasing), `baseline` the loss of the best constant.
pub fn explicitness_from_curve(capacities: &[f64], losses: &[f64], baseline: f64) -> f64 {
    let (best_index, best) = lowest_loss(losses, baseline);
    if best >= baseline {
        return 0.0;
    }
    let area: f64 = (0..best_index)
        .map(|i| 0.5 * (capacities[i + 1] - capacities[i]) * ((losses[i] - best) + (losses[i + 1] - best)))
        .sum();
    let normalizer = 0.5 * (capacities[capacities.len() - 1] - capacities[0]) * (baseline - best);
    1.0 - area / normalizer
}

/// (κ* index, ℓ*): the lowest loss, and the first capacity within rounding of it (losses
/// that differ by 1e-9 of the baseline are ties, so κ* does not hop between capacities
/// that fit equally well).
fn lowest_loss(losses: &[f64], baseline: f64) -> (usize, f64) {
    let best = losses.iter().copied().fold(f64::INFINITY, f64::min);
    let index = losses.iter().position(|&l| l <= best + 1e-9 * baseline.abs()).unwrap_or(0);
    (index, best)
}

fn mse(prediction: &[f64], target: &[f64]) -> f64 {
    prediction.iter().zip(target).map(|(p, t)| (p - t) * (p - t)).sum::<f64>() / target.len() as f64
}

pub fn dci_es(codes: &Codes, factors: &Factors, config: &DciEsConfig) -> Result<DciEsResult> {
    config.validate()?;
    check_same_samples(codes, factors)?;
    let (num_train, num_test) = train_test_sizes("dci-es", codes.num_samples(), config.num_train, config.num_test)?;
    let d = codes.num_codes();
    let x_train = &codes.values()[..num_train * d];
    let x_test = &codes.values()[num_train * d..(num_train + num_test) * d];
    let k = factors.num_factors();
    // Standardized targets: each factor's class index, scaled by the training rows.
    let targets: Vec<(Vec<f64>, Vec<f64>)> = (0..k)
        .map(|j| {
            let train: Vec<f64> = factors.rows(0, num_train).column(j).iter().map(|&c| c as f64).collect();
            let test: Vec<f64> = factors.rows(num_train, num_test).column(j).iter().map(|&c| c as f64).collect();
            let mean = train.iter().sum::<f64>() / num_train as f64;
            let var = train.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / num_train as f64;
            if var <= 0.0 {
                return Err(degenerate("dci-es", format!("factor {j} is constant in the training rows: its explicitness is undefined")));
            }
            let sd = var.sqrt();
            let scale = |v: Vec<f64>| v.into_iter().map(|x| (x - mean) / sd).collect::<Vec<_>>();
            Ok((scale(train), scale(test)))
        })
        .collect::<Result<_>>()?;
    // Every (factor, capacity) probe is independent.
    let jobs: Vec<(usize, usize)> = (0..k).flat_map(|j| (0..config.capacities.len()).map(move |c| (j, c))).collect();
    let fitted: Vec<f64> = jobs
        .par_iter()
        .map(|&(j, c)| {
            let gbt = GbtConfig { num_stages: config.num_stages, max_depth: config.capacities[c], learning_rate: config.learning_rate, seed: config.seed };
            let model = GradientBoostedRegressor::fit(x_train, d, &targets[j].0, &gbt)?;
            Ok(mse(&model.predict(x_test)?, &targets[j].1))
        })
        .collect::<Result<_>>()?;
    let caps: Vec<f64> = config.capacities.iter().map(|&c| c as f64).collect();
    let mut losses = Vec::with_capacity(k);
    let (mut per_factor, mut baselines, mut best_capacities) = (Vec::with_capacity(k), Vec::with_capacity(k), Vec::with_capacity(k));
    let mut informative = Vec::with_capacity(k);
    for (j, (_, test)) in targets.iter().enumerate() {
        let curve = fitted[j * caps.len()..(j + 1) * caps.len()].to_vec();
        // The baseline predicts the training mean, 0 after standardization.
        let baseline = test.iter().map(|t| t * t).sum::<f64>() / test.len() as f64;
        let (best, best_loss) = lowest_loss(&curve, baseline);
        let informativeness = (1.0 - best_loss / baseline).max(0.0);
        let e = if informativeness < config.min_informativeness { 0.0 } else { explicitness_from_curve(&caps, &curve, baseline) };
        per_factor.push(e);
        informative.push(informativeness);
        baselines.push(baseline);
        best_capacities.push(config.capacities[best]);
        losses.push(curve);
    }
    Ok(DciEsResult {
        explicitness: per_factor.iter().sum::<f64>() / k as f64,
        size: k as f64 / d as f64,
        per_factor_explicitness: per_factor,
        informativeness: informative.iter().sum::<f64>() / k as f64,
        per_factor_informativeness: informative,
        losses,
        baseline_losses: baselines,
        best_capacities,
        capacities: config.capacities.clone(),
        num_train,
        num_test,
        seed: None,
    })
}

impl ToReport for DciEsResult {
    fn write_to(&self, r: &mut Report) {
        r.insert_f64("dci_es.explicitness", self.explicitness);
        r.insert_f64("dci_es.size", self.size);
        r.insert("dci_es.per_factor_explicitness", vector(&self.per_factor_explicitness));
        r.insert_f64("dci_es.informativeness", self.informativeness);
        r.insert("dci_es.per_factor_informativeness", vector(&self.per_factor_informativeness));
        r.insert("dci_es.losses", matrix(&self.losses));
        r.insert("dci_es.baseline_losses", vector(&self.baseline_losses));
        r.insert("dci_es.best_capacities", self.best_capacities.clone());
        r.insert("dci_es.capacities", self.capacities.clone());
        r.insert("dci_es.num_train", self.num_train);
        r.insert("dci_es.num_test", self.num_test);
        r.insert_seed("dci_es", self.seed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use rand_distr::StandardNormal;

    #[test]
    fn explicitness_of_known_curves() {
        let caps = [1.0, 2.0, 3.0, 4.0, 5.0];
        // The smallest probe is already the best: E = 1.
        assert_eq!(explicitness_from_curve(&caps, &[0.1, 0.1, 0.2, 0.3, 0.3], 1.0), 1.0);
        // A straight line from the baseline to the best loss at κ_max: E = 0.
        assert!(explicitness_from_curve(&caps, &[1.0, 0.75, 0.5, 0.25, 0.0], 1.0).abs() < 1e-15);
        // No probe beats the baseline.
        assert_eq!(explicitness_from_curve(&caps, &[1.2, 1.1, 1.05, 1.3, 1.4], 1.0), 0.0);
        // The authors' figure: ℓ = e^{−κ} for κ = 1 … 4, then a rise (overfitting) at κ = 5;
        // ℓ^b = ℓ_1 + 0.1. By hand: ℓ* = e^{−4} at κ* = 4; AULCC = Σ trapezoids of ℓ − ℓ*;
        // Z = ½ · 4 · (e^{−1} + 0.1 − e^{−4}).
        let e = |k: f64| (-k).exp();
        let losses = [e(1.0), e(2.0), e(3.0), e(4.0), e(4.0) + 0.02];
        let aulcc = 0.5 * ((e(1.0) - e(4.0)) + 2.0 * (e(2.0) - e(4.0)) + 2.0 * (e(3.0) - e(4.0)));
        let z = 0.5 * 4.0 * (e(1.0) + 0.1 - e(4.0));
        let want = 1.0 - aulcc / z;
        assert!((explicitness_from_curve(&caps, &losses, e(1.0) + 0.1) - want).abs() < 1e-15);
        assert!((want - 0.640_5).abs() < 1e-3, "{want}");
        // Unevenly spaced capacities weigh each segment by its width.
        let got = explicitness_from_curve(&[1.0, 2.0, 10.0], &[0.5, 0.0, 0.0], 1.0);
        assert!((got - (1.0 - 0.25 / 4.5)).abs() < 1e-15);
    }

    /// n samples of K = 3 factors (8, 6 and 4 classes) and their class indices.
    fn factors(n: usize, rng: &mut ChaCha8Rng) -> Vec<usize> {
        (0..n).flat_map(|_| [rng.random_range(0..8usize), rng.random_range(0..6usize), rng.random_range(0..4usize)]).collect()
    }

    fn score(codes: &[f32], d: usize, f: &[usize], config: &DciEsConfig) -> DciEsResult {
        let n = f.len() / 3;
        dci_es(&Codes::new(codes, n, d).unwrap(), &Factors::new(f, n, 3).unwrap(), config).unwrap()
    }

    fn small() -> DciEsConfig {
        DciEsConfig { num_train: 1500, num_test: 500, capacities: vec![1, 2, 3, 4, 6], num_stages: 60, ..Default::default() }
    }

    #[test]
    fn properties_from_the_paper() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let n = 2000;
        let f = factors(n, &mut rng);
        let noise = |rng: &mut ChaCha8Rng| 0.05 * rng.sample::<f64, _>(StandardNormal);
        // Identity: each code a factor (plus a little noise): a depth-1 probe suffices.
        let identity: Vec<f32> = f.iter().map(|&c| (c as f64 + noise(&mut rng)) as f32).collect();
        let id = score(&identity, 3, &f, &small());
        assert!(id.explicitness > 0.95, "{id:?}");
        assert!(id.best_capacities.iter().all(|&c| c <= 3), "{id:?}");
        assert_eq!(id.size, 1.0);
        // A rotation of the first two codes: each factor is a linear (additive) function of
        // two codes, which shallow probes still fit: explicitness stays (a modularity-type
        // score would drop).
        let (c, s) = (0.6f64, 0.8f64);
        let rotated: Vec<f32> = identity
            .chunks_exact(3)
            .flat_map(|r| {
                let (a, b) = (r[0] as f64, r[1] as f64);
                [(c * a - s * b) as f32, (s * a + c * b) as f32, r[2]]
            })
            .collect();
        let rot = score(&rotated, 3, &f, &small());
        assert!((rot.explicitness - id.explicitness).abs() < 0.1, "identity {} rotated {}", id.explicitness, rot.explicitness);
        // A factor hidden in an interaction: code 0 = s · (factor − 3.5) with the random sign s
        // in code 1, so the factor is code 0 × code 1, which no sum of one-code functions
        // (depth-1 trees) gives and deeper trees do: lower explicitness.
        let signs: Vec<f64> = (0..n).map(|_| if rng.random::<bool>() { 1.0 } else { -1.0 }).collect();
        let xor: Vec<f32> = identity
            .chunks_exact(3)
            .zip(&signs)
            .flat_map(|(r, &sg)| [(sg * (r[0] as f64 - 3.5)) as f32, sg as f32, r[1], r[2]])
            .collect();
        let hidden = score(&xor, 4, &f, &small());
        assert!(hidden.per_factor_explicitness[0] < id.per_factor_explicitness[0] - 0.2, "{hidden:?}");
        let curve = &hidden.losses[0];
        assert!(curve[0] > 0.9 * hidden.baseline_losses[0] && curve[4] < 0.05, "depth 1 cannot read the factor, depth 6 can: {curve:?}");
        assert_eq!(hidden.size, 0.75);
        // Noise codes: no probe beats the baseline by much, E ≈ 0.
        let noise_codes: Vec<f32> = (0..n * 3).map(|_| rng.sample::<f32, _>(StandardNormal)).collect();
        let none = score(&noise_codes, 3, &f, &small());
        assert!(none.explicitness < 0.1 && none.informativeness < 0.05, "{none:?}");
        assert!(id.informativeness > 0.99, "{id:?}");
        // Duplicated latents: same information, twice the size of code: S halves.
        let doubled: Vec<f32> = identity.chunks_exact(3).flat_map(|r| [r[0], r[1], r[2], r[0], r[1], r[2]]).collect();
        assert_eq!(score(&doubled, 6, &f, &small()).size, 0.5);
    }

    #[test]
    fn degenerate_inputs_are_errors() {
        let f: Vec<usize> = (0..300).flat_map(|i| [i % 4, 0]).collect();
        let codes: Vec<f32> = (0..300).map(|i| (i % 4) as f32).collect();
        let c = DciEsConfig { num_train: 200, num_test: 100, ..small() };
        let err = dci_es(&Codes::new(&codes, 300, 1).unwrap(), &Factors::new(&f, 300, 2).unwrap(), &c).unwrap_err().to_string();
        assert!(err.contains("factor 1 is constant"), "{err}");
        for bad in [vec![3], vec![2, 2], vec![0, 1], vec![3, 2]] {
            let c = DciEsConfig { capacities: bad.clone(), ..small() };
            assert!(c.validate().is_err(), "{bad:?}");
        }
    }
}
