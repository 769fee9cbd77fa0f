//! Convolutions (stride s, symmetric zero padding p, kernel kh×kw) and their transposes,
//! lowered onto GEMM through im2col / col2im, one sample at a time inside one task per
//! thread, so each thread's column buffer stays in its own cache.
//!
//! A conv maps a "big" image [C, H, W] to a "small" one [C', H', W']; the transposed conv
//! used by the decoder is its adjoint with the same geometry, small → big. Both therefore
//! share one [`Geometry`] and the same two lowering kernels. [`ConvLayer::parity`] sends the
//! k4 s2 p1 layers between ≥ 16-channel images to [`crate::parity`] instead.
//!
//! Each layer works one sample at a time ([`ConvLayer::forward_one`],
//! [`ConvLayer::backward_one`]) after preparing its weights once per pass
//! ([`ConvLayer::prepare_forward`], [`ConvLayer::prepare_backward`]); [`crate::network`]
//! chains whole stacks of layers per sample, and [`ConvLayer::forward`] /
//! [`ConvLayer::backward`] run one layer over a batch.

use rayon::prelude::*;

use crate::matmul::{View, matmul};
use crate::parity::{ParityShape, Products};
use crate::winograd::Winograd;
use crate::simd::wide;
use crate::taps;

/// The spatial mapping of a conv from a big image to a small one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    /// Channels of the big image.
    pub channels: usize,
    pub h: usize,
    pub w: usize,
    pub kh: usize,
    pub kw: usize,
    pub stride: usize,
    pub pad: usize,
    pub oh: usize,
    pub ow: usize,
}

impl Geometry {
    pub fn new(channels: usize, h: usize, w: usize, kh: usize, kw: usize, stride: usize, pad: usize) -> Self {
        let oh = (h + 2 * pad - kh) / stride + 1;
        let ow = (w + 2 * pad - kw) / stride + 1;
        Geometry { channels, h, w, kh, kw, stride, pad, oh, ow }
    }
    /// Rows of the column matrix: channels·kh·kw.
    pub fn k(&self) -> usize {
        self.channels * self.kh * self.kw
    }
    /// Columns of the column matrix: small-image positions.
    pub fn p(&self) -> usize {
        self.oh * self.ow
    }
    pub fn big_len(&self) -> usize {
        self.channels * self.h * self.w
    }

    /// For kernel offset `kx` along a row: the output columns whose input column is inside
    /// the image, and the input column of the first of them.
    #[inline(always)]
    fn valid_range(&self, kx: usize, o: usize, size: usize) -> (usize, usize) {
        // input = ox·s + kx − p must lie in 0..size.
        let lo = if kx >= self.pad { 0 } else { (self.pad - kx).div_ceil(self.stride) };
        let hi = if size + self.pad > kx { ((size + self.pad - kx - 1) / self.stride + 1).min(o) } else { 0 };
        (lo, hi.max(lo))
    }

    /// col [K, P] ← the patches of `img` [C, H, W] (zero outside the image).
    #[inline(always)]
    pub fn im2col(&self, img: &[f32], col: &mut [f32]) {
        let (p, s) = (self.p(), self.stride);
        for c in 0..self.channels {
            let plane = &img[c * self.h * self.w..(c + 1) * self.h * self.w];
            for ky in 0..self.kh {
                let (ylo, yhi) = self.valid_range(ky, self.oh, self.h);
                for kx in 0..self.kw {
                    let (xlo, xhi) = self.valid_range(kx, self.ow, self.w);
                    let row = &mut col[((c * self.kh + ky) * self.kw + kx) * p..][..p];
                    for oy in 0..self.oh {
                        let out = &mut row[oy * self.ow..(oy + 1) * self.ow];
                        if oy < ylo || oy >= yhi || xlo >= xhi {
                            out.fill(0.0);
                            continue;
                        }
                        let iy = oy * s + ky - self.pad;
                        let src = &plane[iy * self.w..(iy + 1) * self.w];
                        out[..xlo].fill(0.0);
                        out[xhi..].fill(0.0);
                        let ix0 = xlo * s + kx - self.pad;
                        gather(&mut out[xlo..xhi], &src[ix0..], s);
                    }
                }
            }
        }
    }

    /// Size of the phase buffer [`Geometry::im2col_via_phases`] needs: C·4·⌈H/2⌉·⌈W/2⌉.
    pub fn phase_len(&self) -> usize {
        self.channels * 4 * self.h.div_ceil(2) * self.w.div_ceil(2)
    }

    /// As [`Geometry::im2col`]; for stride 2 the image is first split into its four
    /// (row, column) parity planes, so every patch row becomes one contiguous copy instead
    /// of a stride-2 gather. `phases` needs [`Geometry::phase_len`] elements.
    #[inline(always)]
    pub fn im2col_via_phases(&self, img: &[f32], col: &mut [f32], phases: &mut [f32]) {
        self.im2col_via_phases_strided(img, col, self.p(), phases);
    }

    /// [`Geometry::im2col_via_phases`] into the first P columns of a matrix whose rows are
    /// `ld` apart (a group of samples side by side, see [`ConvLayer::grouped`]); the stride-2
    /// lowering only, other geometries need `ld` = P.
    #[inline(always)]
    pub fn im2col_via_phases_strided(&self, img: &[f32], col: &mut [f32], ld: usize, phases: &mut [f32]) {
        if self.stride != 2 || self.is_space_to_depth() {
            assert_eq!(ld, self.p(), "im2col: row stride other than P on the stride-2 lowering only");
        }
        if self.is_space_to_depth() {
            return self.space_to_depth(img, col);
        }
        if self.stride != 2 {
            return self.im2col(img, col);
        }
        let (h2, w2, p) = (self.h.div_ceil(2), self.w.div_ceil(2), self.p());
        let phases = &mut phases[..self.phase_len()];
        for c in 0..self.channels {
            for r in 0..4 {
                let (ry, rx) = (r / 2, r % 2);
                let plane = &mut phases[(c * 4 + r) * h2 * w2..][..h2 * w2];
                for i in 0..h2 {
                    let row = &mut plane[i * w2..(i + 1) * w2];
                    let iy = 2 * i + ry;
                    if iy >= self.h {
                        row.fill(0.0);
                        continue;
                    }
                    let src = &img[(c * self.h + iy) * self.w..][..self.w];
                    let full = (self.w - rx) / 2 + usize::from((self.w - rx) % 2 == 1);
                    gather(&mut row[..full], &src[rx..], 2);
                    row[full..].fill(0.0);
                }
            }
        }
        for c in 0..self.channels {
            for ky in 0..self.kh {
                let (qy, ry) = split_offset(ky, self.pad);
                for kx in 0..self.kw {
                    let (qx, rx) = split_offset(kx, self.pad);
                    let plane = &phases[(c * 4 + ry * 2 + rx) * h2 * w2..][..h2 * w2];
                    let (xlo, xhi) = shifted_range(qx, self.ow, w2);
                    let out = &mut col[((c * self.kh + ky) * self.kw + kx) * ld..][..p];
                    for oy in 0..self.oh {
                        let dst = &mut out[oy * self.ow..(oy + 1) * self.ow];
                        let i = oy as isize + qy;
                        if i < 0 || i >= h2 as isize || xlo >= xhi {
                            dst.fill(0.0);
                            continue;
                        }
                        let src = &plane[i as usize * w2..(i as usize + 1) * w2];
                        dst[..xlo].fill(0.0);
                        dst[xhi..].fill(0.0);
                        let j0 = (xlo as isize + qx) as usize;
                        dst[xlo..xhi].copy_from_slice(&src[j0..j0 + (xhi - xlo)]);
                    }
                }
            }
        }
    }

