//! The k4 s2 p1 convolutions of the reference architectures (the encoder's halving convs and
//! every decoder deconv) without im2col or col2im.
//!
//! Split a zero-padded big image [B, 2h+2, 2w+2] into its four (row, column) parity planes,
//! each [h+1, w+1]. Kernel tap (ky, kx) = (2a + py, 2a' + px) of a conv then reads plane
//! (py, px) shifted by (a, a'), and if the small image is computed on a grid one column wider
//! than it is (row length w+1, the plane's), the shifted plane is a single strided matrix:
//! K rows (b, py, px) at the plane stride, N = h·(w+1) contiguous columns. So a conv is four
//! accumulated GEMMs straight out of the planes (one per (a, a')), its weight gradient four
//! more with the same operand transposed, and the transposed conv — by output parity, each a
//! stride-1 2×2 conv of the small image — sixteen GEMMs out of one padded copy of the small
//! image. The extra grid column is discarded (or zero, where it is a GEMM's reduction).
//!
//! Weights stay in burn's layout [S, B, 4, 4] (conv: out = small; transposed conv: in = small);
//! each call first permutes them into the per-tap matrices these GEMMs read ([`down_weights`],
//! [`up_weights`]) and the weight gradient back ([`add_unpermuted_gradient`]).

use crate::matmul::{View, matmul};
use crate::kernels::Products;
use crate::taps::{self, Isa};

/// Elements the GEMM operands may read past their last real element (garbage grid columns).
const SLACK: usize = 2;

/// Sizes of one k4 s2 p1 layer: big [b, 2h, 2w], small [s, h, w].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParityShape {
    pub big_channels: usize,
    pub small_channels: usize,
    pub h: usize,
    pub w: usize,
}

/// For output parity p of a transposed conv: its two (kernel row, padded-input row offset)
/// taps. Row 2i + p of the big image takes small rows i + offset − 1.
const UP_TAPS: [[(usize, usize); 2]; 2] = [[(1, 1), (3, 0)], [(0, 2), (2, 1)]];

impl ParityShape {
    /// Row length of a parity plane and of the conv output grid.
    fn r(&self) -> usize {
        self.w + 1
    }
    fn plane(&self) -> usize {
        (self.h + 1) * (self.w + 1)
    }
    /// Row length of the padded small image and of the transposed conv's grid.
    fn r2(&self) -> usize {
        self.w + 2
    }
    fn plane2(&self) -> usize {
        (self.h + 2) * (self.w + 2)
    }
    /// K of the conv GEMMs: the planes (b, py, px).
    fn k4(&self) -> usize {
        4 * self.big_channels
    }
    pub fn weight_len(&self) -> usize {
        self.small_channels * self.big_channels * 16
    }
    /// Elements of the parity planes of one big image.
    pub fn planes_len(&self) -> usize {
        self.k4() * self.plane() + SLACK
    }
    /// Elements of the conv's output grid, or of a small image laid out on it.
    pub fn grid_len(&self) -> usize {
        self.small_channels * self.h * self.r()
    }
    /// Elements of the padded small image.
    pub fn padded_small_len(&self) -> usize {
        self.small_channels * self.plane2() + SLACK
    }
    /// Elements of the transposed conv's four parity outputs.
    pub fn up_len(&self) -> usize {
        4 * self.big_channels * self.h * self.r2()
    }
    /// The largest of the per-sample buffers (planes excluded).
    pub fn buffer_len(&self) -> usize {
        self.grid_len().max(self.padded_small_len()).max(self.up_len())
    }

