//! A trained model as one safetensors file in PyTorch's layouts and names, and back into a run
//! directory: how a model crosses between this toolkit and PyTorch (`disentanglekit.torch`).
//!
//! Tensor names are the module paths of our networks (`encoder.convs.conv1.weight`,
//! `decoder.deconv4.bias`, `discriminator.hidden.0.weight`), which `disentanglekit.torch`
//! builds as the same attribute paths. Layouts are PyTorch's: convolution weights
//! [out, in, kh, kw], transposed-convolution weights [in, out, kh, kw] (burn's too), and dense
//! weights [out, in] (burn stores [in, out]: the one layout that is transposed). The split
//! encoder's per-latent dense layers are batched tensors [J, in, out] with biases [J, 1, out],
//! which `torch.baddbmm` takes as they are. Everything is float32.
//!
//! The model configuration (and, from a run, its training configuration and step) is one JSON
//! document under the metadata key `disentangle`: a single key, because safetensors writes its
//! metadata map in hash order, and one key keeps an export byte-for-byte reproducible.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use disentangle_engine::{Network, ParamSet, Trainer};
use disentangle_models::burn::tensor::Device;
use disentangle_models::discriminator::Discriminator;
use disentangle_models::{ModelConfig, Vae};
use indicatif::ProgressBar;
use safetensors::{Dtype, SafeTensors, tensor::TensorView};
use serde::{Deserialize, Serialize};

use crate::checkpoint::{self, CheckpointState};
use crate::config::TrainConfig;
use crate::cpu_bridge;
use crate::error::{Result, TrainError};
use crate::rng::RunRngs;
use crate::run_dir::{RunDir, write_atomic};
use crate::trainer::{Nets, Summary, summarize};

/// The value of `format` in the metadata.
pub const FORMAT: &str = "disentangle-vae";
/// The layout version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// The one metadata key.
pub const METADATA_KEY: &str = "disentangle";
/// Prefix of the FactorVAE discriminator's tensors.
const DISCRIMINATOR_PREFIX: &str = "discriminator.";
/// Files larger than this are refused before they are read (our largest model, a FactorVAE
/// with its 6 × 1000 discriminator, is about 30 MB).
const MAX_FILE_BYTES: u64 = 1 << 30;

/// The document under [`METADATA_KEY`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelHeader {
    pub format: String,
    pub version: u32,
    /// The architecture: encoder, noise, objective, latents, channels.
    pub model: ModelConfig,
    /// Training steps behind these weights.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<u64>,
    /// The training configuration without `model` (a run's full config.toml; from PyTorch,
    /// whatever fields the user gave, e.g. `dataset`, `steps`, `seed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<serde_json::Map<String, serde_json::Value>>,
}

fn bad_file(path: &Path, message: impl Into<String>) -> TrainError {
    TrainError::Record { path: path.to_path_buf(), message: message.into() }
}

/// Whether our tensor `name` of `shape` is stored transposed in the file: the 2-D dense
/// weights (burn [in, out], PyTorch [out, in]).
fn transposed(name: &str, shape: &[usize]) -> bool {
    shape.len() == 2 && name.ends_with(".weight")
}

/// The shape of our tensor in the file.
fn file_shape(name: &str, shape: &[usize]) -> Vec<usize> {
    if transposed(name, shape) { vec![shape[1], shape[0]] } else { shape.to_vec() }
}

/// `values` ([rows, cols], row-major) transposed.
fn transpose(values: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0.0; values.len()];
    for r in 0..rows {
        for c in 0..cols {
            out[c * rows + r] = values[r * cols + c];
        }
    }
    out
}

/// Every tensor of `set` as (file name, file shape, little-endian f32 bytes).
fn file_tensors(set: &ParamSet, prefix: &str) -> Vec<(String, Vec<usize>, Vec<u8>)> {
    set.tensors
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let values = set.get(i);
            let values = if transposed(&t.name, &t.shape) { transpose(values, t.shape[0], t.shape[1]) } else { values.to_vec() };
            let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
            (format!("{prefix}{}", t.name), file_shape(&t.name, &t.shape), bytes)
        })
        .collect()
}

