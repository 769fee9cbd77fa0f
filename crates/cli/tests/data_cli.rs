//! The `disentangle data …` commands, run as a user would.

use std::path::Path;
use std::process::{Command, Output};

fn disentangle(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_disentangle"))
        .args(args)
        .env_remove("DISENTANGLE_DATA")
        .output()
        .expect("runs the binary")
}

fn ok(args: &[&str]) -> String {
    let out = disentangle(args);
    assert!(out.status.success(), "{args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn fails(args: &[&str]) -> String {
    let out = disentangle(args);
    assert!(!out.status.success(), "{args:?} should fail");
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
    err
}

#[test]
fn info_lists_factors_of_the_embedded_dsprites() {
    let out = ok(&["data", "info", "dsprites"]);
    assert!(out.contains("observations  737280 of shape (C, H, W) = (1, 64, 64)"), "{out}");
    for line in ["shape       3", "scale       6", "orientation 40", "pos_x       32", "pos_y       32"] {
        assert!(out.contains(line), "missing {line:?} in {out}");
    }
}

#[test]
fn generate_then_load_through_the_official_paths() {
    let dir = tempfile::tempdir().unwrap();
    let npz = dir.path().join("small.npz");
    let npz_s = npz.to_str().unwrap();
    ok(&["data", "generate", "dsprites", "--out", npz_s, "--grid", "3,2,4,3,3"]);
    let out = ok(&["data", "info", npz_s]);
    assert!(out.contains("dsprites-official") && out.contains("observations  216 "), "{out}");

    let cars = dir.path().join("cars");
    ok(&["data", "generate", "cars3d", "--out", cars.to_str().unwrap(), "--models", "2"]);
    let out = ok(&["data", "info", cars.to_str().unwrap()]);
    assert!(out.contains("cars3d-official") && out.contains("object      2"), "{out}");

    // The data-folder convention, through --data-dir.
    let out = ok(&["data", "info", "cars3d-official", "--data-dir", dir.path().to_str().unwrap()]);
    assert!(out.contains("observations  192 of shape (C, H, W) = (3, 64, 64)"), "{out}");
}

#[test]
fn show_writes_one_decodable_png_per_factor() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("show");
    let out = ok(&["data", "show", "cars3d:2", "--out", out_dir.to_str().unwrap(), "--rows", "2", "--columns", "5"]);
    assert_eq!(out.lines().count(), 3, "{out}");
    for (f, name, cols) in [(0, "elevation", 4u32), (1, "azimuth", 5), (2, "object", 2)] {
        let p = out_dir.join(format!("cars3d-factor{f}-{name}.png"));
        let img = image::open(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        // cols cells of 64 px with 2-px gaps, 2 rows.
        assert_eq!((img.width(), img.height()), (cols * 66 + 2, 2 * 66 + 2), "{name}");
    }
    // Along a row only the elevation changes, so the first and last cells differ.
    let img = image::open(out_dir.join("cars3d-factor0-elevation.png")).unwrap().to_rgb8();
    let cell = |col: u32| -> Vec<u8> {
        let mut v = Vec::new();
        for y in 2..66 {
            for x in 0..64 {
                v.extend(img.get_pixel(2 + col * 66 + x, y).0);
            }
        }
        v
    };
    assert_ne!(cell(0), cell(3));
}

#[test]
fn bad_input_gives_clear_messages_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let err = fails(&["data", "info", "dsprites-official", "--data-dir", dir.path().to_str().unwrap()]);
    assert!(err.contains("deepmind/dsprites-dataset") && err.contains("--dataset dsprites"), "{err}");
    let err = fails(&["data", "info", "dsprites-official"]);
    assert!(err.contains("DISENTANGLE_DATA"), "{err}");
    let err = fails(&["data", "info", "celeba"]);
    assert!(err.contains("unknown dataset `celeba`"), "{err}");
    let bad = dir.path().join("bad.npz");
    std::fs::write(&bad, b"definitely not a zip").unwrap();
    let err = fails(&["data", "info", bad.to_str().unwrap()]);
    assert!(err.contains("bad.npz") && err.contains("zip"), "{err}");
    fails(&["data", "generate", "dsprites", "--out", dir.path().join("x.npz").to_str().unwrap(), "--grid", "4,1,1,1,1"]);
    assert!(!Path::new(&dir.path().join("x.npz")).exists());
}

#[test]
fn user_errors_print_the_message_and_causes_without_a_backtrace_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.npz");
    let out = Command::new(env!("CARGO_BIN_EXE_disentangle"))
        .args(["evaluate", "--codes", missing.to_str().unwrap(), "--metrics", "mig"])
        .env("RUST_BACKTRACE", "1")
        .output()
        .expect("runs the binary");
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.starts_with("error: "), "{err}");
    assert!(err.contains("missing.npz"), "the message names the file: {err}");
    assert!(!err.contains("backtrace") && !err.contains("Stack") && !err.contains("panicked"), "{err}");
}

