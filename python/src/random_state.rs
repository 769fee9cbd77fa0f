//! Seeds from what disentanglement_lib's callers pass as `random_state`.
//!
//! Every draw inside this package comes from a ChaCha8 generator seeded with a 64-bit integer.
//! `random_state` may be that integer, `None` (seed 0), or a numpy `RandomState` / `Generator`,
//! from which one 64-bit seed is drawn (so successive calls with the same generator differ, as
//! they do in disentanglement_lib, and a generator seeded the same way gives the same numbers).

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyInt};

pub fn seed_of(random_state: Option<&Bound<'_, PyAny>>) -> PyResult<u64> {
    let Some(state) = random_state else { return Ok(0) };
    if state.is_none() {
        return Ok(0);
    }
    if state.is_instance_of::<PyInt>() {
        return state
            .extract::<u64>()
            .map_err(|_| PyValueError::new_err(format!("random_state: the seed must be an integer in [0, 2**64), got {}", state.str().map(|s| s.to_string()).unwrap_or_default())));
    }
    let py = state.py();
    let np = py.import("numpy")?;
    let kwargs = PyDict::new(py);
    kwargs.set_item("size", 2)?;
    kwargs.set_item("dtype", np.getattr("uint64")?)?;
    let halves = if state.hasattr("integers")? {
        state.getattr("integers")?.call((0u64, 1u64 << 32), Some(&kwargs))?
    } else if state.hasattr("randint")? {
        state.getattr("randint")?.call((0u64, 1u64 << 32), Some(&kwargs))?
    } else {
        return Err(PyTypeError::new_err(format!(
            "random_state: expected an int seed, None, numpy.random.RandomState or numpy.random.Generator, got {}",
            state.get_type().name()?
        )));
    };
    let halves: Vec<u64> = halves.call_method0("tolist")?.extract()?;
    Ok((halves[0] << 32) | halves[1])
}
