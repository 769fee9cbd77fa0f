//! disentanglement_lib's unified scores (`unified_scores.py`): three matrices relating codes to
//! factors, each aggregated the way DCI, MIG, SAP and Modularity aggregate theirs, plus a
//! precision-recall summary, so that every score can be read off every matrix.
//!
//! Matrices m[code][factor] (training rows; the SVM is tested on the test rows):
//! - `importance_gbt_matrix`: |feature importances| of boosted trees predicting each factor
//!   (DCI's importance matrix);
//! - `mutual_information_matrix`: mutual information (nats) of the 20-bin histogram-discretized
//!   codes with the factors (MIG's matrix);
//! - `accuracy_svm_matrix`: test accuracy of a linear SVM on one code predicting one factor
//!   (SAP's matrix, discrete factors).
//!
//! Aggregations of each matrix (keys `unified.<matrix>.<key>`, the reference's):
//! - `dci_disentanglement`, `dci_completeness`, `dci` (= disentanglement, as the reference
//!   repeats it), `dci_disentanglement.code_{i}` per code and `dci_completeness.code_{k}` per
//!   *factor* (the reference's name);
//! - `mig` and `mig.factor_{k}`: (largest − second largest of column k) / H(factor k) in nats,
//!   for every matrix (as the reference does, although only the MI matrix makes it a MIG);
//! - `sap` and `sap.factor_{k}`: largest − second largest of each column;
//! - `modularity` and `modularity.code_{i}`: Ridgeway & Mozer's per-code modularity;
//! - `area_precision` and `max_precision`: with every entry of the matrix as a threshold t
//!   (descending), precision(t) = the number of connected components with at least one edge in
//!   the bipartite code–factor graph whose edges are the entries ≥ t (and ≠ 0); the area under
//!   precision(t) by the trapezoidal rule over consecutive thresholds, and its maximum.
//!
//! Defaults: 10,000 training and 5,000 test rows (the reference has no study configuration for
//! this metric; DCI's sizes), 20 bins (its MIG configuration).

use serde::{Deserialize, Serialize};

use crate::data::{Codes, Factors, check_same_samples, train_test_sizes};
use crate::dci::{DciConfig, completeness, completeness_per_factor, dci, disentanglement, disentanglement_per_code};
use crate::discretize::{discrete_entropy, mutual_info_matrix};
use crate::error::{Result, degenerate};
use crate::gbt::GbtConfig;
use crate::linear_svm::LinearSvmConfig;
use crate::modularity::modularity_per_code;
use crate::report::{Report, ToReport, matrix};
use crate::sap::{SapConfig, sap};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnifiedConfig {
    pub num_train: usize,
    pub num_test: usize,
    pub num_bins: usize,
    #[serde(default)]
    pub boosting: GbtConfig,
    #[serde(default)]
    pub svm: LinearSvmConfig,
}

impl Default for UnifiedConfig {
    fn default() -> Self {
        UnifiedConfig { num_train: 10_000, num_test: 5000, num_bins: 20, boosting: GbtConfig::default(), svm: LinearSvmConfig::default() }
    }
}

/// The three matrices' names, in the reference's order.
pub const MATRICES: [&str; 3] = ["importance_gbt_matrix", "mutual_information_matrix", "accuracy_svm_matrix"];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnifiedResult {
    /// (name, m[code][factor]) in [`MATRICES`] order.
    pub matrices: Vec<(String, Vec<Vec<f64>>)>,
    /// Entropy (nats) of each factor in the training rows.
    pub factor_entropies: Vec<f64>,
    pub num_train: usize,
    pub num_test: usize,
    pub seed: Option<u64>,
}

