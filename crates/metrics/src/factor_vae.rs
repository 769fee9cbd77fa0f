//! FactorVAE score (Kim & Mnih 2018), as in the reference study.
//!
//! 1. Global variance (ddof 1) of each code over `num_variance_estimate` (10,000) encoded
//!    random factor vectors. Active codes: standard deviation ≥ `prune_threshold` (0.05,
//!    the reference study's setting) and variance > 0. No active code → every score 0.
//! 2. One vote: factor k drawn uniformly; `batch_size` (64) factor vectors drawn, factor k
//!    of all of them set to the first vector's value; encoded; local variance (ddof 1) of
//!    each active code; d* = argmin over active codes of local / global variance (first
//!    on ties); the vote is (k, d*).
//! 3. Classifier from `num_train` (10,000) votes: each code predicts the factor with the
//!    most votes for it (the lowest factor index on ties, also for a code without votes).
//!    Scores: accuracy on those votes and on `num_eval` (5,000) fresh votes.
//!
//! Random numbers: one ChaCha8 stream, in the order global sample, training votes,
//! evaluation votes; within a vote the factor index first, then the batch. Votes are
//! encoded `rows_per_call / batch_size` at a time, which changes nothing for a
//! deterministic representation.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::data::FactorSizes;
use crate::error::{Result, invalid};
use crate::report::{Report, ToReport};
use crate::representation::{Encoder, Representation, column_variances};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FactorVaeConfig {
    pub batch_size: usize,
    pub num_train: usize,
    pub num_eval: usize,
    pub num_variance_estimate: usize,
    pub prune_threshold: f64,
    /// Most factor vectors per representation call.
    pub rows_per_call: usize,
}

