//! Checkpoints: model weights, optimizer states (burnpack files) and the step and RNG state
//! (`state.json`), written into a temporary folder that is renamed into place, so a
//! checkpoint is either complete or absent. `checkpoints/latest` names the newest one;
//! older ones are removed once a newer one is complete.

use std::path::{Path, PathBuf};

use disentangle_models::burn::module::Module;
use disentangle_models::burn::optim::{ModuleOptimizer, OptimizerRecord};
use disentangle_models::burn::store::ModuleRecord;
use serde::{Deserialize, Serialize};

use crate::error::{Result, TrainError};
use crate::rng::RngState;
use crate::run_dir::write_atomic;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckpointState {
    /// Steps completed.
    pub step: u64,
    pub rng: RngState,
}

const VAE: &str = "vae.bpk";
const VAE_OPTIM: &str = "vae-optimizer.bpk";
const DISC: &str = "discriminator.bpk";
const DISC_OPTIM: &str = "discriminator-optimizer.bpk";
const STATE: &str = "state.json";

fn record_err(path: &Path, e: impl std::fmt::Display) -> TrainError {
    TrainError::Record { path: path.to_path_buf(), message: e.to_string() }
}

/// The parts of a training state a checkpoint holds.
pub struct Parts<'a, V: Module, D: Module> {
    pub vae: &'a V,
    pub vae_optim: &'a ModuleOptimizer,
    pub discriminator: Option<(&'a D, &'a ModuleOptimizer)>,
    pub state: CheckpointState,
}

/// Writes a complete checkpoint for `state.step`; returns its folder.
pub fn save<V: Module, D: Module>(dir: &Path, parts: Parts<'_, V, D>) -> Result<PathBuf> {
    let name = format!("step-{:09}", parts.state.step);
    let final_dir = dir.join(&name);
    let tmp = dir.join(format!(".tmp-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(|e| TrainError::io(&tmp, e))?;
    let p = tmp.join(VAE);
    parts.vae.clone().save_file(&p).map_err(|e| record_err(&p, e))?;
    let p = tmp.join(VAE_OPTIM);
    parts.vae_optim.save(&p).map_err(|e| record_err(&p, e))?;
    if let Some((d, opt)) = parts.discriminator {
        let p = tmp.join(DISC);
        d.clone().save_file(&p).map_err(|e| record_err(&p, e))?;
        let p = tmp.join(DISC_OPTIM);
        opt.save(&p).map_err(|e| record_err(&p, e))?;
    }
    let json = serde_json::to_vec_pretty(&parts.state).expect("state serialises");
    write_atomic(&tmp.join(STATE), &json)?;
    let _ = std::fs::remove_dir_all(&final_dir);
    std::fs::rename(&tmp, &final_dir).map_err(|e| TrainError::io(&final_dir, e))?;
    write_atomic(&dir.join("latest"), name.as_bytes())?;
    // Remove older complete checkpoints (the newest one is all a resume needs).
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.starts_with("step-") && n != name {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
    Ok(final_dir)
}

/// The newest complete checkpoint folder, if any.
pub fn latest(dir: &Path) -> Result<Option<PathBuf>> {
    let path = dir.join("latest");
    match std::fs::read_to_string(&path) {
        Ok(name) => {
            let p = dir.join(name.trim());
            if p.join(STATE).is_file() { Ok(Some(p)) } else { Err(TrainError::Invalid(format!("{} names {}, which is incomplete", path.display(), p.display()))) }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(TrainError::io(&path, e)),
    }
}

pub fn load_state(checkpoint: &Path) -> Result<CheckpointState> {
    let p = checkpoint.join(STATE);
    let text = std::fs::read(&p).map_err(|e| TrainError::io(&p, e))?;
    serde_json::from_slice(&text).map_err(|e| TrainError::Config { path: p, message: e.to_string() })
}

pub fn load_module<M: Module>(module: M, checkpoint: &Path, discriminator: bool) -> Result<M> {
    let p = checkpoint.join(if discriminator { DISC } else { VAE });
    let record = ModuleRecord::load(&p).map_err(|e| record_err(&p, e))?;
    module.try_load_record(record).map_err(|e| record_err(&p, e))
}

pub fn load_optimizer(optim: ModuleOptimizer, checkpoint: &Path, discriminator: bool) -> Result<ModuleOptimizer> {
    let p = checkpoint.join(if discriminator { DISC_OPTIM } else { VAE_OPTIM });
    let record = OptimizerRecord::load(&p).map_err(|e| record_err(&p, e))?;
    Ok(optim.load_record(record))
}
