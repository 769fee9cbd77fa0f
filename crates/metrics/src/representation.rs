//! The interface between metrics and a model: a [`Representation`] maps a batch of
//! ground-truth factor vectors to codes. The caller renders the observations and runs
//! its encoder, so this crate needs no dataset or deep-learning dependency. Any closure
//! `FnMut(&[usize]) -> Result<Vec<f32>, E>` is a representation.

use rand::Rng;

use crate::data::{Codes, FactorSizes, Factors};
use crate::error::{BoxError, MetricsError, Result, invalid};

/// Maps factor vectors (n×K classes, row-major) to codes (n×D, row-major). D must be the
/// same for every call. Deterministic representations (the mean code) give scores that do
/// not depend on how the metrics batch their calls.
pub trait Representation {
    type Error: Into<BoxError>;
    fn encode(&mut self, factors: &[usize]) -> Result<Vec<f32>, Self::Error>;
}

impl<F, E> Representation for F
where
    F: FnMut(&[usize]) -> Result<Vec<f32>, E>,
    E: Into<BoxError>,
{
    type Error = E;
    fn encode(&mut self, factors: &[usize]) -> Result<Vec<f32>, E> {
        self(factors)
    }
}

/// Wraps a representation: checks every output's shape and finiteness and remembers D.
pub(crate) struct Encoder<'r, R: Representation> {
    representation: &'r mut R,
    num_factors: usize,
    num_codes: Option<usize>,
}

impl<'r, R: Representation> Encoder<'r, R> {
    pub fn new(representation: &'r mut R, num_factors: usize) -> Self {
        Encoder {
            representation,
            num_factors,
            num_codes: None,
        }
    }

    pub fn num_codes(&self) -> Option<usize> {
        self.num_codes
    }

    /// Codes of one batch of factor vectors.
    pub fn encode(&mut self, factors: &[usize]) -> Result<Vec<f32>> {
        let n = factors.len() / self.num_factors;
        if n == 0 {
            return Ok(Vec::new());
        }
        let codes = self
            .representation
            .encode(factors)
            .map_err(|e| MetricsError::Representation { source: e.into() })?;
        let d = match self.num_codes {
            Some(d) => d,
            None => {
                if codes.is_empty() || codes.len() % n != 0 {
                    return Err(MetricsError::Shape {
                        what: "representation output (n×D codes for n factor vectors)",
                        got: codes.len(),
                        expected: n * (codes.len() / n).max(1),
                    });
                }
                let d = codes.len() / n;
                self.num_codes = Some(d);
                d
            }
        };
        if codes.len() != n * d {
            return Err(MetricsError::Shape {
                what: "representation output (n×D)",
                got: codes.len(),
                expected: n * d,
            });
        }
        if let Some(pos) = codes.iter().position(|v| !v.is_finite()) {
            return Err(MetricsError::NonFinite {
                what: "codes returned by the representation",
                row: pos / d,
                column: pos % d,
                value: codes[pos] as f64,
            });
        }
        Ok(codes)
    }

    /// Codes of many factor vectors, at most `rows_per_call` per call.
    pub fn encode_chunked(&mut self, factors: &[usize], rows_per_call: usize) -> Result<Vec<f32>> {
        let mut out = Vec::new();
        for chunk in factors.chunks(rows_per_call.max(1) * self.num_factors) {
            out.extend(self.encode(chunk)?);
        }
        Ok(out)
    }
}

/// Factor vectors drawn with the reference protocol and their codes.
#[derive(Debug, Clone)]
pub struct SampledCodes {
    pub factors: Vec<usize>,
    pub codes: Vec<f32>,
    pub num_samples: usize,
    pub num_factors: usize,
    pub num_codes: usize,
    pub seed: u64,
}

impl SampledCodes {
    pub fn codes(&self) -> Codes<'_> {
        Codes::new(&self.codes, self.num_samples, self.num_codes).expect("validated when encoded")
    }
    pub fn factors(&self) -> Factors<'_> {
        Factors::new(&self.factors, self.num_samples, self.num_factors)
            .expect("shape fixed when sampled")
    }
}

