//! The networks and optimizers of a run on the engine that trains it (burn or the CPU
//! engine), and the burn modules holding the CPU engine's weights: what the training loop
//! (`trainer.rs`) and the checkpoints (`checkpoint.rs`) both work on.

use disentangle_engine::{Network, Trainer};
use disentangle_models::burn::optim::{AdamConfig, ModuleOptimizer};
use disentangle_models::burn::tensor::Device;
use disentangle_models::{Model, Vae};

use crate::config::TrainConfig;
use crate::cpu_bridge;
use crate::device::Backend;
use crate::error::Result;

/// The reference optimizer of the VAE: Adam β1 0.9, β2 0.999, ε 1e-8 (burn's default ε is 1e-5).
pub fn vae_optimizer() -> ModuleOptimizer {
    AdamConfig::new().with_beta_1(0.9).with_beta_2(0.999).with_epsilon(1e-8).init()
}

/// The reference optimizer of the FactorVAE discriminator: Adam β1 0.5, β2 0.9, ε 1e-8.
pub fn discriminator_optimizer() -> ModuleOptimizer {
    AdamConfig::new().with_beta_1(0.5).with_beta_2(0.9).with_epsilon(1e-8).init()
}

/// The networks and optimizers of a run, on the engine that trains them.
#[allow(clippy::large_enum_variant)] // one per run
pub enum Nets {
    /// burn (the reference; `flex` on the CPU, or a GPU device).
    Burn { model: Model, vae_optim: ModuleOptimizer, disc_optim: Option<ModuleOptimizer>, device: Device },
    /// The CPU engine.
    Cpu(Box<Trainer>),
}

impl Nets {
    /// Fresh networks for `config` on `backend` (the same initial weights on every backend).
    pub fn new(config: &TrainConfig, backend: &Backend) -> Result<Self> {
        Ok(match backend {
            Backend::Burn(device) => {
                let model = Model::new(config.model.clone(), config.seed, device)?;
                let disc_optim = model.discriminator.as_ref().map(|_| discriminator_optimizer());
                Nets::Burn { model, vae_optim: vae_optimizer(), disc_optim, device: device.clone() }
            }
            Backend::Cpu => Nets::Cpu(Box::new(Trainer::new(Network::init(&config.model, config.seed)?, config.batch_size))),
        })
    }

    /// The model as burn modules (on burn's CPU backend for the CPU engine).
    pub fn to_model(&self) -> Result<Model> {
        match self {
            Nets::Burn { model, .. } => Ok(Model {
                config: model.config.clone(),
                vae: model.vae.clone(),
                discriminator: model.discriminator.clone(),
            }),
            Nets::Cpu(t) => burn_model(&t.net),
        }
    }
}

/// The burn encoder and decoder holding `net`'s weights, on burn's CPU backend.
pub fn burn_vae(net: &Network) -> Result<Vae> {
    cpu_bridge::module_with_params(Vae::new(&net.config, &Device::flex()), &net.vae)
}

/// The burn model holding `net`'s weights, on burn's CPU backend.
pub fn burn_model(net: &Network) -> Result<Model> {
    let vae = burn_vae(net)?;
    let discriminator = net.disc.as_ref().map(|p| cpu_bridge::discriminator_from_params(p, &Device::flex())).transpose()?;
    Ok(Model { config: net.config.clone(), vae, discriminator })
}