/// The networks of `config` holding the weights of the newest checkpoint of a run.
fn load_run_network(run_dir: &Path) -> Result<(TrainConfig, Network, u64)> {
    let (run, config) = RunDir::open(run_dir)?;
    let ckpt = checkpoint::latest(&run.checkpoints())?
        .ok_or_else(|| TrainError::Invalid(format!("{} has no checkpoint yet", run_dir.display())))?;
    let step = checkpoint::load_state(&ckpt)?.step;
    let m = &config.model;
    let mut net = Network::new(m)?;
    let vae = checkpoint::load_module(Vae::new(m, &Device::flex()), &ckpt, false)?;
    cpu_bridge::copy_from_module(&vae, &mut net.vae)?;
    if let Some(set) = net.disc.as_mut() {
        let d = checkpoint::load_module(Discriminator::new(m.latents, &Device::flex()), &ckpt, true)?;
        cpu_bridge::copy_from_module(&d, set)?;
    }
    Ok((config, net, step))
}

/// What [`export_run`] wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct Exported {
    pub tensors: usize,
    pub bytes: usize,
    pub step: u64,
    pub with_discriminator: bool,
}

/// Writes the newest checkpoint of `run_dir` (encoder, decoder and, for FactorVAE, the
/// discriminator) to `out` as safetensors, atomically.
pub fn export_run(run_dir: &Path, out: &Path) -> Result<Exported> {
    let (config, net, step) = load_run_network(run_dir)?;
    let bytes = model_file_bytes(&config, &net, step)?;
    write_atomic(out, &bytes)?;
    Ok(Exported {
        tensors: net.vae.tensors.len() + net.disc.as_ref().map_or(0, |d| d.tensors.len()),
        bytes: bytes.len(),
        step,
        with_discriminator: net.disc.is_some(),
    })
}

/// The file's bytes for `net` trained `step` steps under `config`: tensors in PyTorch's
/// layouts, the header under [`METADATA_KEY`].
pub fn model_file_bytes(config: &TrainConfig, net: &Network, step: u64) -> Result<Vec<u8>> {
    let mut run = match serde_json::to_value(config).expect("config serialises") {
        serde_json::Value::Object(map) => map,
        _ => unreachable!("a struct serialises to an object"),
    };
    run.remove("model");
    let header = ModelHeader { format: FORMAT.into(), version: FORMAT_VERSION, model: config.model.clone(), step: Some(step), run: Some(run) };
    let mut tensors = file_tensors(&net.vae, "");
    if let Some(d) = &net.disc {
        tensors.extend(file_tensors(d, DISCRIMINATOR_PREFIX));
    }
    let views = tensors
        .iter()
        .map(|(name, shape, bytes)| Ok((name.clone(), TensorView::new(Dtype::F32, shape.clone(), bytes).map_err(|e| TrainError::Invalid(e.to_string()))?)))
        .collect::<Result<Vec<_>>>()?;
    let metadata = HashMap::from([(METADATA_KEY.to_string(), serde_json::to_string(&header).expect("header serialises"))]);
    safetensors::serialize(views, Some(metadata)).map_err(|e| TrainError::Invalid(format!("cannot write safetensors: {e}")))
}

/// Settings of `import-model` that a file may lack or the user wants otherwise.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// The dataset the model was trained on (required when the file does not name one).
    pub dataset: Option<String>,
    /// Steps trained (when the file does not say).
    pub steps: Option<u64>,
    pub seed: Option<u64>,
    /// Batches averaged for the run's summary.json (default: the file's, else 1,000).
    pub summary_batches: Option<usize>,
    /// Folder of official dataset files (default `$DISENTANGLE_DATA`).
    pub data_dir: Option<PathBuf>,
}

/// A model read from a safetensors file: its header and its networks.
pub struct ImportedModel {
    pub header: ModelHeader,
    pub network: Network,
}

