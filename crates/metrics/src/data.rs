//! Validated, borrowed views of the arrays the metrics consume: codes (N×D `f32`),
//! ground-truth factor classes (N×K `usize`), factor sizes of a ground-truth space, and
//! Gaussian posterior parameters (μ and log σ², N×D, optional equicorrelated noise ρ).
//! All are row-major. Validation happens once, at construction, so the metrics can
//! assume finite values and consistent shapes.

use ndarray::ArrayView2;
use rand::Rng;

use crate::error::{MetricsError, Result, invalid};

/// Largest sample size, batch or count any metric setting may ask for (2²⁴ ≈ 16.8 million,
/// 23 × the whole dSprites grid): a larger number in a settings file is a typo that would
/// otherwise end in an allocation failure.
pub const MAX_METRIC_SAMPLES: usize = 1 << 24;
/// Most histogram bins per code.
pub const MAX_BINS: usize = 1000;

fn checked_len(what: &'static str, rows: usize, cols: usize) -> Result<usize> {
    if rows == 0 || cols == 0 {
        return Err(MetricsError::Empty { what });
    }
    rows.checked_mul(cols)
        .ok_or_else(|| invalid("shape", format!("{what}: {rows}×{cols} overflows")))
}

fn check_finite(what: &'static str, values: &[f32], cols: usize) -> Result<()> {
    match values.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(pos) => Err(MetricsError::NonFinite {
            what,
            row: pos / cols,
            column: pos % cols,
            value: values[pos] as f64,
        }),
    }
}

/// N×D codes (one representation vector per row), every value finite.
#[derive(Debug, Clone, Copy)]
pub struct Codes<'a> {
    values: &'a [f32],
    num_samples: usize,
    num_codes: usize,
}

impl<'a> Codes<'a> {
    pub fn new(values: &'a [f32], num_samples: usize, num_codes: usize) -> Result<Self> {
        let expected = checked_len("codes", num_samples, num_codes)?;
        if values.len() != expected {
            return Err(MetricsError::Shape {
                what: "codes (N×D)",
                got: values.len(),
                expected,
            });
        }
        check_finite("codes", values, num_codes)?;
        Ok(Codes {
            values,
            num_samples,
            num_codes,
        })
    }

    /// From a standard-layout (row-major, contiguous) ndarray view.
    pub fn from_ndarray(view: ArrayView2<'a, f32>) -> Result<Self> {
        let (n, d) = view.dim();
        let values = view
            .to_slice()
            .ok_or_else(|| invalid("codes", "the array must be row-major and contiguous"))?;
        Codes::new(values, n, d)
    }

    pub fn values(&self) -> &'a [f32] {
        self.values
    }
    pub fn num_samples(&self) -> usize {
        self.num_samples
    }
    pub fn num_codes(&self) -> usize {
        self.num_codes
    }
    pub fn row(&self, i: usize) -> &'a [f32] {
        &self.values[i * self.num_codes..(i + 1) * self.num_codes]
    }
    /// Code `j` of every sample, widened to `f64`.
    pub fn column(&self, j: usize) -> Vec<f64> {
        self.values
            .iter()
            .skip(j)
            .step_by(self.num_codes)
            .map(|&v| v as f64)
            .collect()
    }
    /// Rows `start..start + len` (caller guarantees the range is inside).
    pub(crate) fn rows(&self, start: usize, len: usize) -> Codes<'a> {
        Codes {
            values: &self.values[start * self.num_codes..(start + len) * self.num_codes],
            num_samples: len,
            num_codes: self.num_codes,
        }
    }
}

/// N×K ground-truth factor classes. Classes are arbitrary non-negative integers; the
/// metrics compare them only for equality (classifiers learn the classes they see).
#[derive(Debug, Clone, Copy)]
pub struct Factors<'a> {
    values: &'a [usize],
    num_samples: usize,
    num_factors: usize,
}

impl<'a> Factors<'a> {
    pub fn new(values: &'a [usize], num_samples: usize, num_factors: usize) -> Result<Self> {
        let expected = checked_len("factors", num_samples, num_factors)?;
        if values.len() != expected {
            return Err(MetricsError::Shape {
                what: "factors (N×K)",
                got: values.len(),
                expected,
            });
        }
        Ok(Factors {
            values,
            num_samples,
            num_factors,
        })
    }

    pub fn from_ndarray(view: ArrayView2<'a, usize>) -> Result<Self> {
        let (n, k) = view.dim();
        let values = view
            .to_slice()
            .ok_or_else(|| invalid("factors", "the array must be row-major and contiguous"))?;
        Factors::new(values, n, k)
    }

    pub fn values(&self) -> &'a [usize] {
        self.values
    }
    pub fn num_samples(&self) -> usize {
        self.num_samples
    }
    pub fn num_factors(&self) -> usize {
        self.num_factors
    }
    pub fn row(&self, i: usize) -> &'a [usize] {
        &self.values[i * self.num_factors..(i + 1) * self.num_factors]
    }
    /// Factor `k` of every sample.
    pub fn column(&self, k: usize) -> Vec<usize> {
        self.values
            .iter()
            .skip(k)
            .step_by(self.num_factors)
            .copied()
            .collect()
    }
    pub(crate) fn rows(&self, start: usize, len: usize) -> Factors<'a> {
        Factors {
            values: &self.values[start * self.num_factors..(start + len) * self.num_factors],
            num_samples: len,
            num_factors: self.num_factors,
        }
    }
}

