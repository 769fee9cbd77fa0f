//! The PyTorch bridge: a model file of ours loaded by `disentanglekit.torch` computes what we
//! compute; export → import → export gives the same bytes; damaged or mismatched files are
//! clear errors, never panics.
//!
//! The PyTorch comparison runs the package's `python/disentanglekit/torch.py` (loaded by path:
//! it needs only torch) in a Python that has torch: `$DISENTANGLE_TORCH_PYTHON`, else
//! `target/torch-venv/bin/python` (where `scripts/bench-vs-pytorch.sh` and `.ci/run` install
//! it). Without one the test says it is skipped — unless `DISENTANGLE_REQUIRE_TORCH_TESTS=1`
//! (set by `.ci/run`), which makes a missing torch a failure.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use disentangle_engine::{Network, Workspace};
use disentangle_models::config::{EncoderConfig, ModelConfig, NoiseConfig, ObjectiveConfig};
use disentangle_models::ops::to_vec;
use disentangle_models::burn::tensor::Device;
use disentangle_train::TrainConfig;
use disentangle_train::inference::load_trained;
use disentangle_train::safetensors_model::{ImportOptions, METADATA_KEY, export_run, import_model, model_file_bytes, read_model_file};
use disentangle_train::trainer::{TrainOptions, burn_vae, resume, train};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use safetensors::{Dtype, SafeTensors, tensor::TensorView};

fn model(encoder: &str, correlated: bool, objective: ObjectiveConfig, latents: usize) -> ModelConfig {
    ModelConfig {
        latents,
        channels: 1,
        encoder: EncoderConfig::from_variant(encoder).unwrap(),
        noise: if correlated { NoiseConfig::Correlated { rho: 0.9 } } else { NoiseConfig::Independent },
        objective,
    }
}

fn config(model: ModelConfig, steps: u64) -> TrainConfig {
    TrainConfig {
        dataset: "dsprites".into(),
        steps,
        batch_size: 4,
        learning_rate: 1e-4,
        discriminator_learning_rate: 1e-4,
        seed: 3,
        log_every: 1,
        checkpoint_every: steps,
        summary_batches: 2,
        device: "cpu".into(),
        series: Default::default(),
        model,
    }
}

/// A network with seeded weights and every parameter (biases included) moved off its
/// initial value, so a layout mistake in any tensor shows.
fn perturbed_network(model: &ModelConfig, seed: u64) -> Network {
    let mut net = Network::init(model, seed).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xB1A5);
    for v in net.vae.data.iter_mut() {
        *v += 0.05 * rng.sample::<f32, _>(StandardNormal);
    }
    if let Some(d) = net.disc.as_mut() {
        for v in d.data.iter_mut() {
            *v += 0.01 * rng.sample::<f32, _>(StandardNormal);
        }
    }
    net
}

fn torch_python() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("DISENTANGLE_TORCH_PYTHON") {
        return Some(PathBuf::from(p));
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/torch-venv/bin/python");
    let ok = venv.is_file()
        && std::process::Command::new(&venv).args(["-c", "import torch"]).output().is_ok_and(|o| o.status.success());
    ok.then_some(venv)
}

fn write_f32(path: &Path, values: &[f32]) {
    std::fs::write(path, values.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>()).unwrap();
}

