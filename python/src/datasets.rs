//! `disentanglekit.datasets`: our ground-truth datasets with disentanglement_lib's
//! `GroundTruthData` interface. Observations are (N, H, W, C) float32 in [0, 1], channels last,
//! as disentanglement_lib returns them (our Rust datasets render (C, H, W); the transpose happens
//! here).

use std::path::PathBuf;
use std::sync::Arc;

use disentangle_data::FactorDataset;
use numpy::{PyArray1, PyArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::arrays::class_matrix;
use crate::errors::data_error;
use crate::interrupt::run_interruptible;
use crate::random_state::seed_of;

/// Largest observation batch one call may render (4 GiB of float32): a bigger request is almost
/// always a typo and would otherwise end in an out-of-memory kill.
const MAX_BATCH_BYTES: usize = 4 << 30;

/// A ground-truth dataset: factor classes ↔ observations.
///
/// Same names and semantics as disentanglement_lib's ``GroundTruthData``: ``num_factors``,
/// ``factors_num_values``, ``observation_shape`` (H, W, C), ``sample_factors(num,
/// random_state)``, ``sample_observations_from_factors(factors, random_state)``,
/// ``sample(num, random_state)``, ``sample_observations(num, random_state)``. ``random_state``
/// is an int seed, None (seed 0) or a numpy RandomState / Generator (one seed is drawn from it).
/// Factor classes are int64 arrays (N, K); observations float32 (N, H, W, C) in [0, 1].
#[pyclass(name = "GroundTruthData", module = "disentanglekit.datasets", frozen)]
pub struct GroundTruthData {
    pub(crate) inner: Arc<dyn FactorDataset>,
}

impl GroundTruthData {
    /// (C, H, W) observations of `factors` (n×K), rendered with the nuisance randomness of a
    /// stochastic dataset drawn from `rng`, as (n, H, W, C).
    pub(crate) fn render_hwc(dataset: &dyn FactorDataset, factors: &[usize], rng: &mut ChaCha8Rng) -> disentangle_data::Result<Vec<f32>> {
        let [c, h, w] = dataset.observation_shape();
        // Checks the batch (shape and classes) and renders it.
        let chw = dataset.observations_with(factors, rng)?;
        if c == 1 {
            return Ok(chw);
        }
        let plane = h * w;
        let mut hwc = vec![0.0f32; chw.len()];
        for (src, dst) in chw.chunks_exact(c * plane).zip(hwc.chunks_exact_mut(c * plane)) {
            for ch in 0..c {
                for p in 0..plane {
                    dst[p * c + ch] = src[ch * plane + p];
                }
            }
        }
        Ok(hwc)
    }

    fn check_batch_size(&self, n: usize) -> PyResult<()> {
        let bytes = n.checked_mul(self.inner.observation_len()).and_then(|v| v.checked_mul(4));
        match bytes {
            Some(b) if b <= MAX_BATCH_BYTES => Ok(()),
            _ => Err(PyValueError::new_err(format!(
                "{n} observations of {:?} floats are more than {} GiB in one call: sample in batches",
                self.inner.observation_shape(),
                MAX_BATCH_BYTES >> 30
            ))),
        }
    }

    fn factors_array<'py>(&self, py: Python<'py>, factors: Vec<usize>) -> PyResult<Bound<'py, PyAny>> {
        let k = self.inner.factors().num_factors();
        let n = factors.len() / k;
        let values: Vec<i64> = factors.into_iter().map(|v| v as i64).collect();
        Ok(PyArray1::from_vec(py, values).reshape([n, k])?.into_any())
    }

    fn observations_array<'py>(&self, py: Python<'py>, factors: Vec<usize>, seed: u64) -> PyResult<Bound<'py, PyAny>> {
        let n = factors.len() / self.inner.factors().num_factors();
        self.check_batch_size(n)?;
        let dataset = Arc::clone(&self.inner);
        let values = run_interruptible(py, move || {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            Self::render_hwc(dataset.as_ref(), &factors, &mut rng)
        })?
        .map_err(data_error)?;
        let [c, h, w] = self.inner.observation_shape();
        Ok(PyArray1::from_vec(py, values).reshape([n, h, w, c])?.into_any())
    }

    fn draw_factors(&self, num: usize, seed: u64) -> Vec<usize> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        self.inner.factors().sample(num, &mut rng)
    }
}

