//! Histogram discretization of codes and discrete information measures (in nats), the
//! conventions of the reference study:
//!
//! - a code column is cut into `num_bins` equal-width bins between its minimum and maximum
//!   (a constant column uses [v − ½, v + ½], as numpy's `histogram` does); the last of
//!   the `num_bins + 1` edges is dropped and each value gets the number of remaining edges
//!   ≤ it, a label in 1..=num_bins (the maximum falls in the last bin);
//! - mutual information is the plug-in estimate from the contingency table of two label
//!   vectors; the entropy of a label vector is its mutual information with itself, i.e.
//!   the empirical entropy of the sample.

use crate::data::{Codes, Factors, check_same_samples};
use crate::error::{MetricsError, Result, invalid};
use crate::labels::DenseLabels;

/// Bin labels (1..=num_bins) of `values`.
pub fn histogram_discretize(values: &[f64], num_bins: usize) -> Result<Vec<u32>> {
    if values.is_empty() {
        return Err(MetricsError::Empty {
            what: "values to discretize",
        });
    }
    if num_bins == 0 || num_bins > u32::MAX as usize - 1 {
        return Err(invalid("num_bins", format!("{num_bins} (need at least 1)")));
    }
    if let Some(pos) = values.iter().position(|v| !v.is_finite()) {
        return Err(MetricsError::NonFinite {
            what: "values to discretize",
            row: pos,
            column: 0,
            value: values[pos],
        });
    }
    let (mut lo, mut hi) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    if lo == hi {
        lo -= 0.5;
        hi += 0.5;
    }
    let step = (hi - lo) / num_bins as f64;
    let edges: Vec<f64> = (0..num_bins).map(|b| lo + b as f64 * step).collect();
    Ok(values
        .iter()
        .map(|&v| edges.partition_point(|&e| e <= v) as u32)
        .collect())
}

/// Discretized columns of `codes`: one label vector per code.
pub fn discretize_codes(codes: &Codes, num_bins: usize) -> Result<Vec<Vec<u32>>> {
    (0..codes.num_codes())
        .map(|j| histogram_discretize(&codes.column(j), num_bins))
        .collect()
}

/// Mutual information (nats) of two label vectors already in 0..ka and 0..kb.
pub(crate) fn mutual_info_dense(a: &[u32], ka: usize, b: &[u32], kb: usize) -> f64 {
    let n = a.len();
    let mut joint = vec![0u64; ka * kb];
    let mut count_a = vec![0u64; ka];
    let mut count_b = vec![0u64; kb];
    for (&x, &y) in a.iter().zip(b) {
        joint[x as usize * kb + y as usize] += 1;
        count_a[x as usize] += 1;
        count_b[y as usize] += 1;
    }
    let ln_n = (n as f64).ln();
    let mut mi = 0.0;
    for i in 0..ka {
        if count_a[i] == 0 {
            continue;
        }
        let ln_a = (count_a[i] as f64).ln();
        for j in 0..kb {
            let nij = joint[i * kb + j];
            if nij == 0 {
                continue;
            }
            let nij = nij as f64;
            mi += nij / n as f64 * (nij.ln() - ln_a - (count_b[j] as f64).ln() + ln_n);
        }
    }
    // Rounding can leave a tiny negative value for independent labels.
    mi.max(0.0)
}

fn dense_u32(values: &[u32]) -> (Vec<u32>, usize) {
    let wide: Vec<usize> = values.iter().map(|&v| v as usize).collect();
    let dense = DenseLabels::new(&wide);
    let k = dense.num_classes();
    (dense.labels, k)
}

/// Mutual information (nats) between two label vectors of equal length.
pub fn discrete_mutual_info(a: &[u32], b: &[u32]) -> Result<f64> {
    if a.is_empty() {
        return Err(MetricsError::Empty { what: "labels" });
    }
    if a.len() != b.len() {
        return Err(MetricsError::Shape {
            what: "second label vector",
            got: b.len(),
            expected: a.len(),
        });
    }
    let (a, ka) = dense_u32(a);
    let (b, kb) = dense_u32(b);
    Ok(mutual_info_dense(&a, ka, &b, kb))
}

/// Empirical entropy (nats) of a label vector.
pub fn discrete_entropy(labels: &[u32]) -> Result<f64> {
    discrete_mutual_info(labels, labels)
}

/// Discretized codes (`num_bins` + 1 possible labels each) and densely relabelled factors
/// of one sample; the shared first step of MIG, modularity and the unsupervised scores.
pub(crate) struct DiscreteSample {
    pub codes: Vec<Vec<u32>>,
    pub code_classes: usize,
    pub factors: Vec<DenseLabels>,
}