impl Default for FactorVaeConfig {
    fn default() -> Self {
        FactorVaeConfig {
            batch_size: 64,
            num_train: 10_000,
            num_eval: 5_000,
            num_variance_estimate: 10_000,
            prune_threshold: 0.05,
            rows_per_call: 1024,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FactorVaeResult {
    pub train_accuracy: f64,
    pub eval_accuracy: f64,
    pub num_active_dims: usize,
    /// Global variance of each code.
    pub global_variances: Vec<f64>,
    /// Training votes [factor][code].
    pub train_votes: Vec<Vec<u64>>,
    pub batch_size: usize,
    pub num_train: usize,
    pub num_eval: usize,
    pub num_variance_estimate: usize,
    pub prune_threshold: f64,
    pub seed: Option<u64>,
}

impl FactorVaeConfig {
    fn validate(&self) -> Result<()> {
        if self.batch_size < 2 {
            return Err(invalid(
                "factor_vae.batch_size",
                "needs at least 2 (variances use ddof 1)",
            ));
        }
        if self.num_variance_estimate < 2 {
            return Err(invalid(
                "factor_vae.num_variance_estimate",
                "needs at least 2",
            ));
        }
        if self.num_train == 0 || self.num_eval == 0 {
            return Err(invalid("factor_vae.num_train/num_eval", "must be positive"));
        }
        if self.prune_threshold.is_nan() || self.prune_threshold < 0.0 {
            return Err(invalid(
                "factor_vae.prune_threshold",
                format!("{}", self.prune_threshold),
            ));
        }
        Ok(())
    }
}

/// FactorVAE score with factor vectors drawn from ChaCha8 seeded with `seed`.
pub fn factor_vae_score<R: Representation>(
    ground_truth: &FactorSizes,
    representation: &mut R,
    seed: u64,
    config: &FactorVaeConfig,
) -> Result<FactorVaeResult> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut result = factor_vae_score_with_rng(ground_truth, representation, &mut rng, config)?;
    result.seed = Some(seed);
    Ok(result)
}

/// FactorVAE score drawing from `rng` (the result's seed is left unknown).
pub fn factor_vae_score_with_rng<R: Representation>(
    ground_truth: &FactorSizes,
    representation: &mut R,
    rng: &mut ChaCha8Rng,
    config: &FactorVaeConfig,
) -> Result<FactorVaeResult> {
    variance_vote_score(ground_truth, representation, rng, config, VoteRule::FixOneLowestVariance)
}

/// How a variance vote is cast.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VoteRule {
    /// The FactorVAE score (z-min-var): factor k fixed over the batch, the others drawn; the
    /// vote goes to the code whose normalized variance is lowest.
    FixOneLowestVariance,
    /// z-max-var: factor k drawn for every row, the others fixed at one draw; the vote goes to
    /// the code whose normalized variance is highest.
    VaryOneHighestVariance,
}

/// The majority-vote classifier of the FactorVAE score with either vote rule (see the module
/// header for the FactorVAE rule's draws; the other rule draws the same way and then copies the
/// first row's *other* factors into the batch instead of its factor k).
pub fn variance_vote_score<R: Representation>(
    ground_truth: &FactorSizes,
    representation: &mut R,
    rng: &mut ChaCha8Rng,
    config: &FactorVaeConfig,
    rule: VoteRule,
) -> Result<FactorVaeResult> {
    config.validate()?;
    let k = ground_truth.num_factors();
    let mut encoder = Encoder::new(representation, k);
    let sample = ground_truth.sample(config.num_variance_estimate, rng);
    let codes = encoder.encode_chunked(&sample, config.rows_per_call)?;
    let d = encoder.num_codes().unwrap_or(0);
    let global = column_variances(&codes, config.num_variance_estimate, d);
    let active: Vec<usize> = (0..d)
        .filter(|&j| global[j] > 0.0 && global[j].sqrt() >= config.prune_threshold)
        .collect();
    let mut result = FactorVaeResult {
        train_accuracy: 0.0,
        eval_accuracy: 0.0,
        num_active_dims: active.len(),
        global_variances: global.clone(),
        train_votes: vec![vec![0; d]; k],
        batch_size: config.batch_size,
        num_train: config.num_train,
        num_eval: config.num_eval,
        num_variance_estimate: config.num_variance_estimate,
        prune_threshold: config.prune_threshold,
        seed: None,
    };
    if active.is_empty() {
        return Ok(result);
    }
    let votes =
        |encoder: &mut Encoder<R>, rng: &mut ChaCha8Rng, num: usize| -> Result<Vec<Vec<u64>>> {
            let mut votes = vec![vec![0u64; d]; k];
            let per_call = (config.rows_per_call / config.batch_size).max(1);
            let b = config.batch_size;
            let mut done = 0;
            while done < num {
                let group = per_call.min(num - done);
                let mut factor_index = Vec::with_capacity(group);
                let mut batch = Vec::with_capacity(group * b * k);
                for _ in 0..group {
                    let fixed = rng.random_range(0..k);
                    let start = batch.len();
                    ground_truth.sample_into(b, rng, &mut batch);
                    let first: Vec<usize> = batch[start..start + k].to_vec();
                    for row in batch[start..].chunks_exact_mut(k) {
                        match rule {
                            VoteRule::FixOneLowestVariance => row[fixed] = first[fixed],
                            VoteRule::VaryOneHighestVariance => {
                                for (j, v) in row.iter_mut().enumerate() {
                                    if j != fixed {
                                        *v = first[j];
                                    }
                                }
                            }
                        }
                    }
                    factor_index.push(fixed);
                }
                let codes = encoder.encode(&batch)?;
                for (v, &fixed) in factor_index.iter().enumerate() {
                    let local = column_variances(&codes[v * b * d..(v + 1) * b * d], b, d);
                    let mut best = active[0];
                    let mut best_ratio = local[best] / global[best];
                    for &j in &active[1..] {
                        let ratio = local[j] / global[j];
                        let better = match rule {
                            VoteRule::FixOneLowestVariance => ratio < best_ratio,
                            VoteRule::VaryOneHighestVariance => ratio > best_ratio,
                        };
                        if better {
                            best_ratio = ratio;
                            best = j;
                        }
                    }
                    votes[fixed][best] += 1;
                }
                done += group;
            }
            Ok(votes)
        };
    let train_votes = votes(&mut encoder, rng, config.num_train)?;
    let eval_votes = votes(&mut encoder, rng, config.num_eval)?;
    // Each code predicts its most voted factor.
    let classifier: Vec<usize> = (0..d)
        .map(|j| {
            let mut best = 0;
            for f in 1..k {
                if train_votes[f][j] > train_votes[best][j] {
                    best = f;
                }
            }
            best
        })
        .collect();
    let accuracy = |votes: &[Vec<u64>], total: usize| {
        (0..d).map(|j| votes[classifier[j]][j]).sum::<u64>() as f64 / total as f64
    };
    result.train_accuracy = accuracy(&train_votes, config.num_train);
    result.eval_accuracy = accuracy(&eval_votes, config.num_eval);
    result.train_votes = train_votes;
    Ok(result)
}

impl ToReport for FactorVaeResult {
    fn write_to(&self, r: &mut Report) {
        r.insert_f64("factor_vae.train_accuracy", self.train_accuracy);
        r.insert_f64("factor_vae.eval_accuracy", self.eval_accuracy);
        r.insert("factor_vae.num_active_dims", self.num_active_dims);
        r.insert(
            "factor_vae.global_variances",
            crate::report::vector(&self.global_variances),
        );
        r.insert("factor_vae.batch_size", self.batch_size);
        r.insert("factor_vae.num_train", self.num_train);
        r.insert("factor_vae.num_eval", self.num_eval);
        r.insert(
            "factor_vae.num_variance_estimate",
            self.num_variance_estimate,
        );
        r.insert_f64("factor_vae.prune_threshold", self.prune_threshold);
        r.insert_seed("factor_vae", self.seed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> FactorVaeConfig {
        FactorVaeConfig {
            num_train: 2000,
            num_eval: 1000,
            num_variance_estimate: 2000,
            ..Default::default()
        }
    }

    #[test]
    fn identity_scores_one_and_noise_scores_near_chance() {
        let sizes = FactorSizes::new(&[3, 6, 10, 8, 8]).unwrap();
        let mut identity =
            |f: &[usize]| -> Result<Vec<f32>, String> { Ok(f.iter().map(|&c| c as f32).collect()) };
        let r = factor_vae_score(&sizes, &mut identity, 0, &small()).unwrap();
        assert_eq!(r.eval_accuracy, 1.0, "{r:?}");
        assert_eq!(r.num_active_dims, 5);
        assert_eq!(r.seed, Some(0));

        let mut rng = ChaCha8Rng::seed_from_u64(99);
        let mut noise = |f: &[usize]| -> Result<Vec<f32>, String> {
            Ok((0..f.len() / 5 * 6)
                .map(|_| rng.random_range(-1.0f32..1.0))
                .collect())
        };
        let r = factor_vae_score(&sizes, &mut noise, 0, &small()).unwrap();
        // Chance is 1/5; a majority-vote classifier overfits a little.
        assert!(r.eval_accuracy < 0.35, "{r:?}");
    }

    #[test]
    fn no_active_dims_scores_zero_and_result_is_seeded() {
        let sizes = FactorSizes::new(&[3, 4]).unwrap();
        let mut flat = |f: &[usize]| -> Result<Vec<f32>, String> {
            Ok(f.iter().map(|&c| c as f32 * 0.001).collect())
        };
        let r = factor_vae_score(&sizes, &mut flat, 0, &small()).unwrap();
        assert_eq!((r.num_active_dims, r.eval_accuracy), (0, 0.0));
        // Same seed → same score, for a noisy representation whose noise is seeded too.
        let run = |seed| {
            let mut rng = ChaCha8Rng::seed_from_u64(1);
            let mut rep = |f: &[usize]| -> Result<Vec<f32>, String> {
                Ok(f.iter()
                    .map(|&c| c as f32 + rng.random_range(0.0f32..2.0))
                    .collect())
            };
            factor_vae_score(&sizes, &mut rep, seed, &small()).unwrap()
        };
        assert_eq!(run(5), run(5));
        assert!(run(5).eval_accuracy > 0.5);
        assert!(
            factor_vae_score(
                &sizes,
                &mut flat,
                0,
                &FactorVaeConfig {
                    batch_size: 1,
                    ..small()
                }
            )
            .is_err()
        );
    }
}
