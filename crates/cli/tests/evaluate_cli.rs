//! `disentangle evaluate --codes`, run as a numpy user would: which metrics run on which
//! arrays, FactorVAE and BetaVAE from a grid dump, and one failing metric losing nothing.

use std::path::Path;
use std::process::{Command, Output};

use disentangle_data::npy::{DType, NpzEntry, f32_bytes, i64_bytes, write_npz};

fn disentangle(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_disentangle")).args(args).env_remove("DISENTANGLE_DATA").output().expect("runs the binary")
}

fn ok(args: &[&str]) -> String {
    let out = disentangle(args);
    assert!(out.status.success(), "{args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// (stdout, stderr) of a command that must fail with exit status 1, not a crash.
fn fails(args: &[&str]) -> (String, String) {
    let out = disentangle(args);
    assert_eq!(out.status.code(), Some(1), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
    (String::from_utf8(out.stdout).unwrap(), err)
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// Small sample sizes so every metric runs in well under a second.
fn small_config(dir: &Path) -> String {
    let path = dir.join("small.toml");
    std::fs::write(
        &path,
        "[mig]\nnum_train = 200\n[dci]\nnum_train = 150\nnum_test = 50\n[dci.boosting]\nnum_stages = 10\n\
         [sap]\nnum_train = 150\nnum_test = 50\n[modularity]\nnum_train = 200\n\
         [explicitness]\nnum_train = 150\nnum_test = 50\n[unsupervised]\nnum_train = 200\n\
         [factor_vae]\nnum_train = 200\nnum_eval = 100\nnum_variance_estimate = 500\n\
         [beta_vae]\nnum_train = 100\nnum_eval = 50\n[info]\nnum_z_samples = 100\n[mig_continuous]\nnum_z_samples = 100\n",
    )
    .unwrap();
    path.to_str().unwrap().to_string()
}

const SIZES: [usize; 3] = [3, 4, 5];

/// The factor vector of grid point p (C order over SIZES).
fn point(p: usize) -> [usize; 3] {
    [p / 20, (p / 5) % 4, p % 5]
}

/// Codes of a factor vector: code 0 mixes factors 0 and 1, code 1 is twice code 0 (so the
/// two are the same code after FactorVAE's normalization), code 2 is factor 2; a small
/// deterministic jitter keeps the other metrics off exact ties.
fn code(f: [usize; 3]) -> [f32; 3] {
    let (a, b, c) = (f[0] as f32, f[1] as f32, f[2] as f32);
    let j = ((7 * f[0] + 3 * f[1] + f[2]) % 5) as f32 * 0.01;
    [a + b + j, 2.0 * (a + b + j), c + j]
}

/// Writes rows for grid points `points` with the arrays named in `arrays`.
fn write_codes(path: &Path, points: &[usize], arrays: &[&str]) {
    let n = points.len();
    let codes: Vec<f32> = points.iter().flat_map(|&p| code(point(p))).collect();
    let factors: Vec<i64> = points.iter().flat_map(|&p| point(p).map(|v| v as i64)).collect();
    let logvar = vec![-3.0f32; n * 3];
    let sizes: Vec<i64> = SIZES.iter().map(|&s| s as i64).collect();
    let (cb, fb, lb, sb) = (f32_bytes(&codes), i64_bytes(&factors), f32_bytes(&logvar), i64_bytes(&sizes));
    let all = [
        NpzEntry { name: "codes", dtype: DType::F32, shape: &[n, 3], bytes: &cb },
        NpzEntry { name: "factors", dtype: DType::I64, shape: &[n, 3], bytes: &fb },
        NpzEntry { name: "mu", dtype: DType::F32, shape: &[n, 3], bytes: &cb },
        NpzEntry { name: "logvar", dtype: DType::F32, shape: &[n, 3], bytes: &lb },
        NpzEntry { name: "factor_sizes", dtype: DType::I64, shape: &[3], bytes: &sb },
    ];
    let chosen: Vec<NpzEntry> = all.into_iter().filter(|e| arrays.contains(&e.name)).collect();
    write_npz(path, &chosen).unwrap();
}

#[test]
fn defaults_and_all_run_what_the_arrays_allow_and_name_what_was_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let config = small_config(dir.path());
    // Codes and factors of 200 rows drawn from the grid: no complete grid, no posteriors.
    let file = dir.path().join("codes.npz");
    let points: Vec<usize> = (0..200).map(|i| (i * 7 + i / 60) % 59).collect();
    write_codes(&file, &points, &["codes", "factors"]);
    let f = file.to_str().unwrap();
    let out_json = dir.path().join("r.json");
    let o = out_json.to_str().unwrap();

    // The default list is mig + factor-vae: mig runs, factor-vae is skipped with the reason.
    let stdout = ok(&["evaluate", "--codes", f, "--eval-config", &config, "--out", o]);
    let r = json(&out_json);
    assert!(r["mig.discrete"].as_f64().is_some(), "{r}");
    let why = r["skipped.factor-vae"].as_str().unwrap();
    assert!(why.contains("every point of the factor grid") && why.contains("59 of the 60 points"), "{why}");
    assert!(stdout.contains("skipped factor-vae"), "{stdout}");

    // `all`: every code-based metric runs; the interventional and posterior ones are skipped.
    ok(&["evaluate", "--codes", f, "--metrics", "all", "--eval-config", &config, "--out", o]);
    let r = json(&out_json);
    for key in ["mig.discrete", "dci.disentanglement", "dci_es.explicitness", "dci_es.size", "sap.score", "modularity.score", "explicitness.score_test", "unsupervised.mutual_info_score"] {
        assert!(r[key].as_f64().is_some(), "{key} missing: {r}");
    }
    for m in ["factor-vae", "beta-vae", "info", "mig-continuous"] {
        assert!(r[format!("skipped.{m}")].is_string(), "{m} not skipped: {r}");
    }
    assert!(r["skipped.info"].as_str().unwrap().contains("`mu` and `logvar`"), "{r}");
    assert!(r.as_object().unwrap().keys().all(|k| !k.starts_with("errors.")), "{r}");
    // The same report in disentanglement_lib's names.
    let dlib_json = dir.path().join("dlib.json");
    ok(&["evaluate", "--codes", f, "--metrics", "all", "--eval-config", &config, "--key-names", "disentanglement-lib",
         "--out", dlib_json.to_str().unwrap()]);
    let dl = json(&dlib_json);
    assert_eq!(dl["mig"]["discrete_mig"], r["mig.discrete"], "{dl}");
    assert_eq!(dl["sap_score"]["SAP_score"], r["sap.score"], "{dl}");
    assert_eq!(dl["dci"]["informativeness_test"], r["dci.informativeness_test"], "{dl}");
    assert_eq!(dl["modularity_explicitness"]["explicitness_score_test"], r["explicitness.score_test"], "{dl}");
    assert_eq!(dl["disentangle"]["skipped.factor-vae"], r["skipped.factor-vae"], "{dl}");

    // A metric named explicitly must run: a clear error, nothing computed.
    let (_, err) = fails(&["evaluate", "--codes", f, "--metrics", "mig,beta-vae", "--eval-config", &config]);
    assert!(err.contains("codes.npz") && err.contains("cannot compute beta-vae") && err.contains("59 of the 60"), "{err}");
    // Without factors only the unsupervised scores are possible.
    let bare = dir.path().join("bare.npz");
    write_codes(&bare, &points, &["codes"]);
    ok(&["evaluate", "--codes", bare.to_str().unwrap(), "--metrics", "all", "--eval-config", &config, "--out", o]);
    let r = json(&out_json);
    assert!(r["unsupervised.mutual_info_score"].as_f64().is_some(), "{r}");
    assert!(r["skipped.mig"].as_str().unwrap().contains("`factors`"), "{r}");
}

#[test]
fn factor_vae_and_beta_vae_from_a_grid_dump_in_any_layout() {
    let dir = tempfile::tempdir().unwrap();
    let config = small_config(dir.path());
    let score = |name: &str, points: &[usize], arrays: &[&str]| -> serde_json::Value {
        let file = dir.path().join(format!("{name}.npz"));
        write_codes(&file, points, arrays);
        let out = dir.path().join(format!("{name}.json"));
        ok(&["evaluate", "--codes", file.to_str().unwrap(), "--metrics", "factor-vae,beta-vae", "--seed", "4",
             "--eval-config", &config, "--out", out.to_str().unwrap()]);
        json(&out)
    };
    let in_order: Vec<usize> = (0..60).collect();
    // Grid order told by `factor_sizes` alone; factors given with their sizes, shuffled and
    // with repeated rows; factors alone (sizes inferred).
    let grid_order = score("grid-order", &in_order, &["codes", "factor_sizes"]);
    let mut shuffled: Vec<usize> = (0..60).map(|i| (i * 37) % 60).collect();
    shuffled.extend([5, 17, 5]);
    let with_sizes = score("with-sizes", &shuffled, &["codes", "factors", "factor_sizes"]);
    let inferred = score("inferred", &shuffled, &["codes", "factors"]);
    let accuracy = grid_order["factor_vae.eval_accuracy"].as_f64().unwrap();
    let beta = grid_order["beta_vae.eval_accuracy"].as_f64().unwrap();
    // Factors 0 and 1 both vote for code 0 (an exact tie with code 1, broken by the lower
    // index as in the reference): one of them is always misclassified, so ≈ 2/3.
    assert!((accuracy - 2.0 / 3.0).abs() < 0.15, "{grid_order}");
    for r in [&with_sizes, &inferred] {
        assert_eq!(r["factor_vae.eval_accuracy"].as_f64(), Some(accuracy), "{r}");
        assert_eq!(r["beta_vae.eval_accuracy"].as_f64(), Some(beta), "{r}");
        assert_eq!(r["factor_vae.seed"].as_u64(), Some(4), "{r}");
    }
    assert_eq!(with_sizes["grid.duplicate_rows"].as_u64(), Some(3));
    assert_eq!(grid_order["grid.points"].as_u64(), Some(60));

    // One point missing: the error names it.
    let holes: Vec<usize> = (0..60).filter(|&p| p != 33).collect();
    let file = dir.path().join("holes.npz");
    write_codes(&file, &holes, &["codes", "factors", "factor_sizes"]);
    let (_, err) = fails(&["evaluate", "--codes", file.to_str().unwrap(), "--metrics", "factor-vae", "--eval-config", &config]);
    assert!(err.contains("59 of the 60 points") && err.contains("[1, 2, 3]"), "{err}");
    // Rows in grid order need exactly one row per point.
    let file = dir.path().join("short.npz");
    write_codes(&file, &in_order[..50], &["codes", "factor_sizes"]);
    let (_, err) = fails(&["evaluate", "--codes", file.to_str().unwrap(), "--metrics", "beta-vae", "--eval-config", &config]);
    assert!(err.contains("needs 60 rows; the file has 50"), "{err}");
}

#[test]
fn a_failing_metric_keeps_the_others_and_fewer_rows_than_asked_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let config = small_config(dir.path());
    // One factor (modularity needs two), codes 0 and 1 identical (singular covariance).
    let n = 150;
    let codes: Vec<f32> = (0..n).flat_map(|i| {
        let v = (i % 3) as f32 + ((i * 7919) % 101) as f32 / 1000.0;
        [v, v, ((i * 31) % 17) as f32]
    }).collect();
    let factors: Vec<i64> = (0..n).map(|i| (i % 3) as i64).collect();
    let file = dir.path().join("dup.npz");
    write_npz(&file, &[
        NpzEntry { name: "codes", dtype: DType::F32, shape: &[n, 3], bytes: &f32_bytes(&codes) },
        NpzEntry { name: "factors", dtype: DType::I64, shape: &[n, 1], bytes: &i64_bytes(&factors) },
    ]).unwrap();
    let out = dir.path().join("r.json");
    let args = ["evaluate", "--codes", file.to_str().unwrap(), "--metrics", "mig,modularity,unsupervised",
                "--eval-config", &config, "--out", out.to_str().unwrap()];
    let (stdout, err) = fails(&args);
    assert!(err.contains("modularity failed"), "{err}");
    assert!(stdout.contains("failed  modularity") && stdout.contains("mig.discrete"), "{stdout}");
    // The report is written with every result that exists.
    let r = json(&out);
    assert!(r["errors.modularity"].as_str().unwrap().contains("at least 2 factors"), "{r}");
    assert!(r["mig.discrete"].as_f64().is_some(), "{r}");
    assert!(r["unsupervised.gaussian_total_correlation"].is_null(), "{r}");
    assert!(r["unsupervised.gaussian_total_correlation_note"].as_str().unwrap().starts_with("+inf"), "{r}");
    assert!(r["unsupervised.gaussian_wasserstein_correlation"].as_f64().unwrap() > 0.0, "{r}");
    // 150 rows where mig asked for 200 and unsupervised for 200: said in the report.
    assert!(r["warnings.mig"].as_str().unwrap().contains("asked for 200 rows"), "{r}");
    assert!(r["warnings.unsupervised"].is_string(), "{r}");
    assert_eq!(r["mig.num_samples"].as_u64(), Some(150));
    assert!(stdout.contains("warnings.mig"), "{stdout}");
}

#[test]
fn numpy_integer_widths_and_float_codes_give_the_same_scores() {
    let dir = tempfile::tempdir().unwrap();
    let config = small_config(dir.path());
    let points: Vec<usize> = (0..200).map(|i| (i * 7) % 60).collect();
    let codes: Vec<f32> = points.iter().flat_map(|&p| code(point(p))).collect();
    let classes: Vec<u8> = points.iter().flat_map(|&p| point(p).map(|v| v as u8)).collect();
    let as_bytes = |dtype: DType| -> Vec<u8> {
        classes
            .iter()
            .flat_map(|&c| match dtype {
                DType::I8 | DType::U8 => vec![c],
                DType::I16 | DType::U16 => (c as u16).to_le_bytes().to_vec(),
                DType::I32 | DType::U32 => (c as u32).to_le_bytes().to_vec(),
                _ => (c as u64).to_le_bytes().to_vec(),
            })
            .collect()
    };
    let score = |name: &str, codes_entry: (DType, Vec<u8>), factor_dtype: DType| -> serde_json::Value {
        let file = dir.path().join(format!("{name}.npz"));
        let fb = as_bytes(factor_dtype);
        write_npz(&file, &[
            NpzEntry { name: "codes", dtype: codes_entry.0, shape: &[200, 3], bytes: &codes_entry.1 },
            NpzEntry { name: "factors", dtype: factor_dtype, shape: &[200, 3], bytes: &fb },
        ])
        .unwrap();
        let out = dir.path().join(format!("{name}.json"));
        ok(&["evaluate", "--codes", file.to_str().unwrap(), "--metrics", "mig,sap", "--eval-config", &config,
             "--out", out.to_str().unwrap()]);
        let r = json(&out);
        serde_json::json!([r["mig.discrete"], r["sap.score"]])
    };
    let f32_codes = (DType::F32, f32_bytes(&codes));
    let reference = score("i64", f32_codes.clone(), DType::I64);
    assert!(reference[0].as_f64().is_some(), "{reference}");
    for dtype in [DType::I8, DType::U8, DType::I16, DType::U16, DType::I32, DType::U32, DType::U64] {
        assert_eq!(score(&format!("{dtype:?}"), f32_codes.clone(), dtype), reference, "{dtype:?}");
    }
    // float64 codes holding the same float32 values: the same scores.
    let f64_codes: Vec<u8> = codes.iter().flat_map(|&c| (c as f64).to_le_bytes()).collect();
    assert_eq!(score("f64", (DType::F64, f64_codes), DType::I64), reference);
    // Codes stored as integers: refused, naming the array.
    let file = dir.path().join("intcodes.npz");
    write_npz(&file, &[
        NpzEntry { name: "codes", dtype: DType::I64, shape: &[200, 3], bytes: &as_bytes(DType::I64)[..] },
        NpzEntry { name: "factors", dtype: DType::I64, shape: &[200, 3], bytes: &as_bytes(DType::I64) },
    ])
    .unwrap();
    let (_, err) = fails(&["evaluate", "--codes", file.to_str().unwrap(), "--metrics", "mig"]);
    assert!(err.contains("intcodes.npz") && err.contains("`codes` must be a float array"), "{err}");
}

#[test]
fn posterior_metrics_take_the_first_posterior_samples_rows_of_a_large_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = small_config(dir.path());
    let file = dir.path().join("post.npz");
    let points: Vec<usize> = (0..300).map(|i| (i * 7) % 60).collect();
    write_codes(&file, &points, &["codes", "factors", "mu", "logvar"]);
    let out = dir.path().join("r.json");
    ok(&["evaluate", "--codes", file.to_str().unwrap(), "--metrics", "mig,info,mig-continuous", "--posterior-samples", "80",
         "--eval-config", &config, "--out", out.to_str().unwrap()]);
    let r = json(&out);
    assert_eq!(r["rows.posterior_samples"].as_u64(), Some(80), "{r}");
    assert_eq!(r["info.num_samples"].as_u64(), Some(80), "{r}");
    assert_eq!(r["mig.continuous_num_samples"].as_u64(), Some(80), "{r}");
    // The code-based metrics still see every row.
    assert_eq!(r["mig.num_samples"].as_u64(), Some(200), "{r}");
    assert_eq!(r["rows.count"].as_u64(), Some(300), "{r}");
}

#[test]
fn fairness_and_the_strong_downstream_task_from_a_grid_dump_do_not_depend_on_its_layout() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("tasks.toml");
    std::fs::write(&config, "[fairness]\nnum_train = 200\nnum_test_points_per_class = 20\n[strong_downstream]\nnum_train = [100]\nnum_test = 100\nn_experiment = 1\n").unwrap();
    let config = config.to_str().unwrap();
    let score = |name: &str, points: &[usize], arrays: &[&str]| -> serde_json::Value {
        let file = dir.path().join(format!("{name}.npz"));
        write_codes(&file, points, arrays);
        let out = dir.path().join(format!("{name}.json"));
        ok(&["evaluate", "--codes", file.to_str().unwrap(), "--metrics", "fairness,strong-downstream", "--seed", "2",
             "--eval-config", config, "--out", out.to_str().unwrap()]);
        json(&out)
    };
    let in_order = score("grid-order", &(0..60).collect::<Vec<_>>(), &["codes", "factor_sizes"]);
    let shuffled: Vec<usize> = (0..60).map(|i| (i * 37) % 60).collect();
    let with_factors = score("shuffled", &shuffled, &["codes", "factors", "factor_sizes"]);
    for key in ["fairness.mean_fairness:mean_pred:mean_sens", "fairness.max_fairness:pred2:sens0", "strong_downstream.100:strong_generalization_gap", "strong_downstream.100:mean_test_accuracy"] {
        let v = in_order[key].as_f64().unwrap_or_else(|| panic!("{key} missing: {in_order}"));
        assert!(v.is_finite(), "{key}: {v}");
        assert_eq!(with_factors[key].as_f64(), Some(v), "{key}");
    }
    // Code 2 is factor 2 plus a jitter below 0.05: factor 2 is predicted perfectly whatever the
    // other factors are, so intervening on them changes nothing.
    assert_eq!(in_order["fairness.max_fairness:pred2:sens0"].as_f64(), Some(0.0), "{in_order}");
}
