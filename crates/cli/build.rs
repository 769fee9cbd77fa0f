include!("../train/build_support/vulkan_probe.rs");

fn main() {
    emit_gpu_tests_cfg();
}
