//! Convolutions (stride s, symmetric zero padding p, kernel kh×kw) and their transposes,
//! lowered onto GEMM through im2col / col2im, one sample at a time inside one task per
//! thread, so each thread's column buffer stays in its own cache.
//!
//! A conv maps a "big" image [C, H, W] to a "small" one [C', H', W']; the transposed conv
//! used by the decoder is its adjoint with the same geometry, small → big. Both therefore
//! share one [`Geometry`] and the same two lowering kernels ([`lowering`]). Each layer's
//! [`Algorithm`] is decided once, when the network is built, from its shape and the engine's
//! [`Kernels`]: the k4 s2 p1 layers between ≥ 16-channel images run as parity GEMMs
//! ([`crate::parity`]) or, where the images are wide enough, through Winograd's transforms
//! ([`crate::winograd`]); the decoder's first transposed conv lowers groups of samples side by
//! side; the rest are lowered one sample at a time.
//!
//! Each layer works one sample at a time ([`ConvLayer::forward_one`],
//! [`ConvLayer::backward_one`]) after preparing its weights once per pass
//! ([`ConvLayer::prepare_forward`], [`ConvLayer::prepare_backward`]); [`crate::network`]
//! chains whole stacks of layers per sample, and [`ConvLayer::forward`] /
//! [`ConvLayer::backward`] run one layer over a batch.

use rayon::prelude::*;

use crate::kernels::{Kernels, Products};
use crate::matmul::{View, matmul};
use crate::parity::ParityShape;
use crate::simd::wide;
use crate::taps;
use crate::winograd::Winograd;

mod lowering;
pub use lowering::Geometry;

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

