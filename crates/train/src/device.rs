//! Backend selection by name. CPU (`flex`) is always there; GPU backends are cargo features.

use disentangle_models::burn::tensor::Device;

use crate::error::{Result, TrainError};

/// The autodiff-enabled device for a name: `flex`, `cuda`, `cuda:N`, `wgpu`.
pub fn parse_device(name: &str) -> Result<Device> {
    let base = match name {
        "flex" | "cpu" => Device::flex(),
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
        _ => return Err(TrainError::Device(name.into(), "expected flex, cuda, cuda:N or wgpu".into())),
    };
    Ok(base.autodiff())
}
