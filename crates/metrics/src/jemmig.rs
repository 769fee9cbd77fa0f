//! JEMMIG (Do & Tran 2020, as Zaidi et al.'s code computes it): for each factor y with its
//! most informative code z*, JEMMIG_y = 1 − (H(y, z*) − I(y; z*) + I(y; z°)) /
//! (H(y) + log₂ B), where z° is the second most informative code and B the number of bins;
//! the score is the mean over factors. The joint-entropy term penalizes a z* that holds more
//! than y (low modularity), the second code's information a y spread over codes.
//!
//! Estimator ([`crate::zaidi`]): B = 10 min-max bins for codes and factors, bits. The most
//! informative code is the *last* of tied maxima, as the reference's ascending sort gives it.

use serde::{Deserialize, Serialize};

use crate::data::{Codes, Factors};
use crate::error::{Result, degenerate};
use crate::report::{Report, ToReport, vector};
use crate::zaidi::{BinnedSample, ZaidiConfig, joint_entropy_bits, top_two};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JemmigResult {
    pub score: f64,
    pub per_factor: Vec<f64>,
    /// The most informative code of each factor.
    pub top_code: Vec<usize>,
    pub num_samples: usize,
    pub num_bins: usize,
}

pub fn jemmig(codes: &Codes, factors: &Factors, config: &ZaidiConfig) -> Result<JemmigResult> {
    config.check("jemmig")?;
    jemmig_binned(&BinnedSample::new(codes, factors, config)?, config)
}

pub fn jemmig_binned(sample: &BinnedSample, config: &ZaidiConfig) -> Result<JemmigResult> {
    if sample.codes.len() < 2 {
        return Err(degenerate("jemmig", format!("needs at least 2 codes, got {}", sample.codes.len())));
    }
    let mi = sample.mutual_information();
    let entropies = sample.factor_entropies();
    let log_bins = (config.num_bins as f64).log2();
    let mut per_factor = Vec::with_capacity(mi.len());
    let mut top_code = Vec::with_capacity(mi.len());
    for (f, row) in mi.iter().enumerate() {
        let (a, b) = top_two(row);
        let best = (0..row.len()).rev().find(|&j| row[j] == a).expect("the maximum is in the row");
        let joint = joint_entropy_bits(&sample.factors[f], &sample.codes[best]);
        per_factor.push(1.0 - (joint - a + b) / (entropies[f] + log_bins));
        top_code.push(best);
    }
    Ok(JemmigResult {
        score: per_factor.iter().sum::<f64>() / per_factor.len() as f64,
        per_factor,
        top_code,
        num_samples: sample.num_samples,
        num_bins: config.num_bins,
    })
}

impl ToReport for JemmigResult {
    fn write_to(&self, r: &mut Report) {
        r.insert_f64("jemmig.score", self.score);
        r.insert("jemmig.per_factor", vector(&self.per_factor));
        r.insert("jemmig.top_code", self.top_code.clone());
        r.insert("jemmig.num_samples", self.num_samples);
        r.insert("jemmig.num_bins", self.num_bins);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zaidi::golden::*;

    fn score(codes: &[Vec<f64>], factors: &[Vec<usize>]) -> f64 {
        let c = ZaidiConfig::default();
        jemmig_binned(&BinnedSample::from_columns(codes, factors, &c).unwrap(), &c).unwrap().score
    }

    #[test]
    fn equals_the_reference_code() {
        let a = arrays();
        // ubisoft-laforge-disentanglement-metrics `jemmig`.
        assert!(close(score(&a.mixed, &a.factors), 0.34362226357638609, 1e-12));
        assert!(close(score(&mixed5(&a), &a.factors), 0.34362226357638609, 1e-12));
        assert!(close(score(&a.identity, &a.factors), 0.99871445683399984, 1e-12));
    }

    #[test]
    fn noise_codes_score_low() {
        let a = arrays();
        // Codes that carry no factor (z3 of the mixed codes is pure noise). JEMMIG does not go
        // to 0 for them: H(y, z*) ≈ H(y) + H(z*) < H(y) + log₂ 10, about 0.13 here.
        let noise = vec![a.mixed[3].clone(), a.mixed[3].iter().map(|v| (v * 7.0).sin()).collect()];
        let s = score(&noise, &a.factors);
        assert!(s < 0.25 && s < score(&a.identity, &a.factors) - 0.7, "{s}");
    }
}
