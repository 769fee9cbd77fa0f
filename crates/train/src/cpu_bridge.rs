//! Moving models and optimizer states between burn and the CPU engine: parameters are copied
//! in burn's visiting order (the engine lists its tensors in that order, with the same
//! shapes), and the engine's Adam moments are written to and read from burn's own optimizer
//! file layout, so a checkpoint from either engine resumes on the other.

use std::path::Path;

use burn_pack::{Reader, Scalar, Writer};
use disentangle_engine::{Adam, ParamSet};
use disentangle_models::burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use disentangle_models::burn::tensor::{DType, Tensor, TensorData};
use disentangle_models::burn::nn::Linear;
use disentangle_models::discriminator::Discriminator;
use disentangle_models::ops::{tensor_from, to_vec};

use crate::error::{Result, TrainError};

fn record_err(path: &Path, message: impl std::fmt::Display) -> TrainError {
    TrainError::Record { path: path.to_path_buf(), message: message.to_string() }
}

/// (id, shape) of every float parameter of `module`, in visiting order.
pub fn parameter_ids<M: Module>(module: &M) -> Vec<(ParamId, Vec<usize>)> {
    struct Ids(Vec<(ParamId, Vec<usize>)>);
    impl ModuleVisitor for Ids {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0.push((param.id, param.val().dims().to_vec()));
        }
    }
    let mut ids = Ids(Vec::new());
    module.visit(&mut ids);
    ids.0
}

/// Checks that `module` and `set` list the same tensors with the same shapes.
fn check_layout<M: Module>(module: &M, set: &ParamSet) -> std::result::Result<Vec<ParamId>, String> {
    let ids = parameter_ids(module);
    if ids.len() != set.tensors.len() {
        return Err(format!("burn module has {} tensors, the engine {}", ids.len(), set.tensors.len()));
    }
    for ((_, shape), t) in ids.iter().zip(&set.tensors) {
        if *shape != t.shape {
            return Err(format!("{}: burn shape {shape:?}, engine shape {:?}", t.name, t.shape));
        }
    }
    Ok(ids.into_iter().map(|(id, _)| id).collect())
}

/// Copies every parameter of `module` into `set`.
pub fn copy_from_module<M: Module>(module: &M, set: &mut ParamSet) -> Result<()> {
    check_layout(module, set).map_err(TrainError::Invalid)?;
    struct Copy<'a>(&'a mut ParamSet, usize);
    impl ModuleVisitor for Copy<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let t = self.0.tensors[self.1].clone();
            self.0.data[t.offset..t.offset + t.len].copy_from_slice(&to_vec(param.val()));
            self.1 += 1;
        }
    }
    module.visit(&mut Copy(set, 0));
    Ok(())
}

/// `module` with every parameter replaced by the values in `set` (ids and devices kept).
pub fn module_with_params<M: Module>(module: M, set: &ParamSet) -> Result<M> {
    check_layout(&module, set).map_err(TrainError::Invalid)?;
    struct Replace<'a>(&'a ParamSet, usize);
    impl ModuleMapper for Replace<'_> {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let values = self.0.get(self.1).to_vec();
            self.1 += 1;
            param.map(|t| {
                let fresh = tensor_from(values, t.dims(), &t.device());
                if t.is_require_grad() { fresh.require_grad() } else { fresh }
            })
        }
    }
    Ok(module.map(&mut Replace(set, 0)))
}

/// The FactorVAE discriminator holding `set`'s weights, built straight from them (no
/// initialisation pass first: it is most of a model's memory).
pub fn discriminator_from_params(set: &ParamSet, device: &disentangle_models::burn::tensor::Device) -> Result<Discriminator> {
    let linear = |i: usize| -> Result<Linear> {
        let (w, b) = (&set.tensors[2 * i], &set.tensors[2 * i + 1]);
        let [din, dout] = w.shape[..] else { return Err(TrainError::Invalid(format!("{}: not a dense weight", w.name))) };
        Ok(Linear {
            weight: Param::from_tensor(tensor_from(set.get(2 * i).to_vec(), [din, dout], device)),
            bias: Some(Param::from_tensor(tensor_from(set.get(2 * i + 1).to_vec(), [b.len], device))),
        })
    };
    let layers = set.tensors.len() / 2;
    if layers < 2 || !set.tensors.len().is_multiple_of(2) {
        return Err(TrainError::Invalid(format!("a discriminator needs weight/bias pairs, got {} tensors", set.tensors.len())));
    }
    Ok(Discriminator { hidden: (0..layers - 1).map(linear).collect::<Result<_>>()?, out: linear(layers - 1)? })
}

/// Writes `adam`'s state for the parameters of `module` (whose values it optimizes) in the
/// layout burn's `ModuleOptimizer::save` writes for its Adam: per parameter id the tensors
/// `{id}.momentum.moment_1`, `{id}.momentum.moment_2` and the scalars `{id}.momentum.time`,
/// `{id}.__rank`.
pub fn save_adam<M: Module>(adam: &Adam, module: &M, set: &ParamSet, path: &Path) -> Result<()> {
    let ids: Vec<u64> = check_layout(module, set).map_err(TrainError::Invalid)?.iter().map(ParamId::val).collect();
    save_adam_with_ids(adam, &ids, set, path)
}