/// Reads and checks a model file: the header, then every tensor our architecture of the
/// header's configuration has — present, float32, of its shape, finite — and nothing else.
pub fn read_model_file(path: &Path) -> Result<ImportedModel> {
    let size = std::fs::metadata(path).map_err(|e| TrainError::io(path, e))?.len();
    if size > MAX_FILE_BYTES {
        return Err(bad_file(path, format!("{size} bytes; a model file of ours is at most {MAX_FILE_BYTES} bytes")));
    }
    let bytes = std::fs::read(path).map_err(|e| TrainError::io(path, e))?;
    let file = SafeTensors::deserialize(&bytes).map_err(|e| bad_file(path, format!("not a valid safetensors file: {e}")))?;
    let (_, metadata) = SafeTensors::read_metadata(&bytes).map_err(|e| bad_file(path, format!("not a valid safetensors file: {e}")))?;
    let text = metadata.metadata().as_ref().and_then(|m| m.get(METADATA_KEY)).ok_or_else(|| {
        bad_file(
            path,
            format!("no `{METADATA_KEY}` metadata: not written by `disentangle export-model` or `disentanglekit.torch.save` (the model configuration is missing)"),
        )
    })?;
    let header: ModelHeader =
        serde_json::from_str(text).map_err(|e| bad_file(path, format!("metadata `{METADATA_KEY}` is not a valid model header: {e}")))?;
    if header.format != FORMAT {
        return Err(bad_file(path, format!("format `{}`, expected `{FORMAT}`", header.format)));
    }
    if header.version != FORMAT_VERSION {
        return Err(bad_file(path, format!("layout version {}; this build reads version {FORMAT_VERSION}", header.version)));
    }
    header.model.validate().map_err(|e| bad_file(path, format!("metadata: {e}")))?;
    let mut network = Network::new(&header.model)?;
    let mut seen = BTreeSet::new();
    fill_from_file(path, &file, &mut network.vae, "", &mut seen)?;
    let has_disc = file.names().iter().any(|n| n.starts_with(DISCRIMINATOR_PREFIX));
    match network.disc.as_mut() {
        Some(set) if has_disc => fill_from_file(path, &file, set, DISCRIMINATOR_PREFIX, &mut seen)?,
        Some(_) => {
            return Err(bad_file(
                path,
                "a FactorVAE model without its discriminator (`discriminator.*` tensors): the run's loss needs its TC estimate; \
                 save the discriminator with the model, or import the encoder and decoder as objective `vae` (edit the metadata's model.objective)",
            ));
        }
        None => {}
    }
    let extra: Vec<&str> = file.names().into_iter().filter(|n| !seen.contains(*n)).collect();
    if !extra.is_empty() {
        let shown: Vec<&str> = extra.iter().take(5).copied().collect();
        return Err(bad_file(
            path,
            format!(
                "{} tensor(s) the model of its metadata ({} encoder, {} latents, {}) does not have: {}{}",
                extra.len(),
                header.model.encoder.variant(),
                header.model.latents,
                header.model.objective.name(),
                shown.join(", "),
                if extra.len() > shown.len() { ", …" } else { "" }
            ),
        ));
    }
    Ok(ImportedModel { header, network })
}

/// Copies every tensor of `set` from the file (named with `prefix`), checking dtype, shape
/// and values.
fn fill_from_file(path: &Path, file: &SafeTensors, set: &mut ParamSet, prefix: &str, seen: &mut BTreeSet<String>) -> Result<()> {
    for i in 0..set.tensors.len() {
        let info = set.tensors[i].clone();
        let name = format!("{prefix}{}", info.name);
        let expected = file_shape(&info.name, &info.shape);
        let view = file.tensor(&name).map_err(|_| bad_file(path, format!("tensor `{name}` {expected:?} is missing")))?;
        if view.dtype() != Dtype::F32 {
            return Err(bad_file(path, format!("tensor `{name}` is {:?}; models are float32", view.dtype())));
        }
        if view.shape() != expected.as_slice() {
            return Err(bad_file(path, format!("tensor `{name}` has shape {:?}, the model needs {expected:?}", view.shape())));
        }
        let values: Vec<f32> = view.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        if let Some(bad) = values.iter().position(|v| !v.is_finite()) {
            return Err(bad_file(path, format!("tensor `{name}` holds a non-finite value ({} at index {bad})", values[bad])));
        }
        let values = if transposed(&info.name, &info.shape) { transpose(&values, info.shape[1], info.shape[0]) } else { values };
        set.data[info.offset..info.offset + info.len].copy_from_slice(&values);
        seen.insert(name);
    }
    Ok(())
}

