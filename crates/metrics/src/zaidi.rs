//! The conventions of Zaidi et al.'s metric code ("Measuring Disentanglement: A Review of
//! Metrics", 2020; ubisoft/ubisoft-laforge-disentanglement-metrics), shared by the metrics of
//! that family (`mig-sup`, `dcimig`, `jemmig`, and the `:zaidi` variants of MIG and
//! modularity):
//!
//! - **Binning.** Each column (a code, and a factor too unless the factors are declared
//!   discrete) is min-max scaled to [0, 1] as scikit-learn's `minmax_scale` does (scale
//!   1 / (max − min), or 1 when the range is below 10 ε, then x·scale + (0 − min·scale)) and
//!   cut into `num_bins` (10) equal-width bins with edges i / num_bins, i = 0 … num_bins − 1
//!   (numpy's `linspace` step times i); a value's label is the number of edges ≤ it, 1 …
//!   num_bins. The maximum lands in the last bin; a constant column is all 1s. Binning the
//!   factors (the reference's default, `continuous_factors=True`) is only a relabelling for a
//!   factor with at most `num_bins` evenly spaced classes; dSprites' 40 orientations or 32
//!   positions are merged into 10 bins, as in the reference.
//! - **Information in bits**: plug-in entropies of the labels, H(X) = −Σ p log₂ p, and
//!   I(X; Y) = H(X) − (H(X, Y) − H(Y)).
//!
//! The differences from disentanglement_lib's conventions (20 bins on the raw range, factors
//! never binned, nats) are listed per metric in `docs/metrics.md`.

use serde::{Deserialize, Serialize};

use crate::data::{Codes, Factors, check_same_samples};
use crate::error::{MetricsError, Result, invalid};

/// Settings shared by the Zaidi et al. metrics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ZaidiConfig {
    /// Rows used (the first ones; all of them when fewer). The reference scores every row it
    /// is given; 10,000 is the size of the other metrics' samples.
    pub num_train: usize,
    /// Bins per column (reference: 10).
    pub num_bins: usize,
    /// Bin the factors like the codes (the reference's default, `continuous_factors=True`);
    /// false uses the factor classes as they are.
    pub bin_factors: bool,
}

impl Default for ZaidiConfig {
    fn default() -> Self {
        ZaidiConfig { num_train: 10_000, num_bins: 10, bin_factors: true }
    }
}

impl ZaidiConfig {
    pub(crate) fn check(&self, metric: &str) -> Result<()> {
        if self.num_train < 2 {
            return Err(invalid("num_train", format!("{metric}: {} (need at least 2 rows)", self.num_train)));
        }
        if self.num_bins == 0 || self.num_bins > crate::data::MAX_BINS {
            return Err(invalid("num_bins", format!("{metric}: {} (need 1 … {})", self.num_bins, crate::data::MAX_BINS)));
        }
        Ok(())
    }
}

/// scikit-learn's `minmax_scale` of one column: x · scale + (0 − min · scale) with scale
/// 1 / (max − min), or 1 when the range is below 10 ε (a constant column becomes 0).
pub fn minmax_scale(values: &[f64]) -> Vec<f64> {
    let (lo, hi) = values.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    let mut range = hi - lo;
    if range < 10.0 * f64::EPSILON {
        range = 1.0;
    }
    let scale = 1.0 / range;
    let offset = 0.0 - lo * scale;
    values.iter().map(|v| v * scale + offset).collect()
}

/// Labels 1 … `num_bins` of one column, as the reference bins it.
pub fn minmax_bin(values: &[f64], num_bins: usize) -> Vec<u32> {
    let step = 1.0 / num_bins as f64;
    let edges: Vec<f64> = (0..num_bins).map(|i| i as f64 * step).collect();
    minmax_scale(values).into_iter().map(|v| edges.partition_point(|&e| e <= v) as u32).collect()
}

/// Columns of codes and factors as the Zaidi et al. metrics see them: labels per column.
#[derive(Debug, Clone)]
pub struct BinnedSample {
    pub codes: Vec<Vec<u32>>,
    pub factors: Vec<Vec<u32>>,
    pub num_samples: usize,
}

impl BinnedSample {
    /// From f64 columns (codes) and class columns (factors), `n` rows each.
    pub fn from_columns(codes: &[Vec<f64>], factors: &[Vec<usize>], config: &ZaidiConfig) -> Result<Self> {
        let n = codes.first().map_or(0, Vec::len);
        if n == 0 || factors.is_empty() {
            return Err(MetricsError::Empty { what: "codes and factors" });
        }
        if let Some(c) = codes.iter().find(|c| c.len() != n) {
            return Err(MetricsError::Shape { what: "code column", got: c.len(), expected: n });
        }
        if let Some(f) = factors.iter().find(|f| f.len() != n) {
            return Err(MetricsError::Shape { what: "factor column", got: f.len(), expected: n });
        }
        let codes = codes.iter().map(|c| minmax_bin(c, config.num_bins)).collect();
        let factors = factors
            .iter()
            .map(|f| {
                if config.bin_factors {
                    minmax_bin(&f.iter().map(|&v| v as f64).collect::<Vec<_>>(), config.num_bins)
                } else {
                    f.iter().map(|&v| v as u32).collect()
                }
            })
            .collect();
        Ok(BinnedSample { codes, factors, num_samples: n })
    }

