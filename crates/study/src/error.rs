//! Typed errors of the study crate: every message names the file or field at fault.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum StudyError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("study spec {origin}: {message}")]
    Spec { origin: String, message: String },
    #[error("results database {path}: {source}")]
    Db { path: PathBuf, source: rusqlite::Error },
    #[error("job {key}: {message}")]
    Job { key: String, message: String },
    #[error(transparent)]
    Train(#[from] disentangle_train::TrainError),
    #[error(transparent)]
    Data(#[from] disentangle_data::DataError),
    #[error(transparent)]
    Metrics(#[from] disentangle_metrics::MetricsError),
    #[error("{what}: {message}")]
    Picture { what: String, message: String },
    #[error("{0}")]
    Invalid(String),
}

pub type Result<T, E = StudyError> = std::result::Result<T, E>;

impl StudyError {
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        StudyError::Io { path: path.to_path_buf(), source }
    }
    pub fn spec(origin: impl Into<String>, message: impl Into<String>) -> Self {
        StudyError::Spec { origin: origin.into(), message: message.into() }
    }
}
