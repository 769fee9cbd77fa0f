//! Whether burn's SPIR-V shader compiler (the `vulkan` cargo feature) can run on the Vulkan
//! adapter a run will get.
//!
//! burn 0.22 compiles kernels to SPIR-V with `cubecl-spirv` 0.11.3. On a driver without the
//! `workgroupMemoryExplicitLayout` feature (`VK_KHR_workgroup_memory_explicit_layout`) that
//! compiler declares each shared-memory variable with the *pointer* type instead of the array
//! it points to (its `lower_shared_implicit`), so every kernel with shared memory (reductions,
//! matmul) is an invalid module: `spirv-val` rejects it ("OpInBoundsAccessChain reached
//! non-composite type") and Mesa's lavapipe (22.3.6 and 25.0.7, neither exposes the feature)
//! dies with SIGSEGV in `vkCreateComputePipelines`. Swapping the two types in that function
//! makes lavapipe run the same reductions and matmuls correctly, so the fault is the compiler's,
//! not the driver's. Drivers that expose the feature get a different lowering, which this
//! check lets through. A run that would hit the broken lowering is stopped here with a message
//! instead of crashing the process at its first kernel.

/// The kind of a Vulkan adapter, as wgpu and cubecl rank them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdapterKind {
    Discrete,
    Integrated,
    Virtual,
    Cpu,
    Other,
}

/// One Vulkan physical device, with what the SPIR-V compiler's lowering depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VulkanAdapter {
    pub name: String,
    pub kind: AdapterKind,
    /// `VK_KHR_workgroup_memory_explicit_layout` present and its `workgroupMemoryExplicitLayout`
    /// feature enabled: the condition under which cubecl-spirv takes its other lowering
    /// (`lower_shared_explicit`; untested here, no driver at hand exposes it).
    pub explicit_workgroup_layout: bool,
}

/// The Vulkan adapters of this machine, through the system's Vulkan loader. `Ok(vec![])` when
/// no loader or no Vulkan driver is installed (then wgpu cannot pick Vulkan either, and the
/// device's own initialisation reports that).
pub fn vulkan_adapters() -> Result<Vec<VulkanAdapter>, String> {
    use ash::vk;

    // SAFETY: loading the Vulkan loader library runs its initialisers; it is the same library
    // wgpu loads for the run itself.
    let Ok(entry) = (unsafe { ash::Entry::load() }) else {
        return Ok(Vec::new());
    };
    // `vkGetPhysicalDeviceFeatures2` is core in Vulkan 1.1.
    let instance_version = unsafe { entry.try_enumerate_instance_version() }
        .map_err(|e| format!("vkEnumerateInstanceVersion failed: {e}"))?
        .unwrap_or(vk::API_VERSION_1_0);
    let api_version = instance_version.min(vk::API_VERSION_1_1);
    let app = vk::ApplicationInfo::default().api_version(api_version);
    let create = vk::InstanceCreateInfo::default().application_info(&app);
    // SAFETY: the create info lives across the call; the instance is destroyed below.
    let instance = match unsafe { entry.create_instance(&create, None) } {
        Ok(instance) => instance,
        // No driver (ICD) installed: the loader has nothing to create an instance on.
        Err(vk::Result::ERROR_INCOMPATIBLE_DRIVER | vk::Result::ERROR_INITIALIZATION_FAILED) => {
            return Ok(Vec::new());
        }
        Err(e) => return Err(format!("vkCreateInstance failed: {e}")),
    };
    let result = describe_adapters(&instance, api_version);
    // SAFETY: nothing created from the instance outlives this call.
    unsafe { instance.destroy_instance(None) };
    result
}

fn describe_adapters(instance: &ash::Instance, api_version: u32) -> Result<Vec<VulkanAdapter>, String> {
    use ash::vk;

    const EXTENSION: &std::ffi::CStr = c"VK_KHR_workgroup_memory_explicit_layout";
    // SAFETY: `instance` is a live instance for all calls below.
    let devices = unsafe { instance.enumerate_physical_devices() }
        .map_err(|e| format!("vkEnumeratePhysicalDevices failed: {e}"))?;
    let mut adapters = Vec::with_capacity(devices.len());
    for device in devices {
        let properties = unsafe { instance.get_physical_device_properties(device) };
        let name = properties.device_name_as_c_str().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let kind = match properties.device_type {
            vk::PhysicalDeviceType::DISCRETE_GPU => AdapterKind::Discrete,
            vk::PhysicalDeviceType::INTEGRATED_GPU => AdapterKind::Integrated,
            vk::PhysicalDeviceType::VIRTUAL_GPU => AdapterKind::Virtual,
            vk::PhysicalDeviceType::CPU => AdapterKind::Cpu,
            _ => AdapterKind::Other,
        };
        let extensions = unsafe { instance.enumerate_device_extension_properties(device) }
            .map_err(|e| format!("vkEnumerateDeviceExtensionProperties failed for {name}: {e}"))?;
        let has_extension = extensions.iter().any(|e| e.extension_name_as_c_str() == Ok(EXTENSION));
        let explicit_workgroup_layout = has_extension
            && api_version >= vk::API_VERSION_1_1
            && properties.api_version >= vk::API_VERSION_1_1
            && {
                let mut layout = vk::PhysicalDeviceWorkgroupMemoryExplicitLayoutFeaturesKHR::default();
                let mut features = vk::PhysicalDeviceFeatures2::default().push_next(&mut layout);
                // SAFETY: both structures are core 1.1 / the listed extension, checked above.
                unsafe { instance.get_physical_device_features2(device, &mut features) };
                layout.workgroup_memory_explicit_layout == vk::TRUE
            };
        adapters.push(VulkanAdapter { name, kind, explicit_workgroup_layout });
    }
    Ok(adapters)
}