fn read_f32(path: &Path) -> Vec<f32> {
    std::fs::read(path).unwrap().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

/// For each case: the file, the images, and where the script writes mu, logvar, logits and
/// the module saved back by `disentanglekit.torch.save`.
const SCRIPT: &str = r#"
import importlib.util, json, sys
import numpy as np, torch
spec = importlib.util.spec_from_file_location("dk_torch", sys.argv[1])
dk_torch = importlib.util.module_from_spec(spec); spec.loader.exec_module(dk_torch)
torch.set_num_threads(1)
for case in json.loads(open(sys.argv[2]).read()):
    model = dk_torch.load(case["file"])
    x = torch.from_numpy(np.fromfile(case["images"], dtype="<f4").reshape(case["n"], 1, 64, 64))
    with torch.no_grad():
        mu, logvar = model.encode(x)
        logits = model.decode(mu)
        recon = model.reconstruct(x)
        assert torch.equal(recon, torch.sigmoid(logits)), "reconstruct = sigmoid(decode(mu))"
        logits2, mu2, logvar2, z = model(x, generator=torch.Generator().manual_seed(0))
        assert torch.equal(mu2, mu) and torch.equal(logvar2, logvar) and logits2.shape == logits.shape
        if model.config["noise"]["kind"] == "correlated":
            eps = model.sample_noise(200000, torch.Generator().manual_seed(1))
            cov = torch.cov(eps.T)
            j = model.latents
            want = 0.1 * torch.eye(j) + 0.9 * torch.ones(j, j)
            assert (cov - want).abs().max() < 0.02, cov
    for name, t in (("mu", mu), ("logvar", logvar), ("logits", logits)):
        t.numpy().astype("<f4").tofile(case["out"] + "." + name)
    dk_torch.save(model, case["out"] + ".saved.safetensors", dataset="dsprites", steps=7)
print("ok", flush=True)
"#;

#[test]
fn pytorch_modules_compute_what_we_compute() {
    let Some(python) = torch_python() else {
        assert!(
            std::env::var("DISENTANGLE_REQUIRE_TORCH_TESTS").as_deref() != Ok("1"),
            "DISENTANGLE_REQUIRE_TORCH_TESTS=1 but no Python with torch (set DISENTANGLE_TORCH_PYTHON or install target/torch-venv)"
        );
        eprintln!("skipped: no Python with torch (DISENTANGLE_TORCH_PYTHON, target/torch-venv)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let n = 5;
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let images: Vec<f32> = (0..n * 64 * 64).map(|_| rng.random::<f32>()).collect();
    let images_path = dir.path().join("images.f32");
    write_f32(&images_path, &images);
    let mut cases = Vec::new();
    let mut expected = Vec::new();
    for encoder in ["conv", "conv-k4", "split", "shared"] {
        for correlated in [false, true] {
            let objective = if encoder == "split" && correlated { ObjectiveConfig::FactorVae { gamma: 30.0 } } else { ObjectiveConfig::Vae { beta: 1.0 } };
            let m = model(encoder, correlated, objective, 6);
            let net = perturbed_network(&m, 5);
            let name = format!("{encoder}-{}", if correlated { "correlated" } else { "independent" });
            let file = dir.path().join(format!("{name}.safetensors"));
            std::fs::write(&file, model_file_bytes(&config(m.clone(), 7), &net, 7).unwrap()).unwrap();
            // Ours: the CPU engine, checked against burn's reference modules on the same batch.
            let mut ws = Workspace::new(&net, n, false);
            net.encode(&mut ws, &images, n);
            let (mu, logvar) = (ws.mu[..n * 6].to_vec(), ws.logvar[..n * 6].to_vec());
            net.decode(&mut ws, &mu, n);
            let logits = ws.dec.last().unwrap()[..n * 64 * 64].to_vec();
            let vae = burn_vae(&net).unwrap();
            let x = disentangle_models::ops::tensor_from(images.clone(), [n, 1, 64, 64], &Device::flex());
            let (bmu, blogvar) = vae.encoder.forward(x);
            assert!(max_abs_diff(&mu, &to_vec(bmu)) < 1e-5 && max_abs_diff(&logvar, &to_vec(blogvar)) < 1e-5, "{name}: engine vs burn");
            let out = dir.path().join(&name);
            cases.push(serde_json::json!({"file": file, "images": images_path, "n": n, "out": out}));
            expected.push((name, net, mu, logvar, logits, out));
        }
    }
    let cases_path = dir.path().join("cases.json");
    std::fs::write(&cases_path, serde_json::to_vec(&cases).unwrap()).unwrap();
    let module = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../python/disentanglekit/torch.py");
    let done = std::process::Command::new(&python).arg("-c").arg(SCRIPT).arg(&module).arg(&cases_path).output().unwrap();
    assert!(done.status.success(), "python failed:\n{}\n{}", String::from_utf8_lossy(&done.stdout), String::from_utf8_lossy(&done.stderr));
    let sigmoid = |v: &[f32]| v.iter().map(|l| 1.0 / (1.0 + (-l).exp())).collect::<Vec<f32>>();
    for (name, net, mu, logvar, logits, out) in expected {
        let path = |ext: &str| PathBuf::from(format!("{}.{ext}", out.display()));
        let (tmu, tlogvar, tlogits) = (read_f32(&path("mu")), read_f32(&path("logvar")), read_f32(&path("logits")));
        let scale = mu.iter().chain(&logvar).fold(0.0f32, |m, v| m.max(v.abs()));
        assert!(scale > 0.05, "{name}: codes too small to tell layouts apart ({scale})");
        let (dm, dl) = (max_abs_diff(&mu, &tmu), max_abs_diff(&logvar, &tlogvar));
        let dr = max_abs_diff(&sigmoid(&logits), &sigmoid(&tlogits));
        assert!(dm <= 1e-5 && dl <= 1e-5 && dr <= 1e-5, "{name}: PyTorch differs: mu {dm:e}, logvar {dl:e}, reconstruction {dr:e}");
        // PyTorch's save writes what we read back, bit for bit.
        let saved = read_model_file(&path("saved.safetensors")).unwrap();
        assert_eq!(saved.network.vae.data, net.vae.data, "{name}: torch save → our read");
        assert_eq!(saved.network.disc.map(|d| d.data), net.disc.map(|d| d.data), "{name}: discriminator");
        assert_eq!(saved.header.step, Some(7));
        let run = saved.header.run.unwrap();
        assert_eq!((run["dataset"].as_str(), run["steps"].as_u64()), (Some("dsprites"), Some(7)));
    }
}

fn tiny_run(dir: &Path, name: &str, m: ModelConfig) -> PathBuf {
    let run = dir.join(name);
    train(config(m, 2), &run, &TrainOptions { progress: false, ..Default::default() }).unwrap();
    run
}

#[test]
fn export_import_export_is_bit_identical_and_the_import_is_a_finished_run() {
    let dir = tempfile::tempdir().unwrap();
    // FactorVAE with the split encoder and correlated noise: every part of the format.
    let m = model("split", true, ObjectiveConfig::FactorVae { gamma: 10.0 }, 4);
    let run = tiny_run(dir.path(), "run", m);
    let a = dir.path().join("a.safetensors");
    let exported = export_run(&run, &a).unwrap();
    assert!(exported.with_discriminator && exported.step == 2);
    let imported_dir = dir.path().join("imported");
    let imported = import_model(&a, &imported_dir, &ImportOptions::default()).unwrap();
    assert_eq!(imported.config, disentangle_train::TrainConfig::load(&run.join("config.toml")).unwrap());
    let b = dir.path().join("b.safetensors");
    export_run(&imported_dir, &b).unwrap();
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap(), "export → import → export changed the file");
    // The imported run encodes and decodes exactly as the original, and its summary is the
    // original's (same weights, same seed, same summary batches).
    let (orig, copy) = (load_trained(&run, None).unwrap(), load_trained(&imported_dir, None).unwrap());
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let images: Vec<f32> = (0..3 * 64 * 64).map(|_| rng.random::<f32>()).collect();
    assert_eq!(orig.encode(&images, 3), copy.encode(&images, 3));
    assert_eq!(orig.decode(&[0.5; 12], 3), copy.decode(&[0.5; 12], 3));
    let summary: disentangle_train::Summary = serde_json::from_slice(&std::fs::read(run.join("summary.json")).unwrap()).unwrap();
    assert_eq!(imported.summary.reconstruction_loss, summary.reconstruction_loss);
    assert_eq!(imported.summary.kl, summary.kl);
    assert_eq!(imported.summary.tc, summary.tc);
    assert!(imported_dir.join("imported.json").is_file());
    // Weights without optimizer state cannot be trained further: said, not a cryptic error.
    let err = resume(&imported_dir, Some(4), &TrainOptions::default()).err().unwrap().to_string();
    assert!(err.contains("import-model"), "{err}");
    // An existing folder is never written into.
    let err = import_model(&a, &run, &ImportOptions::default()).err().unwrap().to_string();
    assert!(err.contains("already exists"), "{err}");
}

/// Rebuilds a valid file with its tensors and metadata changed by `edit`.
fn rebuilt(bytes: &[u8], edit: impl FnOnce(&mut Vec<(String, Dtype, Vec<usize>, Vec<u8>)>, &mut HashMap<String, String>)) -> Vec<u8> {
    let file = SafeTensors::deserialize(bytes).unwrap();
    let (_, meta) = SafeTensors::read_metadata(bytes).unwrap();
    let mut metadata = meta.metadata().clone().unwrap();
    let mut tensors: Vec<_> = file.tensors().into_iter().map(|(n, v)| (n, v.dtype(), v.shape().to_vec(), v.data().to_vec())).collect();
    edit(&mut tensors, &mut metadata);
    let views: Vec<_> = tensors.iter().map(|(n, d, s, b)| (n.clone(), TensorView::new(*d, s.clone(), b).unwrap())).collect();
    safetensors::serialize(views, Some(metadata)).unwrap()
}

fn read_err(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    match read_model_file(&path) {
        Ok(_) => panic!("{name}: a damaged file was accepted"),
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.contains(name), "{name}: the error does not name the file: {msg}");
            msg
        }
    }
}

