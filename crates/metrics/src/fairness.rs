//! Unfairness of classifiers trained on the codes (Locatello et al. 2019, "On the Fairness of
//! Disentangled Representations", §4; disentanglement_lib's `fairness.py`).
//!
//! For every target factor i a predictor (gradient-boosted trees by default, as in the
//! reference's fairness study) is trained on `num_train` codes to predict factor i. For every
//! sensitive factor j ≠ i, `num_test_points_per_class` factor vectors are drawn once; for each
//! value c of factor j, factor j of all of them is set to c, the vectors are encoded and
//! factor i is predicted: column c of the count matrix (predicted class × value of j). From
//! the counts: p(ŷ) the overall distribution of predictions, p(ŷ | j = c) per value;
//! TV_c = ½ Σ_ŷ |p(ŷ | c) − p(ŷ)|; the pair's mean unfairness is Σ_c TV_c n_c / Σ n_c and its
//! maximum unfairness max_c TV_c. The reference computes these in float32 (numpy's
//! promotions: TVs in float32, the weighted mean in float64); we do the same, so the numbers
//! agree to the last bit on identical counts.
//!
//! Aggregates (`mean_fairness:…` and `max_fairness:…`, the reference's keys): per pair
//! `pred{i}:sens{j}`; per target `pred{i}:mean_sens` / `pred{i}:max_sens` over j ≠ i; per
//! sensitive factor `sens{j}:mean_pred` / `sens{j}:max_pred`; and the eight combinations
//! `mean_sens:mean_pred`, … , `max_pred:max_sens`. The paper's score is
//! `mean_fairness:mean_pred:mean_sens`.
//!
//! Draws: factor vectors uniformly (ChaCha8 seeded with the evaluation seed): the training
//! set first, then for i = 0.. and j ≠ i in order, one test set each. A representation that
//! does not encode factor j gives identical predictions for every c: unfairness 0.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::data::{Codes, FactorSizes, Factors};
use crate::downstream::{FittedPredictor, Predictor, PredictorConfig};
use crate::error::{Result, degenerate, invalid};
use crate::report::{Report, ToReport, matrix};
use crate::representation::{Encoder, Representation};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FairnessConfig {
    pub num_train: usize,
    pub num_test_points_per_class: usize,
    pub predictor: Predictor,
    #[serde(default)]
    pub predictor_config: PredictorConfig,
}

