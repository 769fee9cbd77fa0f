//! Parameters as one flat buffer with a table of tensors, listed in exactly the order (and
//! with exactly the shapes) in which burn visits the modules of `disentangle-models`, so a
//! model moves between the two engines by copying buffers in order.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// One tensor of a [`ParamSet`].
#[derive(Debug, Clone, PartialEq)]
pub struct TensorInfo {
    /// Dotted module path, for messages (`encoder.conv1.weight`).
    pub name: String,
    /// burn's shape: conv [out, in, kh, kw], transposed conv [in, out, kh, kw], dense [in, out].
    pub shape: Vec<usize>,
    pub offset: usize,
    pub len: usize,
}

impl TensorInfo {
    pub fn is_bias(&self) -> bool {
        self.name.rsplit('.').next().is_some_and(|last| last.contains("bias"))
    }
}

/// Index of a tensor in its [`ParamSet`].
pub type TensorId = usize;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParamSet {
    pub tensors: Vec<TensorInfo>,
    pub data: Vec<f32>,
}

impl ParamSet {
    /// Appends a zero tensor; returns its id.
    pub fn add(&mut self, name: impl Into<String>, shape: &[usize]) -> TensorId {
        let len = shape.iter().product();
        let offset = self.data.len();
        self.tensors.push(TensorInfo { name: name.into(), shape: shape.to_vec(), offset, len });
        self.data.resize(offset + len, 0.0);
        self.tensors.len() - 1
    }

    pub fn get(&self, id: TensorId) -> &[f32] {
        let t = &self.tensors[id];
        &self.data[t.offset..t.offset + t.len]
    }

    pub fn len(&self) -> usize {
        self.data.len()
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Glorot-uniform kernels and zero biases from `seed`, drawn tensor by tensor in order:
    /// the same numbers `disentangle_models::init::init_weights` gives the burn model.
    pub fn init_glorot(&mut self, seed: u64) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        for t in &self.tensors {
            let values = &mut self.data[t.offset..t.offset + t.len];
            if t.is_bias() {
                values.fill(0.0);
                continue;
            }
            let d = &t.shape;
            let fans = match d.len() {
                4 => (d[0] + d[1]) * d[2] * d[3],
                n if n >= 2 => d[n - 2] + d[n - 1],
                _ => 2 * d[0],
            };
            let limit = (6.0 / fans as f64).sqrt() as f32;
            for v in values {
                *v = rng.random_range(-limit..limit);
            }
        }
    }
}