    /// The first `config.num_train` rows of validated codes and factors.
    pub fn new(codes: &Codes, factors: &Factors, config: &ZaidiConfig) -> Result<Self> {
        check_same_samples(codes, factors)?;
        let n = codes.num_samples().min(config.num_train);
        let code_columns: Vec<Vec<f64>> = (0..codes.num_codes()).map(|j| codes.column(j)[..n].to_vec()).collect();
        let factor_columns: Vec<Vec<usize>> = (0..factors.num_factors()).map(|k| factors.column(k)[..n].to_vec()).collect();
        Self::from_columns(&code_columns, &factor_columns, config)
    }

    /// I(factor k; code j) in bits, [factor][code].
    pub fn mutual_information(&self) -> Vec<Vec<f64>> {
        let hc: Vec<f64> = self.codes.iter().map(|c| entropy_bits(c)).collect();
        self.factors
            .iter()
            .map(|f| {
                let hf = entropy_bits(f);
                self.codes.iter().zip(&hc).map(|(c, &h)| hf - (joint_entropy_bits(f, c) - h)).collect()
            })
            .collect()
    }

    pub fn code_entropies(&self) -> Vec<f64> {
        self.codes.iter().map(|c| entropy_bits(c)).collect()
    }

    pub fn factor_entropies(&self) -> Vec<f64> {
        self.factors.iter().map(|f| entropy_bits(f)).collect()
    }
}

/// Plug-in entropy of labels, bits.
pub fn entropy_bits(labels: &[u32]) -> f64 {
    let mut counts = std::collections::BTreeMap::<u32, usize>::new();
    for &l in labels {
        *counts.entry(l).or_default() += 1;
    }
    entropy_of_counts(counts.values().copied(), labels.len())
}

/// Plug-in entropy of label pairs, bits.
pub fn joint_entropy_bits(a: &[u32], b: &[u32]) -> f64 {
    let mut counts = std::collections::BTreeMap::<(u32, u32), usize>::new();
    for (&x, &y) in a.iter().zip(b) {
        *counts.entry((x, y)).or_default() += 1;
    }
    entropy_of_counts(counts.values().copied(), a.len())
}

fn entropy_of_counts(counts: impl Iterator<Item = usize>, n: usize) -> f64 {
    let n = n as f64;
    -counts.map(|c| c as f64 / n).map(|p| p * p.log2()).sum::<f64>()
}

/// The two largest values of a slice (NaN-free), largest first.
pub(crate) fn top_two(values: &[f64]) -> (f64, f64) {
    let mut sorted = values.to_vec();
    sorted.sort_by(|a, b| b.total_cmp(a));
    (sorted[0], sorted.get(1).copied().unwrap_or(f64::NAN))
}

/// Index of the first largest value.
pub(crate) fn first_argmax(values: &[f64]) -> usize {
    values.iter().enumerate().fold(0, |best, (i, &v)| if v > values[best] { i } else { best })
}

/// The golden arrays of the reference tests (public, hidden from the docs, so that the
/// integration tests build them from the same code).
///
/// The arrays of the golden tests, generated exactly as the script that ran the reference
/// code did: xorshift64* from seed 0x9E3779B97F4A7C15, uniforms (out >> 11) / 2⁵³;
/// 2,000 rows of 4 factors with sizes [3, 5, 4, 6] (row-major), then the "mixed" codes:
/// z0 = f0 + 0.3 g, z1 = f1 + 0.5 g, z2 = 0.7 f2 + 0.7 f3 + 0.2 g, z3 = g,
/// z4 = f1 − 0.5 f0 + 0.4 g, z5 = 2 (constant), each g a fresh Box–Muller normal (cos branch,
/// u1 then u2); "identity" codes are the factors as floats. Reference numbers were computed
/// by ubisoft-laforge-disentanglement-metrics at 05d5667, latent_quantization at 9a420a3 and
/// disentanglement_lib at 86a644d (numpy 1.26, scikit-learn 1.3).
#[doc(hidden)]
pub mod golden {

    pub struct Arrays {
        pub factors: Vec<Vec<usize>>,
        pub mixed: Vec<Vec<f64>>,
        pub identity: Vec<Vec<f64>>,
    }

