//! numpy arrays in and out.
//!
//! Codes and posterior parameters are read in place when they are C-contiguous `float32`
//! (numpy's `ascontiguousarray` returns the same array then); anything else numeric is converted
//! once. Factor classes must be integers and are copied into `usize`. The reader keeps a
//! reference to the array, so a computation that runs on a worker thread while the GIL is
//! released can read it safely even if the caller drops it.

use numpy::{PyArray2, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use serde_json::Value;

/// A 2-D `float32` array kept alive and read in place.
pub struct F32Matrix {
    _keep: Py<PyArray2<f32>>,
    ptr: *const f32,
    pub rows: usize,
    pub cols: usize,
}

// SAFETY: the pointer is into the buffer of `_keep`, which this value owns a reference to, so the
// buffer lives as long as the value; it is only read. (Like every numpy extension that releases
// the GIL, a concurrent write from another Python thread would race; none of our code writes.)
unsafe impl Send for F32Matrix {}
unsafe impl Sync for F32Matrix {}

impl F32Matrix {
    pub fn values(&self) -> &[f32] {
        if self.rows * self.cols == 0 {
            return &[];
        }
        // SAFETY: see the Send impl; C-contiguous with rows × cols elements (checked when built).
        unsafe { std::slice::from_raw_parts(self.ptr, self.rows * self.cols) }
    }
}

fn numpy(py: Python<'_>) -> PyResult<Bound<'_, PyModule>> {
    py.import("numpy")
}

fn is_array_like(obj: &Bound<'_, PyAny>) -> bool {
    obj.hasattr("__array__").unwrap_or(false) || obj.hasattr("__array_interface__").unwrap_or(false) || obj.is_instance_of::<PyList>()
}

/// `obj` as one C-contiguous 2-D numpy array of `dtype` (the same array when it already is one),
/// after checking that it is array-like (else a TypeError: "`name`: expected `what`"), that its
/// dtype's kind is one of `kinds` (else a TypeError with `kind_error(dtype)`) and that it has two
/// dimensions (else a ValueError naming the expected `shape`).
fn contiguous_2d<'py>(
    obj: &Bound<'py, PyAny>,
    name: &str,
    what: &str,
    kinds: &[&str],
    kind_error: impl FnOnce(&Bound<'py, PyAny>) -> PyResult<String>,
    shape: &str,
    dtype: &str,
) -> PyResult<Bound<'py, PyAny>> {
    let py = obj.py();
    if !is_array_like(obj) {
        return Err(PyTypeError::new_err(format!("{name}: expected {what}, got {}", obj.get_type().name()?)));
    }
    let np = numpy(py)?;
    let array = np.call_method1("asarray", (obj,))?;
    let array_dtype = array.getattr("dtype")?;
    let kind: String = array_dtype.getattr("kind")?.extract()?;
    if !kinds.contains(&kind.as_str()) {
        return Err(PyTypeError::new_err(format!("{name}: {}", kind_error(&array_dtype)?)));
    }
    let ndim: usize = array.getattr("ndim")?.extract()?;
    if ndim != 2 {
        let actual: Vec<usize> = array.getattr("shape")?.extract()?;
        return Err(PyValueError::new_err(format!("{name}: expected a 2-D array {shape}, got shape {actual:?}")));
    }
    let kwargs = PyDict::new(py);
    kwargs.set_item("dtype", np.getattr(dtype)?)?;
    np.getattr("ascontiguousarray")?.call((array,), Some(&kwargs))
}

/// Reads `obj` as a 2-D float32 array named `name` (in errors).
pub fn f32_matrix(obj: &Bound<'_, PyAny>, name: &str) -> PyResult<F32Matrix> {
    let array = contiguous_2d(
        obj,
        name,
        "a 2-D numpy array",
        &["f", "i", "u", "b"],
        |dtype| Ok(format!("expected a numeric array, got dtype kind '{}'", dtype.getattr("kind")?.extract::<String>()?)),
        "(N, D)",
        "float32",
    )?;
    let array = array.cast_into::<PyArray2<f32>>().map_err(|e| PyTypeError::new_err(format!("{name}: {e}")))?;
    let (rows, cols) = (array.shape()[0], array.shape()[1]);
    if !array.is_c_contiguous() {
        return Err(PyValueError::new_err(format!("{name}: numpy did not return a C-contiguous array")));
    }
    let ptr = array.data() as *const f32;
    Ok(F32Matrix { _keep: array.unbind(), ptr, rows, cols })
}

/// Reads `obj` as a 2-D array of non-negative integer classes (N, K).
pub fn class_matrix(obj: &Bound<'_, PyAny>, name: &str) -> PyResult<(Vec<usize>, usize, usize)> {
    let array = contiguous_2d(
        obj,
        name,
        "a 2-D integer numpy array",
        &["i", "u", "b"],
        |dtype| Ok(format!("factor classes must be integers, got dtype {} (discretize continuous factors first)", dtype.str()?)),
        "(N, K)",
        "int64",
    )?
    .cast_into::<PyArray2<i64>>()?;
    let (rows, cols) = (array.shape()[0], array.shape()[1]);
    let readonly = array.readonly();
    let values = readonly.as_slice().map_err(|e| PyValueError::new_err(format!("{name}: {e}")))?;
    let mut out = Vec::with_capacity(values.len());
    for (i, &v) in values.iter().enumerate() {
        if v < 0 {
            return Err(PyValueError::new_err(format!("{name}: negative class {v} at row {}, column {}", i / cols.max(1), i % cols.max(1))));
        }
        out.push(v as usize);
    }
    Ok((out, rows, cols))
}

/// A JSON value as a Python object: numbers, strings, None; arrays of numbers (null = NaN) as
/// float64 numpy arrays (1-D, or 2-D when every row has the same length); other arrays as lists.
pub fn json_to_python<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => b.into_pyobject(py)?.to_owned().into_any(),
        Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => u.into_pyobject(py)?.into_any(),
            (None, Some(i)) => i.into_pyobject(py)?.into_any(),
            _ => n.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any(),
        },
        Value::String(s) => s.into_pyobject(py)?.into_any(),
        Value::Array(items) => {
            if let Some(v) = numeric_vector(items) {
                numpy::PyArray1::from_vec(py, v).into_any()
            } else if let Some((rows, cols, v)) = numeric_matrix(items) {
                numpy::PyArray1::from_vec(py, v).reshape([rows, cols])?.into_any()
            } else {
                let list = PyList::empty(py);
                for item in items {
                    list.append(json_to_python(py, item)?)?;
                }
                list.into_any()
            }
        }
        Value::Object(map) => {
            let dict = PyDict::new(py);
            for (k, v) in map {
                dict.set_item(k, json_to_python(py, v)?)?;
            }
            dict.into_any()
        }
    })
}

