//! Studies: sweeps of datasets × objectives × encoders × noises × seeds (TOML files and shipped
//! presets), run by restartable workers that coordinate through an SQLite results database,
//! exported as CSV and summarised as the paper's figures in an HTML report. Also the pictures
//! of one trained model and the scoring of a run directory, which both need a trained encoder.

pub mod claims;
pub mod error;
pub mod evaluation;
pub mod explorer;
pub mod export;
pub mod html;
pub mod pictures;
pub mod presets;
pub mod report;
pub mod runner;
pub mod series;
pub mod slurm;
pub mod spec;
pub mod store;
pub mod udr;

pub use error::{Result, StudyError};
pub use presets::{PRESETS, load_study};
pub use runner::{RunOptions, StudyDir, run_one, run_study};
pub use spec::StudySpec;
