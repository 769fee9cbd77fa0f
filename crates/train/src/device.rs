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

/// The autodiff-enabled burn device for a name: `flex`, `cuda`, `cuda:N`, `wgpu` (the graphics
/// API wgpu picks) or `vulkan` (pinned to Vulkan; SPIR-V shaders in a `--features vulkan`
/// build, WGSL in a `--features wgpu` one).
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
        "wgpu" | "vulkan" => gpu::device(name)?,
        n if n.starts_with("cuda") => {
            return Err(TrainError::Device(name.into(), "this build has no CUDA support: rebuild with `--features cuda`".into()));
        }
        #[cfg(not(feature = "wgpu"))]
        "wgpu" | "vulkan" => {
            return Err(TrainError::Device(name.into(), format!("this build has no {name} support: rebuild with `--features {name}`")));
        }
        _ => return Err(TrainError::Device(name.into(), "expected cpu, flex, cuda, cuda:N, wgpu or vulkan".into())),
    };
    Ok(base.autodiff())
}

#[cfg(feature = "wgpu")]
mod gpu {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};

    use disentangle_models::burn::tensor::Device;
    use disentangle_models::burn::tensor::wgpu::WgpuBackend;

    use crate::error::{Result, TrainError};

    /// wgpu runtimes initialise once per process ("already initialized" the second time), so
    /// the first device made for a name is kept and cloned.
    static DEVICES: OnceLock<Mutex<HashMap<String, Device>>> = OnceLock::new();

    /// The wgpu device for `wgpu` or `vulkan`, initialised now so that a machine without an
    /// adapter (no GPU, no Vulkan driver) is a clear error here, not a panic at the first
    /// tensor.
    pub fn device(name: &str) -> Result<Device> {
        let mut devices = DEVICES.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
        if let Some(d) = devices.get(name) {
            return Ok(d.clone());
        }
        // `vulkan` pins the Vulkan API (SPIR-V shaders when built with `--features vulkan`,
        // WGSL otherwise); `wgpu` lets wgpu choose.
        let api = if name == "vulkan" { WgpuBackend::Vulkan } else { WgpuBackend::Auto };
        // burn's SPIR-V compiler crashes drivers without explicit workgroup layouts
        // (`spirv_check`); say so instead of dying at the first kernel. On Linux `wgpu` lands on
        // Vulkan too whenever Vulkan has a hardware adapter or no other API has one, so both
        // names are checked.
        #[cfg(feature = "vulkan")]
        {
            let adapters = crate::spirv_check::vulkan_adapters().map_err(|e| TrainError::Device(name.into(), e))?;
            let default_device = std::env::var("CUBECL_WGPU_DEFAULT_DEVICE").ok();
            if let Some(reason) = crate::spirv_check::spirv_blocker(&adapters, default_device.as_deref()) {
                return Err(TrainError::Device(name.into(), reason));
            }
        }
        let options = Device::wgpu_options().graphics_api(api);
        let device = options.init().map_err(|e| {
            TrainError::Device(
                name.into(),
                format!(
                    "no usable GPU adapter ({e}); without a GPU, Mesa's software Vulkan driver works \
                     (Debian: apt install mesa-vulkan-drivers libvulkan1)"
                ),
            )
        })?;
        devices.insert(name.to_string(), device.clone());
        Ok(device)
    }
}