/// Connected components with at least one edge of the bipartite graph code i — factor k with an
/// edge where m[i][k] ≥ t and m[i][k] ≠ 0.
#[allow(clippy::needless_range_loop)] // a bipartite walk over code and factor indices
pub fn precision(m: &[Vec<f64>], t: f64) -> usize {
    let d = m.len();
    let k = m.first().map_or(0, Vec::len);
    let edge = |i: usize, f: usize| m[i][f] >= t && m[i][f] != 0.0;
    let mut code_seen = vec![false; d];
    let mut factor_seen = vec![false; k];
    let mut components = 0;
    for start in 0..d {
        if code_seen[start] {
            continue;
        }
        code_seen[start] = true;
        let mut stack = vec![(true, start)];
        let mut size = 1;
        while let Some((is_code, node)) = stack.pop() {
            if is_code {
                for f in 0..k {
                    if !factor_seen[f] && edge(node, f) {
                        factor_seen[f] = true;
                        size += 1;
                        stack.push((false, f));
                    }
                }
            } else {
                for i in 0..d {
                    if !code_seen[i] && edge(i, node) {
                        code_seen[i] = true;
                        size += 1;
                        stack.push((true, i));
                    }
                }
            }
        }
        if size > 1 {
            components += 1;
        }
    }
    components
}

/// (area under precision(t) over the matrix's entries as thresholds, max precision).
pub fn precision_curve(m: &[Vec<f64>]) -> (f64, usize) {
    let mut thresholds: Vec<f64> = m.iter().flatten().copied().collect();
    thresholds.sort_by(|a, b| b.total_cmp(a));
    let p: Vec<usize> = thresholds.iter().map(|&t| precision(m, t)).collect();
    let mut area = 0.0;
    for i in 0..p.len().saturating_sub(1) {
        area += (p[i] + p[i + 1]) as f64 * (thresholds[i] - thresholds[i + 1]) * 0.5;
    }
    (area, p.iter().copied().max().unwrap_or(0))
}

/// Largest minus second largest of each column (m[code][factor]).
fn top_two_gaps(m: &[Vec<f64>]) -> Vec<f64> {
    let k = m.first().map_or(0, Vec::len);
    (0..k)
        .map(|f| {
            let mut col: Vec<f64> = m.iter().map(|r| r[f]).collect();
            col.sort_by(|a, b| b.total_cmp(a));
            col[0] - col[1]
        })
        .collect()
}

/// The reference's aggregations of one matrix, keys without the matrix prefix.
pub fn aggregate(m: &[Vec<f64>], factor_entropies: &[f64]) -> Result<Vec<(String, f64)>> {
    if m.len() < 2 {
        return Err(degenerate("unified", "needs at least two codes (the SAP and MIG gaps compare the best two)"));
    }
    let mut out = Vec::new();
    let d_per_code = disentanglement_per_code(m)?;
    let c_per_factor = completeness_per_factor(m)?;
    let d = disentanglement(m)?;
    out.push(("dci_disentanglement".to_string(), d));
    out.push(("dci_completeness".to_string(), completeness(m)?));
    out.push(("dci".to_string(), d));
    for (i, v) in d_per_code.iter().enumerate() {
        out.push((format!("dci_disentanglement.code_{i}"), *v));
    }
    for (k, v) in c_per_factor.iter().enumerate() {
        out.push((format!("dci_completeness.code_{k}"), *v));
    }
    let gaps = top_two_gaps(m);
    let mig: Vec<f64> = gaps.iter().zip(factor_entropies).map(|(g, h)| g / h).collect();
    out.push(("mig".to_string(), mig.iter().sum::<f64>() / mig.len() as f64));
    for (k, v) in mig.iter().enumerate() {
        out.push((format!("mig.factor_{k}"), *v));
    }
    out.push(("sap".to_string(), gaps.iter().sum::<f64>() / gaps.len() as f64));
    for (k, v) in gaps.iter().enumerate() {
        out.push((format!("sap.factor_{k}"), *v));
    }
    let modularity = modularity_per_code(m)?;
    out.push(("modularity".to_string(), modularity.iter().sum::<f64>() / modularity.len() as f64));
    for (i, v) in modularity.iter().enumerate() {
        out.push((format!("modularity.code_{i}"), *v));
    }
    let (area, max) = precision_curve(m);
    out.push(("area_precision".to_string(), area));
    out.push(("max_precision".to_string(), max as f64));
    Ok(out)
}

impl ToReport for UnifiedResult {
    fn write_to(&self, r: &mut Report) {
        for (name, m) in &self.matrices {
            match aggregate(m, &self.factor_entropies) {
                Ok(keys) => keys.into_iter().for_each(|(k, v)| r.insert_f64(format!("unified.{name}.{k}"), v)),
                Err(e) => r.insert(format!("unified.{name}.error"), e.to_string()),
            }
            r.insert(format!("unified.{name}.matrix"), matrix(m));
        }
        r.insert("unified.num_train", self.num_train);
        r.insert("unified.num_test", self.num_test);
        r.insert_seed("unified", self.seed);
    }
}

