//! Dense layers y = act(x·W + b) on row-major [rows, features] batches (burn's Linear
//! layout: W is [in, out]), and the split encoder's per-latent dense heads.

use std::cell::Cell;

use rayon::prelude::*;

use crate::kernels::{Kernels, Products};
use crate::matmul::{PARALLEL_MIN_MACS, View, matmul};
use crate::simd::Level;
use crate::taps::{self, Isa};
use crate::transpose::transpose;

/// The activation after a layer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Activation {
    Identity,
    Relu,
    /// max(x, 0) + slope·min(x, 0) (the FactorVAE discriminator's, slope 0.2).
    LeakyRelu(f32),
}

impl Activation {
    /// y = act(y + b) per row, with loops compiled for `level`.
    pub fn bias_and_apply(self, level: Level, y: &mut [f32], b: &[f32]) {
        crate::simd::wide(level, #[inline(always)] || self.bias_and_apply_body(y, b))
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
    pub fn backward_in_place(self, level: Level, y: &[f32], dy: &mut [f32]) {
        crate::simd::wide(level, #[inline(always)] || self.backward_in_place_body(y, dy))
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
    pub kernels: Kernels,
}

impl DenseLayer {
    pub fn forward(&self, w: &[f32], b: &[f32], x: &[f32], y: &mut [f32], rows: usize) {
        // y [rows, out] = x [rows, in] · W [in, out].
        product(self.kernels.dense_products(), rows, self.dout, self.din, (x, self.din, 1), (w, self.dout), y, self.dout);
        self.act.bias_and_apply(self.kernels.vectors(), &mut y[..rows * self.dout], b);
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
        let level = self.kernels.vectors();
        self.act.backward_in_place(level, &y[..rows * dout], &mut dy[..rows * dout]);
        let dy: &[f32] = dy;
        let param_grads = |(dw, db): (&mut [f32], &mut [f32])| {
            column_sums(&dy[..rows * dout], dout, db);
            // dW [in, out] = xᵀ [in, rows] · dy [rows, out]: on the `gemm` crate, whose packed
            // operands here are batch-sized (1000 × 1000 at 64 and 128 rows on the Xeon host of
            // docs/benchmarks.md: 223 and 243 GFLOP/s on two threads against 196 and 181 for
            // the packing-free kernels, `examples/dense_times.rs`).
            matmul(din, dout, rows, dw, dout, false, View::transposed(x, din), View::rows(dy, dout), true);
        };
        let input_grad = |dx: &mut [f32]| {
            let Products::Taps(isa) = self.kernels.dense_products() else {
                // dx [rows, in] = dy [rows, out] · Wᵀ [out, in].
                matmul(rows, din, dout, dx, din, false, View::rows(dy, dout), View::transposed(w, dout), true);
                return;
            };
            // The packing-free kernels load the right operand's rows contiguously, which Wᵀ's
            // are not; so dxᵀ [in, rows] = W [in, out] · dyᵀ [out, rows], through two
            // transposes of batch-sized matrices (W itself is never copied).
            with_buffer(&TRANSPOSED_GRADIENTS, dout * rows + din * rows, |buf| {
                let (dyt, dxt) = buf.split_at_mut(dout * rows);
                transpose(level, &dy[..rows * dout], rows, dout, dyt);
                tap_product(isa, din, rows, dout, (w, dout, 1), (dyt, rows), dxt, rows);
                transpose(level, dxt, din, rows, &mut dx[..rows * din]);
            });
        };
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

/// c [m, n] (row stride ldc) = a · b, where a(i, j) = a.0[i·a.1 + j·a.2] (any strides, so
/// a transposed operand is read in place) and b is [k, n] with row stride b.1, on `products`.
#[allow(clippy::too_many_arguments)]
fn product(products: Products, m: usize, n: usize, k: usize, a: (&[f32], usize, usize), b: (&[f32], usize), c: &mut [f32], ldc: usize) {
    match products {
        Products::Taps(isa) => tap_product(isa, m, n, k, a, b, c, ldc),
        Products::Gemm if m == 0 || n == 0 => {}
        Products::Gemm => matmul(m, n, k, c, ldc, false, View { data: a.0, rs: a.1, cs: a.2 }, View::rows(b.0, b.1), true),
    }
}

/// [`product`] on the packing-free kernels of [`taps`] for `isa`: the output's rows split
/// over the rayon pool when the product is large.
#[allow(clippy::too_many_arguments)]
fn tap_product(isa: Isa, m: usize, n: usize, k: usize, a: (&[f32], usize, usize), b: (&[f32], usize), c: &mut [f32], ldc: usize) {
    let (a, ars, acs) = a;
    let (b, ldb) = b;
    if m == 0 || n == 0 {
        return;
    }
    let c = &mut c[..(m - 1) * ldc + n];
    let tasks = rayon::current_num_threads();
    if tasks < 2 || m * n * k < PARALLEL_MIN_MACS || m < 16 {
        taps::strided_product(isa, m, n, k, a, ars, acs, b, ldb, c, ldc, false);
        return;
    }
    // Row blocks of a multiple of 8 (the kernels' tallest block), one per thread: each
    // element's sum runs in the same order whatever the split, so results do not depend on
    // the thread count.
    let per = m.div_ceil(tasks).div_ceil(8) * 8;
    c.par_chunks_mut(per * ldc).enumerate().for_each(|(t, rows)| {
        let i0 = t * per;
        let mt = (m - i0).min(per);
        taps::strided_product(isa, mt, n, k, &a[i0 * ars..], ars, acs, b, ldb, rows, ldc, false);
    });
}

thread_local! {
    /// Each thread's buffer for [`DenseLayer::backward`]'s transposes: grown to the largest
    /// layer once, then reused, so the steady state allocates nothing.
    static TRANSPOSED_GRADIENTS: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
}

/// Runs `f` on this thread's buffer `key`, of at least `len` elements. The buffer is taken
/// out while `f` runs: a job that rayon runs on this thread meanwhile finds it empty and
/// grows its own, instead of aliasing this one.
fn with_buffer(key: &'static std::thread::LocalKey<Cell<Vec<f32>>>, len: usize, f: impl FnOnce(&mut [f32])) {
    let mut buf = key.take();
    if buf.len() < len {
        buf.resize(len, 0.0);
    }
    f(&mut buf[..len]);
    key.set(buf);
}
