//! `mig:zaidi` — MIG as Zaidi et al.'s code computes it ("MIG-RMIG"). It differs from the
//! reference study's `mig` (disentanglement_lib) in three ways, so the numbers of papers using
//! either are not comparable: (1) each mutual information is divided by the entropy of the
//! *code* (not of the factor, as Chen et al. define it); (2) codes are cut into 10 bins after
//! min-max scaling (not 20 on the raw range) and the factors are binned the same way (merging
//! classes of factors with more than 10 values); (3) information in bits (the ratio makes this
//! irrelevant). The gap between a factor's two largest normalized values, averaged over
//! factors. A constant code is 0/0 in the reference (NaN); an error here.

use serde::{Deserialize, Serialize};

use crate::data::{Codes, Factors};
use crate::error::{Result, degenerate};
use crate::mig_sup::code_normalized_mi;
use crate::report::{Report, ToReport, matrix, vector};
use crate::zaidi::{BinnedSample, ZaidiConfig, top_two};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MigZaidiResult {
    pub score: f64,
    pub per_factor: Vec<f64>,
    /// I(factor; code) / H(code), [factor][code].
    pub normalized_mi: Vec<Vec<f64>>,
    pub num_samples: usize,
    pub num_bins: usize,
}

pub fn mig_zaidi(codes: &Codes, factors: &Factors, config: &ZaidiConfig) -> Result<MigZaidiResult> {
    config.check("mig_zaidi")?;
    mig_zaidi_binned(&BinnedSample::new(codes, factors, config)?, config)
}

pub fn mig_zaidi_binned(sample: &BinnedSample, config: &ZaidiConfig) -> Result<MigZaidiResult> {
    if sample.codes.len() < 2 {
        return Err(degenerate("mig:zaidi", format!("needs at least 2 codes, got {}", sample.codes.len())));
    }
    let m = code_normalized_mi(sample, "mig:zaidi")?;
    let per_factor: Vec<f64> = m
        .iter()
        .map(|row| {
            let (a, b) = top_two(row);
            a - b
        })
        .collect();
    Ok(MigZaidiResult {
        score: per_factor.iter().sum::<f64>() / per_factor.len() as f64,
        per_factor,
        normalized_mi: m,
        num_samples: sample.num_samples,
        num_bins: config.num_bins,
    })
}

impl ToReport for MigZaidiResult {
    fn write_to(&self, r: &mut Report) {
        r.insert_f64("mig_zaidi.score", self.score);
        r.insert("mig_zaidi.per_factor", vector(&self.per_factor));
        r.insert("mig_zaidi.normalized_mutual_information", matrix(&self.normalized_mi));
        r.insert("mig_zaidi.num_samples", self.num_samples);
        r.insert("mig_zaidi.num_bins", self.num_bins);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zaidi::golden::*;

    fn score(codes: &[Vec<f64>], factors: &[Vec<usize>]) -> Result<f64> {
        let c = ZaidiConfig::default();
        Ok(mig_zaidi_binned(&BinnedSample::from_columns(codes, factors, &c)?, &c)?.score)
    }

    #[test]
    fn equals_the_reference_code() {
        let a = arrays();
        // ubisoft-laforge-disentanglement-metrics `mig`.
        assert!(close(score(&mixed5(&a), &a.factors).unwrap(), 0.1981279789581426, 1e-12));
        assert!(close(score(&a.identity, &a.factors).unwrap(), 0.99669644511835631, 1e-12));
        assert!(score(&a.mixed, &a.factors).unwrap_err().to_string().contains("code 5 is constant"));
    }

    #[test]
    fn differs_from_the_reference_studys_mig() {
        // disentanglement_lib's MIG on the same rows (factor-normalized, 20 raw bins): 0.336.
        let a = arrays();
        let n = a.factors[0].len();
        let codes: Vec<f32> = (0..n).flat_map(|i| mixed5(&a).iter().map(move |c| c[i] as f32).collect::<Vec<_>>()).collect();
        let factors: Vec<usize> = (0..n).flat_map(|i| a.factors.iter().map(move |f| f[i]).collect::<Vec<_>>()).collect();
        let dlib = crate::mig::mig(&Codes::new(&codes, n, 5).unwrap(), &Factors::new(&factors, n, 4).unwrap(), &Default::default()).unwrap();
        assert!(close(dlib.score, 0.33629890148321595, 1e-6), "{}", dlib.score);
        assert!((dlib.score - score(&mixed5(&a), &a.factors).unwrap()).abs() > 0.1);
    }
}
