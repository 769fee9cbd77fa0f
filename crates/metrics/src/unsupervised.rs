//! Unsupervised scores of the reference study, from codes alone.
//!
//! Estimators, on the first `num_train` (10,000) rows: Σ = sample covariance (ddof 1) of
//! the codes;
//! - Gaussian total correlation ½(Σ_i ln Σ_ii − ln det Σ), the total correlation of a
//!   Gaussian with covariance Σ;
//! - Gaussian Wasserstein correlation 2 tr Σ − 2 tr((D^½ Σ D^½)^½), D = diag Σ: the squared
//!   2-Wasserstein distance between N(0, Σ) and N(0, D) (its eigenvalues equal those of
//!   the reference's sqrtm(D Σ)); also divided by tr Σ;
//! - mean pairwise mutual information between different codes, histogram-discretized
//!   (20 bins), mean over the D(D − 1) ordered pairs.

use serde::{Deserialize, Serialize};

use crate::data::Codes;
use crate::discretize::{DiscreteSample, mutual_info_dense};
use crate::error::{Result, degenerate, invalid};
use crate::linalg::{cholesky, covariance, log_det_from_cholesky, symmetric_eigenvalues};
use crate::report::{Report, ToReport};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnsupervisedConfig {
    pub num_train: usize,
    pub num_bins: usize,
}

