//! Rust errors as Python exceptions, with the messages the command-line tool prints.
//!
//! Bad input (shapes, values, parameters, a degenerate sample) is a `ValueError`; a wrong type
//! is a `TypeError` (raised where the arguments are read); a missing file is a
//! `FileNotFoundError`; a solver that does not converge is a `RuntimeError`. An exception raised
//! by the user's `representation_function` travels through the metric unchanged.

use disentangle_data::DataError;
use disentangle_metrics::MetricsError;
use pyo3::PyErr;
use pyo3::exceptions::{PyFileNotFoundError, PyKeyboardInterrupt, PyOSError, PyRuntimeError, PyValueError};

pub fn metrics_error(error: MetricsError) -> PyErr {
    match error {
        MetricsError::Representation { source } => match source.downcast::<PyErr>() {
            // The user's function raised: re-raise its own exception (KeyboardInterrupt included).
            Ok(python) => *python,
            Err(other) => match other.downcast::<DataError>() {
                Ok(data) => data_error(*data),
                Err(other) => PyRuntimeError::new_err(format!("the representation function failed: {other}")),
            },
        },
        MetricsError::NotConverged { .. } => PyRuntimeError::new_err(error.to_string()),
        // Only reached by a metric running in another thread when Ctrl-C stopped them all.
        MetricsError::Interrupted => PyKeyboardInterrupt::new_err("interrupted"),
        other => PyValueError::new_err(other.to_string()),
    }
}

pub fn data_error(error: DataError) -> PyErr {
    // The library's messages name the CLI's flag; from Python the folder is an argument.
    let message = error.to_string().replace("pass --data-dir DIR", "pass data_dir=DIR");
    match error {
        DataError::MissingOfficial { .. } | DataError::RecordedDatasetMissing { .. } => PyFileNotFoundError::new_err(message),
        DataError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => PyFileNotFoundError::new_err(message),
        DataError::Io { .. } => PyOSError::new_err(message),
        _ => PyValueError::new_err(message),
    }
}