    /// As [`Geometry::col2im_add`], accumulating into parity planes (contiguous adds) that
    /// are interleaved into `img` at the end, for stride 2.
    #[inline(always)]
    pub fn col2im_add_via_phases(&self, col: &[f32], img: &mut [f32], phases: &mut [f32]) {
        self.col2im_add_via_phases_strided(col, self.p(), img, phases);
    }

    /// [`Geometry::col2im_add_via_phases`] from the first P columns of a matrix whose rows
    /// are `ld` apart (as [`Geometry::im2col_via_phases_strided`]).
    #[inline(always)]
    pub fn col2im_add_via_phases_strided(&self, col: &[f32], ld: usize, img: &mut [f32], phases: &mut [f32]) {
        if self.stride != 2 || self.is_space_to_depth() {
            assert_eq!(ld, self.p(), "col2im: row stride other than P on the stride-2 lowering only");
        }
        if self.is_space_to_depth() {
            return self.depth_to_space_add(col, img);
        }
        if self.stride != 2 {
            return self.col2im_add(col, img);
        }
        let (h2, w2, p) = (self.h.div_ceil(2), self.w.div_ceil(2), self.p());
        let phases = &mut phases[..self.phase_len()];
        phases.fill(0.0);
        for c in 0..self.channels {
            for ky in 0..self.kh {
                let (qy, ry) = split_offset(ky, self.pad);
                for kx in 0..self.kw {
                    let (qx, rx) = split_offset(kx, self.pad);
                    let plane = &mut phases[(c * 4 + ry * 2 + rx) * h2 * w2..][..h2 * w2];
                    let (xlo, xhi) = shifted_range(qx, self.ow, w2);
                    if xlo >= xhi {
                        continue;
                    }
                    let src = &col[((c * self.kh + ky) * self.kw + kx) * ld..][..p];
                    for oy in 0..self.oh {
                        let i = oy as isize + qy;
                        if i < 0 || i >= h2 as isize {
                            continue;
                        }
                        let j0 = (xlo as isize + qx) as usize;
                        let dst = &mut plane[i as usize * w2 + j0..][..xhi - xlo];
                        dst.iter_mut().zip(&src[oy * self.ow + xlo..oy * self.ow + xhi]).for_each(|(d, v)| *d += v);
                    }
                }
            }
        }
        for c in 0..self.channels {
            for r in 0..4 {
                let (ry, rx) = (r / 2, r % 2);
                let plane = &phases[(c * 4 + r) * h2 * w2..][..h2 * w2];
                for i in 0..h2 {
                    let iy = 2 * i + ry;
                    if iy >= self.h {
                        continue;
                    }
                    let dst = &mut img[(c * self.h + iy) * self.w..][..self.w];
                    let full = (self.w - rx) / 2 + usize::from((self.w - rx) % 2 == 1);
                    scatter_add(&plane[i * w2..i * w2 + full], &mut dst[rx..], 2);
                }
            }
        }
    }

    /// A 2 × 2 kernel at stride 2 without padding on an even image: the patches tile the
    /// image, so im2col is a permutation (space to depth).
    #[inline(always)]
    fn is_space_to_depth(&self) -> bool {
        self.kh == 2 && self.kw == 2 && self.stride == 2 && self.pad == 0 && self.h == 2 * self.oh && self.w == 2 * self.ow
    }

    /// col [(c, ky, kx), (oy, ox)] = img [c, 2oy + ky, 2ox + kx], one image row at a time
    /// (its even and odd pixels go to two column rows). The general lowering spends more
    /// time in loop overhead than in copying on these small images (8 µs a sample for
    /// 8 × 8 × 64).
    #[inline(always)]
    fn space_to_depth(&self, img: &[f32], col: &mut [f32]) {
        let (oh, ow, p, w) = (self.oh, self.ow, self.p(), self.w);
        let col = &mut col[..self.k() * p];
        for c in 0..self.channels {
            for ky in 0..2 {
                // Rows (c, ky, 0) and (c, ky, 1) of col.
                let (even, odd) = col[(c * 2 + ky) * 2 * p..][..2 * p].split_at_mut(p);
                for oy in 0..oh {
                    let row = &img[(c * self.h + 2 * oy + ky) * w..][..w];
                    for ((pair, e), o) in row.chunks_exact(2).zip(&mut even[oy * ow..][..ow]).zip(&mut odd[oy * ow..][..ow]) {
                        *e = pair[0];
                        *o = pair[1];
                    }
                }
            }
        }
    }

    /// img += the patches in col, for [`Geometry::space_to_depth`]'s geometry: each pixel
    /// receives exactly one column entry, as the patches do not overlap.
    #[inline(always)]
    fn depth_to_space_add(&self, col: &[f32], img: &mut [f32]) {
        let (oh, ow, p, w) = (self.oh, self.ow, self.p(), self.w);
        let col = &col[..self.k() * p];
        for c in 0..self.channels {
            for ky in 0..2 {
                let (even, odd) = col[(c * 2 + ky) * 2 * p..][..2 * p].split_at(p);
                for oy in 0..oh {
                    let row = &mut img[(c * self.h + 2 * oy + ky) * w..][..w];
                    for ((pair, e), o) in row.chunks_exact_mut(2).zip(&even[oy * ow..][..ow]).zip(&odd[oy * ow..][..ow]) {
                        pair[0] += e;
                        pair[1] += o;
                    }
                }
            }
        }
    }

    /// img [C, H, W] += the patches in col [K, P] (the adjoint of [`Geometry::im2col`]).
    #[inline(always)]
    pub fn col2im_add(&self, col: &[f32], img: &mut [f32]) {
        let (p, s) = (self.p(), self.stride);
        for c in 0..self.channels {
            let plane = &mut img[c * self.h * self.w..(c + 1) * self.h * self.w];
            for ky in 0..self.kh {
                let (ylo, yhi) = self.valid_range(ky, self.oh, self.h);
                for kx in 0..self.kw {
                    let (xlo, xhi) = self.valid_range(kx, self.ow, self.w);
                    if xlo >= xhi {
                        continue;
                    }
                    let row = &col[((c * self.kh + ky) * self.kw + kx) * p..][..p];
                    for oy in ylo..yhi {
                        let iy = oy * s + ky - self.pad;
                        let dst = &mut plane[iy * self.w..(iy + 1) * self.w];
                        let ix0 = xlo * s + kx - self.pad;
                        scatter_add(&row[oy * self.ow + xlo..oy * self.ow + xhi], &mut dst[ix0..], s);
                    }
                }
            }
        }
    }
}

/// Kernel offset k of a stride-2 conv with padding `pad` as (q, r): input row 2·o + k − pad
/// = 2·(o + q) + r, with r ∈ {0, 1} the parity plane and q the shift within it.
#[inline(always)]
fn split_offset(k: usize, pad: usize) -> (isize, usize) {
    let d = k as isize - pad as isize;
    (d.div_euclid(2), d.rem_euclid(2) as usize)
}