impl Default for FairnessConfig {
    fn default() -> Self {
        // disentanglement_lib's fairness_study_v1/metric_configs/fairness.gin.
        FairnessConfig {
            num_train: 10_000,
            num_test_points_per_class: 100,
            predictor: Predictor::BoostedTrees,
            predictor_config: PredictorConfig::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FairnessResult {
    /// [target i][sensitive j]; the diagonal is 0 and not reported.
    pub mean_fairness: Vec<Vec<f64>>,
    pub max_fairness: Vec<Vec<f64>>,
    pub num_train: usize,
    pub num_test_points_per_class: usize,
    pub seed: Option<u64>,
}

/// (mean, max) total-variation unfairness of a count matrix (rows: predicted classes,
/// columns: values of the sensitive factor), in the reference's float32 arithmetic. A value
/// of the sensitive factor with no predictions makes its TV NaN, as in the reference.
pub fn inter_group_fairness(counts: &[Vec<u64>]) -> (f64, f64) {
    let rows = counts.len();
    let cols = counts.first().map_or(0, Vec::len);
    let overall: Vec<f32> = counts.iter().map(|r| r.iter().fold(0f32, |s, &c| s + c as f32)).collect();
    let total = overall.iter().fold(0f32, |s, &v| s + v);
    let overall: Vec<f32> = overall.iter().map(|v| v / total).collect();
    let per_class: Vec<u64> = (0..cols).map(|c| counts.iter().map(|r| r[c]).sum()).collect();
    let mut tv = vec![0f32; cols];
    for (r, row) in counts.iter().enumerate().take(rows) {
        for c in 0..cols {
            // float32 / int64 is computed in float64 and stored as float32 (numpy's in-place
            // division), the difference in float32.
            let normalized = (f64::from(row[c] as f32) / per_class[c] as f64) as f32;
            tv[c] += (normalized - overall[r]).abs();
        }
    }
    let tv: Vec<f32> = tv.iter().map(|v| v / 2.0).collect();
    let class_total: u64 = per_class.iter().sum();
    let mean: f64 = tv.iter().zip(&per_class).map(|(&t, &n)| f64::from(t) * n as f64 / class_total as f64).sum();
    let max = tv.iter().copied().fold(f32::NEG_INFINITY, |m, v| if v > m || v.is_nan() { v } else { m });
    (mean, f64::from(max))
}

/// The reference's aggregates of a fairness matrix, keys `{prefix}:…`.
#[allow(clippy::needless_range_loop)] // rows and columns of one matrix, by index
pub fn fairness_scores(metric: &[Vec<f64>], prefix: &str) -> Vec<(String, f64)> {
    let k = metric.len();
    let mut out = Vec::new();
    for (i, row) in metric.iter().enumerate() {
        for (j, &v) in row.iter().enumerate() {
            if i != j {
                out.push((format!("{prefix}:pred{i}:sens{j}"), v));
            }
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let max = |v: &[f64]| v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (mut row_means, mut row_maxs, mut col_means, mut col_maxs) = (vec![], vec![], vec![], vec![]);
    for i in 0..k {
        let v: Vec<f64> = (0..k).filter(|&j| j != i).map(|j| metric[i][j]).collect();
        out.push((format!("{prefix}:pred{i}:mean_sens"), mean(&v)));
        out.push((format!("{prefix}:pred{i}:max_sens"), max(&v)));
        row_means.push(mean(&v));
        row_maxs.push(max(&v));
    }
    for j in 0..k {
        let v: Vec<f64> = (0..k).filter(|&i| i != j).map(|i| metric[i][j]).collect();
        out.push((format!("{prefix}:sens{j}:mean_pred"), mean(&v)));
        out.push((format!("{prefix}:sens{j}:max_pred"), max(&v)));
        col_means.push(mean(&v));
        col_maxs.push(max(&v));
    }
    out.push((format!("{prefix}:mean_sens:mean_pred"), mean(&col_means)));
    out.push((format!("{prefix}:mean_sens:max_pred"), mean(&col_maxs)));
    out.push((format!("{prefix}:max_sens:mean_pred"), max(&col_means)));
    out.push((format!("{prefix}:max_sens:max_pred"), max(&col_maxs)));
    out.push((format!("{prefix}:mean_pred:mean_sens"), mean(&row_means)));
    out.push((format!("{prefix}:mean_pred:max_sens"), mean(&row_maxs)));
    out.push((format!("{prefix}:max_pred:mean_sens"), max(&row_means)));
    out.push((format!("{prefix}:max_pred:max_sens"), max(&row_maxs)));
    out
}

impl ToReport for FairnessResult {
    fn write_to(&self, r: &mut Report) {
        for (name, m) in [("mean_fairness", &self.mean_fairness), ("max_fairness", &self.max_fairness)] {
            for (key, v) in fairness_scores(m, name) {
                r.insert_f64(format!("fairness.{key}"), v);
            }
        }
        r.insert("fairness.mean_fairness_matrix", matrix(&self.mean_fairness));
        r.insert("fairness.max_fairness_matrix", matrix(&self.max_fairness));
        r.insert("fairness.num_train", self.num_train);
        r.insert("fairness.num_test_points_per_class", self.num_test_points_per_class);
        r.insert_seed("fairness", self.seed);
    }
}

/// Fairness with factor vectors drawn from ChaCha8 seeded with `seed`.
pub fn fairness<R: Representation>(
    ground_truth: &FactorSizes,
    representation: &mut R,
    seed: u64,
    config: &FairnessConfig,
    rows_per_call: usize,
) -> Result<FairnessResult> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut result = fairness_with_sampler(ground_truth, representation, |n| ground_truth.sample(n, &mut rng), config, rows_per_call, seed)?;
    result.seed = Some(seed);
    Ok(result)
}

/// Fairness drawing its factor vectors (n×K, row-major) from `sample` in the order of the
/// module notes; `seed` varies the trees' feature orders.
#[allow(clippy::needless_range_loop)] // class c of factor j is also the column index of the counts
pub fn fairness_with_sampler<R: Representation>(
    ground_truth: &FactorSizes,
    representation: &mut R,
    mut sample: impl FnMut(usize) -> Vec<usize>,
    config: &FairnessConfig,
    rows_per_call: usize,
    seed: u64,
) -> Result<FairnessResult> {
    if config.num_train == 0 || config.num_test_points_per_class == 0 {
        return Err(invalid("fairness", "num_train and num_test_points_per_class must be positive"));
    }
    let sizes = ground_truth.sizes();
    let k = sizes.len();
    if k < 2 {
        return Err(degenerate("fairness", "needs at least two factors (a target and a sensitive one)"));
    }
    let mut encoder = Encoder::new(representation, k);
    let train_factors = sample(config.num_train);
    let train_codes = encoder.encode_chunked(&train_factors, rows_per_call)?;
    let d = encoder.num_codes().expect("encoded at least one row");
    let codes = Codes::new(&train_codes, config.num_train, d)?;
    let factors = Factors::new(&train_factors, config.num_train, k)?;
    let mut mean_fairness = vec![vec![0.0; k]; k];
    let mut max_fairness = vec![vec![0.0; k]; k];
    for i in 0..k {
        let model = FittedPredictor::fit(
            config.predictor,
            codes.values(),
            d,
            &factors.column(i),
            &config.predictor_config,
            seed ^ (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15),
        )?;
        for j in 0..k {
            if i == j {
                continue;
            }
            let original = sample(config.num_test_points_per_class);
            let mut counts = vec![vec![0u64; sizes[j]]; sizes[i]];
            for c in 0..sizes[j] {
                let mut intervened = original.clone();
                intervened.chunks_mut(k).for_each(|row| row[j] = c);
                let z = encoder.encode_chunked(&intervened, rows_per_call)?;
                for p in model.predict(&z, d)? {
                    // Predictions are classes of the training labels, all < sizes[i].
                    counts[p.min(sizes[i] - 1)][c] += 1;
                }
            }
            let (mean, max) = inter_group_fairness(&counts);
            mean_fairness[i][j] = mean;
            max_fairness[i][j] = max;
            crate::interrupt::check()?;
        }
    }
    Ok(FairnessResult {
        mean_fairness,
        max_fairness,
        num_train: config.num_train,
        num_test_points_per_class: config.num_test_points_per_class,
        seed: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_without_the_sensitive_factor_is_fair_and_one_with_it_is_not() {
        let sizes = FactorSizes::new(&[3, 4]).unwrap();
        // Codes hold factor 0 only: predictions of factor 0 ignore interventions on factor 1.
        let mut only_first = |f: &[usize]| -> Result<Vec<f32>, String> { Ok(f.chunks(2).map(|r| r[0] as f32).collect()) };
        let config = FairnessConfig { num_train: 300, num_test_points_per_class: 40, ..Default::default() };
        let r = fairness(&sizes, &mut only_first, 1, &config, 64).unwrap();
        assert_eq!(r.mean_fairness[0][1], 0.0);
        assert_eq!(r.max_fairness[0][1], 0.0);
        // A code that mixes both factors into one number: predicting factor 0 from it moves
        // with factor 1.
        let mut mixed = |f: &[usize]| -> Result<Vec<f32>, String> { Ok(f.chunks(2).map(|r| (r[0] + r[1]) as f32).collect()) };
        let r = fairness(&sizes, &mut mixed, 1, &config, 64).unwrap();
        assert!(r.mean_fairness[0][1] > 0.2, "{:?}", r.mean_fairness);
        let report = r.to_report();
        assert!(report.get_f64("fairness.mean_fairness:mean_pred:mean_sens").is_some());
        assert!(report.get_f64("fairness.max_fairness:pred1:sens0").is_some());
        assert!(report.get_f64("fairness.max_fairness:pred0:sens0").is_none());
    }

    #[test]
    fn one_factor_is_a_clear_error() {
        let sizes = FactorSizes::new(&[3]).unwrap();
        let mut id = |f: &[usize]| -> Result<Vec<f32>, String> { Ok(f.iter().map(|&v| v as f32).collect()) };
        let err = fairness(&sizes, &mut id, 0, &FairnessConfig::default(), 64).unwrap_err();
        assert!(err.to_string().contains("two factors"), "{err}");
    }
}
