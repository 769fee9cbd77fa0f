//! Dense layers y = act(x·W + b) on row-major [rows, features] batches (burn's Linear
//! layout: W is [in, out]), and the split encoder's per-latent dense heads.

use crate::matmul::{View, matmul};

/// The activation after a layer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Activation {
    Identity,
    Relu,
    /// max(x, 0) + slope·min(x, 0) (the FactorVAE discriminator's, slope 0.2).
    LeakyRelu(f32),
}

impl Activation {
    /// y = act(y + b) per row.
    pub fn bias_and_apply(self, y: &mut [f32], b: &[f32]) {
        crate::simd::wide(|| self.bias_and_apply_body(y, b))
    }

    #[inline(always)]
    fn bias_and_apply_body(self, y: &mut [f32], b: &[f32]) {
        for row in y.chunks_mut(b.len()) {
            match self {
                Activation::Identity => row.iter_mut().zip(b).for_each(|(v, c)| *v += c),
                Activation::Relu => row.iter_mut().zip(b).for_each(|(v, c)| *v = (*v + c).max(0.0)),
                Activation::LeakyRelu(s) => row.iter_mut().zip(b).for_each(|(v, c)| {
                    let t = *v + c;
                    *v = if t >= 0.0 { t } else { s * t };
                }),
            }
        }
    }

    /// dy ← dy ⊙ act′, read off the activation's output y (both activations keep the sign).
    pub fn backward_in_place(self, y: &[f32], dy: &mut [f32]) {
        crate::simd::wide(|| self.backward_in_place_body(y, dy))
    }

    #[inline(always)]
    fn backward_in_place_body(self, y: &[f32], dy: &mut [f32]) {
        match self {
            Activation::Identity => {}
            // Branch-free selects, so they vectorize.
            Activation::Relu => dy.iter_mut().zip(y).for_each(|(d, &v)| *d = if v > 0.0 { *d } else { 0.0 }),
            Activation::LeakyRelu(s) => dy.iter_mut().zip(y).for_each(|(d, &v)| *d *= if v < 0.0 { s } else { 1.0 }),
        }
    }
}

/// Column sums of a row-major [rows, cols] matrix into `out` (overwritten).
pub fn column_sums(m: &[f32], cols: usize, out: &mut [f32]) {
    out[..cols].fill(0.0);
    for row in m.chunks(cols) {
        out.iter_mut().zip(row).for_each(|(o, v)| *o += v);
    }
}

#[derive(Debug, Clone, Copy)]
pub struct DenseLayer {
    pub din: usize,
    pub dout: usize,
    pub act: Activation,
}

impl DenseLayer {
    pub fn forward(&self, w: &[f32], b: &[f32], x: &[f32], y: &mut [f32], rows: usize) {
        matmul(rows, self.dout, self.din, y, self.dout, false, View::rows(x, self.din), View::rows(w, self.dout), true);
        self.act.bias_and_apply(&mut y[..rows * self.dout], b);
    }

    /// dy is ∂loss/∂y on entry and ∂loss/∂(pre-activation) after. Writes (overwrites) the
    /// gradients that are asked for.
    #[allow(clippy::too_many_arguments)]
    pub fn backward(
        &self,
        w: &[f32],
        x: &[f32],
        y: &[f32],
        dy: &mut [f32],
        grads: Option<(&mut [f32], &mut [f32])>,
        dx: Option<&mut [f32]>,
        rows: usize,
    ) {
        let (din, dout) = (self.din, self.dout);
        self.act.backward_in_place(&y[..rows * dout], &mut dy[..rows * dout]);
        let dy: &[f32] = dy;
        let param_grads = |(dw, db): (&mut [f32], &mut [f32])| {
            column_sums(&dy[..rows * dout], dout, db);
            // dW [in, out] = xᵀ [in, rows] · dy [rows, out].
            matmul(din, dout, rows, dw, dout, false, View::transposed(x, din), View::rows(dy, dout), true);
        };
        // dx [rows, in] = dy [rows, out] · Wᵀ [out, in].
        let input_grad = |dx: &mut [f32]| matmul(rows, din, dout, dx, din, false, View::rows(dy, dout), View::transposed(w, dout), true);
        match (grads, dx) {
            // The two products are independent: run side by side, they keep both threads busy
            // where each alone is too small for the GEMM's own threads to pay (the decoder's
            // 256 → 1024 layer: 1.2 ms one after the other on two threads, 1.4 ms on one).
            (Some(g), Some(dx)) => {
                rayon::join(|| param_grads(g), || input_grad(dx));
            }
            (Some(g), None) => param_grads(g),
            (None, Some(dx)) => input_grad(dx),
            (None, None) => {}
        }
    }
}