/// The outputs o in 0..o_len whose plane column o + q lies in 0..plane_len.
#[inline(always)]
fn shifted_range(q: isize, o_len: usize, plane_len: usize) -> (usize, usize) {
    let lo = (-q).max(0) as usize;
    let hi = (plane_len as isize - q).clamp(0, o_len as isize) as usize;
    (lo.min(hi), hi)
}

/// out[i] = src[i·s]. Written per stride so each loop has no bounds checks and vectorizes.
#[inline(always)]
fn gather(out: &mut [f32], src: &[f32], s: usize) {
    let n = out.len();
    match s {
        1 => out.copy_from_slice(&src[..n]),
        2 => {
            let src = &src[..2 * n - 1];
            for (o, pair) in out.iter_mut().zip(src.chunks(2)) {
                *o = pair[0];
            }
        }
        _ => out.iter_mut().zip(src.iter().step_by(s)).for_each(|(o, v)| *o = *v),
    }
}

/// dst[i·s] += v[i] (the adjoint of [`gather`]).
#[inline(always)]
fn scatter_add(v: &[f32], dst: &mut [f32], s: usize) {
    let n = v.len();
    match s {
        1 => dst[..n].iter_mut().zip(v).for_each(|(d, x)| *d += x),
        2 => {
            let dst = &mut dst[..2 * n - 1];
            for (pair, x) in dst.chunks_mut(2).zip(v) {
                pair[0] += x;
            }
        }
        _ => dst.iter_mut().step_by(s).zip(v).for_each(|(d, x)| *d += x),
    }
}

