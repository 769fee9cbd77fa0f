//! `sap:zaidi` — SAP as Zaidi et al.'s code computes it by default (`regression=True`): the
//! predictability of factor f from code c is the in-sample R² of a one-feature least-squares
//! fit, i.e. the squared Pearson correlation cov(z, f)² / (var z · var f) (0 for a constant
//! code); per factor the gap between its two most predictive codes, averaged over factors.
//! All rows of the sample (first `num_train`), factors as raw class indices.
//!
//! The reference study's `sap` (disentanglement_lib's default for discrete factors) instead
//! trains a balanced linear SVM per (code, factor) and takes test *accuracies*: the two are on
//! different scales and not comparable. disentanglement_lib's continuous-factor branch computes
//! this same squared correlation (on its training sample).

use serde::{Deserialize, Serialize};

use crate::data::{Codes, Factors, check_same_samples};
use crate::error::{Result, degenerate, invalid};
use crate::report::{Report, ToReport, matrix, vector};
use crate::zaidi::top_two;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SapZaidiConfig {
    pub num_train: usize,
}

impl Default for SapZaidiConfig {
    fn default() -> Self {
        SapZaidiConfig { num_train: 10_000 }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SapZaidiResult {
    pub score: f64,
    pub per_factor: Vec<f64>,
    /// R², [factor][code].
    pub r_squared: Vec<Vec<f64>>,
    pub num_samples: usize,
}

pub fn sap_zaidi(codes: &Codes, factors: &Factors, config: &SapZaidiConfig) -> Result<SapZaidiResult> {
    check_same_samples(codes, factors)?;
    if config.num_train < 2 {
        return Err(invalid("num_train", format!("sap:zaidi: {} (need at least 2 rows)", config.num_train)));
    }
    let n = codes.num_samples().min(config.num_train);
    let code_columns: Vec<Vec<f64>> = (0..codes.num_codes()).map(|j| codes.column(j)[..n].to_vec()).collect();
    let factor_columns: Vec<Vec<f64>> = (0..factors.num_factors()).map(|k| factors.column(k)[..n].iter().map(|&v| v as f64).collect()).collect();
    sap_zaidi_columns(&code_columns, &factor_columns)
}

/// Squared correlation of two columns; 0 when the first is constant.
fn r_squared(z: &[f64], f: &[f64]) -> f64 {
    let n = z.len() as f64;
    let (mz, mf) = (z.iter().sum::<f64>() / n, f.iter().sum::<f64>() / n);
    let (mut szz, mut sff, mut szf) = (0.0, 0.0, 0.0);
    for (a, b) in z.iter().zip(f) {
        let (da, db) = (a - mz, b - mf);
        szz += da * da;
        sff += db * db;
        szf += da * db;
    }
    if szz <= 0.0 { 0.0 } else { szf * szf / (szz * sff) }
}

/// [`sap_zaidi`] on columns.
pub fn sap_zaidi_columns(codes: &[Vec<f64>], factors: &[Vec<f64>]) -> Result<SapZaidiResult> {
    if codes.len() < 2 {
        return Err(degenerate("sap:zaidi", format!("needs at least 2 codes, got {}", codes.len())));
    }
    let n = codes[0].len();
    if let Some(k) = factors.iter().position(|f| f.iter().all(|&v| v == f[0])) {
        return Err(degenerate("sap:zaidi", format!("factor {k} is constant in the sample: its R² is 0/0 (the reference returns NaN)")));
    }
    let r2: Vec<Vec<f64>> = factors.iter().map(|f| codes.iter().map(|z| r_squared(z, f)).collect()).collect();
    let per_factor: Vec<f64> = r2
        .iter()
        .map(|row| {
            let (a, b) = top_two(row);
            a - b
        })
        .collect();
    Ok(SapZaidiResult { score: per_factor.iter().sum::<f64>() / per_factor.len() as f64, per_factor, r_squared: r2, num_samples: n })
}

impl ToReport for SapZaidiResult {
    fn write_to(&self, r: &mut Report) {
        r.insert_f64("sap_zaidi.score", self.score);
        r.insert("sap_zaidi.per_factor", vector(&self.per_factor));
        r.insert("sap_zaidi.r_squared", matrix(&self.r_squared));
        r.insert("sap_zaidi.num_samples", self.num_samples);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zaidi::golden::*;

    fn score(codes: &[Vec<f64>], factors: &[Vec<usize>]) -> f64 {
        let f: Vec<Vec<f64>> = factors.iter().map(|c| c.iter().map(|&v| v as f64).collect()).collect();
        sap_zaidi_columns(codes, &f).unwrap().score
    }

    #[test]
    fn equals_the_reference_code() {
        let a = arrays();
        // ubisoft-laforge-disentanglement-metrics `sap` (regression, the default); the
        // constant code has R² 0 and changes nothing.
        assert!(close(score(&a.mixed, &a.factors), 0.45570207527349471, 1e-12));
        assert!(close(score(&a.identity, &a.factors), 0.99923508104420322, 1e-12));
        let constant = vec![vec![1.0; 2000]; 4];
        let e = sap_zaidi_columns(&a.mixed, &constant).unwrap_err().to_string();
        assert!(e.contains("factor 0 is constant"), "{e}");
    }
}