    /// The parity planes of `big` [B, 2h, 2w], zero padded by one, into `planes`.
    ///
    /// One pass over the image's rows: padded row y + 1 = 2i + py, so image row y is row i of
    /// the planes (py, 0) and (py, 1), which take its odd pixels (shifted right by the
    /// padding column) and its even ones. Rows of whole images, not of planes, keep the
    /// loops long enough to vectorize (a plane row is 4 to 16 pixels here).
    #[inline(always)]
    pub fn split_planes(&self, big: &[f32], planes: &mut [f32]) {
        let (h, w, r, plane) = (self.h, self.w, self.r(), self.plane());
        let (bh, bw) = (2 * h, 2 * w);
        for b in 0..self.big_channels {
            let img = &big[b * bh * bw..][..bh * bw];
            let four = &mut planes[b * 4 * plane..][..4 * plane];
            // The padding rows: above the image in planes (0, ·), below it in planes (1, ·).
            four[..r].fill(0.0);
            four[plane..plane + r].fill(0.0);
            four[2 * plane + h * r..][..r].fill(0.0);
            four[3 * plane + h * r..][..r].fill(0.0);
            for (y, src) in img.chunks_exact(bw).enumerate() {
                let (i, py) = (y.div_ceil(2), (y + 1) % 2);
                let (left, right) = four[py * 2 * plane..][..2 * plane].split_at_mut(plane);
                let (odd, even) = (&mut left[i * r..][..r], &mut right[i * r..][..r]);
                // px = 0: the padding column, then the odd pixels; px = 1: the even pixels,
                // then the padding column.
                odd[0] = 0.0;
                even[w] = 0.0;
                for ((pair, o), e) in src.chunks_exact(2).zip(&mut odd[1..]).zip(&mut even[..w]) {
                    *o = pair[1];
                    *e = pair[0];
                }
            }
        }
        planes[self.k4() * plane..self.planes_len()].fill(0.0);
    }

    /// `small` [S, h, w] on the conv grid [S, h, w+1] (extra column zero) into `out`.
    #[inline(always)]
    pub fn small_on_grid(&self, small: &[f32], out: &mut [f32]) {
        let (h, w, r) = (self.h, self.w, self.r());
        for (src, dst) in small.chunks_exact(w).zip(out[..self.small_channels * h * r].chunks_exact_mut(r)) {
            dst[..w].copy_from_slice(src);
            dst[w] = 0.0;
        }
    }

    /// `small` [S, h, w] zero padded by one into `out` [S, h+2, w+2] (+ slack).
    #[inline(always)]
    pub fn pad_small(&self, small: &[f32], out: &mut [f32]) {
        let (h, w, r2, plane2) = (self.h, self.w, self.r2(), self.plane2());
        for s in 0..self.small_channels {
            let dst = &mut out[s * plane2..][..plane2];
            dst[..r2].fill(0.0);
            dst[(h + 1) * r2..].fill(0.0);
            for i in 0..h {
                let row = &mut dst[(i + 1) * r2..(i + 2) * r2];
                row[0] = 0.0;
                row[1..=w].copy_from_slice(&small[(s * h + i) * w..][..w]);
                row[w + 1] = 0.0;
            }
        }
        out[self.small_channels * plane2..self.padded_small_len()].fill(0.0);
    }

    /// grid [S, h·(w+1)] = conv of the planes: Σ over taps (a, a') of Wd[a, a'] · planes
    /// shifted by (a, a').
    #[inline(always)]
    pub fn down(&self, wd: &[f32], planes: &[f32], grid: &mut [f32]) {
        let (s, k, r, plane) = (self.small_channels, self.k4(), self.r(), self.plane());
        let n = self.h * r;
        let planes = &planes[..self.planes_len()];
        for t in 0..4 {
            let off = (t / 2) * r + t % 2;
            let a = View::rows(&wd[t * s * k..(t + 1) * s * k], k);
            let b = View { data: &planes[off..], rs: plane, cs: 1 };
            matmul(s, n, k, grid, n, t > 0, a, b, false);
        }
    }

