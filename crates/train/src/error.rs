use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Config { path: PathBuf, message: String },
    #[error(transparent)]
    Model(#[from] disentangle_models::config::ConfigError),
    #[error(transparent)]
    Data(#[from] disentangle_data::DataError),
    #[error("{path}: cannot read or write weights: {message}")]
    Record { path: PathBuf, message: String },
    #[error(
        "non-finite loss at step {step} (loss {loss}, recon {recon}, KL {kl}); training stopped. {}",
        match last_checkpoint { Some(p) => format!("The last good checkpoint is {}.", p.display()), None => "No checkpoint had been written yet.".into() }
    )]
    NonFinite { step: u64, loss: f64, recon: f64, kl: f64, last_checkpoint: Option<PathBuf> },
    #[error("dataset `{dataset}` has observations of shape {shape:?}; models need C×64×64 with C = 1 or 3")]
    Shape { dataset: String, shape: [usize; 3] },
    #[error("device `{0}` is not available: {1}")]
    Device(String, String),
    #[error(transparent)]
    Metrics(#[from] disentangle_metrics::MetricsError),
    #[error("{0}")]
    Invalid(String),
}

impl TrainError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        TrainError::Io { path: path.into(), source }
    }
}

pub type Result<T, E = TrainError> = std::result::Result<T, E>;
