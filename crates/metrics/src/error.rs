//! Typed errors of the metrics crate. Bad input (wrong shapes, empty arrays, non-finite
//! codes, invalid parameters, a failing representation function) is reported as one of
//! these variants, never as a panic.

/// The error type a [`crate::Representation`] may return, boxed.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// An array has the wrong number of values for the shape it claims.
    #[error("{what}: got {got} values, expected {expected}")]
    Shape {
        what: &'static str,
        got: usize,
        expected: usize,
    },
    #[error("{what} is empty")]
    Empty { what: &'static str },
    #[error("{what} holds a non-finite value ({value}) at row {row}, column {column}")]
    NonFinite {
        what: &'static str,
        row: usize,
        column: usize,
        value: f64,
    },
    #[error("factor {factor} has class {class}, but only {size} classes exist")]
    FactorOutOfRange {
        factor: usize,
        class: usize,
        size: usize,
    },
    #[error("invalid parameter {name}: {message}")]
    InvalidParameter { name: &'static str, message: String },
    /// The input is well formed but the score is undefined for it (a singular
    /// covariance, a single code where two are needed, ...).
    #[error("{metric}: {message}")]
    Degenerate {
        metric: &'static str,
        message: String,
    },
    #[error("unknown metric `{name}`; known metrics: {known}")]
    UnknownMetric { name: String, known: String },
    #[error("metric `{metric}` needs {what}")]
    MissingInput {
        metric: &'static str,
        what: &'static str,
    },
    #[error("the representation function failed: {source}")]
    Representation {
        #[source]
        source: BoxError,
    },
    /// [`crate::interrupt::request`] was called while the computation ran.
    #[error("interrupted")]
    Interrupted,
    #[error("{solver} did not converge: {message}")]
    NotConverged {
        solver: &'static str,
        message: String,
    },
}

pub type Result<T, E = MetricsError> = std::result::Result<T, E>;

pub(crate) fn invalid(name: &'static str, message: impl Into<String>) -> MetricsError {
    MetricsError::InvalidParameter {
        name,
        message: message.into(),
    }
}

pub(crate) fn degenerate(metric: &'static str, message: impl Into<String>) -> MetricsError {
    MetricsError::Degenerate {
        metric,
        message: message.into(),
    }
}
