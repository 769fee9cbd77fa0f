//! `dci:zaidi` — DCI (Eastwood & Williams 2018) as Zaidi et al.'s code computes it by default
//! (`model='lasso'`). Factors and codes are min-max scaled to [0, 1]; per factor a Lasso
//! ([`crate::lasso`], scikit-learn's solver) regresses the scaled factor on all codes, its α
//! chosen from {1e-4, 1e-3, 1e-2, 0.1, 0.2, 0.4, 0.8, 1} by the smallest mean squared error of
//! a 10-fold contiguous cross-validation (`max_iter` 5,000; the first α on ties), then refitted
//! on all rows (`max_iter` 1,000); importances |w|; informativeness max(1 − 12 MSE, 0) on the
//! rows it was fitted on (12 MSE is 1 for a constant prediction of a uniform factor).
//!
//! Aggregation, with the reference's quirks kept so the numbers compare:
//! - disentanglement: per code c, ρ_c = Σ_f |w_fc| and D_c = 1 − H_K(|w_·c| / ρ_c); **the loop
//!   stops at the first code with ρ_c = 0**, leaving it and every later code at 0; D = Σ D_c ρ_c
//!   / Σ ρ.
//! - completeness: per factor 1 − H_D(|w_f·| / Σ|w_f·|), D counting every code (a factor with
//!   all-zero weights has completeness 0); the **unweighted** mean over factors.
//!
//! It differs from the reference study's `dci` (disentanglement_lib): gradient-boosted
//! classifiers on raw codes and classes, importance-weighted completeness, accuracy on a test
//! set as informativeness.

use serde::{Deserialize, Serialize};

use crate::data::{Codes, Factors, check_same_samples};
use crate::error::{Result, degenerate, invalid};
use crate::lasso::{Lasso, LassoConfig, cross_validated_mse, mse};
use crate::report::{Report, ToReport, matrix, vector};
use crate::zaidi::minmax_scale;

const ALPHAS: [f64; 8] = [1e-4, 1e-3, 1e-2, 0.1, 0.2, 0.4, 0.8, 1.0];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DciZaidiConfig {
    pub num_train: usize,
}

