//! MIG-sup (Li et al. 2020, as Zaidi et al.'s code computes it): for every *code*, the gap
//! between its two largest normalized mutual informations with the factors, averaged over
//! codes. It is MIG's transpose: MIG asks that each factor live in one code, MIG-sup that
//! each code hold one factor (modularity).
//!
//! Estimator ([`crate::zaidi`]): codes and factors binned into 10 min-max bins, information
//! in bits, the matrix I(factor; code) / H(code) — normalized by the *code's* entropy, as the
//! reference does. A constant code has H = 0 and an undefined column (the reference returns
//! NaN): an error naming the code.

use serde::{Deserialize, Serialize};

use crate::data::{Codes, Factors};
use crate::error::{Result, degenerate};
use crate::report::{Report, ToReport, matrix, vector};
use crate::zaidi::{BinnedSample, ZaidiConfig, top_two};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MigSupResult {
    pub score: f64,
    /// Gap per code.
    pub per_code: Vec<f64>,
    /// I(factor; code) / H(code), [factor][code].
    pub normalized_mi: Vec<Vec<f64>>,
    pub num_samples: usize,
    pub num_bins: usize,
}

/// I(f; c) / H(c), [factor][code]; an error for a constant code (the name says which metric).
pub(crate) fn code_normalized_mi(sample: &BinnedSample, metric: &'static str) -> Result<Vec<Vec<f64>>> {
    let hc = sample.code_entropies();
    if let Some(j) = hc.iter().position(|&h| h <= 0.0) {
        return Err(degenerate(metric, format!("code {j} is constant in the sample: I(factor; code) / H(code) is 0/0 (the reference returns NaN)")));
    }
    Ok(sample.mutual_information().into_iter().map(|row| row.iter().zip(&hc).map(|(m, h)| m / h).collect()).collect())
}

pub fn mig_sup(codes: &Codes, factors: &Factors, config: &ZaidiConfig) -> Result<MigSupResult> {
    config.check("mig_sup")?;
    mig_sup_binned(&BinnedSample::new(codes, factors, config)?, config)
}

pub fn mig_sup_binned(sample: &BinnedSample, config: &ZaidiConfig) -> Result<MigSupResult> {
    if sample.factors.len() < 2 {
        return Err(degenerate("mig-sup", format!("needs at least 2 factors, got {}", sample.factors.len())));
    }
    let m = code_normalized_mi(sample, "mig-sup")?;
    let per_code: Vec<f64> = (0..sample.codes.len())
        .map(|j| {
            let (a, b) = top_two(&m.iter().map(|row| row[j]).collect::<Vec<_>>());
            a - b
        })
        .collect();
    Ok(MigSupResult {
        score: per_code.iter().sum::<f64>() / per_code.len() as f64,
        per_code,
        normalized_mi: m,
        num_samples: sample.num_samples,
        num_bins: config.num_bins,
    })
}

impl ToReport for MigSupResult {
    fn write_to(&self, r: &mut Report) {
        r.insert_f64("mig_sup.score", self.score);
        r.insert("mig_sup.per_code", vector(&self.per_code));
        r.insert("mig_sup.normalized_mutual_information", matrix(&self.normalized_mi));
        r.insert("mig_sup.num_samples", self.num_samples);
        r.insert("mig_sup.num_bins", self.num_bins);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zaidi::golden::*;

    fn score(codes: &[Vec<f64>], factors: &[Vec<usize>]) -> Result<f64> {
        let c = ZaidiConfig::default();
        Ok(mig_sup_binned(&BinnedSample::from_columns(codes, factors, &c)?, &c)?.score)
    }

    #[test]
    fn equals_the_reference_code() {
        let a = arrays();
        // ubisoft-laforge-disentanglement-metrics `mig_sup` on the same arrays.
        assert!(close(score(&mixed5(&a), &a.factors).unwrap(), 0.28970352240452879, 1e-12));
        assert!(close(score(&a.identity, &a.factors).unwrap(), 0.99669951312969896, 1e-12));
        // With a constant code the reference returns NaN; we name the code.
        let e = score(&a.mixed, &a.factors).unwrap_err().to_string();
        assert!(e.contains("code 5 is constant"), "{e}");
    }

    #[test]
    fn a_code_mixing_two_factors_scores_lower_than_pure_codes() {
        let a = arrays();
        // Rotate codes 0 and 1 (each factor now in two codes, each code holding two factors).
        let rotated = rotated_identity(&a);
        assert!(score(&rotated, &a.factors).unwrap() < score(&a.identity, &a.factors).unwrap() - 0.1);
    }
}
