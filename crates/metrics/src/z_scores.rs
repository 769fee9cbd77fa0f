//! Zaidi et al.'s interventional scores under their names (`z-diff`, `z-min-var`,
//! `z-max-var`), on a representation function as our FactorVAE and BetaVAE scores are.
//!
//! - **`z-min-var`** is the FactorVAE score (Kim & Mnih 2018) with Zaidi et al.'s settings:
//!   batches of 200, 800 training and 800 evaluation votes, codes with standard deviation
//!   below 0.05 pruned; the evaluation accuracy rescaled from chance, (acc − 1/K) / (1 − 1/K).
//! - **`z-max-var`** (Zaidi et al.): the dual vote — factor k takes a random value in every row
//!   of the batch while the other factors keep one random value; the vote goes to the active
//!   code whose variance, normalized by its global variance, is *highest*; the same majority
//!   classifier and rescaled accuracy.
//! - **`z-diff`** is the BetaVAE score (Higgins et al. 2017) with batches of 200 pairs (10,000
//!   training and 5,000 evaluation points, a logistic regression), its accuracy rescaled.
//!
//! Zaidi et al.'s code draws its batches by resampling the rows of given arrays with numpy's
//! *unseeded* global generator (so its numbers vary from run to run) and bins the factors first
//! (its `z_max_var` default of 3 bins merges factor values; their experiments use 10, which
//! leaves factors with ≤ 10 classes as they are). Here batches are drawn from the factor space
//! with ChaCha8 seeded by the evaluation seed and factors keep their classes, so the two agree
//! in distribution, not digit for digit; identity codes score 1 in both.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::beta_vae::{BetaVaeConfig, beta_vae_score};
use crate::data::FactorSizes;
use crate::error::Result;
use crate::factor_vae::{FactorVaeConfig, FactorVaeResult, VoteRule, variance_vote_score};
use crate::report::{Report, ToReport};
use crate::representation::Representation;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ZVarConfig {
    pub batch_size: usize,
    pub num_train: usize,
    pub num_eval: usize,
    pub num_variance_estimate: usize,
    pub std_threshold: f64,
}

impl Default for ZVarConfig {
    fn default() -> Self {
        ZVarConfig { batch_size: 200, num_train: 800, num_eval: 800, num_variance_estimate: 10_000, std_threshold: 0.05 }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ZDiffConfig {
    pub batch_size: usize,
    pub num_train: usize,
    pub num_eval: usize,
}

impl Default for ZDiffConfig {
    fn default() -> Self {
        ZDiffConfig { batch_size: 200, num_train: 10_000, num_eval: 5_000 }
    }
}

/// A z-score: the rescaled evaluation accuracy and what it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ZScoreResult {
    /// `z_min_var`, `z_max_var` or `z_diff`.
    pub namespace: String,
    pub score: f64,
    pub train_accuracy: f64,
    pub eval_accuracy: f64,
    pub num_active_dims: Option<usize>,
    pub batch_size: usize,
    pub num_train: usize,
    pub num_eval: usize,
    pub seed: u64,
}

/// (acc − 1/K) / (1 − 1/K): 0 at chance, 1 when perfect.
pub fn rescale(accuracy: f64, num_factors: usize) -> f64 {
    let chance = 1.0 / num_factors as f64;
    (accuracy - chance) / (1.0 - chance)
}

fn from_votes(namespace: &str, r: FactorVaeResult, k: usize, seed: u64) -> ZScoreResult {
    ZScoreResult {
        namespace: namespace.into(),
        score: rescale(r.eval_accuracy, k),
        train_accuracy: r.train_accuracy,
        eval_accuracy: r.eval_accuracy,
        num_active_dims: Some(r.num_active_dims),
        batch_size: r.batch_size,
        num_train: r.num_train,
        num_eval: r.num_eval,
        seed,
    }
}

fn vote_config(c: &ZVarConfig, rows_per_call: usize) -> FactorVaeConfig {
    FactorVaeConfig {
        batch_size: c.batch_size,
        num_train: c.num_train,
        num_eval: c.num_eval,
        num_variance_estimate: c.num_variance_estimate,
        prune_threshold: c.std_threshold,
        rows_per_call,
    }
}

pub fn z_min_var<R: Representation>(gt: &FactorSizes, representation: &mut R, seed: u64, config: &ZVarConfig, rows_per_call: usize) -> Result<ZScoreResult> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let r = variance_vote_score(gt, representation, &mut rng, &vote_config(config, rows_per_call), VoteRule::FixOneLowestVariance)?;
    Ok(from_votes("z_min_var", r, gt.num_factors(), seed))
}

pub fn z_max_var<R: Representation>(gt: &FactorSizes, representation: &mut R, seed: u64, config: &ZVarConfig, rows_per_call: usize) -> Result<ZScoreResult> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let r = variance_vote_score(gt, representation, &mut rng, &vote_config(config, rows_per_call), VoteRule::VaryOneHighestVariance)?;
    Ok(from_votes("z_max_var", r, gt.num_factors(), seed))
}

pub fn z_diff<R: Representation>(gt: &FactorSizes, representation: &mut R, seed: u64, config: &ZDiffConfig, rows_per_call: usize) -> Result<ZScoreResult> {
    let c = BetaVaeConfig { batch_size: config.batch_size, num_train: config.num_train, num_eval: config.num_eval, rows_per_call, ..Default::default() };
    let r = beta_vae_score(gt, representation, seed, &c)?;
    Ok(ZScoreResult {
        namespace: "z_diff".into(),
        score: rescale(r.eval_accuracy, gt.num_factors()),
        train_accuracy: r.train_accuracy,
        eval_accuracy: r.eval_accuracy,
        num_active_dims: None,
        batch_size: config.batch_size,
        num_train: config.num_train,
        num_eval: config.num_eval,
        seed,
    })
}