    /// dWd [4, S, 4B] += the weight gradient of [`ParityShape::down`] for the small-image
    /// gradient `small_grid` (on the conv grid, extra column zero) and the planes.
    #[inline(always)]
    pub fn weight_gradient(&self, small_grid: &[f32], planes: &[f32], dwd: &mut [f32]) {
        let (s, k, r, plane) = (self.small_channels, self.k4(), self.r(), self.plane());
        let n = self.h * r;
        let planes = &planes[..self.planes_len()];
        for t in 0..4 {
            let off = (t / 2) * r + t % 2;
            let a = View::rows(&small_grid[..s * n], n);
            let b = View { data: &planes[off..], rs: 1, cs: plane };
            matmul(s, k, n, &mut dwd[t * s * k..(t + 1) * s * k], k, true, a, b, false);
        }
    }

    /// The transposed conv of the padded small image: its four parity outputs
    /// [4, B, h·(w+2)], each the sum of four taps Wu[parity, tap] · shifted padded image.
    #[inline(always)]
    pub fn up(&self, wu: &[f32], padded: &[f32], out: &mut [f32]) {
        let (s, bc, r2, plane2) = (self.small_channels, self.big_channels, self.r2(), self.plane2());
        let n = self.h * r2;
        let padded = &padded[..self.padded_small_len()];
        for par in 0..4 {
            let (py, px) = (par / 2, par % 2);
            let dst = &mut out[par * bc * n..(par + 1) * bc * n];
            for t in 0..4 {
                let (dy, dx) = (UP_TAPS[py][t / 2].1, UP_TAPS[px][t % 2].1);
                let a = View::rows(&wu[(par * 4 + t) * bc * s..][..bc * s], s);
                let b = View { data: &padded[dy * r2 + dx..], rs: plane2, cs: 1 };
                matmul(bc, n, s, dst, n, t > 0, a, b, false);
            }
        }
    }

    /// The conv grid [S, h, w+1] → y [S, h, w]: act(grid + bias), or the plain copy.
    #[inline(always)]
    pub fn grid_to_small(&self, grid: &[f32], y: &mut [f32], bias: Option<&[f32]>, relu: bool) {
        let (h, w, r) = (self.h, self.w, self.r());
        for s in 0..self.small_channels {
            let c = bias.map_or(0.0, |b| b[s]);
            for i in 0..h {
                let src = &grid[(s * h + i) * r..][..w];
                let dst = &mut y[(s * h + i) * w..][..w];
                if relu {
                    dst.iter_mut().zip(src).for_each(|(d, v)| *d = (v + c).max(0.0));
                } else {
                    dst.iter_mut().zip(src).for_each(|(d, v)| *d = v + c);
                }
            }
        }
    }

    /// The four parity outputs of [`ParityShape::up`] interleaved into big [B, 2h, 2w]:
    /// act(value + bias), or the plain values.
    #[inline(always)]
    pub fn interleave(&self, out: &[f32], big: &mut [f32], bias: Option<&[f32]>, relu: bool) {
        let (h, w, r2, bc) = (self.h, self.w, self.r2(), self.big_channels);
        let n = h * r2;
        let bw = 2 * w;
        for b in 0..bc {
            let c = bias.map_or(0.0, |v| v[b]);
            for i in 0..h {
                for py in 0..2 {
                    let even = &out[((py * 2) * bc + b) * n + i * r2..][..w];
                    let odd = &out[((py * 2 + 1) * bc + b) * n + i * r2..][..w];
                    let row = &mut big[(b * 2 * h + 2 * i + py) * bw..][..bw];
                    for ((pair, e), o) in row.chunks_exact_mut(2).zip(even).zip(odd) {
                        let (e, o) = (e + c, o + c);
                        if relu {
                            pair[0] = e.max(0.0);
                            pair[1] = o.max(0.0);
                        } else {
                            pair[0] = e;
                            pair[1] = o;
                        }
                    }
                }
            }
        }
    }
}

