//! DCIMIG (Sepliarskaia et al. 2019, as Zaidi et al.'s code computes it): each code's gap
//! between its two largest mutual informations with the factors is credited to the factor
//! it informs most; each factor keeps the largest credit it received; the score is the sum of
//! those credits over the sum of the factors' entropies. A factor encoded in no code of its
//! own gets 0, so duplicated or mixed codes lower it (compactness and modularity together).
//!
//! Estimator ([`crate::zaidi`]): 10 min-max bins for codes and factors, bits, unnormalized
//! I(factor; code). Ties for the most-informed factor go to the first. A constant code has a
//! zero column and credits nothing; factors that are all constant leave the score undefined
//! (an error).

use serde::{Deserialize, Serialize};

use crate::data::{Codes, Factors};
use crate::error::{Result, degenerate};
use crate::report::{Report, ToReport, matrix, vector};
use crate::zaidi::{BinnedSample, ZaidiConfig, first_argmax, top_two};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DcimigResult {
    pub score: f64,
    /// Largest gap credited to each factor, bits.
    pub per_factor: Vec<f64>,
    /// I(factor; code), bits, [factor][code].
    pub mutual_information: Vec<Vec<f64>>,
    pub factor_entropies: Vec<f64>,
    pub num_samples: usize,
    pub num_bins: usize,
}

pub fn dcimig(codes: &Codes, factors: &Factors, config: &ZaidiConfig) -> Result<DcimigResult> {
    config.check("dcimig")?;
    dcimig_binned(&BinnedSample::new(codes, factors, config)?, config)
}

pub fn dcimig_binned(sample: &BinnedSample, config: &ZaidiConfig) -> Result<DcimigResult> {
    let k = sample.factors.len();
    if k < 2 {
        return Err(degenerate("dcimig", format!("needs at least 2 factors, got {k}")));
    }
    let mi = sample.mutual_information();
    let entropies = sample.factor_entropies();
    let total: f64 = entropies.iter().sum();
    if total <= 0.0 {
        return Err(degenerate("dcimig", "every factor is constant in the sample"));
    }
    let mut per_factor = vec![0.0; k];
    for j in 0..sample.codes.len() {
        let column: Vec<f64> = mi.iter().map(|row| row[j]).collect();
        let (a, b) = top_two(&column);
        let f = first_argmax(&column);
        per_factor[f] = f64::max(per_factor[f], a - b);
    }
    Ok(DcimigResult {
        score: per_factor.iter().sum::<f64>() / total,
        per_factor,
        mutual_information: mi,
        factor_entropies: entropies,
        num_samples: sample.num_samples,
        num_bins: config.num_bins,
    })
}

impl ToReport for DcimigResult {
    fn write_to(&self, r: &mut Report) {
        r.insert_f64("dcimig.score", self.score);
        r.insert("dcimig.per_factor", vector(&self.per_factor));
        r.insert("dcimig.mutual_information_bits", matrix(&self.mutual_information));
        r.insert("dcimig.factor_entropies_bits", vector(&self.factor_entropies));
        r.insert("dcimig.num_samples", self.num_samples);
        r.insert("dcimig.num_bins", self.num_bins);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zaidi::golden::*;

    fn score(codes: &[Vec<f64>], factors: &[Vec<usize>]) -> f64 {
        let c = ZaidiConfig::default();
        dcimig_binned(&BinnedSample::from_columns(codes, factors, &c).unwrap(), &c).unwrap().score
    }

    #[test]
    fn equals_the_reference_code() {
        let a = arrays();
        // ubisoft-laforge-disentanglement-metrics `dcimig`; the constant code changes nothing.
        assert!(close(score(&a.mixed, &a.factors), 0.36855964369237415, 1e-12));
        assert!(close(score(&mixed5(&a), &a.factors), 0.36855964369237415, 1e-12));
        assert!(close(score(&a.identity, &a.factors), 0.99666801641484826, 1e-12));
    }

    #[test]
    fn a_duplicated_latent_lowers_it() {
        let a = arrays();
        let mut dup = a.identity.clone();
        dup[1] = dup[0].clone(); // factor 1 lost, factor 0 held twice
        // Factor 1's entropy (log₂ 5 of ≈ 8.5 bits in all) no longer counts.
        let s = score(&dup, &a.factors);
        assert!(s < 0.75 && s < score(&a.identity, &a.factors) - 0.25, "{s}");
    }
}
