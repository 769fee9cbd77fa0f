//! Typed errors of the data layer. Every variant that concerns a file names it, so the
//! CLI can show the user exactly which file or field is wrong.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file exists but is not what the format promises (corrupt, truncated,
    /// wrong dtype, wrong shape, missing entry …).
    #[error("{path}: {message}")]
    Format { path: PathBuf, message: String },
    #[error(
        "the official {dataset} data is not at {path}.\n  Download: {download}\n  Or use the procedural version instead: `{procedural}` (nothing to download)."
    )]
    MissingOfficial {
        dataset: &'static str,
        path: PathBuf,
        download: &'static str,
        procedural: &'static str,
    },
    #[error(
        "no data directory for `{dataset}`: pass --data-dir DIR or set DISENTANGLE_DATA (expected layout: DIR/{relative}). Or use the procedural `{procedural}`."
    )]
    NoDataDir {
        dataset: &'static str,
        relative: &'static str,
        procedural: &'static str,
    },
    #[error(
        "the run's dataset `{spec}` is not where it was (looked at {tried}): pass --data-dir DIR with DIR holding {name}, \
         or put the file back"
    )]
    RecordedDatasetMissing { spec: String, tried: String, name: String },
    #[error("unknown dataset `{0}`: expected dsprites, dsprites-official, color-dsprites, noisy-dsprites, scream-dsprites (each also -official), cars3d, cars3d:N, cars3d-official, shapes3d, shapes3d-official, smallnorb, mpi3d-toy, mpi3d-realistic, mpi3d-real, an .npz file or a folder of .mat files")]
    UnknownDataset(String),
    #[error("factor {factor} has class {class}, but only {size} classes exist")]
    FactorOutOfRange {
        factor: usize,
        class: usize,
        size: usize,
    },
    #[error("index {index} out of range for a dataset of {len} observations")]
    IndexOutOfRange { index: usize, len: usize },
    #[error("{what}: got {got} values, expected {expected}")]
    BufferSize {
        what: &'static str,
        got: usize,
        expected: usize,
    },
    #[error("invalid parameter {name}: {message}")]
    InvalidParameter { name: &'static str, message: String },
}

pub type Result<T, E = DataError> = std::result::Result<T, E>;

impl DataError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        DataError::Io {
            path: path.into(),
            source,
        }
    }
    pub(crate) fn format(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        DataError::Format {
            path: path.into(),
            message: message.into(),
        }
    }
}
