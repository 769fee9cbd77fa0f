//! Training of disentangle models: i.i.d. factor sampling from a `FactorDataset`, the
//! reference optimizers, run directories (config, log, checkpoints, summary) and exact resume.

pub mod checkpoint;
pub mod config;
pub mod cpu_bridge;
pub mod device;
pub mod error;
pub mod inference;
pub mod losses;
pub mod nets;
pub mod rng;
pub mod run_dir;
pub mod safetensors_model;
pub mod scoring;
pub mod series;
#[cfg(feature = "wgpu")]
pub mod spirv_check;
pub mod trainer;

pub use config::{IntoValidConfig, TrainConfig, ValidTrainConfig};
pub use error::TrainError;
pub use trainer::{Summary, TrainOutcome, train, train_with};
