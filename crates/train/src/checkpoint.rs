//! Checkpoints: model weights, optimizer states (burnpack files) and the step and RNG state
//! (`state.json`), written into a temporary folder that is renamed into place, so a
//! checkpoint is either complete or absent. `checkpoints/latest` names the newest one;
//! older ones are removed once a newer one is complete.

use std::path::{Path, PathBuf};

use disentangle_models::Model;
use disentangle_models::burn::module::{Module, ParamId};
use disentangle_models::burn::optim::{ModuleOptimizer, OptimizerRecord};
use disentangle_models::burn::tensor::Device;
use disentangle_models::burn::store::ModuleRecord;
use serde::{Deserialize, Serialize};

use crate::config::TrainConfig;
use crate::cpu_bridge;
use crate::error::{Result, TrainError};
use crate::rng::RngState;
use crate::nets::{Nets, burn_vae};
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

/// Writes a complete checkpoint of `nets` for `state.step`; returns its folder. Both engines
/// write the same files (burn's module and optimizer formats), so either resumes either.
pub fn save_nets(dir: &Path, nets: &Nets, state: CheckpointState) -> Result<PathBuf> {
    save_with(dir, &state, |tmp| {
        match nets {
            Nets::Burn { model, vae_optim, disc_optim, .. } => {
                save_module(&model.vae, &tmp.join(VAE))?;
                let p = tmp.join(VAE_OPTIM);
                vae_optim.save(&p).map_err(|e| record_err(&p, e))?;
                if let (Some(d), Some(opt)) = (&model.discriminator, disc_optim) {
                    save_module(d, &tmp.join(DISC))?;
                    let p = tmp.join(DISC_OPTIM);
                    opt.save(&p).map_err(|e| record_err(&p, e))?;
                }
            }
            Nets::Cpu(t) => {
                let vae = burn_vae(&t.net)?;
                save_module(&vae, &tmp.join(VAE))?;
                cpu_bridge::save_adam(&t.vae_adam, &vae, &t.net.vae, &tmp.join(VAE_OPTIM))?;
                if let (Some(adam), Some(p)) = (&t.disc_adam, &t.net.disc) {
                    // Written straight from the engine's buffers (the engine names these
                    // tensors as burn does): no second copy of the biggest network.
                    let ids: Vec<u64> = p.tensors.iter().map(|_| ParamId::new().val()).collect();
                    cpu_bridge::save_params_with_ids(p, &ids, &tmp.join(DISC))?;
                    cpu_bridge::save_adam_with_ids(adam, &ids, p, &tmp.join(DISC_OPTIM))?;
                }
            }
        }
        Ok(())
    })
}

/// Writes a checkpoint of weights alone (no optimizer state): an imported model, which can be
/// evaluated but not trained further.
pub fn save_weights(dir: &Path, net: &disentangle_engine::Network, state: CheckpointState) -> Result<PathBuf> {
    save_with(dir, &state, |tmp| {
        save_module(&burn_vae(net)?, &tmp.join(VAE))?;
        if let Some(p) = &net.disc {
            let ids: Vec<u64> = p.tensors.iter().map(|_| ParamId::new().val()).collect();
            cpu_bridge::save_params_with_ids(p, &ids, &tmp.join(DISC))?;
        }
        Ok(())
    })
}

/// Loads the checkpoint in folder `checkpoint` into `nets` (weights and optimizer states).
pub fn load_into(nets: &mut Nets, config: &TrainConfig, checkpoint: &Path) -> Result<()> {
    if !checkpoint.join(VAE_OPTIM).exists() && checkpoint.join(VAE).is_file() {
        return Err(TrainError::Invalid(format!(
            "{} holds weights without optimizer state (a model brought in by `import-model`): it can be evaluated, not trained further",
            checkpoint.display()
        )));
    }
    match nets {
        Nets::Burn { model, vae_optim, disc_optim, .. } => {
            model.vae = load_module(model.vae.clone(), checkpoint, false)?;
            *vae_optim = load_optimizer(vae_optim.clone(), checkpoint, false)?;
            if let (Some(d), Some(opt)) = (model.discriminator.take(), disc_optim.as_mut()) {
                model.discriminator = Some(load_module(d, checkpoint, true)?);
                *opt = load_optimizer(opt.clone(), checkpoint, true)?;
            }
        }
        Nets::Cpu(t) => {
            let model = Model::for_loading(config.model.clone(), &Device::flex())?;
            let vae = load_module(model.vae, checkpoint, false)?;
            cpu_bridge::copy_from_module(&vae, &mut t.net.vae)?;
            cpu_bridge::load_adam(&mut t.vae_adam, &vae, &t.net.vae, &checkpoint.join(VAE_OPTIM))?;
            if let (Some(d), Some(adam), Some(p)) = (model.discriminator, t.disc_adam.as_mut(), t.net.disc.as_mut()) {
                let d = load_module(d, checkpoint, true)?;
                cpu_bridge::copy_from_module(&d, p)?;
                cpu_bridge::load_adam(adam, &d, p, &checkpoint.join(DISC_OPTIM))?;
            }
        }
    }
    Ok(())
}

fn save_module<M: Module>(module: &M, path: &Path) -> Result<()> {
    module.clone().save_file(path).map_err(|e| record_err(path, e))
}

/// Writes a checkpoint folder: `write` fills a temporary folder, which is then renamed into
/// place, named in `latest`, and older checkpoints removed.
fn save_with(dir: &Path, state: &CheckpointState, write: impl FnOnce(&Path) -> Result<()>) -> Result<PathBuf> {
    let name = format!("step-{:09}", state.step);
    let final_dir = dir.join(&name);
    // Removed if anything below fails.
    let tmp = disentangle_data::atomic::AtomicDir::create(&final_dir).map_err(|e| TrainError::io(dir, e))?;
    write(tmp.temp_path())?;
    let json = serde_json::to_vec_pretty(state).expect("state serialises");
    write_atomic(&tmp.temp_path().join(STATE), &json)?;
    tmp.commit().map_err(|e| TrainError::io(&final_dir, e))?;
    write_atomic(&dir.join("latest"), name.as_bytes())?;
    // Remove older complete checkpoints (the newest one is all a resume needs).
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            // Older checkpoints, and temporaries of writers killed mid-checkpoint.
            if (n.starts_with("step-") && n != name) || (n.starts_with(".step-") && n.ends_with(".tmp")) {
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
