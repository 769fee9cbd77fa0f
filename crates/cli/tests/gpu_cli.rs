//! The command-line tool on the GPU path, as a user runs it: `train --device wgpu`, its resume
//! on `--device vulkan`, `export-codes`, `evaluate`, `visualize` and `study run --device`. Built
//! with `--features wgpu` (the README's test command); without a GPU it runs on Mesa's software
//! Vulkan driver (lavapipe), which `.ci/run` installs. A build on a machine without a Vulkan driver reports
//! these tests as ignored, with the reason, unless DISENTANGLE_REQUIRE_GPU_TESTS=1 (which `.ci/run`
//! sets) demands them; then they fail with the CLI's "no usable GPU adapter" message.
#![cfg(feature = "wgpu")]

use std::path::Path;
use std::process::{Command, Output};

use disentangle_data::npy::{NpzArray, read_npz_array};

fn disentangle(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_disentangle")).args(args).env_remove("DISENTANGLE_DATA").output().expect("runs")
}

fn ok(args: &[&str]) -> String {
    let o = disentangle(args);
    assert!(o.status.success(), "disentangle {}: {}", args.join(" "), String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

fn floats(path: &Path, name: &str) -> Vec<f64> {
    match read_npz_array(path, name).unwrap() {
        NpzArray::Float { data, .. } => data,
        other => panic!("{name} in {} is not float: {other:?}", path.display()),
    }
}

fn losses(run: &Path) -> Vec<f64> {
    std::fs::read_to_string(run.join("log.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["loss"].as_f64().unwrap())
        .collect()
}

#[test]
#[cfg_attr(not(gpu_tests), ignore = "no Vulkan driver was found when this test was built: apt install mesa-vulkan-drivers libvulkan1 (or set DISENTANGLE_REQUIRE_GPU_TESTS=1 to run it anyway)")]
fn train_resume_export_evaluate_and_visualize_on_the_gpu_path() {
    let tmp = tempfile::tempdir().unwrap();
    let (gpu, cpu) = (tmp.path().join("gpu"), tmp.path().join("cpu"));
    let (gpu_s, cpu_s) = (gpu.to_str().unwrap(), cpu.to_str().unwrap());
    let base = ["train", "--dataset", "dsprites", "--model", "factor-vae", "--encoder", "split", "--batch-size", "8", "--summary-batches", "1", "--log-every", "1", "--checkpoint-every", "2", "--seed", "4", "--quiet"];
    // Two steps on wgpu, then resumed on the Vulkan device to four; the same four on the CPU.
    let mut first = base.to_vec();
    first.extend(["--device", "wgpu", "--steps", "2", "--out", gpu_s]);
    ok(&first);
    ok(&["train", "--resume", gpu_s, "--device", "vulkan", "--steps", "4", "--quiet"]);
    let mut reference = base.to_vec();
    reference.extend(["--device", "cpu", "--steps", "4", "--out", cpu_s]);
    ok(&reference);
    let (lg, lc) = (losses(&gpu), losses(&cpu));
    assert_eq!(lg.len(), 4);
    // Float rounding in another summation order only (crates/train/tests/gpu_path.rs).
    for (g, c) in lg.iter().zip(&lc) {
        assert!((g - c).abs() < 1e-3 * c.abs(), "gpu {lg:?} vs cpu {lc:?}");
    }

    // Codes for the metrics: the same checkpoint encoded on the GPU and on the CPU engine.
    let (on_gpu, on_cpu) = (tmp.path().join("gpu.npz"), tmp.path().join("cpu.npz"));
    ok(&["export-codes", gpu_s, "--device", "wgpu", "--num", "200", "--seed", "2", "--out", on_gpu.to_str().unwrap()]);
    ok(&["export-codes", gpu_s, "--device", "cpu", "--num", "200", "--seed", "2", "--out", on_cpu.to_str().unwrap()]);
    for name in ["mu", "logvar"] {
        let (g, c) = (floats(&on_gpu, name), floats(&on_cpu, name));
        assert_eq!(g.len(), 200 * 10, "{name}");
        let worst = g.iter().zip(&c).map(|(a, b)| (a - b).abs() / b.abs().max(1.0)).fold(0.0, f64::max);
        assert!(worst < 1e-4, "{name}: GPU and CPU encodings differ by {worst:.2e}");
    }

    // evaluate encodes on the run's device (the resumed run's: vulkan).
    let eval_cfg = tmp.path().join("eval.toml");
    std::fs::write(&eval_cfg, "mig = { num_train = 300 }\n").unwrap();
    let out = ok(&["evaluate", gpu_s, "--metrics", "mig", "--eval-config", eval_cfg.to_str().unwrap()]);
    assert!(out.contains("mig"), "{out}");
    let metrics: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(gpu.join("metrics.json")).unwrap()).unwrap();
    let mig = metrics["mig.discrete"].as_f64().unwrap_or_else(|| panic!("no mig.discrete in {metrics}"));
    assert!((0.0..=1.0).contains(&mig), "MIG {mig}");

    let pics = tmp.path().join("pics");
    let out = ok(&["visualize", gpu_s, "--device", "wgpu", "--out", pics.to_str().unwrap(), "--kl-samples", "64", "--steps", "3"]);
    assert!(out.contains("latents by mean KL"), "{out}");
    let pngs = std::fs::read_dir(&pics).unwrap().filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().ends_with(".png")).count();
    assert!(pngs >= 3, "{pngs} pictures");
}

#[test]
#[cfg_attr(not(gpu_tests), ignore = "no Vulkan driver was found when this test was built: apt install mesa-vulkan-drivers libvulkan1 (or set DISENTANGLE_REQUIRE_GPU_TESTS=1 to run it anyway)")]
fn a_study_runs_its_jobs_on_the_gpu_with_two_workers() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("tiny.toml");
    std::fs::write(
        &file,
        r#"
name = "gpu-tiny"
seeds = 1
steps = 3
batch_size = 8
summary_batches = 1
checkpoint_every = 3
metrics = ["mig"]
device = "cpu"

[[grid]]
datasets = ["dsprites"]
encoders = ["conv", "split"]
objectives = [{ model = "vae" }]

[eval]
mig = { num_train = 200 }
"#,
    )
    .unwrap();
    let dir = tmp.path().join("study");
    ok(&["study", "run", file.to_str().unwrap(), "--dir", dir.to_str().unwrap(), "--jobs", "2", "--device", "wgpu", "--quiet"]);
    let runs: Vec<_> = std::fs::read_dir(dir.join("runs")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(runs.len(), 2, "{runs:?}");
    for run in runs {
        let config = std::fs::read_to_string(run.join("config.toml")).unwrap();
        assert!(config.contains("device = \"wgpu\""), "{} trained elsewhere:\n{config}", run.display());
    }
    let csv = tmp.path().join("results.csv");
    ok(&["study", "export", dir.to_str().unwrap(), "--out", csv.to_str().unwrap()]);
    let csv = std::fs::read_to_string(csv).unwrap();
    assert_eq!(csv.lines().count(), 3, "{csv}");
    assert!(csv.contains("mig"), "{csv}");
}
