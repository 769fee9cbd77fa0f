// Shared by the build scripts of disentangle-train and disentangle-cli (included, not a crate):
// decides whether the GPU-path tests of a `--features wgpu` build run or are reported as ignored.
//
// They run when the machine that builds them has a Vulkan loader and at least one driver
// manifest (a GPU's, or Mesa's software driver lavapipe), or when the environment variable
// DISENTANGLE_REQUIRE_GPU_TESTS=1 demands them (`.ci/run` sets it, so that CI can never skip
// them silently: without a driver they then fail). Otherwise each is `#[ignore]`d with the
// reason, which `cargo test` prints.

fn vulkan_probe() -> Result<(), String> {
    println!("cargo::rerun-if-env-changed=DISENTANGLE_REQUIRE_GPU_TESTS");
    println!("cargo::rerun-if-env-changed=VK_ICD_FILENAMES");
    println!("cargo::rerun-if-env-changed=VK_DRIVER_FILES");
    println!("cargo::rustc-check-cfg=cfg(gpu_tests)");
    if std::env::var("CARGO_FEATURE_WGPU").is_err() {
        return Err("not built with the wgpu feature".into());
    }
    if std::env::var("DISENTANGLE_REQUIRE_GPU_TESTS").is_ok_and(|v| v == "1") {
        return Ok(());
    }
    let loader_dirs = ["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib", "/lib/x86_64-linux-gnu", "/usr/local/lib"];
    for d in loader_dirs {
        println!("cargo::rerun-if-changed={d}/libvulkan.so.1");
    }
    let loader = loader_dirs.iter().any(|d| std::path::Path::new(d).join("libvulkan.so.1").exists());
    let manifest_dirs = ["/usr/share/vulkan/icd.d", "/etc/vulkan/icd.d", "/usr/local/share/vulkan/icd.d"];
    let mut manifests = std::env::var("VK_ICD_FILENAMES").or_else(|_| std::env::var("VK_DRIVER_FILES")).is_ok_and(|v| !v.is_empty());
    for d in manifest_dirs {
        println!("cargo::rerun-if-changed={d}");
        manifests |= std::fs::read_dir(d).is_ok_and(|mut e| e.any(|f| f.is_ok_and(|f| f.path().extension().is_some_and(|x| x == "json"))));
    }
    match (loader, manifests) {
        (true, true) => Ok(()),
        (false, _) => Err("no Vulkan loader (libvulkan.so.1)".into()),
        (true, false) => Err("no Vulkan driver manifest in /usr/share/vulkan/icd.d or /etc/vulkan/icd.d".into()),
    }
}

fn emit_gpu_tests_cfg() {
    match vulkan_probe() {
        Ok(()) => println!("cargo::rustc-cfg=gpu_tests"),
        Err(why) => println!("cargo::warning=GPU-path tests will be ignored: {why} (apt install mesa-vulkan-drivers libvulkan1, or set DISENTANGLE_REQUIRE_GPU_TESTS=1 to run them anyway)"),
    }
}