/// Σ v, with independent partial sums so the additions vectorize (f32 addition is not
/// associative, so a plain fold runs one add at a time).
#[inline(always)]
pub fn fast_sum(v: &[f32]) -> f32 {
    let mut acc = [0.0f32; 16];
    let chunks = v.chunks_exact(16);
    let tail: f32 = chunks.remainder().iter().sum();
    for c in chunks {
        for (a, x) in acc.iter_mut().zip(c) {
            *a += x;
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// Per-thread buffers for the lowered convolutions, sized once for the largest layer.
#[derive(Debug, Default)]
pub struct Scratch {
    pub col: Vec<f32>,
    pub dcol: Vec<f32>,
    /// Parity planes of one big image (stride-2 lowering).
    pub phases: Vec<f32>,
    /// Partial weight and bias gradients of this thread's samples.
    pub dw: Vec<f32>,
    pub db: Vec<f32>,
    /// A layer's weights permuted for the parity GEMMs (used from the first scratch only).
    pub wperm: Vec<f32>,
    /// Training: the output gradients between the layers of a conv run, for the group of
    /// samples this thread is carrying through it (see `network::conv_run_backward`).
    pub run_grads: Vec<f32>,
}

impl Scratch {
    pub fn reserve(&mut self, col: usize, weights: usize, bias: usize, phases: usize, wperm: usize) {
        for (buf, n) in [(&mut self.col, col), (&mut self.dcol, col), (&mut self.dw, weights), (&mut self.db, bias), (&mut self.phases, phases), (&mut self.wperm, wperm)] {
            if buf.len() < n {
                buf.resize(n, 0.0);
            }
        }
    }
}

/// Samples per task: the batch split evenly over the scratch buffers (one per thread).
pub(crate) fn per_task(batch: usize, tasks: usize) -> usize {
    batch.div_ceil(tasks.max(1)).max(1)
}

/// A conv layer (big → small) or a transposed conv layer (small → big).
#[derive(Debug, Clone, Copy)]
pub struct ConvLayer {
    pub geom: Geometry,
    /// Channels of the small image.
    pub small_channels: usize,
    /// `true`: the transposed conv (decoder), input small, output big.
    pub transposed: bool,
    pub relu: bool,
}

impl ConvLayer {
    pub fn input_len(&self) -> usize {
        if self.transposed { self.small_channels * self.geom.p() } else { self.geom.big_len() }
    }
    pub fn output_len(&self) -> usize {
        if self.transposed { self.geom.big_len() } else { self.small_channels * self.geom.p() }
    }
    /// Weight elements: conv [small C, big C·kh·kw], transposed [small C, big C·kh·kw] too
    /// (burn's [in, out, kh, kw] for a transposed conv has the small image's channels first).
    pub fn weight_len(&self) -> usize {
        self.small_channels * self.geom.k()
    }
    pub fn bias_len(&self) -> usize {
        if self.transposed { self.geom.channels } else { self.small_channels }
    }
    pub fn col_len(&self) -> usize {
        self.geom.k() * self.geom.p()
    }

    /// The k4 s2 p1 layers between images of at least 16 channels run as parity GEMMs
    /// ([`crate::parity`]); the others (a 1-channel image on either side, other kernels) are
    /// lowered through im2col, which suits their shapes better.
    pub fn parity(&self) -> Option<ParityShape> {
        let g = self.geom;
        let fits = g.kh == 4 && g.kw == 4 && g.stride == 2 && g.pad == 1 && g.h.is_multiple_of(2) && g.w.is_multiple_of(2) && g.h > 0 && g.w > 0;
        (fits && g.channels >= 16 && self.small_channels >= 16 && !self.grouped()).then_some(ParityShape {
            big_channels: g.channels,
            small_channels: self.small_channels,
            h: g.h / 2,
            w: g.w / 2,
        })
    }
    /// A transposed conv from a small image of at most [`GROUP_MAX_PIXELS`] pixels (the
    /// decoder's first, 4 × 4 → 8 × 8) is lowered through col2im for [`GROUP`] samples at
    /// once: per sample its products are only 16 columns wide (the parity GEMMs' grids 20 to
    /// 24), while side by side the samples give one product of 1024 × 64 × 64 per group, and
    /// for 8 × 8 images the patches move in registers ([`crate::patches4`]). Such a layer is
    /// a conv run of its own (`network::conv_run_len`). Groups of 2, 4 and 8 measured alike
    /// (`examples/layer_times.rs`); 16 was slower, its weight gradient's operands (1 MB)
    /// leaving L2.
    pub fn grouped(&self) -> bool {
        let g = self.geom;
        self.transposed && g.kh == 4 && g.kw == 4 && g.stride == 2 && g.pad == 1 && g.p() <= GROUP_MAX_PIXELS
    }
    /// The parity layers with images wide enough run their products through Winograd's
    /// transforms ([`crate::winograd`]).
    pub fn winograd(&self) -> Option<Winograd> {
        self.parity().and_then(Winograd::for_shape)
    }
    /// Per-thread column-buffer elements this layer needs (`col` and `dcol` alike).
    pub fn scratch_len(&self) -> usize {
        if self.grouped() {
            // col [K, G·P] and the group's small images side by side [C_small, G·P].
            return (self.geom.k() + self.small_channels) * GROUP * self.geom.p();
        }
        let parity = self.parity().map_or(self.col_len(), |sh| sh.buffer_len());
        self.winograd().map_or(parity, |wg| parity.max(wg.big_tiles_len()).max(2 * wg.small_tiles_len()))
    }
    /// Elements of one thread's weight-gradient partial (a Winograd layer's in the
    /// transformed domain, larger than the weights).
    pub fn partial_len(&self) -> usize {
        self.winograd().map_or(self.weight_len(), |wg| self.weight_len().max(wg.partial_len()))
    }
    /// Elements of this layer's permuted or packed weights.
    pub fn wperm_len(&self) -> usize {
        let (cs, kk) = (self.small_channels, self.geom.k());
        let lowered = self.weight_len().max(taps::packed_len(cs, kk)).max(taps::packed_len(kk, cs));
        let parity = self.parity().map_or(lowered, |sh| self.weight_len().max(sh.down_packed_len()).max(sh.up_packed_len()));
        self.winograd().map_or(parity, |wg| parity.max(wg.forward_packed_len()).max(wg.adjoint_packed_len()))
    }
    /// Per-thread phase-buffer elements this layer needs.
    pub fn scratch_phase_len(&self) -> usize {
        self.parity().map_or(self.geom.phase_len(), |sh| sh.planes_len())
    }

    /// Prepares `wperm` ([`ConvLayer::wperm_len`]) for [`ConvLayer::forward_one`]: a parity
    /// layer's weights permuted or packed for its products; a lowered layer's packed for the
    /// tap kernels where they run (once per layer and step, where the `gemm` crate would pack
    /// them again for every sample), else left unused.
    pub fn prepare_forward(&self, w: &[f32], wperm: &mut [f32]) {
        let products = Products::detect();
        if let Some(wg) = self.winograd() {
            // A transposed conv is the adjoint of the conv with the same weights.
            return if self.transposed { wg.pack_adjoint(w, wperm) } else { wg.pack_forward(w, wperm) };
        }
        match self.parity() {
            Some(sh) if self.transposed => sh.transposed_conv_weights(products, w, wperm),
            Some(sh) => sh.conv_weights(products, w, wperm),
            None => self.pack_lowered(products, w, wperm, self.transposed),
        }
    }

    /// A lowered layer's weights packed for [`taps::tap_product`]: as the left operand
    /// Wᵀ [K, C_small] when `transposed_left`, else W [C_small, K]. Nothing without the tap
    /// kernels.
    fn pack_lowered(&self, products: Products, w: &[f32], wperm: &mut [f32], transposed_left: bool) {
        if !matches!(products, Products::Taps) {
            return;
        }
        let (cs, kk) = (self.small_channels, self.geom.k());
        if transposed_left {
            taps::pack(kk, cs, wperm, |row, q| w[q * kk + row]);
        } else {
            taps::pack(cs, kk, wperm, |row, q| w[row * kk + q]);
        }
    }

    /// left [m, q] · right [q, p] into out [m, p] for a lowered layer: on the tap kernels from
    /// `packed` where they run, else on the `gemm` crate from `left`.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn lowered_product(products: Products, m: usize, q: usize, p: usize, packed: &[f32], left: View<'_>, right: &[f32], out: &mut [f32]) {
        match products {
            Products::Taps => taps::tap_product(m, p, q, &[0], packed, right, p, out, p, false),
            Products::Gemm => matmul(m, p, q, out, p, false, left, View::rows(right, p), false),
        }
    }

    /// Prepares `wperm` for [`ConvLayer::backward_one`] with an input gradient: the input
    /// gradient of a parity layer is the adjoint map, a transposed conv of a conv's output
    /// gradient and a conv of a transposed conv's.
    pub fn prepare_backward(&self, w: &[f32], wperm: &mut [f32]) {
        let products = Products::detect();
        if let Some(wg) = self.winograd() {
            return if self.transposed { wg.pack_forward(w, wperm) } else { wg.pack_adjoint(w, wperm) };
        }
        match self.parity() {
            Some(sh) if self.transposed => sh.conv_weights(products, w, wperm),
            Some(sh) => sh.transposed_conv_weights(products, w, wperm),
            None => self.pack_lowered(products, w, wperm, !self.transposed),
        }
    }

    /// One sample: yo = act(conv(xs) + b), `wperm` as [`ConvLayer::prepare_forward`] left it.
    /// A lowered conv given `keep` ([`ConvLayer::col_len`] elements) builds its column
    /// matrix there, for [`ConvLayer::backward_one`] to reuse.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    pub fn forward_one(&self, w: &[f32], wperm: &[f32], b: &[f32], xs: &[f32], yo: &mut [f32], sc: &mut Scratch, keep: Option<&mut [f32]>) {
        if let Some(wg) = self.winograd() {
            if self.transposed {
                wg.small_tiles(xs, &mut sc.dcol);
                wg.adjoint(wperm, &sc.dcol, &mut sc.col);
                wg.image_of_tiles(&sc.col, &mut sc.phases, yo, Some(b), self.relu);
            } else {
                wg.big_tiles_of_image(xs, &mut sc.phases, &mut sc.col);
                wg.forward(wperm, &sc.col, &mut sc.dcol);
                wg.small_of_tiles(&sc.dcol, yo, Some(b), self.relu);
            }
            return;
        }
        if let Some(sh) = self.parity() {
            let products = Products::detect();
            if self.transposed {
                sh.pad_small(xs, &mut sc.dcol);
                sh.transposed_conv(products, wperm, &sc.dcol, &mut sc.col);
                sh.interleave(&sc.col, yo, Some(b), self.relu);
            } else {
                sh.split_planes(xs, &mut sc.phases);
                sh.conv(products, wperm, &sc.phases, &mut sc.col);
                sh.grid_to_small(&sc.col, yo, Some(b), self.relu);
            }
            return;
        }
        let (g, cs, kk, p) = (self.geom, self.small_channels, self.geom.k(), self.geom.p());
        let products = Products::detect();
        let col = match keep {
            Some(c) if !self.transposed => &mut c[..kk * p],
            _ => &mut sc.col[..kk * p],
        };
        if self.transposed {
            // col [K, P] = Wᵀ [K, C_small] · x [C_small, P], then scattered into y.
            Self::lowered_product(products, kk, cs, p, wperm, View::transposed(w, kk), xs, col);
            yo.fill(0.0);
            g.col2im_add_via_phases(col, yo, &mut sc.phases);
        } else {
            g.im2col_via_phases(xs, col, &mut sc.phases);
            Self::lowered_product(products, cs, kk, p, wperm, View::rows(w, kk), col, yo);
        }
        self.add_bias_and_activation(yo, b);
    }

    /// One sample's output [C, plane] = act(· + bias), channel by channel.
    #[inline(always)]
    fn add_bias_and_activation(&self, yo: &mut [f32], b: &[f32]) {
        let plane = yo.len() / b.len();
        for (row, &bias) in yo.chunks_mut(plane).zip(b) {
            if self.relu {
                row.iter_mut().for_each(|v| *v = (*v + bias).max(0.0));
            } else {
                row.iter_mut().for_each(|v| *v += bias);
            }
        }
    }

    /// One sample's backward: given its input `xs`, output `ys` and output gradient `dyo`
    /// (overwritten with ∂loss/∂ pre-activation), adds its weight and bias gradients to the
    /// partials `dwp` ([`ConvLayer::weight_len`]; a parity layer's in its own layout, see
    /// [`ConvLayer::reduce_gradients`]) and `dbp`, and writes its input gradient into `dxs`
    /// if asked (`wperm` as [`ConvLayer::prepare_backward`] left it). `saved`: the column
    /// matrix [`ConvLayer::forward_one`] kept, if it did.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    pub fn backward_one(
        &self,
        w: &[f32],
        wperm: &[f32],
        xs: &[f32],
        ys: &[f32],
        dyo: &mut [f32],
        dwp: &mut [f32],
        dbp: &mut [f32],
        dxs: Option<&mut [f32]>,
        sc: &mut Scratch,
        saved: Option<&[f32]>,
    ) {
        if let Some(wg) = self.winograd() {
            // V from the big side (the input, or a transposed conv's output gradient, taken
            // through the ReLU on the way), the small side's tiles transposed for the weight
            // gradient.
            if !(self.transposed && wg.gated_tiles(dyo, ys, self.relu, dbp, &mut sc.phases, &mut sc.col)) {
                self.preactivation_gradient(dyo, ys, dbp);
                wg.big_tiles_of_image(if self.transposed { dyo } else { xs }, &mut sc.phases, &mut sc.col);
            }
            let small = if self.transposed { xs } else { &*dyo };
            let half = wg.small_tiles_len();
            let (lt, buf) = sc.dcol.split_at_mut(half);
            wg.small_tiles_transposed(small, buf, lt);
            wg.add_weight_gradient(&sc.col, &sc.dcol[..half], dwp);
            if let Some(dxs) = dxs {
                if self.transposed {
                    wg.forward(wperm, &sc.col, &mut sc.dcol);
                    wg.small_of_tiles(&sc.dcol, dxs, None, false);
                } else {
                    wg.small_tiles(dyo, &mut sc.dcol);
                    wg.adjoint(wperm, &sc.dcol, &mut sc.col);
                    wg.image_of_tiles(&sc.col, &mut sc.phases, dxs, None, false);
                }
            }
            return;
        }
        self.preactivation_gradient(dyo, ys, dbp);
        if let Some(sh) = self.parity() {
            let products = Products::detect();
            let (big, small) = if self.transposed { (&*dyo, xs) } else { (xs, &*dyo) };
            sh.split_planes(big, &mut sc.phases);
            sh.add_conv_weight_gradient(products, small, &mut sc.dcol, &sc.phases, dwp);
            if let Some(dxs) = dxs {
                if self.transposed {
                    sh.conv(products, wperm, &sc.phases, &mut sc.col);
                    sh.grid_to_small(&sc.col, dxs, None, false);
                } else {
                    sh.pad_small(dyo, &mut sc.dcol);
                    sh.transposed_conv(products, wperm, &sc.dcol, &mut sc.col);
                    sh.interleave(&sc.col, dxs, None, false);
                }
            }
            return;
        }
        let (g, cs, kk, p) = (self.geom, self.small_channels, self.geom.k(), self.geom.p());
        let products = Products::detect();
        let col = &mut sc.col[..kk * p];
        let dcol = &mut sc.dcol[..kk * p];
        if self.transposed {
            // The output gradient's patches: dcol [K, P] = im2col(dy).
            g.im2col_via_phases(dyo, dcol, &mut sc.phases);
            // dW [C_small, K] += x [C_small, P] · dcolᵀ.
            Self::add_lowered_weight_gradient(products, cs, kk, p, xs, dcol, col, dwp);
            if let Some(dxs) = dxs {
                Self::lowered_product(products, cs, kk, p, wperm, View::rows(w, kk), dcol, dxs);
            }
        } else {
            let col: &[f32] = match saved {
                Some(v) => &v[..kk * p],
                None => {
                    g.im2col_via_phases(xs, col, &mut sc.phases);
                    col
                }
            };
            // dW [C_small, K] += dy [C_small, P] · colᵀ.
            Self::add_lowered_weight_gradient(products, cs, kk, p, dyo, col, dcol, dwp);
            if let Some(dxs) = dxs {
                Self::lowered_product(products, kk, cs, p, wperm, View::transposed(w, kk), dyo, dcol);
                dxs.fill(0.0);
                g.col2im_add_via_phases(dcol, dxs, &mut sc.phases);
            }
        }
    }

    /// dw [C_small, K] += left [C_small, P] · patchesᵀ (patches [K, P]). The tap kernel reads
    /// the patches transposed, which it writes into `buf` (K·P elements) first (16 × 1024 for
    /// the first conv and the last transposed conv, so that pass stays in cache), while the
    /// `gemm` crate would pack both operands again for every sample.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn add_lowered_weight_gradient(products: Products, cs: usize, kk: usize, p: usize, left: &[f32], patches: &[f32], buf: &mut [f32], dw: &mut [f32]) {
        match products {
            // Short reductions (P = 16 or 64 for the k2 convs) leave the tap kernel storing
            // its accumulators after a few products each; the crate does as well there.
            Products::Taps if p >= 256 => {
                let patches_t = &mut buf[..kk * p];
                crate::transpose::transpose(&patches[..kk * p], kk, p, patches_t);
                taps::tap_weight_gradient(cs, kk, p, &[0], left, p, patches_t, kk, dw);
            }
            _ => matmul(cs, kk, p, dw, kk, true, View::rows(left, p), View::transposed(patches, p), false),
        }
    }

    /// Whether the big image is 8 × 8 (small 4 × 4), whose patches [`crate::patches4`] moves
    /// in registers.
    fn patches4(&self) -> bool {
        self.geom.h == 8 && self.geom.w == 8 && crate::patches4::available()
    }

    /// A group of samples' small images [C_small, P] each, side by side in `xg`
    /// [C_small, G·P] (G = the samples in `xs`).
    #[inline(always)]
    fn gather_group(&self, xs: &[f32], xg: &mut [f32]) {
        let (cs, p) = (self.small_channels, self.geom.p());
        let cnt = xs.len() / (cs * p);
        for (s, x) in xs.chunks_exact(cs * p).enumerate() {
            for (c, row) in x.chunks_exact(p).enumerate() {
                xg[c * cnt * p + s * p..][..p].copy_from_slice(row);
            }
        }
    }

    /// [`ConvLayer::forward_one`] for a [`ConvLayer::grouped`] layer, on the samples of `xs`
    /// (at most [`GROUP`]) at once: col [K, G·P] = Wᵀ · [x_1 … x_G], then each sample's
    /// columns scattered into its output (`wperm` as [`ConvLayer::prepare_forward`] left it).
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn forward_group(&self, w: &[f32], wperm: &[f32], b: &[f32], xs: &[f32], ys: &mut [f32], sc: &mut Scratch) {
        let (g, cs, kk, p) = (self.geom, self.small_channels, self.geom.k(), self.geom.p());
        let cnt = xs.len() / self.input_len();
        let np = cnt * p;
        let (col, xg) = sc.col.split_at_mut(kk * GROUP * p);
        let (col, xg) = (&mut col[..kk * np], &mut xg[..cs * np]);
        self.gather_group(xs, xg);
        Self::lowered_product(Products::detect(), kk, cs, np, wperm, View::transposed(w, kk), xg, col);
        let fast = self.patches4();
        for (s, yo) in ys.chunks_exact_mut(self.output_len()).enumerate() {
            if fast {
                crate::patches4::col2im(&col[s * p..], np, g.channels, yo, Some(b), self.relu);
                continue;
            }
            yo.fill(0.0);
            g.col2im_add_via_phases_strided(&col[s * p..], np, yo, &mut sc.phases);
            self.add_bias_and_activation(yo, b);
        }
    }

    /// [`ConvLayer::backward_one`] for a [`ConvLayer::grouped`] layer, on the samples of `xs`
    /// at once: dcol [K, G·P] = the output gradients' patches side by side, dW += X · dcolᵀ
    /// (X the small images side by side), and dX = W · dcol scattered back to the samples.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn backward_group(&self, w: &[f32], wperm: &[f32], xs: &[f32], ys: &[f32], dys: &mut [f32], dwp: &mut [f32], dbp: &mut [f32], dxs: Option<&mut [f32]>, sc: &mut Scratch) {
        let (g, cs, kk, p, ol) = (self.geom, self.small_channels, self.geom.k(), self.geom.p(), self.output_len());
        let cnt = xs.len() / self.input_len();
        let np = cnt * p;
        let products = Products::detect();
        let dcol = &mut sc.dcol[..kk * np];
        let fast = self.patches4();
        for (s, (dyo, yo)) in dys.chunks_exact_mut(ol).zip(ys.chunks_exact(ol)).enumerate() {
            self.preactivation_gradient(dyo, yo, dbp);
            if fast {
                crate::patches4::im2col(dyo, g.channels, &mut dcol[s * p..], np);
            } else {
                g.im2col_via_phases_strided(dyo, &mut dcol[s * p..], np, &mut sc.phases);
            }
        }
        let (buf, xg) = sc.col.split_at_mut(kk * GROUP * p);
        let (buf, xg) = (&mut buf[..kk * np], &mut xg[..cs * np]);
        self.gather_group(xs, xg);
        Self::add_lowered_weight_gradient(products, cs, kk, np, xg, dcol, buf, dwp);
        if let Some(dxs) = dxs {
            let dxg = &mut buf[..cs * np];
            Self::lowered_product(products, cs, kk, np, wperm, View::rows(w, kk), dcol, dxg);
            for (s, dx) in dxs.chunks_exact_mut(cs * p).enumerate() {
                for (c, row) in dx.chunks_exact_mut(p).enumerate() {
                    row.copy_from_slice(&dxg[c * np + s * p..][..p]);
                }
            }
        }
    }

    /// dw, db (overwritten) = the sum of the per-thread partials of
    /// [`ConvLayer::backward_one`], in order.
    pub fn reduce_gradients<'a>(&self, partials: impl Iterator<Item = (&'a [f32], &'a [f32])>, dw: &mut [f32], db: &mut [f32]) {
        let (wl, bl, pl) = (self.weight_len(), self.bias_len(), self.partial_len());
        let (dw, db) = (&mut dw[..wl], &mut db[..bl]);
        dw.fill(0.0);
        db.fill(0.0);
        let parity = self.parity();
        let winograd = self.winograd();
        let products = Products::detect();
        for (pw, pb) in partials {
            match (&winograd, &parity) {
                (Some(wg), _) => wg.add_gradient_to(&pw[..pl], dw),
                (None, Some(sh)) => sh.add_weight_gradient_to(products, &pw[..wl], dw),
                (None, None) => dw.iter_mut().zip(&pw[..wl]).for_each(|(a, b)| *a += b),
            }
            db.iter_mut().zip(&pb[..bl]).for_each(|(a, b)| *a += b);
        }
    }

    /// y = act(conv(x) + b) for a batch; x and y hold whole samples back to back. A conv
    /// given `saved` (batch × [`ConvLayer::col_len`]) keeps its column matrices there for
    /// [`ConvLayer::backward`], which then need not rebuild them.
    #[allow(clippy::too_many_arguments)]
    pub fn forward(&self, w: &[f32], b: &[f32], x: &[f32], y: &mut [f32], batch: usize, scratch: &mut [Scratch], saved: Option<&mut [f32]>) {
        let (il, ol, cl) = (self.input_len(), self.output_len(), self.col_len());
        let per = per_task(batch, scratch.len());
        let mut wperm = std::mem::take(&mut scratch[0].wperm);
        self.prepare_forward(w, &mut wperm);
        let saved = saved.filter(|_| !self.transposed && self.parity().is_none()).map(|v| {
            assert!(v.len() >= batch * cl, "conv forward: saved columns too small");
            SendPtr(v.as_mut_ptr())
        });
        y[..batch * ol].par_chunks_mut(per * ol).zip(scratch.par_iter_mut()).enumerate().for_each(|(t, (ys, sc))| wide(#[inline(always)] || {
            if self.grouped() {
                for (i, yg) in ys.chunks_mut(GROUP * ol).enumerate() {
                    let (s0, cnt) = (t * per + i * GROUP, yg.len() / ol);
                    self.forward_group(w, &wperm, b, &x[s0 * il..][..cnt * il], yg, sc);
                }
                return;
            }
            for (i, yo) in ys.chunks_mut(ol).enumerate() {
                let s = t * per + i;
                // SAFETY: sample s's columns belong to this task alone.
                let keep = saved.as_ref().map(|ptr| unsafe { std::slice::from_raw_parts_mut(ptr.0.add(s * cl), cl) });
                self.forward_one(w, &wperm, b, &x[s * il..][..il], yo, sc, keep);
            }
        }));
        scratch[0].wperm = wperm;
    }

    /// Given y (the forward output) and dy (∂loss/∂y, overwritten with ∂loss/∂ pre-activation),
    /// writes dw, db (overwritten) and, if asked, dx (overwritten).
    #[allow(clippy::too_many_arguments)]
    pub fn backward(
        &self,
        w: &[f32],
        x: &[f32],
        y: &[f32],
        dy: &mut [f32],
        dw: &mut [f32],
        db: &mut [f32],
        mut dx: Option<&mut [f32]>,
        batch: usize,
        scratch: &mut [Scratch],
        saved: Option<&[f32]>,
    ) {
        let (il, ol, cl) = (self.input_len(), self.output_len(), self.col_len());
        let per = per_task(batch, scratch.len());
        let (wl, bl) = (self.partial_len(), self.bias_len());
        let tasks = batch.div_ceil(per);
        if let Some(d) = &dx {
            assert!(d.len() >= batch * il, "conv backward: dx too small");
        }
        let dx_ptr = dx.as_mut().map(|d| SendPtr(d.as_mut_ptr()));
        let mut wperm = std::mem::take(&mut scratch[0].wperm);
        if dx_ptr.is_some() {
            self.prepare_backward(w, &mut wperm);
        }
        let saved = saved.filter(|_| !self.transposed && self.parity().is_none());
        dy[..batch * ol].par_chunks_mut(per * ol).zip(scratch[..tasks].par_iter_mut()).enumerate().for_each(|(t, (dys, sc))| wide(#[inline(always)] || {
            let (mut dwp, mut dbp) = (std::mem::take(&mut sc.dw), std::mem::take(&mut sc.db));
            dwp[..wl].fill(0.0);
            dbp[..bl].fill(0.0);
            if self.grouped() {
                for (i, dyg) in dys.chunks_mut(GROUP * ol).enumerate() {
                    let (s0, cnt) = (t * per + i * GROUP, dyg.len() / ol);
                    // SAFETY: these samples' slice of dx belongs to this task alone.
                    let dxg = dx_ptr.as_ref().map(|ptr| unsafe { std::slice::from_raw_parts_mut(ptr.0.add(s0 * il), cnt * il) });
                    self.backward_group(w, &wperm, &x[s0 * il..][..cnt * il], &y[s0 * ol..][..cnt * ol], dyg, &mut dwp[..wl], &mut dbp[..bl], dxg, sc);
                }
                (sc.dw, sc.db) = (dwp, dbp);
                return;
            }
            for (i, dyo) in dys.chunks_mut(ol).enumerate() {
                let s = t * per + i;
                // SAFETY: sample s's slice of dx belongs to this task alone.
                let dxs = dx_ptr.as_ref().map(|ptr| unsafe { std::slice::from_raw_parts_mut(ptr.0.add(s * il), il) });
                let cols = saved.map(|v| &v[s * cl..(s + 1) * cl]);
                self.backward_one(w, &wperm, &x[s * il..][..il], &y[s * ol..][..ol], dyo, &mut dwp[..wl], &mut dbp[..bl], dxs, sc, cols);
            }
            (sc.dw, sc.db) = (dwp, dbp);
        }));
        scratch[0].wperm = wperm;
        self.reduce_gradients(scratch[..tasks].iter().map(|sc| (&sc.dw[..], &sc.db[..])), dw, db);
    }

    /// One sample's output gradient `dy` → ∂loss/∂ pre-activation (through the ReLU, read off
    /// the output `y`), its per-channel sums added to `db`.
    #[inline(always)]
    fn preactivation_gradient(&self, dy: &mut [f32], y: &[f32], db: &mut [f32]) {
        if self.relu {
            // Branch-free, so it compiles to one masked select per vector.
            dy.iter_mut().zip(y).for_each(|(d, &v)| *d = if v > 0.0 { *d } else { 0.0 });
        }
        let plane = dy.len() / db.len();
        for (row, acc) in dy.chunks(plane).zip(db.iter_mut()) {
            *acc += fast_sum(row);
        }
    }
}

