//! The reduced downstream task of disentanglement_lib (`reduced_downstream_task.py`): how much
//! of a factor is still predictable after the code that carries most of it is removed
//! ("information leakage" into the other codes).
//!
//! For each training size and each factor of interest f: `num_factors_to_remove` times, fit
//! gradient-boosted trees predicting f from the remaining codes (the reference's
//! `factorwise_dci` importance) and delete the code with the largest importance (the first on
//! ties). Then a fresh predictor per factor on the reduced codes gives train and test
//! accuracies. Keys (the reference's, under `reduced_downstream.`), for size n:
//! `n:reduced_factor_{f}:mean_{train,test}_accuracy_reduced_factor` (factor f itself),
//! `n:reduced_factor_{f}:mean_{train,test}_accuracy_factor_{k}` (every factor k),
//! `n:reduced_factor_{f}:mean_{train,test}_accuracy_non_reduced_factor` (mean over k ≠ f), and
//! over all f: `n:mean_{train,test}_accuracy_reduced_factor`,
//! `n:mean_{train,test}_accuracy_other_factors`. We also report which codes were removed
//! (`n:reduced_factor_{f}:removed_codes`, indices into the original codes).
//!
//! Defaults: the reference's test configuration (`reduced_downstream_task.gin`): one code
//! removed, 100 training and 100 test points, gradient-boosted trees. Rows: as the downstream
//! task (a training pool of the largest size, the test rows after it; fewer rows are split in
//! proportion).

use serde::{Deserialize, Serialize};

use crate::data::{Codes, Factors, check_same_samples};
use crate::downstream::{Predictor, PredictorConfig, factor_accuracies};
use crate::error::{Result, degenerate, invalid};
use crate::gbt::{GbtConfig, GradientBoostedTrees};
use crate::report::{Report, ToReport};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReducedDownstreamConfig {
    pub num_factors_to_remove: usize,
    pub num_train: Vec<usize>,
    pub num_test: usize,
    pub predictor: Predictor,
    #[serde(default)]
    pub predictor_config: PredictorConfig,
}

impl Default for ReducedDownstreamConfig {
    fn default() -> Self {
        ReducedDownstreamConfig {
            num_factors_to_remove: 1,
            num_train: vec![100],
            num_test: 100,
            predictor: Predictor::BoostedTrees,
            predictor_config: PredictorConfig::default(),
        }
    }
}

impl ReducedDownstreamConfig {
    pub fn sample_size(&self) -> usize {
        self.num_train.iter().copied().max().unwrap_or(0) + self.num_test
    }
}

/// One factor of interest at one training size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReducedFactor {
    pub removed_codes: Vec<usize>,
    pub train_accuracy: Vec<f64>,
    pub test_accuracy: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReducedDownstreamResult {
    /// Per training size: (size, per factor of interest).
    pub sizes: Vec<(usize, Vec<ReducedFactor>)>,
    pub num_test: usize,
    pub seed: Option<u64>,
}

/// Copies `codes` (n×d) without the columns in `drop`.
fn keep_columns(codes: &[f32], d: usize, keep: &[usize]) -> Vec<f32> {
    codes.chunks_exact(d).flat_map(|row| keep.iter().map(move |&j| row[j])).collect()
}

pub fn reduced_downstream(codes: &Codes, factors: &Factors, config: &ReducedDownstreamConfig, seed: Option<u64>) -> Result<ReducedDownstreamResult> {
    check_same_samples(codes, factors)?;
    if config.num_train.is_empty() || config.num_train.contains(&0) || config.num_test == 0 {
        return Err(invalid("reduced_downstream", "num_train needs positive sizes and num_test must be positive"));
    }
    let (pool, num_test, train_sizes) = crate::downstream::fit_sizes("reduced_downstream", codes.num_samples(), &config.num_train, config.num_test)?;
    let (test_codes, test_factors) = (codes.rows(pool, num_test), factors.rows(pool, num_test));
    let mut sizes = Vec::new();
    for &n in &train_sizes {
        let train = (codes.rows(0, n), factors.rows(0, n));
        let per_factor = reduced_downstream_for_size((&train.0, &train.1), (&test_codes, &test_factors), config, seed.unwrap_or(0))?;
        sizes.push((n, per_factor));
    }
    Ok(ReducedDownstreamResult { sizes, num_test, seed })
}

/// The task at one training size: per factor of interest, the codes removed and every factor's
/// train and test accuracy on the remaining codes.
pub fn reduced_downstream_for_size(
    train: (&Codes, &Factors),
    test: (&Codes, &Factors),
    config: &ReducedDownstreamConfig,
    seed: u64,
) -> Result<Vec<ReducedFactor>> {
    let (train_codes, train_factors) = train;
    let (test_codes, test_factors) = test;
    let d = train_codes.num_codes();
    if config.num_factors_to_remove >= d {
        return Err(degenerate("reduced_downstream", format!("removing {} of {d} codes leaves none to predict from", config.num_factors_to_remove)));
    }
    let (n, num_test) = (train_codes.num_samples(), test_codes.num_samples());
    let mut per_factor = Vec::new();
    for f in 0..train_factors.num_factors() {
        let y = train_factors.column(f);
        let mut keep: Vec<usize> = (0..d).collect();
        let mut removed = Vec::new();
        for step in 0..config.num_factors_to_remove {
            let x = keep_columns(train_codes.values(), d, &keep);
            let boosting = GbtConfig { seed: config.predictor_config.boosting.seed ^ seed ^ ((f * 131 + step) as u64), ..config.predictor_config.boosting.clone() };
            let model = GradientBoostedTrees::fit(&x, keep.len(), &y, &boosting)?;
            let importance: Vec<f64> = model.feature_importances().iter().map(|v| v.abs()).collect();
            let best = crate::labels::argmax(&importance);
            removed.push(keep.remove(best));
        }
        let (xtr, xte) = (keep_columns(train_codes.values(), d, &keep), keep_columns(test_codes.values(), d, &keep));
        let (ctr, cte) = (Codes::new(&xtr, n, keep.len())?, Codes::new(&xte, num_test, keep.len())?);
        let (train_accuracy, test_accuracy) =
            factor_accuracies(config.predictor, (&ctr, train_factors), (&cte, test_factors), &config.predictor_config, seed ^ ((f as u64) << 20))?;
        per_factor.push(ReducedFactor { removed_codes: removed, train_accuracy, test_accuracy });
        crate::interrupt::check()?;
    }
    Ok(per_factor)
}

