//! IRS, the Interventional Robustness Score (Suter et al. 2019), as disentanglement_lib
//! computes it (`irs`) and as Zaidi et al.'s code does (`irs:zaidi`).
//!
//! Codes whose variance in the sample is exactly 0 are dropped. For each remaining code c,
//! maxdev_c = max_n |z_nc − mean_c|. For each factor f and each of its distinct (discretized)
//! values v, the rows with f = v have the mean e_v; the `diff_quantile` quantile (numpy's
//! linear interpolation) of |z − e_v| over those rows is averaged over the values v: dev[c][f].
//! IRS[c][f] = 1 − dev[c][f] / maxdev_c; each code's score is its best factor's; the score is
//! the average of the codes' scores weighted by maxdev_c (their plain mean when every maxdev is
//! 0). With no code left the score is 0, as in the reference.
//!
//! Variants: `irs` (disentanglement_lib) uses `diff_quantile` 0.99 and discretizes the factors
//! into 20 bins on their raw range (a relabelling for ≤ 20 evenly spaced classes);
//! `irs:zaidi` uses 1.0 (the paper's definition, the maximum deviation) and 10 min-max bins.
//! Both score the first `num_train` rows of the sample. disentanglement_lib reports
//! `num_active_dims` as the *sum of the active codes' values* (np.sum of the matrix, not a
//! count); we report the count of active codes.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::{Codes, Factors, check_same_samples};
use crate::discretize::histogram_discretize;
use crate::error::{Result, invalid};
use crate::report::{Report, ToReport, matrix, vector};
use crate::zaidi::minmax_bin;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IrsConfig {
    pub num_train: usize,
    /// Quantile of the within-group deviations (disentanglement_lib 0.99; the paper 1.0).
    pub diff_quantile: f64,
    /// Bins of the factors' discretization (disentanglement_lib: 20 on the raw range).
    pub num_bins: usize,
}

impl Default for IrsConfig {
    fn default() -> Self {
        IrsConfig { num_train: 10_000, diff_quantile: 0.99, num_bins: 20 }
    }
}

/// Which discretization of the factors (the variants' one difference besides the quantile).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IrsVariant {
    DisentanglementLib,
    Zaidi,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IrsResult {
    pub score: f64,
    /// Best-factor score of each active code.
    pub disentanglement_scores: Vec<f64>,
    /// IRS[active code][factor].
    pub irs_matrix: Vec<Vec<f64>>,
    pub max_deviations: Vec<f64>,
    /// Indices (in the input) of the codes with nonzero variance.
    pub active_codes: Vec<usize>,
    pub diff_quantile: f64,
    pub num_samples: usize,
}