#[test]
fn damaged_or_mismatched_model_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let m = model("conv", false, ObjectiveConfig::Vae { beta: 1.0 }, 4);
    let good = model_file_bytes(&config(m.clone(), 3), &perturbed_network(&m, 1), 3).unwrap();
    let good_path = d.join("good.safetensors");
    std::fs::write(&good_path, &good).unwrap();
    read_model_file(&good_path).unwrap();

    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("truncated.safetensors", good[..good.len() - 100].to_vec(), "not a valid safetensors file"),
        ("empty.safetensors", Vec::new(), "not a valid safetensors file"),
        ("lying-length.safetensors", {
            let mut b = good.clone();
            b[..8].copy_from_slice(&(u64::MAX / 2).to_le_bytes());
            b
        }, "not a valid safetensors file"),
        ("missing.safetensors", rebuilt(&good, |t, _| t.retain(|x| x.0 != "decoder.dense1.weight")), "`decoder.dense1.weight` [256, 4] is missing"),
        ("extra.safetensors", rebuilt(&good, |t, _| t.push(("encoder.extra".into(), Dtype::F32, vec![2], vec![0; 8]))), "encoder.extra"),
        ("shape.safetensors", rebuilt(&good, |t, _| {
            let w = t.iter_mut().find(|x| x.0 == "encoder.mu.weight").unwrap();
            w.2 = vec![w.2[1], w.2[0]]; // the burn layout: [in, out] instead of PyTorch's [out, in]
        }), "has shape [256, 4], the model needs [4, 256]"),
        ("dtype.safetensors", rebuilt(&good, |t, _| {
            let w = t.iter_mut().find(|x| x.0 == "encoder.mu.bias").unwrap();
            w.1 = Dtype::F64;
            w.2 = vec![2];
        }), "float32"),
        ("nan.safetensors", rebuilt(&good, |t, _| {
            let w = t.iter_mut().find(|x| x.0 == "decoder.deconv4.bias").unwrap();
            w.3 = f32::NAN.to_le_bytes().to_vec();
        }), "non-finite"),
        ("no-metadata.safetensors", rebuilt(&good, |_, m| m.clear()), "no `disentangle` metadata"),
        ("bad-metadata.safetensors", rebuilt(&good, |_, m| {
            m.insert(METADATA_KEY.into(), "{\"format\": \"disentangle-vae\"".into());
        }), "not a valid model header"),
        ("version.safetensors", rebuilt(&good, |_, m| {
            let v = m[METADATA_KEY].replace("\"version\":1", "\"version\":9");
            m.insert(METADATA_KEY.into(), v);
        }), "layout version 9"),
        ("latents.safetensors", rebuilt(&good, |_, m| {
            // The metadata says 5 latents, the tensors hold 4.
            let v = m[METADATA_KEY].replacen("\"latents\":4", "\"latents\":5", 1);
            m.insert(METADATA_KEY.into(), v);
        }), "the model needs [5, 256]"),
        ("factor-vae.safetensors", rebuilt(&good, |_, m| {
            let v = m[METADATA_KEY].replace("{\"kind\":\"vae\",\"beta\":1.0}", "{\"kind\":\"factor-vae\",\"gamma\":30.0}");
            m.insert(METADATA_KEY.into(), v);
        }), "without its discriminator"),
    ];
    for (name, bytes, want) in cases {
        let msg = read_err(d, name, &bytes);
        assert!(msg.contains(want), "{name}: expected `{want}` in: {msg}");
    }
    // Seeded random damage anywhere in the file: an error or a (still valid) model, never a panic.
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for case in 0..60 {
        let mut b = good.clone();
        for _ in 0..rng.random_range(1..4) {
            let i = rng.random_range(0..b.len().min(if case % 2 == 0 { 600 } else { b.len() }));
            b[i] ^= 1 << rng.random_range(0..8);
        }
        let path = d.join(format!("random-{case}.safetensors"));
        std::fs::write(&path, &b).unwrap();
        let _ = read_model_file(&path);
    }
    // Import needs the dataset: a file without one names the flag.
    let no_dataset = rebuilt(&good, |_, m| {
        let mut header: serde_json::Value = serde_json::from_str(&m[METADATA_KEY]).unwrap();
        header.as_object_mut().unwrap().remove("run");
        m.insert(METADATA_KEY.into(), header.to_string());
    });
    let path = d.join("no-dataset.safetensors");
    std::fs::write(&path, &no_dataset).unwrap();
    let err = import_model(&path, &d.join("run"), &ImportOptions::default()).err().unwrap().to_string();
    assert!(err.contains("--dataset"), "{err}");
    assert!(!d.join("run").exists(), "a failed import left a folder behind");
    let ok = import_model(&path, &d.join("run"), &ImportOptions { dataset: Some("dsprites".into()), summary_batches: Some(1), ..Default::default() }).unwrap();
    assert_eq!(ok.config.steps, 3);
}
