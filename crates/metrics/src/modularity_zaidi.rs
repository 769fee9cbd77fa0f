//! `modularity:zaidi` — Ridgeway & Mozer's modularity as Zaidi et al.'s code computes it: for
//! each code with most-informed factor a, 1 − Σ_{f≠a} I(f; c)² / (I(a; c)² (K − 1)), averaged
//! over codes. Same formula as the reference study's `modularity` (disentanglement_lib); it
//! differs in the estimator (10 min-max bins for codes *and* factors instead of 20 raw bins
//! for codes only) and in a code that informs no factor: disentanglement_lib scores it 0 and
//! keeps it in the mean, Zaidi et al.'s code divides 0 by 0 (NaN). Here that is an error
//! naming the code, so a constant code cannot silently turn the score into NaN.

use serde::{Deserialize, Serialize};

use crate::data::{Codes, Factors};
use crate::error::{Result, degenerate};
use crate::report::{Report, ToReport, vector};
use crate::zaidi::{BinnedSample, ZaidiConfig, first_argmax};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModularityZaidiResult {
    pub score: f64,
    pub per_code: Vec<f64>,
    pub num_samples: usize,
    pub num_bins: usize,
}

pub fn modularity_zaidi(codes: &Codes, factors: &Factors, config: &ZaidiConfig) -> Result<ModularityZaidiResult> {
    config.check("modularity_zaidi")?;
    modularity_zaidi_binned(&BinnedSample::new(codes, factors, config)?, config)
}

pub fn modularity_zaidi_binned(sample: &BinnedSample, config: &ZaidiConfig) -> Result<ModularityZaidiResult> {
    let k = sample.factors.len();
    if k < 2 {
        return Err(degenerate("modularity:zaidi", format!("needs at least 2 factors, got {k}")));
    }
    let mi = sample.mutual_information();
    let per_code = (0..sample.codes.len())
        .map(|j| {
            let column: Vec<f64> = mi.iter().map(|row| row[j]).collect();
            let a = first_argmax(&column);
            if column[a] <= 0.0 {
                return Err(degenerate("modularity:zaidi", format!("code {j} informs no factor (0/0; the reference returns NaN)")));
            }
            let off: f64 = column.iter().enumerate().filter(|(f, _)| *f != a).map(|(_, m)| m * m).sum();
            Ok(1.0 - off / (column[a] * column[a] * (k - 1) as f64))
        })
        .collect::<Result<Vec<f64>>>()?;
    Ok(ModularityZaidiResult {
        score: per_code.iter().sum::<f64>() / per_code.len() as f64,
        per_code,
        num_samples: sample.num_samples,
        num_bins: config.num_bins,
    })
}

impl ToReport for ModularityZaidiResult {
    fn write_to(&self, r: &mut Report) {
        r.insert_f64("modularity_zaidi.score", self.score);
        r.insert("modularity_zaidi.per_code", vector(&self.per_code));
        r.insert("modularity_zaidi.num_samples", self.num_samples);
        r.insert("modularity_zaidi.num_bins", self.num_bins);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zaidi::golden::*;

    fn score(codes: &[Vec<f64>], factors: &[Vec<usize>]) -> Result<f64> {
        let c = ZaidiConfig::default();
        Ok(modularity_zaidi_binned(&BinnedSample::from_columns(codes, factors, &c)?, &c)?.score)
    }

    #[test]
    fn equals_the_reference_code() {
        let a = arrays();
        // ubisoft-laforge-disentanglement-metrics `modularity`.
        assert!(close(score(&mixed5(&a), &a.factors).unwrap(), 0.94499644419482143, 1e-12));
        assert!(close(score(&a.identity, &a.factors).unwrap(), 0.99999336216474632, 1e-12));
        assert!(score(&a.mixed, &a.factors).unwrap_err().to_string().contains("code 5 informs no factor"));
    }

    #[test]
    fn a_rotation_of_two_latents_lowers_it() {
        let a = arrays();
        let rotated = rotated_identity(&a);
        // 0.981 vs 0.99999: each rotated code now informs two factors.
        let (r, i) = (score(&rotated, &a.factors).unwrap(), score(&a.identity, &a.factors).unwrap());
        assert!(r < i - 0.01, "{r} vs {i}");
    }
}