/// The unified scores of a sample: the first `num_train` rows train, the next `num_test` test
/// (in proportion when there are fewer rows).
pub fn unified(codes: &Codes, factors: &Factors, config: &UnifiedConfig, seed: Option<u64>) -> Result<UnifiedResult> {
    check_same_samples(codes, factors)?;
    let (num_train, num_test) = train_test_sizes("unified", codes.num_samples(), config.num_train, config.num_test)?;
    if codes.num_codes() < 2 {
        return Err(degenerate("unified", "needs at least two codes"));
    }
    let rows = num_train + num_test;
    let (codes, factors) = (codes.rows(0, rows), factors.rows(0, rows));
    let importance = dci(&codes, &factors, &DciConfig { num_train, num_test, boosting: config.boosting.clone() })?.importance_matrix;
    let train_codes = codes.rows(0, num_train);
    let train_factors = factors.rows(0, num_train);
    let mi = mutual_info_matrix(&train_codes, &train_factors, config.num_bins)?;
    let svm = sap(&codes, &factors, &SapConfig { num_train, num_test, svm: config.svm.clone() })?.score_matrix;
    let factor_entropies = (0..factors.num_factors())
        .map(|k| {
            let labels: Vec<u32> = train_factors.column(k).iter().map(|&v| v as u32).collect();
            discrete_entropy(&labels)
        })
        .collect::<Result<Vec<f64>>>()?;
    Ok(UnifiedResult {
        matrices: vec![(MATRICES[0].into(), importance), (MATRICES[1].into(), mi), (MATRICES[2].into(), svm)],
        factor_entropies,
        num_train,
        num_test,
        seed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precision_counts_components_with_an_edge() {
        let eye = vec![vec![1.0, 0.0, 0.0], vec![0.0, 1.0, 0.0], vec![0.0, 0.0, 1.0]];
        assert_eq!(precision(&eye, 1.0), 3);
        assert_eq!(precision(&eye, 1.5), 0);
        // One code on two factors: one component at 0.5, none above 1.
        let block = vec![vec![1.0, 0.5, 0.0], vec![0.0, 0.0, 0.2], vec![0.0, 0.0, 0.3]];
        assert_eq!(precision(&block, 0.5), 1);
        assert_eq!(precision(&block, 0.2), 2);
        let (area, max) = precision_curve(&eye);
        // Thresholds 1, 1, 1, 0, …: precision 3 at every one, area 3 × (1 − 0).
        assert_eq!((area, max), (3.0, 3));
    }

    #[test]
    fn identity_codes_aggregate_to_perfect_scores() {
        let n = 600;
        let factors: Vec<usize> = (0..n).flat_map(|i| [i % 3, (i / 3) % 4]).collect();
        let codes: Vec<f32> = factors.iter().map(|&v| v as f32).collect();
        let c = Codes::new(&codes, n, 2).unwrap();
        let f = Factors::new(&factors, n, 2).unwrap();
        // 480 training rows: every (f0, f1) pair equally often, so the other code's MI is 0.
        let config = UnifiedConfig { num_train: 480, num_test: 120, ..Default::default() };
        let r = unified(&c, &f, &config, Some(1)).unwrap().to_report();
        assert!((r.get_f64("unified.mutual_information_matrix.mig").unwrap() - 1.0).abs() < 1e-9);
        assert!((r.get_f64("unified.importance_gbt_matrix.dci_disentanglement").unwrap() - 1.0).abs() < 1e-6);
        assert_eq!(r.get_f64("unified.mutual_information_matrix.modularity"), Some(1.0));
        assert_eq!(r.get_f64("unified.mutual_information_matrix.max_precision"), Some(2.0));
        assert!(r.get_f64("unified.accuracy_svm_matrix.sap").unwrap() > 0.3);
        let one = Codes::new(&codes[..n], n, 1).unwrap();
        let k1: Vec<usize> = factors.iter().step_by(2).copied().collect();
        assert!(unified(&one, &Factors::new(&k1, n, 1).unwrap(), &config, None).is_err());
    }
}