/// The fused path of the same three products ([`crate::taps`], used where it can run):
/// each conv or transposed conv is one tap product, so the output stays in registers across
/// its four taps; the weight gradient reads the small image's gradient transposed.
impl ParityShape {
    /// Offsets of the conv's taps (a, a') in the planes: a·(w+1) + a'.
    fn down_taps(&self) -> [usize; 4] {
        let r = self.r();
        [0, 1, r, r + 1]
    }
    /// Offsets of transposed-conv parity `par`'s taps in the padded small image.
    fn up_taps(&self, par: usize) -> [usize; 4] {
        let (py, px) = (par / 2, par % 2);
        std::array::from_fn(|t| UP_TAPS[py][t / 2].1 * self.r2() + UP_TAPS[px][t % 2].1)
    }
    /// Elements of the packed conv weights of [`ParityShape::pack_down`].
    pub fn down_packed_len(&self, p: Products) -> usize {
        p.packed_len(self.small_channels, 16 * self.big_channels)
    }
    /// Elements of the packed transposed-conv weights of [`ParityShape::pack_up`].
    pub fn up_packed_len(&self, p: Products) -> usize {
        4 * p.packed_len(self.big_channels, 4 * self.small_channels)
    }
    /// W [S, B, 4, 4] as the left operand of [`ParityShape::down_fused`]: rows s, reduction
    /// index (tap (a, a'), plane (b, py, px)).
    pub fn pack_down(&self, isa: Isa, w: &[f32], out: &mut [f32]) {
        let (bn, k) = (self.big_channels, self.k4());
        taps::pack(isa, self.small_channels, 4 * k, out, |s, q| {
            let (t, kk) = (q / k, q % k);
            let (b, par) = (kk / 4, kk % 4);
            let (ky, kx) = (2 * (t / 2) + par / 2, 2 * (t % 2) + par % 2);
            w[(s * bn + b) * 16 + ky * 4 + kx]
        });
    }
    /// W [S, B, 4, 4] as the left operands of [`ParityShape::up_fused`], one per output
    /// parity: rows b, reduction index (tap, s).
    pub fn pack_up(&self, isa: Isa, w: &[f32], out: &mut [f32]) {
        let (bn, sn) = (self.big_channels, self.small_channels);
        let len = taps::packed_len(isa, bn, 4 * sn);
        for par in 0..4 {
            let (py, px) = (par / 2, par % 2);
            taps::pack(isa, bn, 4 * sn, &mut out[par * len..(par + 1) * len], |b, q| {
                let (t, s) = (q / sn, q % sn);
                let (ky, kx) = (UP_TAPS[py][t / 2].0, UP_TAPS[px][t % 2].0);
                w[(s * bn + b) * 16 + ky * 4 + kx]
            });
        }
    }
    /// As [`ParityShape::down`], from [`ParityShape::pack_down`]'s weights.
    #[inline(always)]
    pub fn down_fused(&self, isa: Isa, packed: &[f32], planes: &[f32], grid: &mut [f32]) {
        let n = self.h * self.r();
        let planes = &planes[..self.planes_len()];
        taps::tap_product(isa, self.small_channels, n, self.k4(), &self.down_taps(), packed, planes, self.plane(), grid, n, false);
    }
    /// As [`ParityShape::up`], from [`ParityShape::pack_up`]'s weights.
    #[inline(always)]
    pub fn up_fused(&self, isa: Isa, packed: &[f32], padded: &[f32], out: &mut [f32]) {
        let (bn, sn) = (self.big_channels, self.small_channels);
        let n = self.h * self.r2();
        let len = taps::packed_len(isa, bn, 4 * sn);
        let padded = &padded[..self.padded_small_len()];
        for par in 0..4 {
            let dst = &mut out[par * bn * n..(par + 1) * bn * n];
            taps::tap_product(isa, bn, n, sn, &self.up_taps(par), &packed[par * len..(par + 1) * len], padded, self.plane2(), dst, n, false);
        }
    }
    /// `small` [S, h, w] transposed onto the conv grid: out [h·(w+1), S], the extra column zero.
    #[inline(always)]
    pub fn small_transposed(&self, small: &[f32], out: &mut [f32]) {
        let (h, w, r, sn) = (self.h, self.w, self.r(), self.small_channels);
        let out = &mut out[..h * r * sn];
        for i in 0..h {
            for j in 0..w {
                let dst = &mut out[(i * r + j) * sn..][..sn];
                for (s, d) in dst.iter_mut().enumerate() {
                    *d = small[(s * h + i) * w + j];
                }
            }
            out[(i * r + w) * sn..][..sn].fill(0.0);
        }
    }
    /// dWt [tap, (b, py, px), S] += the weight gradient of the conv for the small-image
    /// gradient given by [`ParityShape::small_transposed`].
    #[inline(always)]
    pub fn weight_gradient_fused(&self, isa: Isa, small_t: &[f32], planes: &[f32], dwt: &mut [f32]) {
        let (sn, n) = (self.small_channels, self.h * self.r());
        let planes = &planes[..self.planes_len()];
        taps::tap_weight_gradient(isa, self.k4(), sn, n, &self.down_taps(), planes, self.plane(), small_t, sn, dwt);
    }
}