/// Draws `num_samples` factor vectors uniformly (ChaCha8 seeded with `seed`, row by row,
/// factor by factor) and encodes them, `rows_per_call` rows per representation call.
/// The first rows of a larger sample equal a smaller sample with the same seed.
pub fn sample_codes<R: Representation>(
    ground_truth: &FactorSizes,
    representation: &mut R,
    num_samples: usize,
    seed: u64,
    rows_per_call: usize,
) -> Result<SampledCodes> {
    use rand::SeedableRng;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    sample_codes_with_rng(
        ground_truth,
        representation,
        num_samples,
        &mut rng,
        rows_per_call,
    )
    .map(|mut s| {
        s.seed = seed;
        s
    })
}

pub(crate) fn sample_codes_with_rng<R: Representation, G: Rng + ?Sized>(
    ground_truth: &FactorSizes,
    representation: &mut R,
    num_samples: usize,
    rng: &mut G,
    rows_per_call: usize,
) -> Result<SampledCodes> {
    if num_samples == 0 {
        return Err(invalid("num_samples", "must be positive"));
    }
    let factors = ground_truth.sample(num_samples, rng);
    let mut encoder = Encoder::new(representation, ground_truth.num_factors());
    let codes = encoder.encode_chunked(&factors, rows_per_call)?;
    Ok(SampledCodes {
        num_samples,
        num_factors: ground_truth.num_factors(),
        num_codes: encoder.num_codes().unwrap_or(0),
        factors,
        codes,
        seed: 0,
    })
}

/// Column variances (ddof 1) of an n×d row-major matrix.
pub(crate) fn column_variances(values: &[f32], n: usize, d: usize) -> Vec<f64> {
    let mut mean = vec![0.0; d];
    for row in values.chunks_exact(d) {
        for (m, &v) in mean.iter_mut().zip(row) {
            *m += v as f64;
        }
    }
    for m in &mut mean {
        *m /= n as f64;
    }
    let mut var = vec![0.0; d];
    for row in values.chunks_exact(d) {
        for ((s, &v), m) in var.iter_mut().zip(row).zip(&mean) {
            *s += (v as f64 - m).powi(2);
        }
    }
    for s in &mut var {
        *s /= (n as f64 - 1.0).max(1.0);
    }
    var
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_representation_outputs_are_errors() {
        let sizes = FactorSizes::new(&[3, 4]).unwrap();
        let mut wrong_len = |f: &[usize]| -> Result<Vec<f32>, std::convert::Infallible> {
            Ok(vec![0.0; f.len() / 2 * 3 + 1])
        };
        assert!(sample_codes(&sizes, &mut wrong_len, 10, 0, 4).is_err());
        let mut nan = |f: &[usize]| -> Result<Vec<f32>, std::convert::Infallible> {
            Ok(vec![f32::NAN; f.len()])
        };
        assert!(matches!(
            sample_codes(&sizes, &mut nan, 10, 0, 4),
            Err(MetricsError::NonFinite { .. })
        ));
        let mut failing =
            |_: &[usize]| -> Result<Vec<f32>, String> { Err("encoder exploded".into()) };
        let err = sample_codes(&sizes, &mut failing, 10, 0, 4).unwrap_err();
        assert!(err.to_string().contains("encoder exploded"), "{err}");
        // D changes between calls.
        let mut calls = 0;
        let mut changing = |f: &[usize]| -> Result<Vec<f32>, String> {
            calls += 1;
            Ok(vec![0.0; f.len() / 2 * if calls == 1 { 2 } else { 3 }])
        };
        assert!(sample_codes(&sizes, &mut changing, 10, 0, 4).is_err());
    }

    #[test]
    fn samples_are_seeded_prefix_consistent_and_chunking_invariant() {
        let sizes = FactorSizes::new(&[3, 40]).unwrap();
        let mut identity =
            |f: &[usize]| -> Result<Vec<f32>, String> { Ok(f.iter().map(|&c| c as f32).collect()) };
        let a = sample_codes(&sizes, &mut identity, 100, 7, 64).unwrap();
        let b = sample_codes(&sizes, &mut identity, 250, 7, 7).unwrap();
        assert_eq!(a.factors[..], b.factors[..200]);
        assert_eq!(a.codes[..], b.codes[..200]);
        assert_eq!((a.num_codes, a.seed), (2, 7));
        assert!(a.factors.chunks(2).all(|r| r[0] < 3 && r[1] < 40));
    }
}
