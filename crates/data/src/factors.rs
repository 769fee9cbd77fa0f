//! Factor spaces and the `FactorDataset` trait shared by every ground-truth dataset.

use rand::{Rng, RngCore};

use crate::error::{DataError, Result};

/// Names and sizes of the ground-truth factors of variation, and the row-major
/// bijection between factor class vectors and flat observation indices
/// (last factor varies fastest, index 0 = every factor at class 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactorSpace {
    names: Vec<String>,
    sizes: Vec<usize>,
    strides: Vec<usize>,
    len: usize,
}

impl FactorSpace {
    pub fn new(names: &[&str], sizes: &[usize]) -> Result<Self> {
        if names.len() != sizes.len() || sizes.is_empty() {
            return Err(DataError::InvalidParameter {
                name: "factors",
                message: format!("{} names for {} sizes", names.len(), sizes.len()),
            });
        }
        if let Some(k) = sizes.iter().position(|&s| s == 0) {
            return Err(DataError::InvalidParameter {
                name: "factors",
                message: format!("factor `{}` has no classes", names[k]),
            });
        }
        let mut strides = vec![1; sizes.len()];
        for k in (0..sizes.len() - 1).rev() {
            strides[k] = strides[k + 1] * sizes[k + 1];
        }
        let len = sizes
            .iter()
            .try_fold(1usize, |acc, &s| acc.checked_mul(s))
            .ok_or_else(|| DataError::InvalidParameter {
                name: "factors",
                message: "the number of factor combinations overflows".into(),
            })?;
        Ok(FactorSpace {
            names: names.iter().map(|s| s.to_string()).collect(),
            sizes: sizes.to_vec(),
            strides,
            len,
        })
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }
    pub fn sizes(&self) -> &[usize] {
        &self.sizes
    }
    /// Number of factors K.
    pub fn num_factors(&self) -> usize {
        self.sizes.len()
    }
    /// Number of factor combinations (= observations of a full-grid dataset).
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Flat row-major index of a factor class vector.
    pub fn index_of(&self, factors: &[usize]) -> Result<usize> {
        if factors.len() != self.sizes.len() {
            return Err(DataError::BufferSize {
                what: "factor vector",
                got: factors.len(),
                expected: self.sizes.len(),
            });
        }
        let mut index = 0;
        for (k, (&c, &s)) in factors.iter().zip(&self.sizes).enumerate() {
            if c >= s {
                return Err(DataError::FactorOutOfRange {
                    factor: k,
                    class: c,
                    size: s,
                });
            }
            index += c * self.strides[k];
        }
        Ok(index)
    }

    /// Writes the factor class vector of `index` into `out` (length K).
    pub fn factors_into(&self, index: usize, out: &mut [usize]) -> Result<()> {
        if index >= self.len {
            return Err(DataError::IndexOutOfRange {
                index,
                len: self.len,
            });
        }
        if out.len() != self.sizes.len() {
            return Err(DataError::BufferSize {
                what: "factor vector",
                got: out.len(),
                expected: self.sizes.len(),
            });
        }
        let mut rest = index;
        for (k, o) in out.iter_mut().enumerate() {
            *o = rest / self.strides[k];
            rest %= self.strides[k];
        }
        Ok(())
    }

    pub fn factors_of(&self, index: usize) -> Result<Vec<usize>> {
        let mut out = vec![0; self.sizes.len()];
        self.factors_into(index, &mut out)?;
        Ok(out)
    }

    /// Draws `n` factor vectors, each factor uniformly and independently from its
    /// classes (the sampling protocol of the reference study). Returns n×K, row-major.
    pub fn sample(&self, n: usize, rng: &mut dyn RngCore) -> Vec<usize> {
        let mut out = Vec::with_capacity(n * self.sizes.len());
        for _ in 0..n {
            for &s in &self.sizes {
                out.push(rng.random_range(0..s));
            }
        }
        out
    }

    /// Checks that a row-major n×K buffer holds valid factor vectors; returns n.
    pub fn check_batch(&self, factors: &[usize]) -> Result<usize> {
        let k = self.sizes.len();
        if !factors.len().is_multiple_of(k) {
            return Err(DataError::BufferSize {
                what: "factor batch (n×K)",
                got: factors.len(),
                expected: (factors.len() / k + 1) * k,
            });
        }
        for row in factors.chunks_exact(k) {
            for (f, (&c, &s)) in row.iter().zip(&self.sizes).enumerate() {
                if c >= s {
                    return Err(DataError::FactorOutOfRange {
                        factor: f,
                        class: c,
                        size: s,
                    });
                }
            }
        }
        Ok(factors.len() / k)
    }
}

/// A dataset whose observations are indexed by ground-truth factors.
///
/// Observations are images of shape (C, H, W) with values in [0, 1]. Implementations
/// must be cheap to share across threads: training and metrics sample from them
/// concurrently.
pub trait FactorDataset: Send + Sync {
    /// Short name, e.g. `dsprites` or `cars3d-official`.
    fn name(&self) -> &str;
    /// Where the observations come from (file path or generator description).
    fn source(&self) -> String;
    fn factors(&self) -> &FactorSpace;
    /// (C, H, W).
    fn observation_shape(&self) -> [usize; 3];
    /// Bytes held in memory by this dataset (for `data info`).
    fn resident_bytes(&self) -> usize;
    /// Writes the observations of the row-major n×K factor batch into `out`
    /// (n×C×H×W, values in [0, 1]).
    fn write_observations(&self, factors: &[usize], out: &mut [f32]) -> Result<()>;

