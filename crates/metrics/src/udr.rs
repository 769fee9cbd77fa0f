//! UDR, the Unsupervised Disentanglement Ranking (Duan et al. 2020), as disentanglement_lib's
//! `udr_sklearn` computes it: model selection without labels, from how similar the
//! representations of models trained with different seeds are.
//!
//! Inputs per model: the mean codes of the same `num_data_points` observations (1,000 in the
//! reference) and each latent's mean KL divergence to the prior over them.
//!
//! 1. Each model's codes are standardized per latent (mean 0, population standard deviation
//!    1; a constant latent is only centred) and latents whose mean KL is ≤ 0.01 are set to 0
//!    (the reference hard-codes 0.01 here, whatever `kl_filter_threshold` says).
//! 2. For every ordered pair (i, j), i ≠ j, a similarity matrix R[a][b] between latent a of
//!    model i and latent b of model j: `lasso` — |coefficient| of a Lasso regression
//!    (α = 0.1, scikit-learn's solver and stopping rule, [`crate::lasso`]) of model j's latent
//!    b on all of model i's latents; `spearman` — |Spearman rank correlation| (average ranks for
//!    ties; NaN for a constant latent).
//! 3. With `filter_low_kl`, only the rows of latents of model i and the columns of latents of
//!    model j with KL > `kl_filter_threshold` are kept.
//! 4. The pair's score: the mean over columns of max² / sum and the mean over rows of the
//!    same, averaged ("relative strength"); a column or row whose max² / sum is NaN (all zero,
//!    or a NaN correlation) counts as 0.
//! 5. Model i's UDR is the median over j ≠ i of the score of pair (j, i).
//!
//! A model with no latent above the threshold has no similarity matrix: the reference fails
//! (numpy's max of an empty array); we return an error naming the model.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::Codes;
use crate::error::{MetricsError, Result, degenerate, invalid};
use crate::lasso::{Lasso, LassoConfig};
use crate::report::{Report, ToReport, matrix, vector};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UdrCorrelation {
    Lasso,
    Spearman,
}

impl UdrCorrelation {
    pub fn name(self) -> &'static str {
        match self {
            UdrCorrelation::Lasso => "lasso",
            UdrCorrelation::Spearman => "spearman",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UdrConfig {
    pub correlation: UdrCorrelation,
    /// Observations encoded by every model (the reference: 1,000).
    pub num_data_points: usize,
    pub filter_low_kl: bool,
    pub kl_filter_threshold: f64,
    /// The Lasso's α (the reference: 0.1).
    pub lasso_alpha: f64,
}

impl Default for UdrConfig {
    fn default() -> Self {
        UdrConfig { correlation: UdrCorrelation::Lasso, num_data_points: 1000, filter_low_kl: true, kl_filter_threshold: 0.01, lasso_alpha: 0.1 }
    }
}

/// One model's codes of the shared observations and its latents' mean KL.
#[derive(Debug, Clone, Copy)]
pub struct UdrModel<'a> {
    pub codes: Codes<'a>,
    pub kl: &'a [f64],
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UdrResult {
    /// UDR of each model (the median of its column of `pairwise`).
    pub model_scores: Vec<f64>,
    /// pairwise[i][j]: similarity score of model i's latents to model j's (0 on the diagonal).
    pub pairwise: Vec<Vec<f64>>,
    /// raw[i][j]: the unfiltered similarity matrix of the pair (empty on the diagonal).
    pub raw_correlations: Vec<Vec<Vec<Vec<f64>>>>,
    pub correlation: UdrCorrelation,
    pub num_data_points: usize,
}

impl ToReport for UdrResult {
    fn write_to(&self, r: &mut Report) {
        r.insert("udr.model_scores", vector(&self.model_scores));
        r.insert("udr.pairwise_disentanglement_scores", matrix(&self.pairwise));
        r.insert("udr.correlation", self.correlation.name());
        r.insert("udr.num_data_points", self.num_data_points);
    }
}

/// Standardized codes (column-major), latents with KL ≤ 0.01 zeroed.
fn standardize(codes: &Codes, kl: &[f64]) -> Vec<Vec<f64>> {
    (0..codes.num_codes())
        .map(|j| {
            let c = codes.column(j);
            let n = c.len() as f64;
            let mean = c.iter().sum::<f64>() / n;
            let var = c.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
            // scikit-learn's StandardScaler leaves a zero-variance column unscaled.
            let scale = if var == 0.0 { 1.0 } else { var.sqrt() };
            let keep = if kl[j] > 0.01 { 1.0 } else { 0.0 };
            c.iter().map(|v| (v - mean) / scale * keep).collect()
        })
        .collect()
}

/// Average ranks (1-based) of `values`, ties sharing the mean of their positions.
pub fn average_ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; values.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && values[order[j + 1]] == values[order[i]] {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        for &o in &order[i..=j] {
            ranks[o] = rank;
        }
        i = j + 1;
    }
    ranks
}

/// Spearman's rank correlation of `a` and `b` (NaN when either is constant).
pub fn spearman(a: &[f64], b: &[f64]) -> f64 {
    pearson(&average_ranks(a), &average_ranks(b))
}

fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        sab += (x - ma) * (y - mb);
        saa += (x - ma) * (x - ma);
        sbb += (y - mb) * (y - mb);
    }
    // A constant column has no correlation: NaN, as scipy's spearmanr returns.
    if saa == 0.0 || sbb == 0.0 { f64::NAN } else { (sab / (saa * sbb).sqrt()).clamp(-1.0, 1.0) }
}