/// The parity products on either path, for the conv layers.
impl ParityShape {
    /// W [S, B, 4, 4] prepared for [`ParityShape::conv`].
    pub fn conv_weights(&self, p: Products, w: &[f32], out: &mut [f32]) {
        match p {
            Products::Taps(isa) => self.pack_down(isa, w, out),
            Products::Gemm => down_weights(self, w, out),
        }
    }
    /// W [S, B, 4, 4] prepared for [`ParityShape::transposed_conv`].
    pub fn transposed_conv_weights(&self, p: Products, w: &[f32], out: &mut [f32]) {
        match p {
            Products::Taps(isa) => self.pack_up(isa, w, out),
            Products::Gemm => up_weights(self, w, out),
        }
    }
    /// The conv grid of the planes ([`ParityShape::down`]).
    #[inline(always)]
    pub fn conv(&self, p: Products, weights: &[f32], planes: &[f32], grid: &mut [f32]) {
        match p {
            Products::Taps(isa) => self.down_fused(isa, weights, planes, grid),
            Products::Gemm => self.down(weights, planes, grid),
        }
    }
    /// The four parity outputs of the padded small image ([`ParityShape::up`]).
    #[inline(always)]
    pub fn transposed_conv(&self, p: Products, weights: &[f32], padded: &[f32], out: &mut [f32]) {
        match p {
            Products::Taps(isa) => self.up_fused(isa, weights, padded, out),
            Products::Gemm => self.up(weights, padded, out),
        }
    }
    /// Adds the weight gradient of the conv for the small-image gradient `small` [S, h, w] to
    /// `dwd` (in the path's own layout; `buf` holds `small` rearranged).
    #[inline(always)]
    pub fn add_conv_weight_gradient(&self, p: Products, small: &[f32], buf: &mut [f32], planes: &[f32], dwd: &mut [f32]) {
        match p {
            Products::Taps(isa) => {
                self.small_transposed(small, buf);
                self.weight_gradient_fused(isa, buf, planes, dwd);
            }
            Products::Gemm => {
                self.small_on_grid(small, buf);
                self.weight_gradient(buf, planes, dwd);
            }
        }
    }
    /// dw [S, B, 4, 4] += a gradient summed by [`ParityShape::add_conv_weight_gradient`].
    pub fn add_weight_gradient_to(&self, p: Products, dwd: &[f32], dw: &mut [f32]) {
        match p {
            Products::Taps(_) => add_transposed_gradient(self, dwd, dw),
            Products::Gemm => add_unpermuted_gradient(self, dwd, dw),
        }
    }
}