/// The training configuration of an imported model: the file's `run` fields with the
/// header's model, then the user's settings on top.
fn import_config(path: &Path, header: &ModelHeader, options: &ImportOptions) -> Result<TrainConfig> {
    let mut run = header.run.clone().unwrap_or_default();
    run.insert("model".into(), serde_json::to_value(&header.model).expect("model config serialises"));
    let mut set = |key: &str, value: serde_json::Value| {
        run.insert(key.into(), value);
    };
    if let Some(d) = &options.dataset {
        set("dataset", d.clone().into());
    }
    if let Some(s) = options.steps.or(header.step) {
        set("steps", s.into());
    }
    if let Some(s) = options.seed {
        set("seed", s.into());
    }
    if let Some(b) = options.summary_batches {
        set("summary_batches", b.into());
    }
    // Imported models are evaluated on the CPU engine unless the user resumes elsewhere.
    run.entry("device").or_insert_with(|| "cpu".into());
    if !run.contains_key("dataset") {
        return Err(bad_file(path, "the file does not name the dataset the model was trained on: give it with --dataset"));
    }
    if !run.contains_key("steps") {
        return Err(bad_file(path, "the file does not say how many steps the model was trained: give them with --steps"));
    }
    let config: TrainConfig =
        serde_json::from_value(serde_json::Value::Object(run)).map_err(|e| bad_file(path, format!("metadata `run`: {e}")))?;
    config.validate()?;
    if let Some(step) = header.step
        && step != config.steps
    {
        return Err(bad_file(path, format!("the file's weights are from step {step}, --steps says {}", config.steps)));
    }
    Ok(config)
}

/// What [`import_model`] made.
#[derive(Debug, Clone)]
pub struct Imported {
    pub run_dir: PathBuf,
    pub config: TrainConfig,
    pub summary: Summary,
}

/// Turns a model file into a finished run directory `out` (config.toml, a checkpoint with the
/// weights and no optimizer state, summary.json over the run's summary batches, and
/// `imported.json` naming the source), which `evaluate`, `export-codes`, `visualize` and
/// studies accept. Built in a temporary sibling folder and renamed, so `out` is complete or
/// absent; an existing `out` is never touched.
pub fn import_model(file: &Path, out: &Path, options: &ImportOptions) -> Result<Imported> {
    if out.exists() {
        return Err(TrainError::Invalid(format!("{} already exists; import into a new folder", out.display())));
    }
    let ImportedModel { header, network } = read_model_file(file)?;
    let config = import_config(file, &header, options)?;
    let data_dir = disentangle_data::data_dir(options.data_dir.as_deref());
    let dataset = disentangle_data::open_dataset(&config.dataset, data_dir.as_deref())?;
    let shape = dataset.observation_shape();
    if shape != [config.model.channels, 64, 64] {
        return Err(TrainError::Invalid(format!(
            "dataset `{}` has observations of shape {shape:?}; the model takes {}×64×64",
            config.dataset, config.model.channels
        )));
    }
    if out.file_name().is_none() {
        return Err(TrainError::Invalid(format!("{}: not a folder name", out.display())));
    }
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| TrainError::io(parent, e))?;
    }
    // Removed if the run cannot be built.
    let tmp = disentangle_data::atomic::AtomicDir::create(out).map_err(|e| TrainError::io(out, e))?;
    let summary = build_run(tmp.temp_path(), &config, network, &*dataset, file, &header)?;
    tmp.commit().map_err(|e| TrainError::io(out, e))?;
    Ok(Imported { run_dir: out.to_path_buf(), config, summary })
}

fn build_run(
    dir: &Path,
    config: &TrainConfig,
    network: Network,
    dataset: &dyn disentangle_data::FactorDataset,
    file: &Path,
    header: &ModelHeader,
) -> Result<Summary> {
    let run = RunDir::create(dir, config)?;
    let state = CheckpointState { step: config.steps, rng: RunRngs::new(config.seed).state() };
    checkpoint::save_weights(&run.checkpoints(), &network, state)?;
    let mut nets = Nets::Cpu(Box::new(Trainer::new(network, config.batch_size)));
    // The end-of-run summary as training writes it (not trained here: 0 s).
    let summary = summarize(config, dataset, &mut nets, 0.0, &ProgressBar::hidden())?;
    write_atomic(&run.summary_path(), &serde_json::to_vec_pretty(&summary).expect("summary serialises"))?;
    let source = serde_json::json!({
        "imported_from": std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf()),
        "header": header,
    });
    write_atomic(&dir.join(IMPORTED), &serde_json::to_vec_pretty(&source).expect("json serialises"))?;
    Ok(summary)
}

/// The file an imported run carries (its source and the file's header).
pub const IMPORTED: &str = "imported.json";