impl Default for UnsupervisedConfig {
    fn default() -> Self {
        UnsupervisedConfig {
            num_train: 10_000,
            num_bins: 20,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnsupervisedResult {
    pub gaussian_total_correlation: f64,
    pub gaussian_wasserstein_correlation: f64,
    pub gaussian_wasserstein_correlation_norm: f64,
    pub mutual_info_score: f64,
    /// Why the total correlation is not a finite number, when it is not (see
    /// [`gaussian_total_correlation`]).
    pub total_correlation_note: Option<String>,
    pub num_samples: usize,
    pub num_bins: usize,
    pub seed: Option<u64>,
}

pub fn unsupervised_scores(
    codes: &Codes,
    config: &UnsupervisedConfig,
) -> Result<UnsupervisedResult> {
    if config.num_train == 0 {
        return Err(invalid("unsupervised.num_train", "must be positive"));
    }
    let n = codes.num_samples().min(config.num_train);
    let d = codes.num_codes();
    if d < 2 {
        return Err(degenerate("unsupervised", "needs at least 2 codes"));
    }
    if n < 2 {
        return Err(degenerate("unsupervised", "needs at least 2 samples"));
    }
    let sample = codes.rows(0, n);
    let cov = covariance(sample.values(), n, d);
    let (total_correlation, total_correlation_note) = match gaussian_total_correlation(&cov, d) {
        Ok(tc) => (tc, None),
        Err(TotalCorrelation::ConstantCode(j)) => (
            f64::NAN,
            Some(format!("undefined: code {j} is constant (ln 0 − ln 0; the reference gives nan)")),
        ),
        Err(TotalCorrelation::Singular) => (
            f64::INFINITY,
            Some("+inf: the code covariance is singular (linearly dependent codes; the reference's slogdet gives −inf)".to_string()),
        ),
    };
    let wasserstein = gaussian_wasserstein_correlation(&cov, d);
    let trace: f64 = (0..d).map(|i| cov[i * d + i]).sum();

    let discrete = DiscreteSample::new(&sample, None, config.num_bins)?;
    let mut mi_sum = 0.0;
    for i in 0..d {
        for j in 0..d {
            if i != j {
                mi_sum += mutual_info_dense(
                    &discrete.codes[i],
                    discrete.code_classes,
                    &discrete.codes[j],
                    discrete.code_classes,
                );
            }
        }
    }
    Ok(UnsupervisedResult {
        gaussian_total_correlation: total_correlation,
        gaussian_wasserstein_correlation: wasserstein,
        gaussian_wasserstein_correlation_norm: wasserstein / trace,
        mutual_info_score: mi_sum / (d * d - d) as f64,
        total_correlation_note,
        num_samples: n,
        num_bins: config.num_bins,
        seed: None,
    })
}

/// Why a Gaussian total correlation is not finite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TotalCorrelation {
    /// Code j has zero variance: ln Σ_jj and ln det Σ are both −∞, the score is undefined
    /// (the reference's numpy gives nan).
    ConstantCode(usize),
    /// Σ is singular although every code varies (a code is a linear combination of others):
    /// the total correlation of such a degenerate Gaussian is +∞ (the reference's slogdet
    /// gives −∞ for an exactly duplicated code, hence +∞).
    Singular,
}

/// ½(Σ_i ln Σ_ii − ln det Σ) of a d×d covariance, or why it is not finite.
pub fn gaussian_total_correlation(cov: &[f64], d: usize) -> Result<f64, TotalCorrelation> {
    if let Some(j) = (0..d).find(|&j| cov[j * d + j] <= 0.0) {
        return Err(TotalCorrelation::ConstantCode(j));
    }
    let l = cholesky(cov, d).ok_or(TotalCorrelation::Singular)?;
    // A conditional variance at rounding level means an exactly dependent code: the
    // factorization "succeeds" only by accident of rounding.
    if (0..d).any(|i| l[i * d + i] * l[i * d + i] <= 1e-12 * cov[i * d + i]) {
        return Err(TotalCorrelation::Singular);
    }
    let log_diag: f64 = (0..d).map(|i| cov[i * d + i].ln()).sum();
    Ok(0.5 * (log_diag - log_det_from_cholesky(&l, d)))
}

/// 2 tr Σ − 2 tr((D^½ Σ D^½)^½) of a d×d covariance, D = diag Σ.
pub fn gaussian_wasserstein_correlation(cov: &[f64], d: usize) -> f64 {
    let scale: Vec<f64> = (0..d).map(|i| cov[i * d + i].max(0.0).sqrt()).collect();
    let scaled: Vec<f64> = (0..d * d)
        .map(|ij| scale[ij / d] * cov[ij] * scale[ij % d])
        .collect();
    let trace_sqrt: f64 = symmetric_eigenvalues(&scaled, d)
        .into_iter()
        .map(|e| e.max(0.0).sqrt())
        .sum();
    let trace: f64 = (0..d).map(|i| cov[i * d + i]).sum();
    2.0 * trace - 2.0 * trace_sqrt
}

impl ToReport for UnsupervisedResult {
    fn write_to(&self, r: &mut Report) {
        r.insert_f64(
            "unsupervised.gaussian_total_correlation",
            self.gaussian_total_correlation,
        );
        r.insert_f64(
            "unsupervised.gaussian_wasserstein_correlation",
            self.gaussian_wasserstein_correlation,
        );
        r.insert_f64(
            "unsupervised.gaussian_wasserstein_correlation_norm",
            self.gaussian_wasserstein_correlation_norm,
        );
        r.insert_f64("unsupervised.mutual_info_score", self.mutual_info_score);
        if let Some(note) = &self.total_correlation_note {
            r.insert("unsupervised.gaussian_total_correlation_note", note.as_str());
        }
        r.insert("unsupervised.num_samples", self.num_samples);
        r.insert("unsupervised.num_bins", self.num_bins);
        r.insert_seed("unsupervised", self.seed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_form_two_dimensional_gaussian() {
        // Unit variances, correlation r: TC = −½ ln(1 − r²);
        // D^½ Σ D^½ = Σ has eigenvalues 1 ± r, so W = 4 − 2(√(1+r) + √(1−r)).
        let r = 0.6;
        let cov = [1.0, r, r, 1.0];
        let tc = gaussian_total_correlation(&cov, 2).unwrap();
        assert!((tc + 0.5 * (1.0 - r * r).ln()).abs() < 1e-12);
        let w = gaussian_wasserstein_correlation(&cov, 2);
        let expected = 4.0 - 2.0 * ((1.0 + r).sqrt() + (1.0 - r).sqrt());
        assert!((w - expected).abs() < 1e-12, "{w} vs {expected}");
        // Independent codes: both zero.
        let diag = [2.0, 0.0, 0.0, 3.0];
        assert!(gaussian_total_correlation(&diag, 2).unwrap().abs() < 1e-12);
        assert!(gaussian_wasserstein_correlation(&diag, 2).abs() < 1e-12);
    }

    #[test]
    fn constant_code_leaves_only_the_total_correlation_undefined() {
        let values: Vec<f32> = (0..100).flat_map(|i| [i as f32, 1.0]).collect();
        let codes = Codes::new(&values, 100, 2).unwrap();
        let res = unsupervised_scores(&codes, &UnsupervisedConfig::default()).unwrap();
        assert!(res.gaussian_total_correlation.is_nan());
        assert!(res.total_correlation_note.as_deref().unwrap().contains("code 1 is constant"));
        // Wasserstein: Σ = diag(var, 0) is already diagonal → 0; a constant code shares no
        // information with anything.
        assert!(res.gaussian_wasserstein_correlation.abs() < 1e-9, "{res:?}");
        assert_eq!(res.mutual_info_score, 0.0);
        let report = res.to_report();
        assert_eq!(report.get("unsupervised.gaussian_total_correlation"), Some(&serde_json::Value::Null));
        assert!(report.get_f64("unsupervised.mutual_info_score").is_some());
    }

    #[test]
    fn duplicated_code_has_high_mutual_information() {
        let values: Vec<f32> = (0..1000)
            .flat_map(|i| {
                let v = ((i * 7919) % 1000) as f32;
                [v, v, ((i * 31) % 17) as f32]
            })
            .collect();
        let codes = Codes::new(&values, 1000, 3).unwrap();
        let config = UnsupervisedConfig::default();
        let n = 1000;
        // Singular covariance (two identical codes) → TC = +∞ as the reference's slogdet
        // gives, and the other scores are still numbers.
        let res = unsupervised_scores(&codes, &config).unwrap();
        assert_eq!(res.gaussian_total_correlation, f64::INFINITY);
        assert!(res.total_correlation_note.as_deref().unwrap().starts_with("+inf"));
        assert!(res.mutual_info_score > 20f64.ln() / 3.0 - 0.2, "{res:?}");
        assert!(res.gaussian_wasserstein_correlation.is_finite() && res.gaussian_wasserstein_correlation > 0.0);
        let values: Vec<f32> = values
            .chunks(3)
            .enumerate()
            .flat_map(|(i, r)| [r[0], r[1] + 1e-3 * ((i % 3) as f32), r[2]])
            .collect();
        let codes = Codes::new(&values, n, 3).unwrap();
        let res = unsupervised_scores(&codes, &config).unwrap();
        // Pair (0,1) carries ~ln 20 nats; 2 of 6 ordered pairs → mean > ln(20)/3 − slack.
        assert!(res.mutual_info_score > 20f64.ln() / 3.0 - 0.2, "{res:?}");
        assert!(res.gaussian_total_correlation > 3.0, "{res:?}");
    }
}
