//! BetaVAE score (Higgins et al. 2017), as in the reference study.
//!
//! One point: factor k drawn uniformly; two batches of `batch_size` (64) factor vectors
//! drawn; factor k copied from batch 1 into batch 2; both encoded; feature = mean over
//! the 64 pairs of |z1 − z2| per code; label k. `num_train` (10,000) training points,
//! `num_eval` (5,000) evaluation points; classifier: multinomial logistic regression
//! ([`crate::logistic`], C = 1, solved to convergence); scores: train and eval accuracy.
//!
//! Random numbers: one ChaCha8 stream, training points first; within a point the factor
//! index, batch 1, batch 2.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::data::FactorSizes;
use crate::error::{Result, invalid};
use crate::logistic::{LogisticConfig, LogisticRegression};
use crate::report::{Report, ToReport};
use crate::representation::{Encoder, Representation};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BetaVaeConfig {
    pub batch_size: usize,
    pub num_train: usize,
    pub num_eval: usize,
    /// Most factor vectors per representation call.
    pub rows_per_call: usize,
    pub logistic: LogisticConfig,
}

impl Default for BetaVaeConfig {
    fn default() -> Self {
        BetaVaeConfig {
            batch_size: 64,
            num_train: 10_000,
            num_eval: 5_000,
            rows_per_call: 1024,
            logistic: LogisticConfig::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BetaVaeResult {
    pub train_accuracy: f64,
    pub eval_accuracy: f64,
    pub batch_size: usize,
    pub num_train: usize,
    pub num_eval: usize,
    pub seed: Option<u64>,
}

/// BetaVAE score with factor vectors drawn from ChaCha8 seeded with `seed`.
pub fn beta_vae_score<R: Representation>(
    ground_truth: &FactorSizes,
    representation: &mut R,
    seed: u64,
    config: &BetaVaeConfig,
) -> Result<BetaVaeResult> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut result = beta_vae_score_with_rng(ground_truth, representation, &mut rng, config)?;
    result.seed = Some(seed);
    Ok(result)
}

/// Features (n×D) and labels of `num` points.
fn points<R: Representation>(
    ground_truth: &FactorSizes,
    encoder: &mut Encoder<'_, R>,
    rng: &mut ChaCha8Rng,
    num: usize,
    config: &BetaVaeConfig,
) -> Result<(Vec<f64>, Vec<usize>)> {
    let k = ground_truth.num_factors();
    let b = config.batch_size;
    let per_call = (config.rows_per_call / (2 * b)).max(1);
    let mut features = Vec::new();
    let mut labels = Vec::with_capacity(num);
    let mut done = 0;
    while done < num {
        let group = per_call.min(num - done);
        let mut batch = Vec::with_capacity(group * 2 * b * k);
        for _ in 0..group {
            let fixed = rng.random_range(0..k);
            let start = batch.len();
            ground_truth.sample_into(2 * b, rng, &mut batch);
            let (first, second) = batch[start..].split_at_mut(b * k);
            for (r1, r2) in first.chunks_exact(k).zip(second.chunks_exact_mut(k)) {
                r2[fixed] = r1[fixed];
            }
            labels.push(fixed);
        }
        let codes = encoder.encode(&batch)?;
        let d = encoder.num_codes().unwrap_or(0);
        for point in codes.chunks_exact(2 * b * d) {
            let (z1, z2) = point.split_at(b * d);
            let mut feature = vec![0.0f64; d];
            for (r1, r2) in z1.chunks_exact(d).zip(z2.chunks_exact(d)) {
                for ((f, a), c) in feature.iter_mut().zip(r1).zip(r2) {
                    *f += (*a as f64 - *c as f64).abs();
                }
            }
            features.extend(feature.iter().map(|f| f / b as f64));
        }
        done += group;
    }
    Ok((features, labels))
}

/// BetaVAE score drawing from `rng` (the result's seed is left unknown).
pub fn beta_vae_score_with_rng<R: Representation>(
    ground_truth: &FactorSizes,
    representation: &mut R,
    rng: &mut ChaCha8Rng,
    config: &BetaVaeConfig,
) -> Result<BetaVaeResult> {
    if config.batch_size == 0 || config.num_train == 0 || config.num_eval == 0 {
        return Err(invalid(
            "beta_vae sizes",
            "batch_size, num_train and num_eval must be positive",
        ));
    }
    let mut encoder = Encoder::new(representation, ground_truth.num_factors());
    let (x_train, y_train) = points(ground_truth, &mut encoder, rng, config.num_train, config)?;
    let (x_eval, y_eval) = points(ground_truth, &mut encoder, rng, config.num_eval, config)?;
    let d = encoder.num_codes().unwrap_or(0);
    let model = LogisticRegression::fit(&x_train, d, &y_train, &config.logistic)?;
    Ok(BetaVaeResult {
        train_accuracy: model.accuracy(&x_train, &y_train)?,
        eval_accuracy: model.accuracy(&x_eval, &y_eval)?,
        batch_size: config.batch_size,
        num_train: config.num_train,
        num_eval: config.num_eval,
        seed: None,
    })
}

impl ToReport for BetaVaeResult {
    fn write_to(&self, r: &mut Report) {
        r.insert_f64("beta_vae.train_accuracy", self.train_accuracy);
        r.insert_f64("beta_vae.eval_accuracy", self.eval_accuracy);
        r.insert("beta_vae.batch_size", self.batch_size);
        r.insert("beta_vae.num_train", self.num_train);
        r.insert("beta_vae.num_eval", self.num_eval);
        r.insert_seed("beta_vae", self.seed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_scores_one_and_noise_scores_near_chance() {
        let sizes = FactorSizes::new(&[3, 6, 10, 8, 8]).unwrap();
        let config = BetaVaeConfig {
            num_train: 1000,
            num_eval: 500,
            ..Default::default()
        };
        let mut identity =
            |f: &[usize]| -> Result<Vec<f32>, String> { Ok(f.iter().map(|&c| c as f32).collect()) };
        let r = beta_vae_score(&sizes, &mut identity, 0, &config).unwrap();
        assert!(r.eval_accuracy >= 0.99, "{r:?}");
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut noise = |f: &[usize]| -> Result<Vec<f32>, String> {
            Ok((0..f.len())
                .map(|_| rng.random_range(-1.0f32..1.0))
                .collect())
        };
        let r = beta_vae_score(&sizes, &mut noise, 0, &config).unwrap();
        assert!(r.eval_accuracy < 0.3, "{r:?}");
        assert_eq!(r.seed, Some(0));
    }
}