/// The reference's relative-strength score of a similarity matrix (rows × columns).
pub fn relative_strength(m: &[Vec<f64>]) -> f64 {
    let rows = m.len();
    let cols = m.first().map_or(0, Vec::len);
    let strength = |values: &mut dyn Iterator<Item = f64>| {
        let (mut max, mut sum, mut nan) = (f64::NEG_INFINITY, 0.0, false);
        for v in values {
            nan |= v.is_nan();
            max = max.max(v);
            sum += v;
        }
        let s = max * max / sum;
        if nan || s.is_nan() { 0.0 } else { s }
    };
    let score_x = (0..cols).map(|c| strength(&mut (0..rows).map(|r| m[r][c]))).sum::<f64>() / cols as f64;
    let score_y = (0..rows).map(|r| strength(&mut m[r].iter().copied())).sum::<f64>() / rows as f64;
    (score_x + score_y) / 2.0
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// UDR of `models` (at least two; every one with the same number of rows and latents).
pub fn udr(models: &[UdrModel], config: &UdrConfig) -> Result<UdrResult> {
    if models.len() < 2 {
        return Err(degenerate("udr", format!("needs at least two models of one configuration (different seeds); got {}", models.len())));
    }
    if !(config.lasso_alpha >= 0.0 && config.kl_filter_threshold.is_finite()) {
        return Err(invalid("udr", "lasso_alpha must be ≥ 0 and kl_filter_threshold finite"));
    }
    let n = models[0].codes.num_samples();
    let d = models[0].codes.num_codes();
    for (i, m) in models.iter().enumerate() {
        if m.codes.num_samples() != n || m.codes.num_codes() != d {
            return Err(MetricsError::Shape { what: "udr model codes (every model: the same rows and latents)", got: m.codes.num_samples() * m.codes.num_codes(), expected: n * d });
        }
        if m.kl.len() != d {
            return Err(MetricsError::Shape { what: "udr model KL (one value per latent)", got: m.kl.len(), expected: d });
        }
        if let Some(p) = m.kl.iter().position(|v| !v.is_finite()) {
            return Err(MetricsError::NonFinite { what: "udr model KL", row: i, column: p, value: m.kl[p] });
        }
        if config.filter_low_kl && m.kl.iter().all(|&v| v <= config.kl_filter_threshold) {
            return Err(degenerate(
                "udr",
                format!("model {i} has no latent with mean KL above {} (every latent collapsed): it has no representation to compare", config.kl_filter_threshold),
            ));
        }
    }
    if n < 2 {
        return Err(degenerate("udr", format!("{n} data points; correlations need at least two")));
    }
    let reps: Vec<Vec<Vec<f64>>> = models.iter().map(|m| standardize(&m.codes, m.kl)).collect();
    let masks: Vec<Vec<bool>> = models.iter().map(|m| m.kl.iter().map(|&v| !config.filter_low_kl || v > config.kl_filter_threshold).collect()).collect();
    let ranks: Vec<Vec<Vec<f64>>> = match config.correlation {
        UdrCorrelation::Spearman => reps.iter().map(|r| r.iter().map(|c| average_ranks(c)).collect()).collect(),
        UdrCorrelation::Lasso => vec![],
    };
    let k = models.len();
    let pairs: Vec<(usize, usize)> = (0..k).flat_map(|i| (0..k).filter(move |&j| j != i).map(move |j| (i, j))).collect();
    let lasso = LassoConfig { alpha: config.lasso_alpha, ..LassoConfig::default() };
    let raw: Vec<Vec<Vec<f64>>> = pairs
        .par_iter()
        .map(|&(i, j)| -> Result<Vec<Vec<f64>>> {
            Ok(match config.correlation {
                UdrCorrelation::Lasso => {
                    // Row-major features of model i; one regression per latent of model j.
                    let x: Vec<f64> = (0..n).flat_map(|r| reps[i].iter().map(move |c| c[r])).collect();
                    let mut m = vec![vec![0.0; d]; d];
                    for b in 0..d {
                        let fit = Lasso::fit(&x, d, &reps[j][b], &lasso)?;
                        for (row, c) in m.iter_mut().zip(&fit.coef) {
                            row[b] = c.abs();
                        }
                    }
                    m
                }
                UdrCorrelation::Spearman => (0..d).map(|a| (0..d).map(|b| pearson(&ranks[i][a], &ranks[j][b]).abs()).collect()).collect(),
            })
        })
        .collect::<Result<_>>()?;
    crate::interrupt::check()?;
    let mut pairwise = vec![vec![0.0; k]; k];
    let mut raw_correlations = vec![vec![Vec::new(); k]; k];
    for (&(i, j), m) in pairs.iter().zip(raw) {
        let filtered: Vec<Vec<f64>> = (0..d).filter(|&a| masks[i][a]).map(|a| (0..d).filter(|&b| masks[j][b]).map(|b| m[a][b]).collect()).collect();
        pairwise[i][j] = relative_strength(&filtered);
        raw_correlations[i][j] = m;
    }
    let model_scores = (0..k).map(|i| median((0..k).filter(|&j| j != i).map(|j| pairwise[j][i]).collect())).collect();
    Ok(UdrResult { model_scores, pairwise, raw_correlations, correlation: config.correlation, num_data_points: n })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(n: usize, d: usize, f: impl Fn(usize, usize) -> f32) -> Vec<f32> {
        (0..n).flat_map(|r| (0..d).map(move |c| (r, c))).map(|(r, c)| f(r, c)).collect()
    }

    /// Deterministic pseudo-noise in [−1, 1).
    fn noise(r: usize, c: usize) -> f32 {
        // splitmix64 of the cell index.
        let mut z = (r as u64 * 64 + c as u64).wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (z >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }

    #[test]
    fn a_model_equals_itself_and_a_permuted_sign_flipped_copy() {
        let (n, d) = (400, 4);
        let a = codes(n, d, noise);
        // Latent c of b is ± latent perm[c] of a.
        let perm = [2, 0, 3, 1];
        let b = codes(n, d, |r, c| if c % 2 == 0 { -noise(r, perm[c]) } else { noise(r, perm[c]) });
        let kl = vec![1.0; d];
        for correlation in [UdrCorrelation::Spearman, UdrCorrelation::Lasso] {
            let config = UdrConfig { correlation, ..Default::default() };
            let models = [UdrModel { codes: Codes::new(&a, n, d).unwrap(), kl: &kl }, UdrModel { codes: Codes::new(&b, n, d).unwrap(), kl: &kl }];
            let r = udr(&models, &config).unwrap();
            // Spearman: a latent with its copy correlates exactly (|ρ| = 1), with the other
            // latents only by chance (|ρ| ~ 0.04 at 400 rows): max²/sum = 1 / (1 + Σ chance |ρ|)
            // ≈ 0.9 here, 1 only for exactly uncorrelated latents. Lasso: the
            // coefficient of a standardized copy is shrunk from 1 to 1 − α = 0.9 and the others
            // are 0, so the score is 0.9² / 0.9 = 0.9 — the reference's value for identical
            // models too (`udr31.json`, lasso|AA).
            let expected = if correlation == UdrCorrelation::Spearman { 0.85..=1.0 } else { 0.895..=0.905 };
            for s in &r.model_scores {
                assert!(expected.contains(s), "{correlation:?}: {s}");
            }
            let identical = [models[0], models[0]];
            let r = udr(&identical, &config).unwrap();
            assert!(expected.contains(&r.model_scores[0]), "{correlation:?}: {:?}", r.model_scores);
        }
    }

    #[test]
    fn relative_strength_of_a_permutation_is_one_and_of_uniform_is_one_over_d() {
        let p = vec![vec![0.0, 1.0, 0.0], vec![0.0, 0.0, 1.0], vec![1.0, 0.0, 0.0]];
        assert_eq!(relative_strength(&p), 1.0);
        let u = vec![vec![1.0; 4]; 4];
        assert_eq!(relative_strength(&u), 0.25);
        // An all-zero column and a NaN count as 0.
        let z = vec![vec![1.0, 0.0], vec![0.0, f64::NAN]];
        assert_eq!(relative_strength(&z), 0.5);
        assert_eq!(average_ranks(&[3.0, 1.0, 3.0, 2.0]), vec![3.5, 1.0, 3.5, 2.0]);
        assert_eq!(median(vec![3.0, 1.0, 2.0, 10.0]), 2.5);
    }

    #[test]
    fn collapsed_models_and_single_models_are_clear_errors() {
        let (n, d) = (50, 3);
        let a = codes(n, d, noise);
        let kl_ok = vec![1.0; d];
        let kl_dead = vec![0.0; d];
        let c = Codes::new(&a, n, d).unwrap();
        let err = udr(&[UdrModel { codes: c, kl: &kl_ok }], &UdrConfig::default()).unwrap_err();
        assert!(err.to_string().contains("two models"), "{err}");
        let err = udr(&[UdrModel { codes: c, kl: &kl_ok }, UdrModel { codes: c, kl: &kl_dead }], &UdrConfig::default()).unwrap_err();
        assert!(err.to_string().contains("model 1") && err.to_string().contains("collapsed"), "{err}");
        let err = udr(&[UdrModel { codes: c, kl: &kl_ok }, UdrModel { codes: c, kl: &kl_ok[..2] }], &UdrConfig::default()).unwrap_err();
        assert!(err.to_string().contains("KL"), "{err}");
    }
}