impl ToReport for ReducedDownstreamResult {
    fn write_to(&self, r: &mut Report) {
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        for (n, per_factor) in &self.sizes {
            let p = format!("reduced_downstream.{n}");
            let (mut red_tr, mut red_te, mut oth_tr, mut oth_te) = (vec![], vec![], vec![], vec![]);
            for (f, rf) in per_factor.iter().enumerate() {
                r.insert_f64(format!("{p}:reduced_factor_{f}:mean_train_accuracy_reduced_factor"), rf.train_accuracy[f]);
                r.insert_f64(format!("{p}:reduced_factor_{f}:mean_test_accuracy_reduced_factor"), rf.test_accuracy[f]);
                red_tr.push(rf.train_accuracy[f]);
                red_te.push(rf.test_accuracy[f]);
                for (k, (a, b)) in rf.train_accuracy.iter().zip(&rf.test_accuracy).enumerate() {
                    r.insert_f64(format!("{p}:reduced_factor_{f}:mean_train_accuracy_factor_{k}"), *a);
                    r.insert_f64(format!("{p}:reduced_factor_{f}:mean_test_accuracy_factor_{k}"), *b);
                }
                let others = |v: &[f64]| v.iter().enumerate().filter(|(k, _)| *k != f).map(|(_, x)| *x).collect::<Vec<_>>();
                let (otr, ote) = (mean(&others(&rf.train_accuracy)), mean(&others(&rf.test_accuracy)));
                r.insert_f64(format!("{p}:reduced_factor_{f}:mean_train_accuracy_non_reduced_factor"), otr);
                r.insert_f64(format!("{p}:reduced_factor_{f}:mean_test_accuracy_non_reduced_factor"), ote);
                oth_tr.push(otr);
                oth_te.push(ote);
                r.insert(format!("{p}:reduced_factor_{f}:removed_codes"), rf.removed_codes.clone());
            }
            r.insert_f64(format!("{p}:mean_train_accuracy_reduced_factor"), mean(&red_tr));
            r.insert_f64(format!("{p}:mean_test_accuracy_reduced_factor"), mean(&red_te));
            r.insert_f64(format!("{p}:mean_train_accuracy_other_factors"), mean(&oth_tr));
            r.insert_f64(format!("{p}:mean_test_accuracy_other_factors"), mean(&oth_te));
        }
        r.insert("reduced_downstream.num_test", self.num_test);
        r.insert_seed("reduced_downstream", self.seed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removing_the_only_code_of_a_factor_drops_it_to_chance_and_a_copy_leaks_it() {
        // Factors (4, 5); codes: factor 0, factor 1, and (for the leak) a copy of factor 0.
        let n = 400;
        let mut factors = Vec::new();
        let mut clean = Vec::new();
        let mut leaky = Vec::new();
        for i in 0..n {
            let (a, b) = (i % 4, (i * 7 / 3) % 5);
            factors.extend([a, b]);
            clean.extend([a as f32, b as f32, ((i * 37) % 11) as f32]);
            leaky.extend([a as f32, b as f32, a as f32 + 0.5]);
        }
        let f = Factors::new(&factors, n, 2).unwrap();
        let config = ReducedDownstreamConfig { num_train: vec![300], ..Default::default() };
        let r = reduced_downstream(&Codes::new(&clean, n, 3).unwrap(), &f, &config, Some(0)).unwrap();
        let (_, per_factor) = &r.sizes[0];
        assert_eq!(per_factor[0].removed_codes, vec![0]);
        assert_eq!(per_factor[1].removed_codes, vec![1]);
        assert!(per_factor[0].test_accuracy[0] < 0.6, "{:?}", per_factor[0]);
        assert_eq!(per_factor[0].test_accuracy[1], 1.0);
        let r = reduced_downstream(&Codes::new(&leaky, n, 3).unwrap(), &f, &config, Some(0)).unwrap();
        assert_eq!(r.sizes[0].1[0].test_accuracy[0], 1.0, "the copy still carries factor 0");
        let report = r.to_report();
        assert_eq!(report.get_f64("reduced_downstream.300:reduced_factor_0:mean_test_accuracy_reduced_factor"), Some(1.0));
        assert!(report.get_f64("reduced_downstream.300:mean_test_accuracy_other_factors").is_some());
        // Removing every code is an error.
        let bad = ReducedDownstreamConfig { num_factors_to_remove: 3, ..config };
        assert!(reduced_downstream(&Codes::new(&clean, n, 3).unwrap(), &f, &bad, None).is_err());
    }
}