    struct XorShift(u64);
    impl XorShift {
        fn uniform(&mut self) -> f64 {
            let mut s = self.0;
            s ^= s >> 12;
            s ^= s << 25;
            s ^= s >> 27;
            self.0 = s;
            (s.wrapping_mul(2685821657736338717) >> 11) as f64 / (1u64 << 53) as f64
        }
        fn normal(&mut self) -> f64 {
            let (u1, u2) = (self.uniform(), self.uniform());
            (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
        }
    }

    pub fn arrays() -> Arrays {
        const N: usize = 2000;
        const SIZES: [usize; 4] = [3, 5, 4, 6];
        let mut g = XorShift(0x9E37_79B9_7F4A_7C15);
        let rows: Vec<[usize; 4]> = (0..N).map(|_| SIZES.map(|s| (g.uniform() * s as f64).floor() as usize)).collect();
        let mut mixed: Vec<Vec<f64>> = (0..6).map(|_| Vec::with_capacity(N)).collect();
        for r in &rows {
            let f = r.map(|v| v as f64);
            let z = [
                f[0] + 0.3 * g.normal(),
                f[1] + 0.5 * g.normal(),
                (0.7 * f[2] + 0.7 * f[3]) + 0.2 * g.normal(),
                g.normal(),
                (f[1] - 0.5 * f[0]) + 0.4 * g.normal(),
                2.0,
            ];
            for (col, v) in mixed.iter_mut().zip(z) {
                col.push(v);
            }
        }
        let factors: Vec<Vec<usize>> = (0..4).map(|k| rows.iter().map(|r| r[k]).collect()).collect();
        let identity = factors.iter().map(|c| c.iter().map(|&v| v as f64).collect()).collect();
        Arrays { factors, mixed, identity }
    }

    /// Identity codes with latents 0 and 1 replaced by their sum and difference (each factor
    /// in two codes, each of those codes holding two factors).
    pub fn rotated_identity(a: &Arrays) -> Vec<Vec<f64>> {
        let (x, y) = (&a.identity[0], &a.identity[1]);
        vec![x.iter().zip(y).map(|(p, q)| p + q).collect(), x.iter().zip(y).map(|(p, q)| p - q).collect(), a.identity[2].clone(), a.identity[3].clone()]
    }

    /// `mixed` without its constant column.
    pub fn mixed5(a: &Arrays) -> Vec<Vec<f64>> {
        a.mixed[..5].to_vec()
    }

    pub fn close(got: f64, want: f64, tol: f64) -> bool {
        (got - want).abs() <= tol * want.abs().max(1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::golden::*;
    use super::*;

    #[test]
    fn the_golden_arrays_are_the_references() {
        let a = arrays();
        assert_eq!(a.factors.iter().map(|c| c[..3].to_vec()).collect::<Vec<_>>(), vec![vec![0, 1, 1], vec![1, 3, 4], vec![2, 3, 0], vec![2, 2, 4]]);
        assert_eq!(a.factors.iter().map(|c| c.iter().sum::<usize>()).collect::<Vec<_>>(), vec![1995, 3998, 3081, 5001]);
        let row0: Vec<f64> = a.mixed.iter().map(|c| c[0]).collect();
        assert_eq!(row0, vec![-0.22849122978007522, 1.4641124351861832, 2.9835238825936026, 0.64491003560775284, 0.88347345774634933, 2.0]);
        let sums: Vec<f64> = a.mixed.iter().map(|c| c.iter().fold(0.0, |s, v| s + v)).collect();
        assert_eq!(sums, vec![1956.7779435414773, 3931.5813919345946, 5656.8537866695515, 14.993625086338566, 3013.6014792768788, 4000.0]);
    }

    #[test]
    fn binning_is_minmax_into_equal_bins() {
        assert_eq!(minmax_bin(&[0.0, 0.05, 0.1, 0.95, 1.0], 10), vec![1, 1, 2, 10, 10]);
        assert_eq!(minmax_bin(&[3.0, 3.0], 10), vec![1, 1], "a constant column is one bin");
        // Five evenly spaced classes: a relabelling, one class per bin.
        assert_eq!(minmax_bin(&[0.0, 1.0, 2.0, 3.0, 4.0], 10), vec![1, 3, 6, 8, 10]);
        // 32 positions into 10 bins merge neighbours.
        let merged = minmax_bin(&(0..32).map(f64::from).collect::<Vec<_>>(), 10);
        assert_eq!(merged.iter().collect::<std::collections::BTreeSet<_>>().len(), 10);
    }

    #[test]
    fn entropies_in_bits() {
        assert_eq!(entropy_bits(&[1, 1, 2, 2]), 1.0);
        assert_eq!(entropy_bits(&[7, 7, 7]), 0.0);
        assert!((joint_entropy_bits(&[1, 1, 2, 2], &[1, 2, 1, 2]) - 2.0).abs() < 1e-15);
    }
}