fn numeric_vector(items: &[Value]) -> Option<Vec<f64>> {
    if items.is_empty() || !items.iter().any(Value::is_number) {
        return None;
    }
    items.iter().map(|v| if v.is_null() { Some(f64::NAN) } else { v.as_f64() }).collect()
}

fn numeric_matrix(items: &[Value]) -> Option<(usize, usize, Vec<f64>)> {
    let mut cols = None;
    let mut out = Vec::new();
    for row in items {
        let row = numeric_vector(row.as_array()?)?;
        if *cols.get_or_insert(row.len()) != row.len() {
            return None;
        }
        out.extend(row);
    }
    Some((items.len(), cols?, out))
}

/// One metric's report as a dict: scores disentanglement_lib has under its key names
/// (`discrete_mig`, `SAP_score`, `eval_accuracy`, …), everything else under our key without the
/// metric's namespace (`mig.num_bins` → `num_bins`). A seed that was not given is left out.
pub fn report_to_dict<'py>(py: Python<'py>, report: &disentangle_metrics::Report, namespace: &str) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    let prefix = format!("{namespace}.");
    for (key, value) in report.iter() {
        let name = match disentangle_metrics::DLIB_KEYS.iter().find(|(ours, _, _)| ours == key) {
            Some((_, _, reference)) => reference.to_string(),
            None => key.strip_prefix(&prefix).unwrap_or(key).to_string(),
        };
        if name == "seed" && value.is_null() {
            continue;
        }
        dict.set_item(name, json_to_python(py, value)?)?;
    }
    Ok(dict)
}