#[test]
fn usage_errors_exit_2() {
    let out = disentangle(&["train", "--no-such-flag"]);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    let out = disentangle(&["--version"]);
    assert_eq!(out.status.code(), Some(0));
}

/// Codes that equal their factor (plus a little deterministic noise) on a full [6, 5, 4] grid.
fn write_grid_codes(path: &Path, rows: &[usize]) {
    use disentangle_data::npy::{DType, NpzEntry, f32_bytes, i64_bytes, write_npz};
    let (mut codes, mut factors) = (Vec::new(), Vec::new());
    for &r in rows {
        let f = [r / 20, (r / 4) % 5, r % 4];
        for (i, &v) in f.iter().enumerate() {
            codes.push(v as f32 + 0.1 * ((r * 3 + i) as f32).sin());
            factors.push(v as i64);
        }
    }
    write_npz(path, &[
        NpzEntry { name: "codes", dtype: DType::F32, shape: &[rows.len(), 3], bytes: &f32_bytes(&codes) },
        NpzEntry { name: "factors", dtype: DType::I64, shape: &[rows.len(), 3], bytes: &i64_bytes(&factors) },
    ])
    .unwrap();
}

#[test]
fn the_order_of_the_rows_in_a_codes_file_does_not_matter() {
    let dir = tempfile::tempdir().unwrap();
    let (ordered, shuffled) = (dir.path().join("ordered.npz"), dir.path().join("shuffled.npz"));
    // Index order: the first half of the rows holds factor 0's values 0–2 only.
    write_grid_codes(&ordered, &(0..120).collect::<Vec<_>>());
    write_grid_codes(&shuffled, &(0..120).map(|i| (i * 77) % 120).collect::<Vec<_>>());
    let config = dir.path().join("small.toml");
    std::fs::write(&config, "[sap]\nnum_train = 60\nnum_test = 60\n").unwrap();
    let sap = |file: &Path, seed: &str| -> (f64, serde_json::Value) {
        let out = dir.path().join(format!("{}-{seed}.json", file.file_stem().unwrap().to_str().unwrap()));
        ok(&["evaluate", "--codes", file.to_str().unwrap(), "--metrics", "sap", "--seed", seed,
             "--eval-config", config.to_str().unwrap(), "--out", out.to_str().unwrap()]);
        let r: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
        (r["sap.score"].as_f64().unwrap(), r)
    };
    let (s_ordered, report) = sap(&ordered, "3");
    assert_eq!(report["rows.permutation.seed"].as_u64(), Some(3), "{report}");
    assert_eq!(report["rows.count"].as_u64(), Some(120), "{report}");
    let (s_shuffled, _) = sap(&shuffled, "3");
    let (s_other_seed, _) = sap(&ordered, "4");
    // Taken in file order (before the seeded permutation), the ordered file's test half held
    // factor-0 classes its training half never saw: SAP 0.19 against 0.31 for the shuffled
    // file. Now every file and seed gives a random split (here 0.28–0.32; the numbers are
    // deterministic for these seeds).
    for s in [s_ordered, s_shuffled, s_other_seed] {
        assert!(s > 0.25, "SAP {s} (ordered {s_ordered}, shuffled {s_shuffled}, other seed {s_other_seed})");
    }
    assert!((s_ordered - s_shuffled).abs() < 0.08, "ordered {s_ordered} vs shuffled {s_shuffled}");
}

#[test]
fn factors_stored_as_whole_floats_are_accepted_and_fractions_refused() {
    use disentangle_data::npy::{DType, NpzEntry, f32_bytes, f64_bytes, write_npz};
    let dir = tempfile::tempdir().unwrap();
    let codes: Vec<f32> = (0..40).map(|i| (i % 4) as f32 + 0.01 * (i as f32).sin()).collect();
    let whole: Vec<f64> = (0..40).map(|i| (i % 4) as f64).collect();
    let (as_float, as_int, fractional) = (dir.path().join("f.npz"), dir.path().join("i.npz"), dir.path().join("x.npz"));
    let ints: Vec<i64> = whole.iter().map(|&v| v as i64).collect();
    for (path, dtype, bytes) in [
        (&as_float, DType::F64, f64_bytes(&whole)),
        (&as_int, DType::I64, disentangle_data::npy::i64_bytes(&ints)),
        (&fractional, DType::F64, f64_bytes(&whole.iter().map(|v| v + 0.5).collect::<Vec<_>>())),
    ] {
        write_npz(path, &[
            NpzEntry { name: "codes", dtype: DType::F32, shape: &[20, 2], bytes: &f32_bytes(&codes) },
            NpzEntry { name: "factors", dtype, shape: &[20, 2], bytes: &bytes },
        ])
        .unwrap();
    }
    let config = dir.path().join("small.toml");
    std::fs::write(&config, "[mig]\nnum_train = 20\n").unwrap();
    let mig = |p: &Path| ok(&["evaluate", "--codes", p.to_str().unwrap(), "--metrics", "mig", "--eval-config", config.to_str().unwrap()]);
    // The same classes as floats or as integers: the same report.
    assert_eq!(mig(&as_float), mig(&as_int));
    let err = fails(&["evaluate", "--codes", fractional.to_str().unwrap(), "--metrics", "mig"]);
    assert!(err.contains("x.npz") && err.contains("whole numbers") && err.contains("0.5"), "{err}");
}