pub(crate) fn check_same_samples(codes: &Codes, factors: &Factors) -> Result<()> {
    if codes.num_samples() != factors.num_samples() {
        return Err(MetricsError::Shape {
            what: "factors (rows must match the codes)",
            got: factors.num_samples(),
            expected: codes.num_samples(),
        });
    }
    Ok(())
}

/// Sizes of the ground-truth factors (dSprites: `[3, 6, 40, 32, 32]`). Interventional
/// scores sample factor vectors from it: each factor uniformly and independently, the
/// protocol of the reference study.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactorSizes {
    sizes: Vec<usize>,
}

impl FactorSizes {
    pub fn new(sizes: &[usize]) -> Result<Self> {
        if sizes.is_empty() {
            return Err(MetricsError::Empty {
                what: "factor sizes",
            });
        }
        if let Some(k) = sizes.iter().position(|&s| s == 0) {
            return Err(invalid(
                "factor sizes",
                format!("factor {k} has no classes"),
            ));
        }
        Ok(FactorSizes {
            sizes: sizes.to_vec(),
        })
    }
    pub fn sizes(&self) -> &[usize] {
        &self.sizes
    }
    pub fn num_factors(&self) -> usize {
        self.sizes.len()
    }
    /// Points of the factor grid (the product of the sizes); None when it overflows.
    pub fn num_points(&self) -> Option<usize> {
        self.sizes.iter().try_fold(1usize, |acc, &s| acc.checked_mul(s))
    }

    /// Appends `n` factor vectors (row-major) to `out`, row by row, factor by factor.
    pub fn sample_into<R: Rng + ?Sized>(&self, n: usize, rng: &mut R, out: &mut Vec<usize>) {
        out.reserve(n * self.sizes.len());
        for _ in 0..n {
            for &s in &self.sizes {
                out.push(rng.random_range(0..s));
            }
        }
    }

    /// `n` factor vectors, n×K row-major.
    pub fn sample<R: Rng + ?Sized>(&self, n: usize, rng: &mut R) -> Vec<usize> {
        let mut out = Vec::new();
        self.sample_into(n, rng, &mut out);
        out
    }

    /// Checks that `factors` holds valid classes of this space.
    pub fn check(&self, factors: &Factors) -> Result<()> {
        if factors.num_factors() != self.sizes.len() {
            return Err(MetricsError::Shape {
                what: "factors per sample",
                got: factors.num_factors(),
                expected: self.sizes.len(),
            });
        }
        for row in factors.values().chunks_exact(self.sizes.len()) {
            for (k, (&c, &s)) in row.iter().zip(&self.sizes).enumerate() {
                if c >= s {
                    return Err(MetricsError::FactorOutOfRange {
                        factor: k,
                        class: c,
                        size: s,
                    });
                }
            }
        }
        Ok(())
    }
}

/// Gaussian posteriors q(z|x_n) = N(μ_n, D_n Σ D_n) of N samples, with D_n = diag(σ_n)
/// and Σ = (1 − ρ) I + ρ 11ᵀ the noise correlation (ρ = 0: the usual diagonal posterior).
#[derive(Debug, Clone, Copy)]
pub struct GaussianPosteriors<'a> {
    mean: &'a [f32],
    log_variance: &'a [f32],
    num_samples: usize,
    num_dims: usize,
    noise_correlation: f64,
}

impl<'a> GaussianPosteriors<'a> {
    /// Diagonal posteriors from μ and log σ² (both N×D, row-major).
    pub fn new(
        mean: &'a [f32],
        log_variance: &'a [f32],
        num_samples: usize,
        num_dims: usize,
    ) -> Result<Self> {
        let expected = checked_len("posterior means", num_samples, num_dims)?;
        for (what, values) in [
            ("posterior means (N×D)", mean),
            ("posterior log-variances (N×D)", log_variance),
        ] {
            if values.len() != expected {
                return Err(MetricsError::Shape {
                    what,
                    got: values.len(),
                    expected,
                });
            }
        }
        check_finite("posterior means", mean, num_dims)?;
        check_finite("posterior log-variances", log_variance, num_dims)?;
        // σ = exp(½ log σ²) must be a positive, finite f64: log σ² within ±1400.
        if let Some(pos) = log_variance.iter().position(|v| v.abs() > 1400.0) {
            return Err(invalid(
                "posterior log-variances",
                format!(
                    "log σ² = {} at row {}, column {} makes σ zero or infinite",
                    log_variance[pos],
                    pos / num_dims,
                    pos % num_dims
                ),
            ));
        }
        Ok(GaussianPosteriors {
            mean,
            log_variance,
            num_samples,
            num_dims,
            noise_correlation: 0.0,
        })
    }