impl DiscreteSample {
    pub fn new(codes: &Codes, factors: Option<&Factors>, num_bins: usize) -> Result<Self> {
        if let Some(f) = factors {
            check_same_samples(codes, f)?;
        }
        Ok(DiscreteSample {
            codes: discretize_codes(codes, num_bins)?,
            code_classes: num_bins + 1,
            factors: factors
                .map(|f| {
                    (0..f.num_factors())
                        .map(|k| DenseLabels::new(&f.column(k)))
                        .collect()
                })
                .unwrap_or_default(),
        })
    }

    /// m[i][k] = I(code_i; factor_k).
    pub fn code_factor_mi(&self) -> Vec<Vec<f64>> {
        self.codes
            .iter()
            .map(|c| {
                self.factors
                    .iter()
                    .map(|f| mutual_info_dense(c, self.code_classes, &f.labels, f.num_classes()))
                    .collect()
            })
            .collect()
    }

    /// H(factor_k), the empirical entropy.
    pub fn factor_entropies(&self) -> Vec<f64> {
        self.factors
            .iter()
            .map(|f| mutual_info_dense(&f.labels, f.num_classes(), &f.labels, f.num_classes()))
            .collect()
    }
}

/// Mutual information matrix m[code][factor] (nats) of histogram-discretized codes.
pub fn mutual_info_matrix(
    codes: &Codes,
    factors: &Factors,
    num_bins: usize,
) -> Result<Vec<Vec<f64>>> {
    Ok(DiscreteSample::new(codes, Some(factors), num_bins)?.code_factor_mi())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_discretization_and_entropy() {
        let labels = histogram_discretize(&[0.1, 0.2, 0.3, 0.4, 0.5, 0.6], 3).unwrap();
        assert_eq!(labels, vec![1, 1, 2, 2, 3, 3]);
        let h = discrete_entropy(&labels).unwrap();
        assert!((h - 3f64.ln()).abs() < 1e-12, "{h}");
    }

    #[test]
    fn maximum_falls_in_last_bin_and_constant_row_gets_one_label() {
        let labels = histogram_discretize(&[0.0, 1.0, 2.0, 10.0], 20).unwrap();
        assert_eq!(labels[0], 1);
        assert_eq!(labels[3], 20);
        let labels = histogram_discretize(&[5.0; 7], 20).unwrap();
        assert!(labels.iter().all(|&l| l == labels[0]));
        assert_eq!(discrete_entropy(&labels).unwrap(), 0.0);
    }

    #[test]
    fn mutual_information_of_independent_and_identical_labels() {
        // Two fair independent bits in a balanced design: MI exactly 0.
        let a = [0, 0, 1, 1];
        let b = [0, 1, 0, 1];
        assert!(discrete_mutual_info(&a, &b).unwrap().abs() < 1e-15);
        // A relabelled copy carries all information: MI = H = ln 2.
        let c = [7, 7, 3, 3];
        assert!((discrete_mutual_info(&a, &c).unwrap() - 2f64.ln()).abs() < 1e-12);
    }

    proptest::proptest! {
        #[test]
        fn labels_are_monotone_bins_and_mutual_information_is_bounded(
            values in proptest::collection::vec(-1e3f64..1e3, 2..200),
            other in proptest::collection::vec(0u32..5, 200),
            bins in 1usize..30,
        ) {
            let labels = histogram_discretize(&values, bins).unwrap();
            for (i, &l) in labels.iter().enumerate() {
                proptest::prop_assert!((1..=bins as u32).contains(&l));
                for (j, &m) in labels.iter().enumerate() {
                    if values[i] < values[j] { proptest::prop_assert!(l <= m); }
                }
            }
            let b = &other[..values.len()];
            let mi = discrete_mutual_info(&labels, b).unwrap();
            let (ha, hb) = (discrete_entropy(&labels).unwrap(), discrete_entropy(b).unwrap());
            proptest::prop_assert!(mi >= 0.0 && mi <= ha.min(hb) + 1e-12);
            proptest::prop_assert!((mi - discrete_mutual_info(b, &labels).unwrap()).abs() < 1e-12);
        }
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(histogram_discretize(&[], 3).is_err());
        assert!(histogram_discretize(&[1.0], 0).is_err());
        assert!(histogram_discretize(&[1.0, f64::NAN], 3).is_err());
        assert!(discrete_mutual_info(&[1, 2], &[1]).is_err());
        assert!(discrete_mutual_info(&[], &[]).is_err());
    }
}