#[pymethods]
impl GroundTruthData {
    /// The dataset's name (``dsprites``, ``cars3d-official``, …).
    #[getter]
    fn name(&self) -> String {
        self.inner.name().to_string()
    }
    /// Where the observations come from: a file path or the generator.
    #[getter]
    fn source(&self) -> String {
        self.inner.source()
    }
    #[getter]
    fn num_factors(&self) -> usize {
        self.inner.factors().num_factors()
    }
    /// Classes per factor (disentanglement_lib's name).
    #[getter]
    fn factors_num_values(&self) -> Vec<usize> {
        self.inner.factors().sizes().to_vec()
    }
    /// Classes per factor (same as ``factors_num_values``).
    #[getter]
    fn factor_sizes(&self) -> Vec<usize> {
        self.inner.factors().sizes().to_vec()
    }
    #[getter]
    fn factor_names(&self) -> Vec<String> {
        self.inner.factors().names().to_vec()
    }
    /// (H, W, C), channels last as in disentanglement_lib.
    #[getter]
    fn observation_shape(&self) -> (usize, usize, usize) {
        let [c, h, w] = self.inner.observation_shape();
        (h, w, c)
    }
    /// Whether an observation depends on more than its factors (random colour, noise,
    /// background, or SmallNORB's instance); such observations are drawn from ``random_state``.
    #[getter]
    fn is_stochastic(&self) -> bool {
        self.inner.is_stochastic()
    }
    /// Number of factor combinations.
    fn __len__(&self) -> usize {
        self.inner.num_observations()
    }
    fn __repr__(&self) -> String {
        let names = self.inner.factors().names();
        let sizes = self.inner.factors().sizes();
        let factors: Vec<String> = names.iter().zip(sizes).map(|(n, s)| format!("{n}={s}")).collect();
        format!("GroundTruthData(name={:?}, factors=[{}], observation_shape={:?})", self.inner.name(), factors.join(", "), self.observation_shape())
    }

    /// ``num`` factor vectors, each factor uniform over its classes: int64 (num, K).
    #[pyo3(signature = (num, random_state = None))]
    fn sample_factors<'py>(&self, py: Python<'py>, num: usize, random_state: Option<&Bound<'py, PyAny>>) -> PyResult<Bound<'py, PyAny>> {
        self.check_batch_size(num)?;
        let seed = seed_of(random_state)?;
        self.factors_array(py, self.draw_factors(num, seed))
    }

    /// Observations of the factor classes ``factors`` (N, K): float32 (N, H, W, C) in [0, 1].
    #[pyo3(signature = (factors, random_state = None))]
    fn sample_observations_from_factors<'py>(&self, py: Python<'py>, factors: &Bound<'py, PyAny>, random_state: Option<&Bound<'py, PyAny>>) -> PyResult<Bound<'py, PyAny>> {
        let (values, _, k) = class_matrix(factors, "factors")?;
        if k != self.inner.factors().num_factors() {
            return Err(PyValueError::new_err(format!("factors has {k} columns but {} has {} factors", self.inner.name(), self.inner.factors().num_factors())));
        }
        // Checked here too (rendering checks again) so that a bad batch fails before a seed is
        // drawn from the caller's generator.
        self.inner.factors().check_batch(&values).map_err(data_error)?;
        let seed = seed_of(random_state)?;
        self.observations_array(py, values, seed)
    }

    /// ``(factors, observations)`` of ``num`` random samples.
    #[pyo3(signature = (num, random_state = None))]
    fn sample<'py>(&self, py: Python<'py>, num: usize, random_state: Option<&Bound<'py, PyAny>>) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
        self.check_batch_size(num)?;
        let seed = seed_of(random_state)?;
        let factors = self.draw_factors(num, seed);
        // The observations' own randomness comes from a second stream of the same seed.
        let observations = self.observations_array(py, factors.clone(), seed.wrapping_add(0x9e37_79b9_7f4a_7c15))?;
        Ok((self.factors_array(py, factors)?, observations))
    }

    /// ``num`` random observations.
    #[pyo3(signature = (num, random_state = None))]
    fn sample_observations<'py>(&self, py: Python<'py>, num: usize, random_state: Option<&Bound<'py, PyAny>>) -> PyResult<Bound<'py, PyAny>> {
        Ok(self.sample(py, num, random_state)?.1)
    }
}

/// Opens a dataset by name or path.
///
/// Names: ``dsprites``, ``cars3d``, ``shapes3d``, ``color-dsprites``, ``noisy-dsprites``,
/// ``scream-dsprites`` (procedural: nothing to download), ``cars3d:N`` (N procedural car
/// models), and the official files: ``dsprites-official``, ``cars3d-official``,
/// ``shapes3d-official``, ``smallnorb``, ``mpi3d-toy``, ``mpi3d-realistic``, ``mpi3d-real``
/// (the variants also as ``color-dsprites-official`` …), read from ``data_dir`` (default: the
/// ``DISENTANGLE_DATA`` environment variable) in disentanglement_lib's folder layout
/// (``DIR/dsprites/…npz``, ``DIR/cars/*.mat``, ``DIR/3dshapes/3dshapes.h5`` …). A path to an
/// official-layout .npz or .h5 file, or to a Cars3D or SmallNORB folder, works too.
#[pyfunction]
#[pyo3(signature = (name, data_dir = None))]
pub fn load(py: Python<'_>, name: &str, data_dir: Option<PathBuf>) -> PyResult<GroundTruthData> {
    let spec = name.to_string();
    let dir = disentangle_data::data_dir(data_dir.as_deref());
    let dataset = run_interruptible(py, move || disentangle_data::open_dataset(&spec, dir.as_deref()))?.map_err(data_error)?;
    Ok(GroundTruthData { inner: Arc::from(dataset) })
}