    /// Sets the correlation ρ of the reparameterization noise. Σ is positive definite
    /// for −1/(D − 1) < ρ < 1.
    pub fn with_noise_correlation(mut self, rho: f64) -> Result<Self> {
        let d = self.num_dims as f64;
        let valid =
            rho.is_finite() && rho < 1.0 && (self.num_dims == 1 || 1.0 + (d - 1.0) * rho > 0.0);
        if !valid {
            return Err(invalid(
                "noise correlation ρ",
                format!("{rho} (need −1/(D−1) < ρ < 1 with D = {})", self.num_dims),
            ));
        }
        self.noise_correlation = rho;
        Ok(self)
    }

    pub fn mean(&self) -> &'a [f32] {
        self.mean
    }
    pub fn log_variance(&self) -> &'a [f32] {
        self.log_variance
    }
    pub fn num_samples(&self) -> usize {
        self.num_samples
    }
    pub fn num_dims(&self) -> usize {
        self.num_dims
    }
    pub fn noise_correlation(&self) -> f64 {
        self.noise_correlation
    }
    /// The means as codes (the "mean representation").
    pub fn mean_codes(&self) -> Codes<'a> {
        Codes {
            values: self.mean,
            num_samples: self.num_samples,
            num_codes: self.num_dims,
        }
    }
    /// ln det Σ = (D − 1) ln(1 − ρ) + ln(1 + (D − 1) ρ); 0 for ρ = 0.
    pub fn log_det_noise_correlation(&self) -> f64 {
        let (d, rho) = (self.num_dims as f64, self.noise_correlation);
        if rho == 0.0 || self.num_dims == 1 {
            return 0.0;
        }
        (d - 1.0) * (1.0 - rho).ln() + (1.0 + (d - 1.0) * rho).ln()
    }
}

/// Rows used for training and testing out of `n` available: the configured sizes when
/// there are enough rows (first `num_train` rows train, the next `num_test` test), else
/// the same proportion of the rows there are.
pub(crate) fn train_test_sizes(
    metric: &'static str,
    n: usize,
    num_train: usize,
    num_test: usize,
) -> Result<(usize, usize)> {
    if num_train == 0 || num_test == 0 {
        return Err(invalid(
            "sample sizes",
            format!("{metric}: num_train and num_test must be positive"),
        ));
    }
    if n >= num_train + num_test {
        return Ok((num_train, num_test));
    }
    if n < 2 {
        return Err(crate::error::degenerate(
            metric,
            format!("{n} samples cannot be split into train and test sets"),
        ));
    }
    let train = ((n as f64) * num_train as f64 / (num_train + num_test) as f64).round() as usize;
    let train = train.clamp(1, n - 1);
    Ok((train, n - train))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_and_values_are_validated() {
        assert!(matches!(
            Codes::new(&[1.0; 5], 2, 3),
            Err(MetricsError::Shape { .. })
        ));
        assert!(matches!(
            Codes::new(&[], 0, 3),
            Err(MetricsError::Empty { .. })
        ));
        let err = Codes::new(&[1.0, 2.0, f32::NAN, 4.0], 2, 2).unwrap_err();
        assert!(
            matches!(
                err,
                MetricsError::NonFinite {
                    row: 1,
                    column: 0,
                    ..
                }
            ),
            "{err}"
        );
        assert!(Factors::new(&[1, 2, 3], 2, 2).is_err());
        assert!(FactorSizes::new(&[3, 0]).is_err());
        assert!(FactorSizes::new(&[]).is_err());
        let sizes = FactorSizes::new(&[2, 3]).unwrap();
        assert!(matches!(
            sizes.check(&Factors::new(&[1, 3], 1, 2).unwrap()),
            Err(MetricsError::FactorOutOfRange {
                factor: 1,
                class: 3,
                size: 3
            })
        ));
        assert!(GaussianPosteriors::new(&[0.0; 4], &[0.0; 3], 2, 2).is_err());
        assert!(GaussianPosteriors::new(&[0.0; 4], &[0.0, 0.0, -3000.0, 0.0], 2, 2).is_err());
    }

    #[test]
    fn ndarray_views_in_standard_layout_are_accepted() {
        let a =
            ndarray::Array2::from_shape_vec((2, 3), vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
        let codes = Codes::from_ndarray(a.view()).unwrap();
        assert_eq!((codes.num_samples(), codes.num_codes()), (2, 3));
        assert_eq!(codes.row(1), &[4.0, 5.0, 6.0]);
        assert_eq!(codes.column(2), vec![3.0, 6.0]);
        // A transposed view is not row-major: an error, not a silent copy.
        assert!(Codes::from_ndarray(a.t()).is_err());
    }

    #[test]
    fn train_test_split_sizes() {
        assert_eq!(
            train_test_sizes("m", 20_000, 10_000, 5_000).unwrap(),
            (10_000, 5_000)
        );
        assert_eq!(
            train_test_sizes("m", 3_000, 10_000, 5_000).unwrap(),
            (2_000, 1_000)
        );
        assert!(train_test_sizes("m", 1, 10, 5).is_err());
    }
}