/// Per-thread buffers of the conv layers, sized once for the largest layer. What the two
/// work buffers hold depends on the layer's [`Algorithm`]:
///
/// | algorithm | `work_a` | `work_b` | `planes` |
/// |---|---|---|---|
/// | lowered | the column matrix (patches) | the columns' gradient | parity planes of one image |
/// | grouped | the group's columns, then its small images side by side | the group's column gradients | as lowered |
/// | parity | the conv's output grid, or the transposed conv's four parity outputs | the padded small image, or the small image's gradient transposed | the big image's parity planes |
/// | Winograd | the big side's tiles V (or their gradient) | the small side's tiles (L, M, or Lᵀ and its buffer) | the planes the tiles come from or go to |
#[derive(Debug, Default)]
pub struct Scratch {
    pub work_a: Vec<f32>,
    pub work_b: Vec<f32>,
    pub planes: Vec<f32>,
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
    pub fn reserve(&mut self, work: usize, weights: usize, bias: usize, planes: usize, wperm: usize) {
        for (buf, n) in [(&mut self.work_a, work), (&mut self.work_b, work), (&mut self.dw, weights), (&mut self.db, bias), (&mut self.planes, planes), (&mut self.wperm, wperm)] {
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

/// How a conv layer computes, decided once by [`ConvLayer::new`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// im2col / col2im and one product per sample.
    Lowered,
    /// Lowered for [`GROUP`] samples side by side (see [`ConvLayer::groups_samples`]);
    /// `patches_in_registers`: the 8 × 8 image's patches move in AVX-512 registers
    /// ([`crate::patches4`]).
    Grouped { patches_in_registers: bool },
    /// Products straight out of the parity planes ([`crate::parity`]).
    Parity(ParityShape),
    /// The parity products through Winograd's transforms ([`crate::winograd`]).
    Winograd(Winograd),
}

/// A conv layer (big → small) or a transposed conv layer (small → big), with its plan.
#[derive(Debug, Clone, Copy)]
pub struct ConvLayer {
    pub geom: Geometry,
    /// Channels of the small image.
    pub small_channels: usize,
    /// `true`: the transposed conv (decoder), input small, output big.
    pub transposed: bool,
    pub relu: bool,
    kernels: Kernels,
    algorithm: Algorithm,
}

impl ConvLayer {
    /// The layer and its [`Algorithm`] for `kernels`.
    pub fn new(geom: Geometry, small_channels: usize, transposed: bool, relu: bool, kernels: Kernels) -> Self {
        let mut layer = ConvLayer { geom, small_channels, transposed, relu, kernels, algorithm: Algorithm::Lowered };
        layer.algorithm = if layer.groups_samples() {
            Algorithm::Grouped { patches_in_registers: geom.h == 8 && geom.w == 8 && kernels.vectors() == crate::simd::Level::Avx512 }
        } else if let Some(sh) = layer.parity_fit() {
            Winograd::for_shape(sh, &kernels).map_or(Algorithm::Parity(sh), Algorithm::Winograd)
        } else {
            Algorithm::Lowered
        };
        layer
    }
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
    pub fn kernels(&self) -> &Kernels {
        &self.kernels
    }
    fn products(&self) -> Products {
        self.kernels.products()
    }

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

    /// The parity shape of a layer that runs on its parity planes (the parity GEMMs or
    /// Winograd's transforms), else `None`.
    pub fn parity_shape(&self) -> Option<ParityShape> {
        match self.algorithm {
            Algorithm::Parity(sh) => Some(sh),
            Algorithm::Winograd(wg) => Some(wg.sh),
            Algorithm::Lowered | Algorithm::Grouped { .. } => None,
        }
    }
    /// The k4 s2 p1 layers between images of at least 16 channels run on parity planes
    /// ([`crate::parity`]); the others (a 1-channel image on either side, other kernels) are
    /// lowered through im2col, which suits their shapes better.
    fn parity_fit(&self) -> Option<ParityShape> {
        let g = self.geom;
        let fits = g.kh == 4 && g.kw == 4 && g.stride == 2 && g.pad == 1 && g.h.is_multiple_of(2) && g.w.is_multiple_of(2) && g.h > 0 && g.w > 0;
        (fits && g.channels >= 16 && self.small_channels >= 16 && !self.groups_samples()).then_some(ParityShape {
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
    fn groups_samples(&self) -> bool {
        let g = self.geom;
        self.transposed && g.kh == 4 && g.kw == 4 && g.stride == 2 && g.pad == 1 && g.p() <= GROUP_MAX_PIXELS
    }
    /// Whether the layer lowers groups of samples side by side.
    pub fn grouped(&self) -> bool {
        matches!(self.algorithm, Algorithm::Grouped { .. })
    }
    /// The layer's Winograd form, if it runs through Winograd's transforms.
    pub fn winograd(&self) -> Option<Winograd> {
        match self.algorithm {
            Algorithm::Winograd(wg) => Some(wg),
            _ => None,
        }
    }
    /// Per-thread column-buffer elements this layer needs (`col` and `dcol` alike).
    pub fn scratch_len(&self) -> usize {
        if self.grouped() {
            // col [K, G·P] and the group's small images side by side [C_small, G·P].
            return (self.geom.k() + self.small_channels) * GROUP * self.geom.p();
        }
        let parity = self.parity_shape().map_or(self.col_len(), |sh| sh.buffer_len());
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
        let p = self.products();
        let lowered = self.weight_len().max(p.packed_len(cs, kk)).max(p.packed_len(kk, cs));
        let parity = self.parity_shape().map_or(lowered, |sh| self.weight_len().max(sh.down_packed_len(p)).max(sh.up_packed_len(p)));
        self.winograd().map_or(parity, |wg| parity.max(wg.forward_packed_len()).max(wg.adjoint_packed_len()))
    }
    /// Per-thread phase-buffer elements this layer needs.
    pub fn scratch_phase_len(&self) -> usize {
        self.parity_shape().map_or(self.geom.phase_len(), |sh| sh.planes_len())
    }

    /// Prepares `wperm` ([`ConvLayer::wperm_len`]) for [`ConvLayer::forward_one`]: a parity
    /// layer's weights permuted or packed for its products; a lowered layer's packed for the
    /// tap kernels where they run (once per layer and step, where the `gemm` crate would pack
    /// them again for every sample), else left unused.
    pub fn prepare_forward(&self, w: &[f32], wperm: &mut [f32]) {
        let products = self.products();
        match self.algorithm {
            // A transposed conv is the adjoint of the conv with the same weights.
            Algorithm::Winograd(wg) if self.transposed => wg.pack_adjoint(w, wperm),
            Algorithm::Winograd(wg) => wg.pack_forward(w, wperm),
            Algorithm::Parity(sh) if self.transposed => sh.transposed_conv_weights(products, w, wperm),
            Algorithm::Parity(sh) => sh.conv_weights(products, w, wperm),
            Algorithm::Lowered | Algorithm::Grouped { .. } => self.pack_lowered(w, wperm, self.transposed),
        }
    }

    /// A lowered layer's weights packed for [`taps::tap_product`]: as the left operand
    /// Wᵀ [K, C_small] when `transposed_left`, else W [C_small, K]. Nothing without the tap
    /// kernels.
    fn pack_lowered(&self, w: &[f32], wperm: &mut [f32], transposed_left: bool) {
        let Products::Taps(isa) = self.products() else { return };
        let (cs, kk) = (self.small_channels, self.geom.k());
        if transposed_left {
            taps::pack(isa, kk, cs, wperm, |row, q| w[q * kk + row]);
        } else {
            taps::pack(isa, cs, kk, wperm, |row, q| w[row * kk + q]);
        }
    }

    /// left [m, q] · right [q, p] into out [m, p] for a lowered layer: on the tap kernels from
    /// `packed` where they run, else on the `gemm` crate from `left`.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn lowered_product(products: Products, m: usize, q: usize, p: usize, packed: &[f32], left: View<'_>, right: &[f32], out: &mut [f32]) {
        match products {
            Products::Taps(isa) => taps::tap_product(isa, m, p, q, &[0], packed, right, p, out, p, false),
            Products::Gemm => matmul(m, p, q, out, p, false, left, View::rows(right, p), false),
        }
    }

    /// Prepares `wperm` for [`ConvLayer::backward_one`] with an input gradient: the input
    /// gradient of a parity layer is the adjoint map, a transposed conv of a conv's output
    /// gradient and a conv of a transposed conv's.
    pub fn prepare_backward(&self, w: &[f32], wperm: &mut [f32]) {
        let products = self.products();
        match self.algorithm {
            Algorithm::Winograd(wg) if self.transposed => wg.pack_forward(w, wperm),
            Algorithm::Winograd(wg) => wg.pack_adjoint(w, wperm),
            Algorithm::Parity(sh) if self.transposed => sh.conv_weights(products, w, wperm),
            Algorithm::Parity(sh) => sh.transposed_conv_weights(products, w, wperm),
            Algorithm::Lowered | Algorithm::Grouped { .. } => self.pack_lowered(w, wperm, !self.transposed),
        }
    }

    /// One sample: yo = act(conv(xs) + b), `wperm` as [`ConvLayer::prepare_forward`] left it.
    /// A lowered conv given `keep` ([`ConvLayer::col_len`] elements) builds its column
    /// matrix there, for [`ConvLayer::backward_one`] to reuse. (A grouped layer runs
    /// [`ConvLayer::forward_group`] instead.)
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    pub fn forward_one(&self, w: &[f32], wperm: &[f32], b: &[f32], xs: &[f32], yo: &mut [f32], sc: &mut Scratch, keep: Option<&mut [f32]>) {
        let products = self.products();
        match self.algorithm {
            Algorithm::Winograd(wg) => {
                let (big_tiles, small_tiles) = (&mut sc.work_a, &mut sc.work_b);
                if self.transposed {
                    wg.small_tiles(xs, small_tiles);
                    wg.adjoint(wperm, small_tiles, big_tiles);
                    wg.image_of_tiles(big_tiles, &mut sc.planes, yo, Some(b), self.relu);
                } else {
                    wg.big_tiles_of_image(xs, &mut sc.planes, big_tiles);
                    wg.forward(wperm, big_tiles, small_tiles);
                    wg.small_of_tiles(small_tiles, yo, Some(b), self.relu);
                }
            }
            Algorithm::Parity(sh) => {
                let (out, small) = (&mut sc.work_a, &mut sc.work_b);
                if self.transposed {
                    sh.pad_small(xs, small);
                    sh.transposed_conv(products, wperm, small, out);
                    sh.interleave(out, yo, Some(b), self.relu);
                } else {
                    sh.split_planes(xs, &mut sc.planes);
                    sh.conv(products, wperm, &sc.planes, out);
                    sh.grid_to_small(out, yo, Some(b), self.relu);
                }
            }
            Algorithm::Lowered | Algorithm::Grouped { .. } => {
                let (g, cs, kk, p) = (self.geom, self.small_channels, self.geom.k(), self.geom.p());
                let col = match keep {
                    Some(c) if !self.transposed => &mut c[..kk * p],
                    _ => &mut sc.work_a[..kk * p],
                };
                if self.transposed {
                    // col [K, P] = Wᵀ [K, C_small] · x [C_small, P], then scattered into y.
                    Self::lowered_product(products, kk, cs, p, wperm, View::transposed(w, kk), xs, col);
                    yo.fill(0.0);
                    g.col2im_add_via_phases(col, yo, &mut sc.planes);
                } else {
                    g.im2col_via_phases(xs, col, &mut sc.planes);
                    Self::lowered_product(products, cs, kk, p, wperm, View::rows(w, kk), col, yo);
                }
                self.add_bias_and_activation(yo, b);
            }
        }
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
    /// partials `dwp` ([`ConvLayer::partial_len`]; a parity or Winograd layer's in its own
    /// layout, see [`ConvLayer::reduce_gradients`]) and `dbp`, and writes its input gradient
    /// into `dxs` if asked (`wperm` as [`ConvLayer::prepare_backward`] left it). `saved`: the
    /// column matrix [`ConvLayer::forward_one`] kept, if it did.
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
        let products = self.products();
        match self.algorithm {
            Algorithm::Winograd(wg) => {
                // V from the big side (the input, or a transposed conv's output gradient,
                // taken through the ReLU on the way), the small side's tiles transposed for
                // the weight gradient.
                let (big_tiles, small_tiles) = (&mut sc.work_a, &mut sc.work_b);
                if !(self.transposed && wg.gated_tiles(dyo, ys, self.relu, dbp, &mut sc.planes, big_tiles)) {
                    self.preactivation_gradient(dyo, ys, dbp);
                    wg.big_tiles_of_image(if self.transposed { dyo } else { xs }, &mut sc.planes, big_tiles);
                }
                let small = if self.transposed { xs } else { &*dyo };
                let half = wg.small_tiles_len();
                let (lt, buf) = small_tiles.split_at_mut(half);
                wg.small_tiles_transposed(small, buf, lt);
                wg.add_weight_gradient(big_tiles, lt, dwp);
                if let Some(dxs) = dxs {
                    if self.transposed {
                        wg.forward(wperm, big_tiles, small_tiles);
                        wg.small_of_tiles(small_tiles, dxs, None, false);
                    } else {
                        wg.small_tiles(dyo, small_tiles);
                        wg.adjoint(wperm, small_tiles, big_tiles);
                        wg.image_of_tiles(big_tiles, &mut sc.planes, dxs, None, false);
                    }
                }
            }
            Algorithm::Parity(sh) => {
                self.preactivation_gradient(dyo, ys, dbp);
                let (out, small) = (&mut sc.work_a, &mut sc.work_b);
                let (big, small_image) = if self.transposed { (&*dyo, xs) } else { (xs, &*dyo) };
                sh.split_planes(big, &mut sc.planes);
                sh.add_conv_weight_gradient(products, small_image, small, &sc.planes, dwp);
                if let Some(dxs) = dxs {
                    if self.transposed {
                        sh.conv(products, wperm, &sc.planes, out);
                        sh.grid_to_small(out, dxs, None, false);
                    } else {
                        sh.pad_small(dyo, small);
                        sh.transposed_conv(products, wperm, small, out);
                        sh.interleave(out, dxs, None, false);
                    }
                }
            }
            Algorithm::Lowered | Algorithm::Grouped { .. } => {
                self.preactivation_gradient(dyo, ys, dbp);
                let (g, cs, kk, p) = (self.geom, self.small_channels, self.geom.k(), self.geom.p());
                let col = &mut sc.work_a[..kk * p];
                let dcol = &mut sc.work_b[..kk * p];
                if self.transposed {
                    // The output gradient's patches: dcol [K, P] = im2col(dy).
                    g.im2col_via_phases(dyo, dcol, &mut sc.planes);
                    // dW [C_small, K] += x [C_small, P] · dcolᵀ.
                    self.add_lowered_weight_gradient(cs, kk, p, xs, dcol, col, dwp);
                    if let Some(dxs) = dxs {
                        Self::lowered_product(products, cs, kk, p, wperm, View::rows(w, kk), dcol, dxs);
                    }
                } else {
                    let col: &[f32] = match saved {
                        Some(v) => &v[..kk * p],
                        None => {
                            g.im2col_via_phases(xs, col, &mut sc.planes);
                            col
                        }
                    };
                    // dW [C_small, K] += dy [C_small, P] · colᵀ.
                    self.add_lowered_weight_gradient(cs, kk, p, dyo, col, dcol, dwp);
                    if let Some(dxs) = dxs {
                        Self::lowered_product(products, kk, cs, p, wperm, View::transposed(w, kk), dyo, dcol);
                        dxs.fill(0.0);
                        g.col2im_add_via_phases(dcol, dxs, &mut sc.planes);
                    }
                }
            }
        }
    }

    /// dw [C_small, K] += left [C_small, P] · patchesᵀ (patches [K, P]). The tap kernel reads
    /// the patches transposed, which it writes into `buf` (K·P elements) first (16 × 1024 for
    /// the first conv and the last transposed conv, so that pass stays in cache), while the
    /// `gemm` crate would pack both operands again for every sample.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn add_lowered_weight_gradient(&self, cs: usize, kk: usize, p: usize, left: &[f32], patches: &[f32], buf: &mut [f32], dw: &mut [f32]) {
        match self.products() {
            // Short reductions (P = 16 or 64 for the k2 convs) leave the tap kernel storing
            // its accumulators after a few products each; the crate does as well there.
            Products::Taps(isa) if p >= 256 => {
                let patches_t = &mut buf[..kk * p];
                crate::transpose::transpose(self.kernels.vectors(), &patches[..kk * p], kk, p, patches_t);
                taps::tap_weight_gradient(isa, cs, kk, p, &[0], left, p, patches_t, kk, dw);
            }
            _ => matmul(cs, kk, p, dw, kk, true, View::rows(left, p), View::transposed(patches, p), false),
        }
    }

    /// Whether the big image's patches move in registers ([`crate::patches4`]).
    fn patches_in_registers(&self) -> bool {
        matches!(self.algorithm, Algorithm::Grouped { patches_in_registers: true })
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
        let (col, xg) = sc.work_a.split_at_mut(kk * GROUP * p);
        let (col, xg) = (&mut col[..kk * np], &mut xg[..cs * np]);
        self.gather_group(xs, xg);
        Self::lowered_product(self.products(), kk, cs, np, wperm, View::transposed(w, kk), xg, col);
        let fast = self.patches_in_registers();
        for (s, yo) in ys.chunks_exact_mut(self.output_len()).enumerate() {
            if fast {
                crate::patches4::col2im(&col[s * p..], np, g.channels, yo, Some(b), self.relu);
                continue;
            }
            yo.fill(0.0);
            g.col2im_add_via_phases_strided(&col[s * p..], np, yo, &mut sc.planes);
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
        let dcol = &mut sc.work_b[..kk * np];
        let fast = self.patches_in_registers();
        for (s, (dyo, yo)) in dys.chunks_exact_mut(ol).zip(ys.chunks_exact(ol)).enumerate() {
            self.preactivation_gradient(dyo, yo, dbp);
            if fast {
                crate::patches4::im2col(dyo, g.channels, &mut dcol[s * p..], np);
            } else {
                g.im2col_via_phases_strided(dyo, &mut dcol[s * p..], np, &mut sc.planes);
            }
        }
        let (buf, xg) = sc.work_a.split_at_mut(kk * GROUP * p);
        let (buf, xg) = (&mut buf[..kk * np], &mut xg[..cs * np]);
        self.gather_group(xs, xg);
        self.add_lowered_weight_gradient(cs, kk, np, xg, dcol, buf, dwp);
        if let Some(dxs) = dxs {
            let dxg = &mut buf[..cs * np];
            Self::lowered_product(self.products(), cs, kk, np, wperm, View::rows(w, kk), dcol, dxg);
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
        for (pw, pb) in partials {
            match self.algorithm {
                Algorithm::Winograd(wg) => wg.add_gradient_to(&pw[..pl], dw),
                Algorithm::Parity(sh) => sh.add_weight_gradient_to(self.products(), &pw[..wl], dw),
                Algorithm::Lowered | Algorithm::Grouped { .. } => dw.iter_mut().zip(&pw[..wl]).for_each(|(a, b)| *a += b),
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
        let saved = saved.filter(|_| !self.transposed && self.parity_shape().is_none()).map(|v| {
            assert!(v.len() >= batch * cl, "conv forward: saved columns too small");
            SendPtr(v.as_mut_ptr())
        });
        y[..batch * ol].par_chunks_mut(per * ol).zip(scratch.par_iter_mut()).enumerate().for_each(|(t, (ys, sc))| wide(self.kernels.vectors(), #[inline(always)] || {
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
        let saved = saved.filter(|_| !self.transposed && self.parity_shape().is_none());
        dy[..batch * ol].par_chunks_mut(per * ol).zip(scratch[..tasks].par_iter_mut()).enumerate().for_each(|(t, (dys, sc))| wide(self.kernels.vectors(), #[inline(always)] || {
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
mod tests;