impl Default for DciZaidiConfig {
    fn default() -> Self {
        DciZaidiConfig { num_train: 10_000 }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DciZaidiResult {
    pub disentanglement: f64,
    pub completeness: f64,
    pub informativeness: f64,
    /// |w|, [factor][code].
    pub importance: Vec<Vec<f64>>,
    pub alphas: Vec<f64>,
    pub per_factor_informativeness: Vec<f64>,
    pub num_samples: usize,
}

pub fn dci_zaidi(codes: &Codes, factors: &Factors, config: &DciZaidiConfig) -> Result<DciZaidiResult> {
    check_same_samples(codes, factors)?;
    if config.num_train < 10 {
        return Err(invalid("num_train", format!("dci:zaidi: {} (10-fold cross-validation needs at least 10 rows)", config.num_train)));
    }
    let n = codes.num_samples().min(config.num_train);
    let code_columns: Vec<Vec<f64>> = (0..codes.num_codes()).map(|j| codes.column(j)[..n].to_vec()).collect();
    let factor_columns: Vec<Vec<f64>> = (0..factors.num_factors()).map(|k| factors.column(k)[..n].iter().map(|&v| v as f64).collect()).collect();
    dci_zaidi_columns(&code_columns, &factor_columns)
}

/// 1 − H(p) with logarithms of base `base`, zero entries skipped.
fn one_minus_entropy(p: &[f64], base: usize) -> f64 {
    let ln_base = (base as f64).ln();
    1.0 - p.iter().filter(|&&v| v != 0.0).map(|&v| -v * (v.ln() / ln_base)).sum::<f64>()
}

/// [`dci_zaidi`] on columns (codes, factors as numbers).
pub fn dci_zaidi_columns(codes: &[Vec<f64>], factors: &[Vec<f64>]) -> Result<DciZaidiResult> {
    let (d, k) = (codes.len(), factors.len());
    if d < 2 || k < 2 {
        return Err(degenerate("dci:zaidi", format!("needs at least 2 codes and 2 factors, got {d} and {k}")));
    }
    let n = codes[0].len();
    let scaled: Vec<Vec<f64>> = codes.iter().map(|c| minmax_scale(c)).collect();
    let x: Vec<f64> = (0..n).flat_map(|i| scaled.iter().map(move |c| c[i])).collect();
    let mut importance = Vec::with_capacity(k);
    let mut alphas = Vec::with_capacity(k);
    let mut informativeness = Vec::with_capacity(k);
    for f in factors {
        let y = minmax_scale(f);
        let (mut best, mut best_mse) = (0.0, 10e10);
        for alpha in ALPHAS {
            let m = cross_validated_mse(&x, d, &y, 10, &LassoConfig { alpha, max_iter: 5000, tol: 1e-4 })?;
            if m < best_mse {
                (best, best_mse) = (alpha, m);
            }
        }
        let model = Lasso::fit(&x, d, &y, &LassoConfig { alpha: best, ..Default::default() })?;
        informativeness.push((1.0 - 12.0 * mse(&model.predict(&x), &y)).max(0.0));
        importance.push(model.coef.iter().map(|w| w.abs()).collect::<Vec<f64>>());
        alphas.push(best);
        crate::interrupt::check()?;
    }
    let mut rho = vec![0.0; d];
    let mut per_code = vec![0.0; d];
    for c in 0..d {
        rho[c] = importance.iter().map(|row| row[c]).sum();
        if rho[c] == 0.0 {
            break; // the reference's loop ends here
        }
        let p: Vec<f64> = importance.iter().map(|row| row[c] / rho[c]).collect();
        per_code[c] = one_minus_entropy(&p, k);
    }
    let total: f64 = rho.iter().sum();
    let disentanglement = if total != 0.0 { per_code.iter().zip(&rho).map(|(dc, r)| dc * r / total).sum() } else { 0.0 };
    let completeness = importance
        .iter()
        .map(|row| {
            let s: f64 = row.iter().sum();
            let p: Vec<f64> = if s != 0.0 { row.iter().map(|v| v / s).collect() } else { vec![1.0 / d as f64; d] };
            one_minus_entropy(&p, d)
        })
        .sum::<f64>()
        / k as f64;
    Ok(DciZaidiResult {
        disentanglement,
        completeness,
        informativeness: informativeness.iter().sum::<f64>() / k as f64,
        importance,
        alphas,
        per_factor_informativeness: informativeness,
        num_samples: n,
    })
}

impl ToReport for DciZaidiResult {
    fn write_to(&self, r: &mut Report) {
        r.insert_f64("dci_zaidi.disentanglement", self.disentanglement);
        r.insert_f64("dci_zaidi.completeness", self.completeness);
        r.insert_f64("dci_zaidi.informativeness", self.informativeness);
        r.insert("dci_zaidi.importance_matrix", matrix(&self.importance));
        r.insert("dci_zaidi.alphas", vector(&self.alphas));
        r.insert("dci_zaidi.per_factor_informativeness", vector(&self.per_factor_informativeness));
        r.insert("dci_zaidi.num_samples", self.num_samples);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zaidi::golden::*;

    fn run(codes: &[Vec<f64>], factors: &[Vec<usize>]) -> DciZaidiResult {
        let f: Vec<Vec<f64>> = factors.iter().map(|c| c.iter().map(|&v| v as f64).collect()).collect();
        dci_zaidi_columns(codes, &f).unwrap()
    }

    #[test]
    fn equals_the_reference_code() {
        let a = arrays();
        // ubisoft-laforge-disentanglement-metrics `dci` (lasso).
        let r = run(&a.mixed, &a.factors);
        assert_eq!(r.alphas, vec![1e-4, 1e-4, 1e-3, 1e-3]);
        let inf = [0.76961763899575786, 0.92658360560591835, 0.0, 0.5666235735778079];
        for (got, want) in r.per_factor_informativeness.iter().zip(inf) {
            assert!(close(*got, want, 1e-12), "{:?}", r.per_factor_informativeness);
        }
        assert!(close(r.disentanglement, 0.60290080630169218, 1e-12), "{}", r.disentanglement);
        assert!(close(r.completeness, 0.75623199867099367, 1e-12), "{}", r.completeness);
        assert!(close(r.informativeness, 0.56570620454487097, 1e-12), "{}", r.informativeness);
        let r5 = run(&mixed5(&a), &a.factors);
        assert!(close(r5.completeness, 0.72861728849454566, 1e-12), "{}", r5.completeness);
        let r = run(&a.identity, &a.factors);
        assert!(close(r.disentanglement, 0.99999999999999989, 1e-12) && close(r.completeness, 1.0, 1e-12), "{r:?}");
        assert!(close(r.informativeness, 0.99999910610462095, 1e-12), "{}", r.informativeness);
    }
}