/// numpy's `percentile(..., method="linear")` of unsorted values, q in [0, 1] (the two order
/// statistics it needs are selected, not the whole slice sorted).
pub(crate) fn linear_quantile(values: &mut [f64], q: f64) -> f64 {
    let pos = q * (values.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = (lo + 1).min(values.len() - 1);
    let t = pos - lo as f64;
    let (_, a, above) = values.select_nth_unstable_by(lo, f64::total_cmp);
    let a = *a;
    // The next order statistic is the smallest value above position lo.
    let b = if hi == lo { a } else { above.iter().copied().fold(f64::INFINITY, f64::min) };
    // numpy's lerp: from the nearer end, so q = 1 gives the maximum exactly.
    if t >= 0.5 { b - (b - a) * (1.0 - t) } else { a + (b - a) * t }
}

pub fn irs(codes: &Codes, factors: &Factors, config: &IrsConfig, variant: IrsVariant) -> Result<IrsResult> {
    check_same_samples(codes, factors)?;
    let n = codes.num_samples().min(config.num_train);
    let code_columns: Vec<Vec<f64>> = (0..codes.num_codes()).map(|j| codes.column(j)[..n].to_vec()).collect();
    let factor_columns: Vec<Vec<usize>> = (0..factors.num_factors()).map(|k| factors.column(k)[..n].to_vec()).collect();
    irs_columns(&code_columns, &factor_columns, config, variant)
}

/// [`irs`] on columns (f64 codes, class factors).
pub fn irs_columns(codes: &[Vec<f64>], factors: &[Vec<usize>], config: &IrsConfig, variant: IrsVariant) -> Result<IrsResult> {
    if !(0.0..=1.0).contains(&config.diff_quantile) {
        return Err(invalid("diff_quantile", format!("{} (need a number in [0, 1])", config.diff_quantile)));
    }
    if config.num_train == 0 || config.num_bins == 0 || config.num_bins > crate::data::MAX_BINS {
        return Err(invalid("irs", format!("num_train {} and num_bins {} must be positive (bins ≤ {})", config.num_train, config.num_bins, crate::data::MAX_BINS)));
    }
    let n = codes.first().map_or(0, Vec::len);
    let labels: Vec<Vec<u32>> = factors
        .iter()
        .map(|f| {
            let values: Vec<f64> = f.iter().map(|&v| v as f64).collect();
            match variant {
                IrsVariant::DisentanglementLib => histogram_discretize(&values, config.num_bins),
                IrsVariant::Zaidi => Ok(minmax_bin(&values, config.num_bins)),
            }
        })
        .collect::<Result<_>>()?;
    let mean = |c: &[f64]| c.iter().sum::<f64>() / c.len() as f64;
    let active_codes: Vec<usize> = (0..codes.len())
        .filter(|&j| {
            let m = mean(&codes[j]);
            codes[j].iter().map(|v| (v - m) * (v - m)).sum::<f64>() / n as f64 > 0.0
        })
        .collect();
    let done = |scores: Vec<f64>, matrix: Vec<Vec<f64>>, devs: Vec<f64>, score: f64| IrsResult {
        score,
        disentanglement_scores: scores,
        irs_matrix: matrix,
        max_deviations: devs,
        active_codes: active_codes.clone(),
        diff_quantile: config.diff_quantile,
        num_samples: n,
    };
    // The reference: no active code (or active codes that are all exactly 0) scores 0.
    if active_codes.iter().all(|&j| codes[j].iter().all(|&v| v == 0.0)) {
        return Ok(done(vec![], vec![], vec![], 0.0));
    }
    // Row indices of each (factor, value) group, found once for every code.
    let groups: Vec<Vec<Vec<usize>>> = labels
        .iter()
        .map(|f| {
            let mut by_value: std::collections::BTreeMap<u32, Vec<usize>> = std::collections::BTreeMap::new();
            for (i, &l) in f.iter().enumerate() {
                by_value.entry(l).or_default().push(i);
            }
            by_value.into_values().collect()
        })
        .collect();
    let rows: Vec<(f64, Vec<f64>)> = active_codes
        .par_iter()
        .map(|&j| {
            let z = &codes[j];
            let m = mean(z);
            let md = z.iter().map(|v| (v - m).abs()).fold(0.0, f64::max);
            let mut diffs = Vec::new();
            let row = groups
                .iter()
                .map(|values| {
                    let total: f64 = values
                        .iter()
                        .map(|rows| {
                            let e = rows.iter().map(|&i| z[i]).sum::<f64>() / rows.len() as f64;
                            diffs.clear();
                            diffs.extend(rows.iter().map(|&i| (z[i] - e).abs()));
                            linear_quantile(&mut diffs, config.diff_quantile)
                        })
                        .sum();
                    1.0 - (total / values.len() as f64) / md
                })
                .collect();
            (md, row)
        })
        .collect();
    let (max_dev, irs_matrix): (Vec<f64>, Vec<Vec<f64>>) = rows.into_iter().unzip();
    let scores: Vec<f64> = irs_matrix.iter().map(|r| r.iter().copied().fold(f64::NEG_INFINITY, f64::max)).collect();
    let weight: f64 = max_dev.iter().sum();
    let score = if weight > 0.0 {
        scores.iter().zip(&max_dev).map(|(s, w)| s * w).sum::<f64>() / weight
    } else {
        scores.iter().sum::<f64>() / scores.len() as f64
    };
    Ok(done(scores, irs_matrix, max_dev, score))
}

impl IrsResult {
    fn write_as(&self, ns: &str, r: &mut Report) {
        r.insert_f64(format!("{ns}.score"), self.score);
        r.insert(format!("{ns}.disentanglement_scores"), vector(&self.disentanglement_scores));
        r.insert(format!("{ns}.irs_matrix"), matrix(&self.irs_matrix));
        r.insert(format!("{ns}.max_deviations"), vector(&self.max_deviations));
        r.insert(format!("{ns}.num_active_dims"), self.active_codes.len());
        r.insert(format!("{ns}.diff_quantile"), self.diff_quantile);
        r.insert(format!("{ns}.num_samples"), self.num_samples);
    }
}

/// The disentanglement_lib variant's report (`irs.score`, …).
pub struct IrsReport<'a>(pub &'a IrsResult);
/// The Zaidi et al. variant's report (`irs_zaidi.score`, …).
pub struct IrsZaidiReport<'a>(pub &'a IrsResult);

