//! Engine and device selection by name. `cpu` is the CPU engine (`disentangle-engine`);
//! `flex` is burn's CPU backend; GPU backends are burn's, behind cargo features.

use disentangle_models::burn::tensor::Device;

use crate::error::{Result, TrainError};

/// What runs a model.
#[derive(Debug, Clone)]
pub enum Backend {
    /// The CPU engine.
    Cpu,
    /// burn on this (autodiff-enabled) device.
    Burn(Device),
}

/// The backend for a device name: `cpu`, or any burn device of [`parse_device`].
pub fn parse_backend(name: &str) -> Result<Backend> {
    if name == "cpu" { Ok(Backend::Cpu) } else { parse_device(name).map(Backend::Burn) }
}

/// The autodiff-enabled burn device for a name: `flex`, `cuda`, `cuda:N`, `wgpu`.
pub fn parse_device(name: &str) -> Result<Device> {
    let base = match name {
        "flex" => Device::flex(),
        #[cfg(feature = "cuda")]
        n if n == "cuda" || n.starts_with("cuda:") => {
            let index = n.strip_prefix("cuda:").map(str::parse::<usize>).transpose().map_err(|_| {
                TrainError::Device(name.into(), "expected cuda or cuda:N".into())
            })?;
            Device::cuda(index.unwrap_or(0))
        }
        #[cfg(feature = "wgpu")]
        "wgpu" => Device::wgpu(disentangle_models::burn::tensor::DeviceKind::DefaultDevice),
        n if n.starts_with("cuda") => {
            return Err(TrainError::Device(name.into(), "this build has no CUDA support: rebuild with `--features cuda`".into()));
        }
        "wgpu" => {
            return Err(TrainError::Device(name.into(), "this build has no wgpu support: rebuild with `--features wgpu`".into()));
        }
        _ => return Err(TrainError::Device(name.into(), "expected cpu, flex, cuda, cuda:N or wgpu".into())),
    };
    Ok(base.autodiff())
}