/// Why the SPIR-V compiler must not run on these adapters, or `None` when it may.
///
/// `default_device` is `CUBECL_WGPU_DEFAULT_DEVICE`. Without it cubecl settles on a hardware
/// adapter whenever one exists and on a software one (lavapipe) only otherwise; `Cpu` forces
/// the software one; any other value names a kind. The run is refused when no adapter it may
/// land on has the explicit layout. Where some candidates have it and some do not (two
/// different GPUs), which one wgpu picks is not known here, so the run goes ahead.
pub fn spirv_blocker(adapters: &[VulkanAdapter], default_device: Option<&str>) -> Option<String> {
    if adapters.is_empty() {
        return None;
    }
    let wanted: Option<AdapterKind> = match default_device {
        Some("Cpu") => Some(AdapterKind::Cpu),
        Some(v) if v.starts_with("DiscreteGpu(") => Some(AdapterKind::Discrete),
        Some(v) if v.starts_with("IntegratedGpu(") => Some(AdapterKind::Integrated),
        Some(v) if v.starts_with("VirtualGpu(") => Some(AdapterKind::Virtual),
        Some(v) if v.starts_with("Other(") => Some(AdapterKind::Other),
        _ => None,
    };
    let candidates: Vec<&VulkanAdapter> = match wanted {
        Some(kind) => adapters.iter().filter(|a| a.kind == kind).collect(),
        None if adapters.iter().any(|a| a.kind != AdapterKind::Cpu) => {
            adapters.iter().filter(|a| a.kind != AdapterKind::Cpu).collect()
        }
        None => adapters.iter().collect(),
    };
    if candidates.is_empty() || candidates.iter().any(|a| a.explicit_workgroup_layout) {
        return None;
    }
    let names: Vec<&str> = candidates.iter().map(|a| a.name.as_str()).collect();
    Some(format!(
        "this build uses burn's SPIR-V shader compiler (`--features vulkan`), which emits invalid \
         shared-memory code for Vulkan drivers without VK_KHR_workgroup_memory_explicit_layout \
         ({} lacks it) and crashes them; build with `--features wgpu` (WGSL shaders) for this machine",
        names.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn adapter(name: &str, kind: AdapterKind, explicit: bool) -> VulkanAdapter {
        VulkanAdapter { name: name.into(), kind, explicit_workgroup_layout: explicit }
    }

    #[test]
    fn lavapipe_alone_is_refused_and_named() {
        let adapters = [adapter("llvmpipe (LLVM 15.0.6, 256 bits)", AdapterKind::Cpu, false)];
        let message = spirv_blocker(&adapters, None).expect("refused");
        assert!(message.contains("llvmpipe (LLVM 15.0.6, 256 bits) lacks it"), "{message}");
        assert!(message.contains("--features wgpu"), "{message}");
    }

    #[test]
    fn a_gpu_with_the_layout_is_preferred_over_lavapipe() {
        let adapters = [
            adapter("llvmpipe", AdapterKind::Cpu, false),
            adapter("NVIDIA H200", AdapterKind::Discrete, true),
        ];
        assert_eq!(spirv_blocker(&adapters, None), None);
        // Forcing the software adapter brings the broken lowering back.
        let forced = spirv_blocker(&adapters, Some("Cpu")).expect("refused");
        assert!(forced.contains("llvmpipe lacks it") && !forced.contains("NVIDIA"), "{forced}");
    }

    #[test]
    fn a_gpu_without_the_layout_is_refused_even_beside_a_cpu_adapter_that_has_it() {
        let adapters = [
            adapter("softgpu", AdapterKind::Cpu, true),
            adapter("old GPU", AdapterKind::Integrated, false),
        ];
        let message = spirv_blocker(&adapters, None).expect("refused");
        assert!(message.contains("old GPU lacks it"), "{message}");
        assert_eq!(spirv_blocker(&adapters, Some("Cpu")), None);
    }

    #[test]
    fn mixed_candidates_and_no_adapters_go_ahead() {
        let adapters = [
            adapter("GPU A", AdapterKind::Discrete, true),
            adapter("GPU B", AdapterKind::Discrete, false),
        ];
        assert_eq!(spirv_blocker(&adapters, None), None);
        assert_eq!(spirv_blocker(&[], None), None);
        // A kind the machine does not have: wgpu's own initialisation reports that.
        assert_eq!(spirv_blocker(&adapters, Some("VirtualGpu(0)")), None);
    }

    /// The enumeration itself, against the machine's Vulkan loader: at least one adapter, every
    /// one named, Mesa's lavapipe reported as a CPU adapter.
    #[test]
    #[cfg_attr(not(gpu_tests), ignore = "no Vulkan driver was found when this test was built: apt install mesa-vulkan-drivers libvulkan1 (or set DISENTANGLE_REQUIRE_GPU_TESTS=1 to run it anyway)")]
    fn enumerates_this_machines_adapters() {
        let adapters = vulkan_adapters().expect("enumeration");
        // The GPU-path tests of this build need a Vulkan driver (lavapipe at least).
        assert!(!adapters.is_empty(), "no Vulkan adapter: install mesa-vulkan-drivers libvulkan1");
        assert!(adapters.iter().all(|a| !a.name.is_empty()), "{adapters:?}");
        for lavapipe in adapters.iter().filter(|a| a.name.starts_with("llvmpipe")) {
            assert_eq!(lavapipe.kind, AdapterKind::Cpu, "{adapters:?}");
        }
    }
}