impl ToReport for IrsReport<'_> {
    fn write_to(&self, r: &mut Report) {
        self.0.write_as("irs", r);
    }
}
impl ToReport for IrsZaidiReport<'_> {
    fn write_to(&self, r: &mut Report) {
        self.0.write_as("irs_zaidi", r);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zaidi::golden::*;

    fn score(codes: &[Vec<f64>], factors: &[Vec<usize>], q: f64, variant: IrsVariant) -> f64 {
        let config = IrsConfig { diff_quantile: q, num_bins: if variant == IrsVariant::Zaidi { 10 } else { 20 }, ..Default::default() };
        irs_columns(codes, factors, &config, variant).unwrap().score
    }

    #[test]
    fn equals_both_reference_codes() {
        let a = arrays();
        // disentanglement_lib's `scalable_disentanglement_score` through `compute_irs` (q 0.99).
        assert!(close(score(&a.mixed, &a.factors, 0.99, IrsVariant::DisentanglementLib), 0.55461821816724588, 1e-12));
        assert!(close(score(&mixed5(&a), &a.factors, 0.99, IrsVariant::DisentanglementLib), 0.55461821816724588, 1e-12));
        assert_eq!(score(&a.identity, &a.factors, 0.99, IrsVariant::DisentanglementLib), 1.0);
        // Zaidi et al.'s `irs` (q 1.0), and disentanglement_lib's with q 1.0: the same number.
        for v in [IrsVariant::Zaidi, IrsVariant::DisentanglementLib] {
            assert!(close(score(&a.mixed, &a.factors, 1.0, v), 0.4457894814690298, 1e-12));
        }
        assert_eq!(score(&a.identity, &a.factors, 1.0, IrsVariant::Zaidi), 1.0);
        let r = irs_columns(&a.mixed, &a.factors, &IrsConfig::default(), IrsVariant::DisentanglementLib).unwrap();
        assert_eq!(r.active_codes, vec![0, 1, 2, 3, 4], "the constant code is dropped");
    }

    #[test]
    fn degenerate_codes_give_the_references_zero() {
        let a = arrays();
        let constant = vec![vec![2.0; 2000], vec![-1.0; 2000]];
        let r = irs_columns(&constant, &a.factors, &IrsConfig::default(), IrsVariant::DisentanglementLib).unwrap();
        assert_eq!((r.score, r.active_codes.len()), (0.0, 0));
    }

    #[test]
    fn numpy_linear_percentiles() {
        assert_eq!(linear_quantile(&mut [3.0, 1.0, 2.0, 4.0], 1.0), 4.0);
        assert!((linear_quantile(&mut [1.0, 2.0, 3.0, 4.0], 0.99) - 3.97).abs() < 1e-15);
        assert_eq!(linear_quantile(&mut [5.0], 0.5), 5.0);
    }
}