/// dw [S, B, 4, 4] += dWt (the layout of [`ParityShape::weight_gradient_fused`]).
pub fn add_transposed_gradient(shape: &ParityShape, dwt: &[f32], dw: &mut [f32]) {
    let (s_n, k) = (shape.small_channels, shape.k4());
    for_each_down_index(shape, |d, i| {
        // d = (t·S + s)·K + kk in Wd's layout; the same weight in dWt's.
        let (t, rest) = (d / (s_n * k), d % (s_n * k));
        let (s, kk) = (rest / k, rest % k);
        dw[i] += dwt[(t * k + kk) * s_n + s];
    });
}

/// Calls `f(index in Wd, index in W)` for every weight, where the tap matrices are
/// Wd [tap (a, a'), S, (b, py, px)] = W[s, b, 2a + py, 2a' + px] (W is [S, B, 4, 4]). One map
/// for the permutation and its inverse on the gradient; plain loops, as it runs per layer and
/// step.
#[inline(always)]
fn for_each_down_index(shape: &ParityShape, mut f: impl FnMut(usize, usize)) {
    let (s_n, b_n) = (shape.small_channels, shape.big_channels);
    let k = 4 * b_n;
    for t in 0..4 {
        let (a, a2) = (t / 2, t % 2);
        for s in 0..s_n {
            for b in 0..b_n {
                for par in 0..4 {
                    let (py, px) = (par / 2, par % 2);
                    f((t * s_n + s) * k + b * 4 + par, (s * b_n + b) * 16 + (2 * a + py) * 4 + 2 * a2 + px);
                }
            }
        }
    }
}

/// The tap matrices Wd of [`ParityShape::down`] (layout in [`for_each_down_index`]).
pub fn down_weights(shape: &ParityShape, w: &[f32], wd: &mut [f32]) {
    for_each_down_index(shape, |d, i| wd[d] = w[i]);
}

/// Wu [parity, tap, B, S] = W[s, b, ky, kx] for [`ParityShape::up`].
pub fn up_weights(shape: &ParityShape, w: &[f32], wu: &mut [f32]) {
    let (s_n, b_n) = (shape.small_channels, shape.big_channels);
    for par in 0..4 {
        let (py, px) = (par / 2, par % 2);
        for t in 0..4 {
            let (ky, kx) = (UP_TAPS[py][t / 2].0, UP_TAPS[px][t % 2].0);
            let dst = &mut wu[(par * 4 + t) * b_n * s_n..][..b_n * s_n];
            for b in 0..b_n {
                for s in 0..s_n {
                    dst[b * s_n + s] = w[(s * b_n + b) * 16 + ky * 4 + kx];
                }
            }
        }
    }
}

