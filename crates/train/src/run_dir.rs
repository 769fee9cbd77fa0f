//! A run directory: `config.toml` (full resolved config), `log.jsonl` (losses every N steps),
//! `checkpoints/` and, at the end, `summary.json`. Every file that is replaced is written to
//! a temporary file first and renamed, so an interrupted run never leaves a torn file.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::config::TrainConfig;
use crate::error::{Result, TrainError};

pub struct RunDir {
    root: PathBuf,
}

/// Writes `bytes` to `path` atomically (`disentangle_data::atomic`), errors naming the file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    disentangle_data::atomic::write_atomic(path, bytes).map_err(|e| TrainError::io(path, e))
}

impl RunDir {
    /// Creates a new run directory; refuses to overwrite one that already holds a run.
    pub fn create(root: &Path, config: &TrainConfig) -> Result<Self> {
        if root.join("config.toml").exists() {
            return Err(TrainError::Invalid(format!(
                "{} already holds a run; continue it with --resume {0} or choose another --out",
                root.display()
            )));
        }
        std::fs::create_dir_all(root.join("checkpoints")).map_err(|e| TrainError::io(root, e))?;
        let dir = RunDir { root: root.to_path_buf() };
        write_atomic(&dir.config_path(), config.to_toml().as_bytes())?;
        Ok(dir)
    }

    /// Opens an existing run directory and its config.
    pub fn open(root: &Path) -> Result<(Self, TrainConfig)> {
        let path = root.join("config.toml");
        if !path.is_file() {
            return Err(TrainError::Invalid(format!("{} is not a run directory (no config.toml)", root.display())));
        }
        let config = TrainConfig::load(&path)?;
        Ok((RunDir { root: root.to_path_buf() }, config))
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
    pub fn config_path(&self) -> PathBuf {
        self.root.join("config.toml")
    }
    pub fn log_path(&self) -> PathBuf {
        self.root.join("log.jsonl")
    }
    pub fn checkpoints(&self) -> PathBuf {
        self.root.join("checkpoints")
    }
    pub fn summary_path(&self) -> PathBuf {
        self.root.join("summary.json")
    }

    /// Rewrites the config (e.g. when a resumed run extends `steps`).
    pub fn write_config(&self, config: &TrainConfig) -> Result<()> {
        write_atomic(&self.config_path(), config.to_toml().as_bytes())
    }

    /// Appends one JSON object as a line to log.jsonl.
    pub fn log(&self, line: &serde_json::Value) -> Result<()> {
        let path = self.log_path();
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&path).map_err(|e| TrainError::io(&path, e))?;
        writeln!(f, "{line}").map_err(|e| TrainError::io(&path, e))
    }

    /// Drops log lines past `step` (a resumed run repeats the steps after its checkpoint).
    pub fn truncate_log_after(&self, step: u64) -> Result<()> {
        let path = self.log_path();
        let Ok(text) = std::fs::read_to_string(&path) else { return Ok(()) };
        let kept: String = text
            .lines()
            .filter(|l| {
                serde_json::from_str::<serde_json::Value>(l)
                    .ok()
                    .and_then(|v| v.get("step").and_then(|s| s.as_u64()))
                    .is_some_and(|s| s <= step)
            })
            .map(|l| format!("{l}\n"))
            .collect();
        write_atomic(&path, kept.as_bytes())
    }
}