#[test]
fn new_datasets_show_train_and_evaluate_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let d = |p: &str| dir.path().join(p).to_str().unwrap().to_string();
    // Shapes3D in disentanglement_lib's layout, where `shapes3d-official` looks for it.
    let npz = d("data/3dshapes/look-at-object-room_floor-hueXwall-hueXobj-hueXobj-sizeXobj-shapeXview-azi.npz");
    let out = ok(&["data", "generate", "shapes3d", "--out", &npz, "--grid", "2,2,2,2,4,3"]);
    assert!(out.contains("(192 images)"), "{out}");
    let data = d("data");
    let info = ok(&["--data-dir", &data, "data", "info", "shapes3d-official"]);
    assert!(info.contains("observations  192 of shape (C, H, W) = (3, 64, 64)") && info.contains("orientation 3"), "{info}");
    for name in ["shapes3d", "color-dsprites", "noisy-dsprites", "scream-dsprites", "shapes3d-official"] {
        let shown = ok(&["--data-dir", &data, "data", "show", name, "--out", &d("show"), "--rows", "1", "--columns", "3"]);
        assert!(shown.lines().count() >= 5, "{name}: {shown}");
        let run = d(&format!("run-{name}"));
        let o = ok(&["--data-dir", &data, "train", "--dataset", name, "--steps", "2", "--batch-size", "4", "--summary-batches", "1", "--quiet", "--out", &run]);
        assert!(o.contains("steps        2"), "{name}: {o}");
        let config = std::fs::read_to_string(Path::new(&run).join("config.toml")).unwrap();
        assert!(config.contains("channels = 3"), "{name}: {config}");
    }
    for name in ["shapes3d-official", "color-dsprites"] {
        let run = d(&format!("run-{name}"));
        let scored = ok(&["--data-dir", &data, "evaluate", &run, "--metrics", "mig,sap"]);
        assert!(scored.contains("mig.discrete") && scored.contains("sap.score"), "{name}: {scored}");
    }
    // Unknown and missing datasets are clear errors.
    let e = fails(&["train", "--dataset", "smallnorb", "--steps", "1", "--out", &d("x")]);
    assert!(e.contains("DISENTANGLE_DATA") && e.contains("small_norb"), "{e}");
    let e = fails(&["--data-dir", &data, "data", "info", "mpi3d-toy"]);
    assert!(e.contains("mpi3d_toy/mpi3d_toy.npz"), "{e}");
}

#[test]
fn official_size_mpi3d_and_smallnorb_train_and_evaluate_end_to_end() {
    use disentangle_data::sparse_fixtures::{write_sparse_mpi3d, write_sparse_smallnorb};
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap().to_string();
    std::fs::create_dir_all(dir.path().join("mpi3d_toy")).unwrap();
    // 460,800 images (5.7 GB, sparse): the first and the last one marked.
    write_sparse_mpi3d(&dir.path().join("mpi3d_toy/mpi3d_toy.npz"), 460_800, &[(0, vec![200; 12288]), (460_799, vec![90; 12288])]).unwrap();
    write_sparse_smallnorb(&dir.path().join("small_norb"), |r| (r[1] == 0).then_some(150)).unwrap();
    for (name, channels, sizes) in [("mpi3d-toy", 3, "  horizontal_axis  40"), ("smallnorb", 1, "  azimuth     18")] {
        let info = ok(&["--data-dir", &data, "data", "info", name]);
        assert!(info.contains(sizes), "{name}: {info}");
        let run = dir.path().join(format!("run-{name}"));
        let run = run.to_str().unwrap();
        let o = ok(&["--data-dir", &data, "train", "--dataset", name, "--steps", "2", "--batch-size", "4", "--summary-batches", "1", "--quiet", "--out", run]);
        assert!(o.contains("steps        2"), "{name}: {o}");
        let config = std::fs::read_to_string(Path::new(run).join("config.toml")).unwrap();
        assert!(config.contains(&format!("channels = {channels}")), "{name}: {config}");
        let scored = ok(&["--data-dir", &data, "evaluate", run, "--metrics", "mig,sap"]);
        assert!(scored.contains("mig.discrete") && scored.contains("sap.score"), "{name}: {scored}");
    }
}