/// dw [S, B, 4, 4] += dWd (the layout of [`down_weights`]).
pub fn add_unpermuted_gradient(shape: &ParityShape, dwd: &[f32], dw: &mut [f32]) {
    for_each_down_index(shape, |d, i| dw[i] += dwd[d]);
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// y[s, oy, ox] = Σ W[s, b, ky, kx] · big[b, 2oy + ky − 1, 2ox + kx − 1], by definition.
    fn direct_down(sh: &ParityShape, w: &[f32], big: &[f32]) -> Vec<f32> {
        let (h, wd) = (sh.h, sh.w);
        let mut y = vec![0.0f64; sh.small_channels * h * wd];
        for s in 0..sh.small_channels {
            for oy in 0..h {
                for ox in 0..wd {
                    let mut acc = 0.0f64;
                    for b in 0..sh.big_channels {
                        for ky in 0..4 {
                            for kx in 0..4 {
                                let (iy, ix) = ((2 * oy + ky) as isize - 1, (2 * ox + kx) as isize - 1);
                                if iy >= 0 && ix >= 0 && (iy as usize) < 2 * h && (ix as usize) < 2 * wd {
                                    acc += w[(s * sh.big_channels + b) * 16 + ky * 4 + kx] as f64
                                        * big[(b * 2 * h + iy as usize) * 2 * wd + ix as usize] as f64;
                                }
                            }
                        }
                    }
                    y[(s * h + oy) * wd + ox] = acc;
                }
            }
        }
        y.into_iter().map(|v| v as f32).collect()
    }

    /// Smooth, distinct test values: sin((i + ½) · f).
    pub(crate) fn values(n: usize, f: f32) -> Vec<f32> {
        (0..n).map(|i| ((i as f32 + 0.5) * f).sin()).collect()
    }

    #[test]
    fn conv_transposed_conv_and_weight_gradient_match_their_definitions() {
        for (bc, sc, h, w) in [(3, 5, 4, 4), (2, 3, 3, 5), (4, 2, 1, 2), (16, 16, 8, 8)] {
            let sh = ParityShape { big_channels: bc, small_channels: sc, h, w };
            let wt = values(sh.weight_len(), 0.37);
            let big = values(bc * 4 * h * w, 0.11);
            let small = values(sc * h * w, 0.23);
            let mut planes = vec![f32::NAN; sh.planes_len()];
            sh.split_planes(&big, &mut planes);
            // Conv: parity GEMMs against the direct sum.
            let mut wd = vec![0.0; sh.weight_len()];
            down_weights(&sh, &wt, &mut wd);
            let mut grid = vec![f32::NAN; sh.grid_len()];
            sh.down(&wd, &planes, &mut grid);
            let mut y = vec![0.0; sc * h * w];
            sh.grid_to_small(&grid, &mut y, None, false);
            let want = direct_down(&sh, &wt, &big);
            for (a, b) in y.iter().zip(&want) {
                assert!((a - b).abs() < 1e-4 * (1.0 + b.abs()), "{sh:?}: {a} vs {b}");
            }
            // Transposed conv is the adjoint: <down(big), small> = <big, up(small)>.
            let mut wu = vec![0.0; sh.weight_len()];
            up_weights(&sh, &wt, &mut wu);
            let mut padded = vec![f32::NAN; sh.padded_small_len()];
            sh.pad_small(&small, &mut padded);
            let mut out = vec![f32::NAN; sh.up_len()];
            sh.up(&wu, &padded, &mut out);
            let mut up = vec![f32::NAN; bc * 4 * h * w];
            sh.interleave(&out, &mut up, None, false);
            let lhs: f64 = want.iter().zip(&small).map(|(a, b)| (*a as f64) * (*b as f64)).sum();
            let rhs: f64 = big.iter().zip(&up).map(|(a, b)| (*a as f64) * (*b as f64)).sum();
            assert!((lhs - rhs).abs() < 1e-4 * lhs.abs().max(1.0), "{sh:?}: {lhs} vs {rhs}");
            // Weight gradient: ∂<down_W(big), small>/∂W by finite differences (the map is
            // linear in W, so a unit step is exact up to rounding).
            let mut grid_small = vec![f32::NAN; sh.grid_len()];
            sh.small_on_grid(&small, &mut grid_small);
            let mut dwd = vec![0.0; sh.weight_len()];
            sh.weight_gradient(&grid_small, &planes, &mut dwd);
            let mut dw = vec![0.0; sh.weight_len()];
            add_unpermuted_gradient(&sh, &dwd, &mut dw);
            for i in (0..sh.weight_len()).step_by(7) {
                let mut e = vec![0.0; sh.weight_len()];
                e[i] = 1.0;
                let d: f64 = direct_down(&sh, &e, &big).iter().zip(&small).map(|(a, b)| (*a as f64) * (*b as f64)).sum();
                assert!((dw[i] as f64 - d).abs() < 1e-4 * (1.0 + d.abs()), "{sh:?} dw[{i}]: {} vs {d}", dw[i]);
            }
        }
    }

    #[test]
    fn the_fused_products_equal_the_gemm_crate_ones() {
        // Each instruction set this CPU has (the kernels test of tests/kernels.rs reports the
        // ones it lacks as ignored).
        for isa in [Isa::Avx512, Isa::Avx2].into_iter().filter(|i| i.supported()) {
        for (bc, sc, h, w) in [(3, 5, 4, 4), (2, 3, 3, 5), (4, 2, 1, 2), (16, 16, 8, 8), (32, 32, 16, 16), (17, 20, 3, 5), (64, 64, 4, 4)] {
            let sh = ParityShape { big_channels: bc, small_channels: sc, h, w };
            let close = |a: &[f32], b: &[f32], what: &str| {
                let scale = b.iter().fold(1.0f32, |m, v| m.max(v.abs()));
                for (i, (x, y)) in a.iter().zip(b).enumerate() {
                    assert!((x - y).abs() <= 1e-5 * scale, "{sh:?} {what}[{i}]: {x} vs {y}");
                }
            };
            let wt = values(sh.weight_len(), 0.37);
            let big = values(bc * 4 * h * w, 0.11);
            let small = values(sc * h * w, 0.23);
            let mut planes = vec![f32::NAN; sh.planes_len()];
            sh.split_planes(&big, &mut planes);
            let mut wd = vec![0.0; sh.weight_len()];
            down_weights(&sh, &wt, &mut wd);
            let mut packed = vec![f32::NAN; sh.down_packed_len(Products::Taps(isa)).max(sh.up_packed_len(Products::Taps(isa)))];
            sh.pack_down(isa, &wt, &mut packed);
            let (mut grid, mut grid2) = (vec![f32::NAN; sh.grid_len()], vec![f32::NAN; sh.grid_len()]);
            sh.down(&wd, &planes, &mut grid);
            sh.down_fused(isa, &packed, &planes, &mut grid2);
            let (mut y, mut y2) = (vec![0.0; sc * h * w], vec![0.0; sc * h * w]);
            sh.grid_to_small(&grid, &mut y, None, false);
            sh.grid_to_small(&grid2, &mut y2, None, false);
            close(&y2, &y, "conv");
            let mut wu = vec![0.0; sh.weight_len()];
            up_weights(&sh, &wt, &mut wu);
            sh.pack_up(isa, &wt, &mut packed);
            let mut padded = vec![f32::NAN; sh.padded_small_len()];
            sh.pad_small(&small, &mut padded);
            let (mut out, mut out2) = (vec![f32::NAN; sh.up_len()], vec![f32::NAN; sh.up_len()]);
            sh.up(&wu, &padded, &mut out);
            sh.up_fused(isa, &packed, &padded, &mut out2);
            let (mut up, mut up2) = (vec![f32::NAN; bc * 4 * h * w], vec![f32::NAN; bc * 4 * h * w]);
            sh.interleave(&out, &mut up, None, false);
            sh.interleave(&out2, &mut up2, None, false);
            close(&up2, &up, "transposed conv");
            let mut grid_small = vec![f32::NAN; sh.grid_len()];
            sh.small_on_grid(&small, &mut grid_small);
            let mut dwd = vec![0.0; sh.weight_len()];
            sh.weight_gradient(&grid_small, &planes, &mut dwd);
            let mut dw = vec![0.5; sh.weight_len()];
            add_unpermuted_gradient(&sh, &dwd, &mut dw);
            let mut small_t = vec![f32::NAN; sh.grid_len()];
            sh.small_transposed(&small, &mut small_t);
            let mut dwt = vec![0.0; sh.weight_len()];
            sh.weight_gradient_fused(isa, &small_t, &planes, &mut dwt);
            let mut dw2 = vec![0.5; sh.weight_len()];
            add_transposed_gradient(&sh, &dwt, &mut dw2);
            close(&dw2, &dw, "weight gradient");
        }
        }
    }
}