/// Samples a [`ConvLayer::grouped`] layer computes at once.
pub const GROUP: usize = 4;
/// The largest small image (pixels) of a [`ConvLayer::grouped`] layer.
pub const GROUP_MAX_PIXELS: usize = 16;

/// A raw pointer that may cross to rayon's threads; each task touches a disjoint range.
#[derive(Clone, Copy)]
pub(crate) struct SendPtr(pub *mut f32);
unsafe impl Send for SendPtr {}
unsafe impl Sync for SendPtr {}

#[cfg(test)]
mod tests {
    use super::*;

    fn direct_conv(g: &Geometry, cs: usize, w: &[f32], x: &[f32]) -> Vec<f32> {
        let mut y = vec![0.0; cs * g.p()];
        for co in 0..cs {
            for oy in 0..g.oh {
                for ox in 0..g.ow {
                    let mut acc = 0.0;
                    for c in 0..g.channels {
                        for ky in 0..g.kh {
                            for kx in 0..g.kw {
                                let iy = (oy * g.stride + ky) as isize - g.pad as isize;
                                let ix = (ox * g.stride + kx) as isize - g.pad as isize;
                                if iy >= 0 && ix >= 0 && (iy as usize) < g.h && (ix as usize) < g.w {
                                    acc += x[(c * g.h + iy as usize) * g.w + ix as usize]
                                        * w[((co * g.channels + c) * g.kh + ky) * g.kw + kx];
                                }
                            }
                        }
                    }
                    y[(co * g.oh + oy) * g.ow + ox] = acc;
                }
            }
        }
        y
    }