/// `set`'s tensors written as burn writes a module's (name, shape, parameter id `ids[i]`):
/// for modules whose names in `set` are burn's own (the discriminator's `hidden.N.*`,
/// `out.*`), so no burn module has to be built just to save it.
pub fn save_params_with_ids(set: &ParamSet, ids: &[u64], path: &Path) -> Result<()> {
    let tensors = set
        .tensors
        .iter()
        .zip(ids)
        .map(|(t, &id)| deferred_f32(t.name.clone(), &set.data[t.offset..t.offset + t.len], t.shape.clone(), id))
        .collect();
    Writer::new(tensors).write_to_file(path).map_err(|e| record_err(path, e))
}

/// A tensor whose bytes burn-pack's writer makes when it reaches it (and drops before the
/// next), so saving never holds a second copy of the buffers.
fn deferred_f32(name: String, values: &[f32], shape: Vec<usize>, id: u64) -> burn_pack::Tensor {
    let source = MomentSlice(values.as_ptr(), values.len());
    let byte_len = std::mem::size_of_val(values);
    burn_pack::Tensor::deferred(name, DType::F32, shape.clone(), Some(id), byte_len, move || {
        // SAFETY: every writer holding this tensor is consumed inside the function that
        // made it, while the buffer is borrowed, so the values outlive every call.
        let values = unsafe { source.values() }.to_vec();
        Ok(TensorData::new(values, shape.clone()).into_parts().0)
    })
}

/// As [`save_adam`], with the parameter ids given (in `set`'s order).
pub fn save_adam_with_ids(adam: &Adam, ids: &[u64], set: &ParamSet, path: &Path) -> Result<()> {
    if ids.len() != set.tensors.len() {
        return Err(TrainError::Invalid(format!("{} parameter ids for {} tensors", ids.len(), set.tensors.len())));
    }
    let mut writer_tensors = Vec::new();
    let mut scalars = Vec::new();
    if adam.time > 0 {
        for (&id, t) in ids.iter().zip(&set.tensors) {
            let key = id.to_string();
            for (field, moments) in [("moment_1", &adam.moment_1), ("moment_2", &adam.moment_2)] {
                let values = &moments[t.offset..t.offset + t.len];
                writer_tensors.push(deferred_f32(format!("{key}.momentum.{field}"), values, t.shape.clone(), id));
            }
            scalars.push((format!("{key}.momentum.time"), Scalar::from(adam.time)));
            scalars.push((format!("{key}.__rank"), Scalar::from(t.shape.len())));
        }
    }
    let mut writer = Writer::new(writer_tensors);
    for (k, v) in &scalars {
        writer = writer.with_scalar(k, *v);
    }
    writer.write_to_file(path).map_err(|e| record_err(path, e))
}

/// A borrowed run of values handed to burn-pack's deferred writer (which wants `'static`).
#[derive(Clone, Copy)]
struct MomentSlice(*const f32, usize);
// SAFETY: only read, and only while the owning buffer is borrowed (see `deferred_f32`).
unsafe impl Send for MomentSlice {}
unsafe impl Sync for MomentSlice {}

impl MomentSlice {
    /// SAFETY: the moments it points into must still be alive and unchanged.
    unsafe fn values(&self) -> &[f32] {
        unsafe { std::slice::from_raw_parts(self.0, self.1) }
    }
}

/// Reads the Adam state of `module`'s parameters from a burn optimizer file into `adam`
/// (whose β and ε stay as they are). Parameters without a state keep zero moments, as in
/// burn; every state present must have its parameter's shape and one common step count.
pub fn load_adam<M: Module>(adam: &mut Adam, module: &M, set: &ParamSet, path: &Path) -> Result<()> {
    let ids = check_layout(module, set).map_err(|e| record_err(path, e))?;
    let reader = Reader::from_file(path).map_err(|e| record_err(path, e))?;
    let scalars = reader.scalars().clone();
    let mut found = std::collections::HashMap::new();
    for tensor in reader.into_tensors().map_err(|e| record_err(path, e))? {
        let (name, dtype, shape, _param_id, bytes) = tensor.into_parts().map_err(|e| record_err(path, e))?;
        let values = TensorData::try_from_bytes(bytes, shape.clone(), dtype)
            .map_err(|e| record_err(path, format!("{name}: {e:?}")))?
            .convert::<f32>()
            .try_into_vec::<f32>()
            .map_err(|e| record_err(path, format!("{name}: {e:?}")))?;
        found.insert(name, (shape.to_vec(), values));
    }
    adam.moment_1.fill(0.0);
    adam.moment_2.fill(0.0);
    let mut time: Option<usize> = None;
    for (id, t) in ids.iter().zip(&set.tensors) {
        let key = id.val().to_string();
        let Some(step) = scalars.get(&format!("{key}.momentum.time")) else { continue };
        let step = usize::try_from(*step).map_err(|_| record_err(path, format!("{key}: step count is not a count")))?;
        if time.is_some_and(|s| s != step) {
            return Err(record_err(path, "parameters disagree on the optimizer's step count"));
        }
        time = Some(step);
        for (field, dst) in [("moment_1", &mut adam.moment_1), ("moment_2", &mut adam.moment_2)] {
            let name = format!("{key}.momentum.{field}");
            let (shape, values) = found.get(&name).ok_or_else(|| record_err(path, format!("{name} is missing ({})", t.name)))?;
            if *shape != t.shape || values.len() != t.len {
                return Err(record_err(path, format!("{name}: shape {shape:?}, parameter {} has {:?}", t.name, t.shape)));
            }
            dst[t.offset..t.offset + t.len].copy_from_slice(values);
        }
    }
    adam.time = time.unwrap_or(0);
    Ok(())
}
