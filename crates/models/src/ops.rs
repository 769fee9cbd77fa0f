//! Small tensor helpers burn does not provide under these names.

use burn::tensor::{Int, Tensor, TensorData, activation};
use burn::tensor::Device;

/// log Σ exp along `dim` (kept), stabilised by the detached maximum.
pub fn logsumexp<const D: usize>(x: Tensor<D>, dim: usize) -> Tensor<D> {
    let m = x.clone().max_dim(dim).detach();
    (x - m.clone()).exp().sum_dim(dim).log() + m
}

/// Sigmoid cross-entropy with logits, elementwise: softplus(l) − t·l, stable for any l.
pub fn bce_with_logits<const D: usize>(logits: Tensor<D>, targets: Tensor<D>) -> Tensor<D> {
    activation::softplus(logits.clone(), 1.0) - targets * logits
}

/// An f32 tensor from a flat buffer.
pub fn tensor_from<const D: usize>(values: Vec<f32>, shape: [usize; D], device: &Device) -> Tensor<D> {
    Tensor::from_data(TensorData::new(values, shape), device)
}

/// An int tensor from a flat buffer.
pub fn int_tensor_from<const D: usize>(values: Vec<i64>, shape: [usize; D], device: &Device) -> Tensor<D, Int> {
    Tensor::from_data(TensorData::new(values, shape), device)
}

/// The values of a tensor as f32, row-major.
pub fn to_vec<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_into_vec::<f32>().expect("f32 tensor data")
}

/// The single value of a one-element tensor.
pub fn scalar(t: Tensor<1>) -> f64 {
    to_vec(t)[0] as f64
}

/// All float parameters of a module, flattened in visiting order (for comparisons).
pub fn flat_parameters<M: burn::module::Module>(module: &M) -> Vec<f32> {
    struct Collect(Vec<f32>);
    impl burn::module::ModuleVisitor for Collect {
        fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<D>>) {
            self.0.extend(to_vec(param.val()));
        }
    }
    let mut c = Collect(Vec::new());
    module.visit(&mut c);
    c.0
}