    /// The lowered layers' three products (forward, input gradient, weight gradient) on the
    /// tap kernels and on the `gemm` crate, against an f64 sum, for the shapes the models use
    /// and ragged ones.
    #[test]
    fn lowered_products_on_either_path_equal_an_f64_sum() {
        let paths: &[Products] = if taps::available() { &[Products::Taps, Products::Gemm] } else { &[Products::Gemm] };
        for &(cs, kk, p) in &[(32, 16, 1024), (64, 128, 64), (64, 256, 16), (160, 256, 16), (1, 16, 1024), (5, 7, 300), (9, 3, 257)] {
            let w: Vec<f32> = (0..cs * kk).map(|i| (i as f32 * 0.31).sin()).collect();
            let right: Vec<f32> = (0..kk.max(cs) * p).map(|i| (i as f32 * 0.17).cos()).collect();
            let left: Vec<f32> = (0..cs * p).map(|i| (i as f32 * 0.23).sin()).collect();
            // A 1 × 1 conv from kk channels to cs: its K is kk, as pack_lowered reads it.
            let layer = ConvLayer { geom: Geometry::new(kk, 1, 1, 1, 1, 1, 0), small_channels: cs, transposed: false, relu: false };
            for &products in paths {
                // W [cs, kk] · right [kk, p] and Wᵀ [kk, cs] · right [cs, p].
                for transposed_left in [false, true] {
                    let (m, q) = if transposed_left { (kk, cs) } else { (cs, kk) };
                    let mut packed = vec![0.0; taps::packed_len(m, q).max(1)];
                    layer.pack_lowered(products, &w, &mut packed, transposed_left);
                    let view = if transposed_left { View::transposed(&w, kk) } else { View::rows(&w, kk) };
                    let mut out = vec![f32::NAN; m * p];
                    ConvLayer::lowered_product(products, m, q, p, &packed, view, &right[..q * p], &mut out);
                    for i in 0..m {
                        for j in 0..p {
                            let a = |l: usize| if transposed_left { w[l * kk + i] } else { w[i * kk + l] } as f64;
                            let terms = (0..q).map(|l| a(l) * right[l * p + j] as f64);
                            let (want, mag) = (terms.clone().sum::<f64>(), terms.map(f64::abs).sum::<f64>());
                            let got = out[i * p + j] as f64;
                            assert!((got - want).abs() <= (q + 1) as f64 * 1.2e-7 * mag, "{products:?} {m}×{q}×{p} ({i}, {j}): {got} vs {want}");
                        }
                    }
                }
                // dW [cs, kk] += left [cs, p] · patchesᵀ, patches [kk, p].
                let start: Vec<f32> = (0..cs * kk).map(|i| (i as f32 * 0.07).cos()).collect();
                let mut dw = start.clone();
                let mut buf = vec![f32::NAN; kk * p];
                ConvLayer::add_lowered_weight_gradient(products, cs, kk, p, &left, &right[..kk * p], &mut buf, &mut dw);
                for i in 0..cs {
                    for l in 0..kk {
                        let terms = (0..p).map(|j| left[i * p + j] as f64 * right[l * p + j] as f64);
                        let want = start[i * kk + l] as f64 + terms.clone().sum::<f64>();
                        let mag = start[i * kk + l].abs() as f64 + terms.map(f64::abs).sum::<f64>();
                        let got = dw[i * kk + l] as f64;
                        assert!((got - want).abs() <= (p + 2) as f64 * 1.2e-7 * mag, "{products:?} dW {cs}×{kk}×{p} ({i}, {l}): {got} vs {want}");
                    }
                }
            }
        }
    }