    fn num_observations(&self) -> usize {
        self.factors().len()
    }
    /// C·H·W.
    fn observation_len(&self) -> usize {
        self.observation_shape().iter().product()
    }
    fn sample_factors(&self, n: usize, rng: &mut dyn RngCore) -> Vec<usize> {
        self.factors().sample(n, rng)
    }
    /// Convenience: allocates the output buffer.
    fn observations(&self, factors: &[usize]) -> Result<Vec<f32>> {
        let n = self.factors().check_batch(factors)?;
        let mut out = vec![0.0; n * self.observation_len()];
        self.write_observations(factors, &mut out)?;
        Ok(out)
    }

    /// Whether an observation depends on more than its factors: a random colour, noise or
    /// background (Color-, Noisy-, Scream-dSprites), or a non-latent factor drawn at random
    /// (SmallNORB's instance). Such datasets draw that randomness from the `rng` of
    /// [`FactorDataset::write_observations_with`], as the reference's
    /// `sample_observations_from_factors(factors, random_state)` does.
    fn is_stochastic(&self) -> bool {
        false
    }
    /// [`FactorDataset::write_observations`] with the nuisance randomness drawn from `rng`
    /// (in a fixed order, so the same seed gives the same images). Datasets whose
    /// observations are a function of their factors ignore `rng` and do not advance it.
    fn write_observations_with(&self, factors: &[usize], rng: &mut dyn RngCore, out: &mut [f32]) -> Result<()> {
        let _ = rng;
        self.write_observations(factors, out)
    }
    /// Convenience: allocates the output buffer.
    fn observations_with(&self, factors: &[usize], rng: &mut dyn RngCore) -> Result<Vec<f32>> {
        let n = self.factors().check_batch(factors)?;
        let mut out = vec![0.0; n * self.observation_len()];
        self.write_observations_with(factors, rng, &mut out)?;
        Ok(out)
    }
}

/// The generator a stochastic dataset uses when called without one
/// ([`FactorDataset::write_observations`]): ChaCha8 seeded by a hash of the factor batch, so
/// the call is reproducible (the same batch gives the same images) without shared state.
pub fn batch_seeded_rng(factors: &[usize]) -> rand_chacha::ChaCha8Rng {
    use rand::SeedableRng;
    // FNV-1a over the factor values.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &f in factors {
        for b in (f as u64).to_le_bytes() {
            h = (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    rand_chacha::ChaCha8Rng::seed_from_u64(h)
}

/// Shared argument check for `write_observations` implementations; returns n.
pub(crate) fn check_output(
    space: &FactorSpace,
    obs_len: usize,
    factors: &[usize],
    out: &[f32],
) -> Result<usize> {
    let n = space.check_batch(factors)?;
    if out.len() != n * obs_len {
        return Err(DataError::BufferSize {
            what: "observation buffer (n×C×H×W)",
            got: out.len(),
            expected: n * obs_len,
        });
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;

    fn dsprites_space() -> FactorSpace {
        FactorSpace::new(
            &["shape", "scale", "orientation", "pos_x", "pos_y"],
            &[3, 6, 40, 32, 32],
        )
        .unwrap()
    }

    #[test]
    fn last_factor_fastest_and_zero_index() {
        let s = dsprites_space();
        assert_eq!(s.len(), 737_280);
        assert_eq!(s.index_of(&[0, 0, 0, 0, 0]).unwrap(), 0);
        assert_eq!(s.index_of(&[0, 0, 0, 0, 1]).unwrap(), 1);
        assert_eq!(s.index_of(&[0, 0, 0, 1, 0]).unwrap(), 32);
        assert_eq!(s.index_of(&[1, 0, 0, 0, 0]).unwrap(), 6 * 40 * 32 * 32);
        assert_eq!(s.index_of(&[2, 5, 39, 31, 31]).unwrap(), 737_279);
    }

    #[test]
    fn out_of_range_is_an_error() {
        let s = dsprites_space();
        assert!(matches!(
            s.index_of(&[3, 0, 0, 0, 0]),
            Err(DataError::FactorOutOfRange { factor: 0, class: 3, size: 3 })
        ));
        assert!(s.index_of(&[0, 0, 0]).is_err());
        assert!(s.factors_of(737_280).is_err());
    }

    #[test]
    fn sampling_is_seeded_and_covers_classes() {
        let s = FactorSpace::new(&["a", "b"], &[3, 5]).unwrap();
        let mut r1 = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let mut r2 = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let a = s.sample(2000, &mut r1);
        assert_eq!(a, s.sample(2000, &mut r2));
        let mut counts = [0usize; 5];
        for row in a.chunks(2) {
            assert!(row[0] < 3 && row[1] < 5);
            counts[row[1]] += 1;
        }
        // Uniform: each of the 5 classes gets 400 ± 5 sd (sd ≈ 18).
        for c in counts {
            assert!((310..=490).contains(&c), "{counts:?}");
        }
    }

    proptest! {
        #[test]
        fn index_factor_bijection(
            sizes in proptest::collection::vec(1usize..9, 1..6),
            seed in any::<u64>(),
        ) {
            let names: Vec<String> = (0..sizes.len()).map(|k| format!("f{k}")).collect();
            let names: Vec<&str> = names.iter().map(|s| s.as_str()).collect();
            let s = FactorSpace::new(&names, &sizes).unwrap();
            let idx = (seed as usize) % s.len();
            let f = s.factors_of(idx).unwrap();
            prop_assert_eq!(s.index_of(&f).unwrap(), idx);
            for (c, sz) in f.iter().zip(&sizes) { prop_assert!(c < sz); }
            // And the other direction, from a random factor vector.
            let v: Vec<usize> = sizes.iter().enumerate().map(|(k, &sz)| (seed as usize >> (k * 3)) % sz).collect();
            prop_assert_eq!(s.factors_of(s.index_of(&v).unwrap()).unwrap(), v);
        }
    }
}
