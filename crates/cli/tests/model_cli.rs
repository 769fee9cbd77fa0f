//! `export-model` and `import-model` as a user runs them: a trained run goes out as safetensors
//! and comes back as a run that evaluate, export-codes, visualize and a study accept; a study
//! refuses a run of another configuration in a job's folder.

use std::path::Path;
use std::process::{Command, Output};

fn disentangle(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_disentangle")).args(args).env_remove("DISENTANGLE_DATA").output().expect("runs")
}

fn ok(o: Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

fn err(o: Output) -> String {
    assert!(!o.status.success(), "succeeded: {}", String::from_utf8_lossy(&o.stdout));
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const STUDY: &str = r#"
name = "imported"
description = "a study whose one job is an imported model"
seeds = 1
steps = 3
batch_size = 4
latents = 4
metrics = ["mig"]

[[grid]]
datasets = ["dsprites"]
encoders = ["shared"]
noises = ["correlated"]
objectives = [{ model = "vae" }]
"#;

#[test]
fn a_model_goes_out_and_comes_back_as_a_run_every_command_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let train = |out: &str, seed: &str| {
        ok(disentangle(&[
            "train", "--dataset", "dsprites", "--model", "vae", "--encoder", "shared", "--noise", "correlated", "--latents", "4",
            "--batch-size", "4", "--steps", "3", "--summary-batches", "1", "--seed", seed, "--quiet", "--out", out,
        ]))
    };
    train(&p("run"), "0");
    let out = ok(disentangle(&["export-model", &p("run"), "--out", &p("model.safetensors")]));
    assert!(out.contains("step 3") && !out.contains("discriminator"), "{out}");

    let out = ok(disentangle(&["import-model", &p("model.safetensors"), "--out", &p("imported")]));
    assert!(out.contains("shared encoder") && out.contains("3 steps on dsprites"), "{out}");
    // The run's own files, byte for byte where they are the same thing.
    for file in ["config.toml", "summary.json"] {
        let (a, b) = (std::fs::read(dir.path().join("run").join(file)).unwrap(), std::fs::read(dir.path().join("imported").join(file)).unwrap());
        if file == "summary.json" {
            let (mut a, mut b): (serde_json::Value, serde_json::Value) = (serde_json::from_slice(&a).unwrap(), serde_json::from_slice(&b).unwrap());
            a["train_seconds"] = 0.0.into();
            b["train_seconds"] = 0.0.into();
            assert_eq!(a, b, "summary.json");
        } else {
            assert_eq!(a, b, "{file}");
        }
    }
    // evaluate, export-codes, visualize: the same numbers as on the original run.
    for run in ["run", "imported"] {
        ok(disentangle(&["evaluate", &p(run), "--metrics", "mig"]));
        ok(disentangle(&["export-codes", &p(run), "--out", &p(&format!("{run}.npz")), "--num", "200", "--seed", "1"]));
        ok(disentangle(&["visualize", &p(run), "--out", &p(&format!("vis-{run}"))]));
    }
    let mig = |run: &str| {
        let m: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.path().join(run).join("metrics.json")).unwrap()).unwrap();
        m["mig.discrete"].as_f64().unwrap_or_else(|| panic!("no mig.discrete in {m}"))
    };
    assert_eq!(mig("run"), mig("imported"));
    assert_eq!(std::fs::read(p("run.npz")).unwrap(), std::fs::read(p("imported.npz")).unwrap());
    assert!(std::fs::read_dir(p("vis-imported")).unwrap().count() >= 4);

    // A study whose job folder holds the imported run scores it without training.
    let study = dir.path().join("study.toml");
    std::fs::write(&study, STUDY).unwrap();
    let job = "runs/dsprites.vae_beta-1.shared.correlated-0.9.s0";
    std::fs::create_dir_all(dir.path().join("S/runs")).unwrap();
    ok(disentangle(&["import-model", &p("model.safetensors"), "--out", &p(&format!("S/{job}"))]));
    let out = ok(disentangle(&["study", "run", study.to_str().unwrap(), "--dir", &p("S")]));
    assert!(out.contains("1 runs completed"), "{out}");
    assert!(!dir.path().join("S").join(job).join("log.jsonl").exists(), "the study trained the imported run");
    // A run of another seed in the job's folder is refused, not silently scored.
    train(&p("seed7"), "7");
    ok(disentangle(&["export-model", &p("seed7"), "--out", &p("seed7.safetensors")]));
    std::fs::create_dir_all(dir.path().join("T/runs")).unwrap();
    ok(disentangle(&["import-model", &p("seed7.safetensors"), "--out", &p(&format!("T/{job}"))]));
    let _ = disentangle(&["study", "run", study.to_str().unwrap(), "--dir", &p("T")]);
    let failed = ok(disentangle(&["study", "export", &p("T")]));
    let csv = std::fs::read_to_string(dir.path().join("T/results.csv")).unwrap();
    assert!(csv.contains("another configuration") && csv.contains("seed (7 there, 0 in the study)"), "{failed}\n{csv}");

    // Bad input: a missing file, a file that is not safetensors, an existing --out.
    let e = err(disentangle(&["import-model", &p("nope.safetensors"), "--out", &p("x")]));
    assert!(e.contains("nope.safetensors"), "{e}");
    std::fs::write(dir.path().join("junk.safetensors"), b"not a model").unwrap();
    let e = err(disentangle(&["import-model", &p("junk.safetensors"), "--out", &p("x")]));
    assert!(e.contains("junk.safetensors") && e.contains("not a valid safetensors file"), "{e}");
    let e = err(disentangle(&["import-model", &p("model.safetensors"), "--out", &p("run")]));
    assert!(e.contains("already exists"), "{e}");
    assert!(!Path::new(&p("x")).exists());
    let e = err(disentangle(&["export-model", &p("nowhere"), "--out", &p("y.safetensors")]));
    assert!(e.contains("nowhere"), "{e}");
}