    #[test]
    fn lowered_conv_equals_the_direct_sum_and_col2im_is_its_adjoint() {
        for (h, k, s, p) in [(8, 4, 2, 1), (8, 2, 2, 0), (7, 3, 1, 0), (6, 3, 2, 1), (7, 4, 2, 1), (9, 3, 2, 2), (5, 2, 2, 0)] {
            let g = Geometry::new(3, h, h, k, k + (s == 1) as usize, s, p);
            let cs = 4;
            let x: Vec<f32> = (0..g.big_len()).map(|i| (i as f32 * 0.7).sin()).collect();
            let w: Vec<f32> = (0..cs * g.k()).map(|i| (i as f32 * 0.3).cos()).collect();
            let layer = ConvLayer { geom: g, small_channels: cs, transposed: false, relu: false };
            let mut scratch: Vec<Scratch> = (0..2).map(|_| Scratch::default()).collect();
            scratch.iter_mut().for_each(|s| s.reserve(layer.col_len(), layer.weight_len(), cs, g.phase_len(), layer.wperm_len()));
            let mut y = vec![0.0; cs * g.p()];
            layer.forward(&w, &vec![0.0; cs], &x, &mut y, 1, &mut scratch, None);
            let want = direct_conv(&g, cs, &w, &x);
            for (a, b) in y.iter().zip(&want) {
                assert!((a - b).abs() < 1e-4, "{a} vs {b}");
            }
            // <im2col(x), c> = <x, col2im(c)>.
            let c: Vec<f32> = (0..g.k() * g.p()).map(|i| (i as f32 * 0.13).sin()).collect();
            let mut col = vec![0.0; g.k() * g.p()];
            g.im2col(&x, &mut col);
            let mut back = vec![0.0; g.big_len()];
            g.col2im_add(&c, &mut back);
            // The parity-plane lowering gives exactly the same matrices.
            let mut phases = vec![f32::NAN; g.phase_len()];
            let mut col2 = vec![f32::NAN; g.k() * g.p()];
            g.im2col_via_phases(&x, &mut col2, &mut phases);
            assert_eq!(col, col2, "{g:?}");
            let mut back2 = vec![0.0; g.big_len()];
            g.col2im_add_via_phases(&c, &mut back2, &mut phases);
            for (a, b) in back.iter().zip(&back2) {
                assert!((a - b).abs() < 1e-5, "{g:?}");
            }
            let lhs: f64 = col.iter().zip(&c).map(|(a, b)| (*a * *b) as f64).sum();
            let rhs: f64 = x.iter().zip(&back).map(|(a, b)| (*a * *b) as f64).sum();
            assert!((lhs - rhs).abs() < 1e-3 * lhs.abs().max(1.0));
        }
    }

