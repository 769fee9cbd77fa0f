//! Deterministic weight initialisation from a seeded ChaCha RNG: Glorot-uniform kernels and
//! zero biases (the reference implementation's TensorFlow defaults). Drawing the numbers
//! ourselves, instead of from the backend's generator, makes the initial weights identical
//! on every backend and thread count.

use burn::module::{Module, ModuleMapper, Param};
use burn::tensor::Tensor;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::ops::tensor_from;

struct GlorotInit {
    rng: ChaCha8Rng,
    path: Vec<String>,
}

impl ModuleMapper for GlorotInit {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }
    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let is_bias = self.path.last().is_some_and(|n| n.contains("bias"));
        let rng = &mut self.rng;
        param.map(|t| {
            let dims = t.dims();
            let device = t.device();
            let n: usize = dims.iter().product();
            let values: Vec<f32> = if is_bias {
                vec![0.0; n]
            } else {
                // Fan-in + fan-out: conv [out, in, kh, kw] (or transposed [in, out, kh, kw]):
                // (in + out)·kh·kw; dense [in, out] and batched dense [J, in, out]: in + out.
                let fans = match D {
                    4 => (dims[0] + dims[1]) * dims[2] * dims[3],
                    _ if D >= 2 => dims[D - 2] + dims[D - 1],
                    _ => 2 * dims[0],
                };
                let limit = (6.0 / fans as f64).sqrt() as f32;
                (0..n).map(|_| rng.random_range(-limit..limit)).collect()
            };
            let fresh = tensor_from(values, dims, &device);
            if t.is_require_grad() { fresh.require_grad() } else { fresh }
        })
    }
}

/// Re-initialises every float parameter of `module` from `seed`.
pub fn init_weights<M: Module>(module: M, seed: u64) -> M {
    module.map(&mut GlorotInit { rng: ChaCha8Rng::seed_from_u64(seed), path: Vec::new() })
}
