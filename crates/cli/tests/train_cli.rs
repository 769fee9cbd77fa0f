//! `disentangle train` as a user runs it: a short run, its resume, and bad input.

use std::process::{Command, Output};

fn disentangle(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_disentangle")).args(args).env_remove("DISENTANGLE_DATA").output().expect("runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn train_resume_and_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let run_s = run.to_str().unwrap();
    let base = ["train", "--dataset", "dsprites", "--model", "beta-tcvae", "--encoder", "shared", "--noise", "correlated", "--rho", "0.5", "--batch-size", "4", "--summary-batches", "1", "--log-every", "1", "--seed", "3", "--quiet"];
    let mut args = base.to_vec();
    args.extend(["--steps", "3", "--out", run_s]);
    let o = disentangle(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(out.contains("steps        3") && out.contains("TC"), "{out}");
    let config = std::fs::read_to_string(run.join("config.toml")).unwrap();
    for needle in ["kind = \"beta-tcvae\"", "beta = 6.0", "kind = \"shared\"", "rho = 0.5", "seed = 3"] {
        assert!(config.contains(needle), "config.toml lacks {needle}:\n{config}");
    }
    assert_eq!(std::fs::read_to_string(run.join("log.jsonl")).unwrap().lines().count(), 3);
    assert!(run.join("summary.json").is_file());

    // Resume and extend to 5 steps.
    let o = disentangle(&["train", "--resume", run_s, "--steps", "5", "--quiet"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8(o.stdout).unwrap().contains("steps        5"));
    assert_eq!(std::fs::read_to_string(run.join("log.jsonl")).unwrap().lines().count(), 5);

    // Export codes, then score them as a numpy user would.
    let codes = dir.path().join("codes.npz");
    let o = disentangle(&["export-codes", run_s, "--out", codes.to_str().unwrap(), "--num", "300", "--seed", "1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let small = dir.path().join("small.toml");
    std::fs::write(
        &small,
        "[mig]\nnum_train = 300\n[sap]\nnum_train = 200\nnum_test = 100\n[modularity]\nnum_train = 300\n\
         [unsupervised]\nnum_train = 300\n[info]\nnum_z_samples = 300\n\
         [factor_vae]\nbatch_size = 8\nnum_train = 40\nnum_eval = 20\nnum_variance_estimate = 300\n",
    )
    .unwrap();
    let report = dir.path().join("report.json");
    let o = disentangle(&[
        "evaluate", "--codes", codes.to_str().unwrap(), "--metrics", "mig,sap,modularity,unsupervised,info",
        "--eval-config", small.to_str().unwrap(), "--out", report.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    for key in ["mig.discrete", "sap.score", "modularity.score", "info.isolation_gap"] {
        assert!(r.get(key).is_some(), "{key} missing from {r}");
    }
    let mig = r["mig.discrete"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&mig), "{mig}");
    // Interventional metrics need the encoder, or codes of the whole grid (300 of 737,280 here).
    let o = disentangle(&["evaluate", "--codes", codes.to_str().unwrap(), "--metrics", "factor-vae"]);
    assert!(!o.status.success() && stderr(&o).contains("of the 737280 points"), "{}", stderr(&o));

    // Evaluate the run itself; a second evaluation keeps the first one's results.
    let o = disentangle(&["evaluate", run_s, "--metrics", "mig,factor-vae", "--eval-config", small.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = disentangle(&["evaluate", run_s, "--metrics", "info", "--posterior-samples", "200", "--eval-config", small.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let m: serde_json::Value = serde_json::from_slice(&std::fs::read(run.join("metrics.json")).unwrap()).unwrap();
    for key in ["mig.discrete", "factor_vae.eval_accuracy", "info.isolation_gap", "evaluation.step"] {
        assert!(m.get(key).is_some(), "{key} missing from metrics.json: {m}");
    }
    assert_eq!(m["evaluation.step"].as_u64(), Some(5));
    let o = disentangle(&["evaluate", run_s, "--eval-config", codes.to_str().unwrap()]);
    assert!(!o.status.success() && !stderr(&o).contains("panicked"));

    // A run directory is never overwritten.
    let o = disentangle(&args);
    assert!(!o.status.success() && stderr(&o).contains("already holds a run"), "{}", stderr(&o));
    // Bad values name the field; nothing panics.
    let o = disentangle(&["train", "--model", "vae", "--noise", "correlated", "--rho", "1.5", "--out", dir.path().join("x").to_str().unwrap()]);
    assert!(!o.status.success() && stderr(&o).contains("noise.rho"), "{}", stderr(&o));
    let o = disentangle(&["train", "--encoder", "shared", "--latents", "11", "--out", dir.path().join("y").to_str().unwrap()]);
    assert!(!o.status.success() && stderr(&o).contains("latents"), "{}", stderr(&o));
    let o = disentangle(&["train", "--dataset", "mnist", "--steps", "1", "--out", dir.path().join("z").to_str().unwrap()]);
    assert!(!o.status.success() && stderr(&o).contains("unknown dataset"), "{}", stderr(&o));
    let bad_cfg = dir.path().join("bad.toml");
    std::fs::write(&bad_cfg, "dataset = \"dsprites\"\nsteps = \"many\"\n").unwrap();
    let o = disentangle(&["train", "--config", bad_cfg.to_str().unwrap(), "--out", dir.path().join("w").to_str().unwrap()]);
    assert!(!o.status.success() && stderr(&o).contains("bad.toml"), "{}", stderr(&o));
    {
        let e = &o;
        assert!(!stderr(e).contains("panicked"));
    }
    if !cfg!(feature = "cuda") {
        let o = disentangle(&["train", "--device", "cuda", "--steps", "1", "--out", dir.path().join("v").to_str().unwrap()]);
        assert!(!o.status.success() && stderr(&o).contains("--features cuda"), "{}", stderr(&o));
    }
}

/// `disentangle ARGS` run from folder `cwd`.
fn disentangle_in(cwd: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_disentangle")).current_dir(cwd).args(args).env_remove("DISENTANGLE_DATA").output().expect("runs")
}

#[test]
fn a_run_trained_on_a_relative_path_still_finds_its_data_when_copied_and_says_how_when_not() {
    let dir = tempfile::tempdir().unwrap();
    let (here, elsewhere, moved) = (dir.path().join("here"), dir.path().join("elsewhere"), dir.path().join("moved"));
    for d in [&here, &elsewhere, &moved] {
        std::fs::create_dir(d).unwrap();
    }
    let ok = |cwd: &std::path::Path, args: &[&str]| {
        let o = disentangle_in(cwd, args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        String::from_utf8(o.stdout).unwrap()
    };
    ok(&here, &["data", "generate", "dsprites", "--out", "grid.npz", "--grid", "3,2,4,3,3"]);
    // Trained with a relative path and without --quiet: the summary is shown too.
    let o = disentangle_in(&here, &["train", "--dataset", "grid.npz", "--steps", "2", "--batch-size", "4", "--summary-batches", "3", "--out", "run"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("summary: loss terms over 3 batches") && err.contains("summary: done in"), "{err}");
    let config = std::fs::read_to_string(here.join("run/config.toml")).unwrap();
    let recorded = here.join("grid.npz").canonicalize().unwrap();
    assert!(config.contains(&format!("dataset = \"{}\"", recorded.display())), "{config}");

    // The run copied to another folder, used from there.
    let copy = elsewhere.join("run");
    std::fs::create_dir_all(copy.join("checkpoints")).unwrap();
    for entry in walk(&here.join("run")) {
        let rel = entry.strip_prefix(here.join("run")).unwrap();
        std::fs::create_dir_all(copy.join(rel).parent().unwrap()).unwrap();
        std::fs::copy(&entry, copy.join(rel)).unwrap();
    }
    ok(&elsewhere, &["export-codes", "run", "--out", "codes.npz", "--num", "20"]);

    // The data moved: the error says where it looked and what to pass.
    std::fs::rename(here.join("grid.npz"), moved.join("grid.npz")).unwrap();
    let o = disentangle_in(&elsewhere, &["export-codes", "run", "--out", "codes2.npz", "--num", "20"]);
    let err = stderr(&o);
    assert!(!o.status.success() && err.contains("--data-dir") && err.contains("grid.npz") && !err.contains("panicked"), "{err}");
    ok(&elsewhere, &["export-codes", "run", "--out", "codes2.npz", "--num", "20", "--data-dir", moved.to_str().unwrap()]);
    // An older run that recorded the relative path, with the data beside it in the run folder.
    let old = std::fs::read_to_string(copy.join("config.toml")).unwrap().replace(&recorded.display().to_string(), "grid.npz");
    std::fs::write(copy.join("config.toml"), old).unwrap();
    std::fs::copy(moved.join("grid.npz"), copy.join("grid.npz")).unwrap();
    ok(&elsewhere, &["export-codes", "run", "--out", "codes3.npz", "--num", "20"]);

    // The whole grid (3·2·4·3·3 = 216 points) exported: FactorVAE and BetaVAE from the file.
    ok(&elsewhere, &["export-codes", "run", "--out", "grid-codes.npz", "--grid"]);
    let small = elsewhere.join("small.toml");
    std::fs::write(&small, "[factor_vae]\nnum_train = 300\nnum_eval = 200\nnum_variance_estimate = 300\n[beta_vae]\nnum_train = 200\nnum_eval = 100\n").unwrap();
    ok(&elsewhere, &["evaluate", "--codes", "grid-codes.npz", "--metrics", "factor-vae,beta-vae", "--eval-config", "small.toml", "--out", "grid.json"]);
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(elsewhere.join("grid.json")).unwrap()).unwrap();
    assert_eq!(r["grid.points"].as_u64(), Some(216), "{r}");
    assert!(r["factor_vae.eval_accuracy"].as_f64().is_some() && r["beta_vae.eval_accuracy"].as_f64().is_some(), "{r}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() { out.extend(walk(&p)) } else { out.push(p) }
    }
    out
}

/// `train --eval-every`: a series in metrics.jsonl whose last point is what `evaluate` gives
/// (same weights, sample, seed and sizes); `--eval-metrics` without it is refused.
#[test]
fn eval_every_writes_a_series_whose_last_point_equals_evaluate() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let run_s = run.to_str().unwrap();
    let o = disentangle(&[
        "train", "--dataset", "dsprites", "--model", "vae", "--encoder", "conv", "--batch-size", "8", "--summary-batches", "1", "--steps", "4",
        "--eval-every", "2", "--eval-metrics", "mig,unsupervised", "--quiet", "--out", run_s,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    let points: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(points.iter().map(|p| p["step"].as_u64().unwrap()).collect::<Vec<_>>(), [0, 2, 4]);
    for p in &points {
        assert_eq!(p["metrics"]["mig.num_samples"], 10_000, "reference sample size");
        assert!(p["metrics"]["unsupervised.gaussian_total_correlation"].is_number());
        assert!(p["summary"]["reconstruction_loss"].as_f64().unwrap() > 0.0);
    }
    let o = disentangle(&["evaluate", run_s, "--metrics", "mig", "--seed", "0"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let scored: serde_json::Value = serde_json::from_slice(&std::fs::read(run.join("metrics.json")).unwrap()).unwrap();
    assert_eq!(scored["mig.discrete"], points[2]["metrics"]["mig.discrete"]);

    let bad = disentangle(&["train", "--dataset", "dsprites", "--steps", "2", "--eval-metrics", "mig", "--out", dir.path().join("x").to_str().unwrap()]);
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("--eval-every"), "{}", stderr(&bad));
    let bad = disentangle(&["train", "--dataset", "dsprites", "--steps", "2", "--eval-every", "1", "--eval-metrics", "nope", "--out", dir.path().join("y").to_str().unwrap()]);
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("series.metrics") && stderr(&bad).contains("nope"), "{}", stderr(&bad));
}

/// The CPU engine's settings in the environment: a value it does not know is an error naming
/// the variable (not a silent fallback to other kernels); a known one runs, and `bench` says
/// which kernels it timed. Two runs of the same short training, portable and default kernels,
/// end within rounding of each other.
#[test]
fn engine_settings_from_the_environment_are_checked_and_used() {
    let with_env = |vars: &[(&str, &str)], args: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_disentangle"));
        c.args(args).env_remove("DISENTANGLE_DATA");
        for (k, v) in vars {
            c.env(k, v);
        }
        c.output().expect("runs")
    };
    for (var, value) in [("DISENTANGLE_ENGINE_KERNELS", "avx9"), ("DISENTANGLE_ENGINE_GROUP", "0"), ("DISENTANGLE_ENGINE_WINOGRAD", "sometimes")] {
        let o = with_env(&[(var, value)], &["data", "info", "dsprites"]);
        let err = stderr(&o);
        assert!(!o.status.success() && err.contains(var) && err.contains(value) && !err.contains("panicked"), "{var}={value}: {err}");
    }
    let o = with_env(&[("DISENTANGLE_ENGINE_KERNELS", "portable")], &["bench", "train", "--steps", "1", "--batch-size", "4", "--configs", "conv/vae"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(out.contains("(kernels portable)"), "{out}");

    let dir = tempfile::tempdir().unwrap();
    let mut losses = Vec::new();
    for kernels in ["portable", "best"] {
        let run = dir.path().join(kernels);
        let args = ["train", "--dataset", "dsprites", "--batch-size", "8", "--steps", "3", "--log-every", "1", "--summary-batches", "1", "--seed", "5", "--quiet", "--out", run.to_str().unwrap()];
        let o = with_env(&[("DISENTANGLE_ENGINE_KERNELS", kernels)], &args);
        assert!(o.status.success(), "{kernels}: {}", stderr(&o));
        let log = std::fs::read_to_string(run.join("log.jsonl")).unwrap();
        let last = log.lines().last().unwrap().to_string();
        let loss: f64 = last.split("\"loss\":").nth(1).unwrap().split([',', '}']).next().unwrap().parse().unwrap();
        losses.push(loss);
    }
    assert!((losses[0] - losses[1]).abs() <= 1e-4 * losses[0].abs(), "portable {} vs best {}", losses[0], losses[1]);
}