impl ToReport for ZScoreResult {
    fn write_to(&self, r: &mut Report) {
        let ns = &self.namespace;
        r.insert_f64(format!("{ns}.score"), self.score);
        r.insert_f64(format!("{ns}.train_accuracy"), self.train_accuracy);
        r.insert_f64(format!("{ns}.eval_accuracy"), self.eval_accuracy);
        if let Some(a) = self.num_active_dims {
            r.insert(format!("{ns}.num_active_dims"), a);
        }
        r.insert(format!("{ns}.batch_size"), self.batch_size);
        r.insert(format!("{ns}.num_train"), self.num_train);
        r.insert(format!("{ns}.num_eval"), self.num_eval);
        r.insert_seed(ns, Some(self.seed));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sizes() -> FactorSizes {
        FactorSizes::new(&[3, 5, 4, 6]).unwrap()
    }

    /// Codes = factors, plus a constant code (pruned) and optional mixing.
    fn encoder(mix: bool) -> impl FnMut(&[usize]) -> Result<Vec<f32>, String> {
        move |f: &[usize]| {
            Ok(f.chunks(4)
                .flat_map(|r| {
                    let v: Vec<f32> = r.iter().map(|&x| x as f32).collect();
                    if mix { vec![v[0] + v[1], v[0] - v[1], v[2], v[3], 2.0] } else { vec![v[0], v[1], v[2], v[3], 2.0] }
                })
                .collect())
        }
    }

    fn small() -> ZVarConfig {
        ZVarConfig { batch_size: 50, num_train: 200, num_eval: 200, num_variance_estimate: 2000, std_threshold: 0.05 }
    }

    #[test]
    fn identity_codes_score_one_and_the_constant_code_is_pruned() {
        let (gt, c) = (sizes(), small());
        let min = z_min_var(&gt, &mut encoder(false), 1, &c, 1024).unwrap();
        let max = z_max_var(&gt, &mut encoder(false), 1, &c, 1024).unwrap();
        assert_eq!((min.score, max.score), (1.0, 1.0), "{min:?} {max:?}");
        assert_eq!(min.num_active_dims, Some(4));
        let d = z_diff(&gt, &mut encoder(false), 1, &ZDiffConfig { batch_size: 20, num_train: 300, num_eval: 200 }, 1024).unwrap();
        assert_eq!(d.score, 1.0, "{d:?}");
    }

    #[test]
    fn mixing_two_factors_into_two_codes_lowers_the_variance_scores() {
        let (gt, c) = (sizes(), small());
        let max = z_max_var(&gt, &mut encoder(true), 1, &c, 1024).unwrap();
        // Factors 0 and 1 both move codes 0 and 1: one of the two factors loses its code.
        assert!(max.score < 0.9, "{max:?}");
        // Seeded: the same seed, the same score; rows per call change nothing.
        assert_eq!(z_max_var(&gt, &mut encoder(true), 1, &c, 100).unwrap(), max);
    }

    /// The golden arrays' "mixed" codes as a representation: the same formulas, fresh noise.
    fn mixed(seed: u64) -> impl FnMut(&[usize]) -> Result<Vec<f32>, String> {
        use rand::Rng;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        move |f: &[usize]| {
            let mut g = || {
                let (u1, u2): (f64, f64) = (1.0 - rng.random::<f64>(), rng.random());
                (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
            };
            Ok(f.chunks(4)
                .flat_map(|r| {
                    let v: Vec<f64> = r.iter().map(|&x| x as f64).collect();
                    [v[0] + 0.3 * g(), v[1] + 0.5 * g(), 0.7 * v[2] + 0.7 * v[3] + 0.2 * g(), g(), v[1] - 0.5 * v[0] + 0.4 * g(), 2.0]
                        .map(|x| x as f32)
                })
                .collect())
        }
    }

    #[test]
    fn agree_in_distribution_with_the_reference_code() {
        // Zaidi et al.'s code on the golden arrays (2,000 rows of these codes), seeds 0–9:
        // z_min_var mean 0.6715 (0.652 … 0.688). Its z_max_var (factors as classes) depends on
        // the rows it resamples: 0.424 on the golden 2,000 rows, and on fresh draws of the same
        // codes (numpy seed 1, 5 seeds each) 0.367 for 2,000 rows, 0.346 for 20,000, 0.375
        // (0.333 … 0.410) for 100,000. Ours draws fresh batches from the factor space.
        let gt = sizes();
        let mean = |f: &dyn Fn(u64) -> f64| (0..5).map(f).sum::<f64>() / 5.0;
        let min = mean(&|s| z_min_var(&gt, &mut mixed(100 + s), s, &ZVarConfig::default(), 1024).unwrap().score);
        let max = mean(&|s| z_max_var(&gt, &mut mixed(100 + s), s, &ZVarConfig::default(), 1024).unwrap().score);
        assert!((min - 0.6715).abs() < 0.05, "z_min_var {min}");
        assert!((max - 0.36).abs() < 0.06, "z_max_var {max}");
    }

    #[test]
    fn rescaled_from_chance() {
        assert_eq!(rescale(0.25, 4), 0.0);
        assert_eq!(rescale(1.0, 4), 1.0);
    }
}