    /// im2col / col2im into and out of a wider matrix (the grouped layers' side-by-side
    /// samples) are the unstrided ones, row by row.
    #[test]
    fn strided_patches_are_the_unstrided_ones_row_by_row() {
        for g in [Geometry::new(3, 8, 8, 4, 4, 2, 1), Geometry::new(2, 6, 10, 4, 4, 2, 1)] {
            let (k, p, ld) = (g.k(), g.p(), g.p() * 3 + 5);
            let img: Vec<f32> = (0..g.channels * g.h * g.w).map(|i| (i as f32 * 0.37).sin()).collect();
            let mut phases = vec![0.0; g.phase_len()];
            let mut want = vec![f32::NAN; k * p];
            g.im2col_via_phases(&img, &mut want, &mut phases);
            let mut got = vec![f32::NAN; k * ld];
            g.im2col_via_phases_strided(&img, &mut got[p..], ld, &mut phases);
            for r in 0..k {
                assert_eq!(&got[p + r * ld..][..p], &want[r * p..][..p], "{g:?} im2col row {r}");
            }
            let back_want = {
                let mut v = vec![0.5; img.len()];
                g.col2im_add_via_phases(&want, &mut v, &mut phases);
                v
            };
            let mut back = vec![0.5; img.len()];
            g.col2im_add_via_phases_strided(&got[p..], ld, &mut back, &mut phases);
            assert_eq!(back, back_want, "{g:?} col2im");
        }
    }

    /// A grouped layer's batch passes (groups of samples side by side, patches in registers
    /// where the CPU has them) against the same layer sample by sample through the lowering:
    /// outputs, weight, bias and input gradients, on a batch that leaves a partial group.
    #[test]
    fn grouped_passes_equal_the_sample_by_sample_lowering() {
        let layer = ConvLayer { geom: Geometry::new(6, 8, 8, 4, 4, 2, 1), small_channels: 5, transposed: true, relu: true };
        assert!(layer.grouped() && layer.parity().is_none());
        let (il, ol, n) = (layer.input_len(), layer.output_len(), GROUP + 3);
        let w: Vec<f32> = (0..layer.weight_len()).map(|i| (i as f32 * 0.41).sin() * 0.3).collect();
        let b: Vec<f32> = (0..layer.bias_len()).map(|i| (i as f32 * 0.7).cos() * 0.1).collect();
        let x: Vec<f32> = (0..n * il).map(|i| (i as f32 * 0.13).sin()).collect();
        let dy0: Vec<f32> = (0..n * ol).map(|i| (i as f32 * 0.29).cos()).collect();
        let mut sc = Scratch::default();
        sc.reserve(layer.scratch_len(), layer.partial_len(), layer.bias_len(), layer.scratch_phase_len(), layer.wperm_len());
        let mut scratch = vec![sc];

        let mut y = vec![f32::NAN; n * ol];
        layer.forward(&w, &b, &x, &mut y, n, &mut scratch, None);
        let (mut dy, mut dx) = (dy0.clone(), vec![f32::NAN; n * il]);
        let (mut dw, mut db) = (vec![f32::NAN; layer.weight_len()], vec![f32::NAN; layer.bias_len()]);
        layer.backward(&w, &x, &y, &mut dy, &mut dw, &mut db, Some(&mut dx), n, &mut scratch, None);

        let sc = &mut scratch[0];
        let (mut fw, mut bw) = (vec![0.0; layer.wperm_len()], vec![0.0; layer.wperm_len()]);
        layer.prepare_forward(&w, &mut fw);
        layer.prepare_backward(&w, &mut bw);
        let (mut want_dw, mut want_db) = (vec![0.0; layer.weight_len()], vec![0.0; layer.bias_len()]);
        let close = |a: &[f32], b: &[f32], what: &str| {
            let scale = b.iter().fold(1.0f32, |m, v| m.max(v.abs()));
            for (i, (p, q)) in a.iter().zip(b).enumerate() {
                assert!((p - q).abs() <= 1e-5 * scale, "{what}[{i}]: {p} vs {q}");
            }
        };
        for s in 0..n {
            let mut yo = vec![f32::NAN; ol];
            layer.forward_one(&w, &fw, &b, &x[s * il..][..il], &mut yo, sc, None);
            close(&y[s * ol..][..ol], &yo, &format!("output of sample {s}"));
            let (mut dyo, mut dxs) = (dy0[s * ol..][..ol].to_vec(), vec![f32::NAN; il]);
            layer.backward_one(&w, &bw, &x[s * il..][..il], &yo, &mut dyo, &mut want_dw, &mut want_db, Some(&mut dxs), sc, None);
            close(&dx[s * il..][..il], &dxs, &format!("input gradient of sample {s}"));
        }
        close(&dw, &want_dw, "weight gradient");
        close(&db, &want_db, "bias gradient");
    }

}
