//! Winograd's minimal filtering F(2×2, 2×2) for the parity convolutions between wide images
//! ([`crate::parity`]): 9 multiplications per output tile and channel pair instead of 16.
//!
//! Over its parity planes P (4B channels, see [`ParityShape::split_planes`]) a k4 s2 p1 conv
//! is a stride-1 2×2 correlation, y[s] = Σ_c g[s, c] ⋆ P[c]. Cut the output into 2 × 2 tiles;
//! the 3 × 3 block d of a plane under a tile gives it as
//!
//!   Y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A,   Bᵀ = [1 −1 0; 0 1 0; 0 −1 1],  G = [1 0; 1 1; 0 1],
//!                                      Aᵀ = [1 1 0; 0 1 1],
//!
//! every entry ±1 or 0, so the transforms only add and subtract (no scaling, so the rounding
//! is that of a few more additions, not the growth of the larger Winograd tiles). Summed over
//! the input channels, the ⊙ is nine GEMMs per sample: M_e [S, T] = U_e [S, 4B] · V_e [4B, T]
//! for the nine entries e = (i, j) of the 3 × 3 blocks, T = tiles, U = G g Gᵀ transformed
//! once per layer and step, V = Bᵀ d B per sample — 9 · S · 4B · T multiplications where the
//! parity GEMMs do 16 · S · 4B · T. The same nine matrices give the other two products of
//! training, each also 9/16 of its parity GEMMs:
//! - the adjoint map (a conv's input gradient, and a transposed conv's forward pass, which is
//!   that adjoint with the same weights): V'_e = U_eᵀ · M'_e with M' = A y Aᵀ per tile, the
//!   planes then B V' Bᵀ summed over the overlapping tiles;
//! - the weight gradient: dU_e = Σ_tiles M'_e · V_eᵀ, mapped back by Gᵀ dU G.
//!
//! The transforms are plain loops over rows of tiles, and with AVX-512 loops permutes of whole
//! rows for the reference models' shapes ([`avx512`]: rows of eight tiles; the 8 × 8 small
//! images' 4 × 4 tiles, one vector per channel and entry); the products run on the tap
//! kernels ([`crate::taps`]), so this path is taken only where the [`Kernels`] run the convs'
//! products on them. Per sample the GEMMs are T columns wide, so only images with enough
//! tiles gain ([`Winograd::for_shape`]).

use crate::kernels::{Kernels, WinogradPolicy};
use crate::parity::ParityShape;
use crate::simd::Level;
use crate::taps::{self, Isa};

/// Rows of G (for U = G g Gᵀ and its adjoint Gᵀ dU G).
const G: [[f32; 2]; 3] = [[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]];

/// Elements left between consecutive matrices of a set of nine (V_e, L_e, M_e): their sizes
/// are multiples of 4 KiB for the reference models (V_e 32 KiB), so the nine rows a
/// transform writes at once would otherwise share their address bits below 4 KiB and
/// compete for the same L1 sets and store-to-load checks.
const SKEW: usize = 16;

/// The widest plane row (w + 1) the transforms' row buffers hold.
const MAX_ROW: usize = 129;

/// Fewest tiles per sample for which the nine T-column products beat the parity GEMMs with
/// the generic transforms: the 16 × 16 small images (conv2 and deconv3 of the reference
/// models), measured with `examples/layer_times.rs` (`docs/benchmarks.md`).
const DEFAULT_MIN_TILES: usize = 64;
/// The same where the transforms run in AVX-512 registers (rows of eight tiles, or the 8 × 8
/// small images' 4 × 4 tiles: deconv2 of the reference decoder gains with its 16).
const FAST_MIN_TILES: usize = 16;

/// One parity layer's shape, run through Winograd's transforms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Winograd {
    pub sh: ParityShape,
    /// The tap kernels its nine products run on.
    isa: Isa,
    /// The registers its transforms may run in where the shape has a form for them
    /// ([`avx512`], [`avx2`]; else the generic loops).
    transforms: Level,
}

impl Winograd {
    /// The Winograd form of `sh` where `kernels` take this path and it pays: the products
    /// run on tap kernels, the small image splits into whole 2 × 2 tiles, and there are
    /// enough of them ([`WinogradPolicy`]). The transforms run in AVX-512 registers where
    /// the kernels' loops are AVX-512 (in AVX2 registers, for rows of eight tiles, where they
    /// are AVX2).
    pub fn for_shape(sh: ParityShape, kernels: &Kernels) -> Option<Self> {
        let wg = Self::new(sh, kernels.taps()?, kernels.vectors())?;
        let min = match kernels.winograd() {
            WinogradPolicy::Off => return None,
            WinogradPolicy::FromTiles(n) => n,
            WinogradPolicy::Measured if wg.fast_transforms() => FAST_MIN_TILES,
            WinogradPolicy::Measured => DEFAULT_MIN_TILES,
        };
        (wg.tiles() >= min).then_some(wg)
    }
    /// The Winograd form of `sh` on the tap kernels of `isa`, its transforms in the registers
    /// of `transforms` where the shape has a form for them (the generic loops where the CPU
    /// lacks that level), whenever the shape fits, whatever its tile count.
    pub fn new(sh: ParityShape, isa: Isa, transforms: Level) -> Option<Self> {
        let fits = sh.h.is_multiple_of(2) && sh.w.is_multiple_of(2) && sh.h > 0 && sh.w < MAX_ROW;
        let transforms = if transforms.supported() { transforms } else { Level::Baseline };
        (fits && isa.supported()).then_some(Winograd { sh, isa, transforms })
    }
    /// The registers its transforms may run in.
    pub fn transforms(&self) -> Level {
        self.transforms
    }

    /// Plane channels (b, py, px): the reduction of the forward products.
    fn k(&self) -> usize {
        4 * self.sh.big_channels
    }
    fn s(&self) -> usize {
        self.sh.small_channels
    }
    fn th(&self) -> usize {
        self.sh.h / 2
    }
    fn tw(&self) -> usize {
        self.sh.w / 2
    }
    /// Whether the AVX-512 transforms for rows of eight tiles run: w = 16 (the 16 × 16 small
    /// images of the reference models), an even number of tile rows, and AVX-512F.
    #[cfg(target_arch = "x86_64")]
    fn eight_wide(&self) -> bool {
        self.transforms == Level::Avx512 && self.tw() == 8 && self.th().is_multiple_of(2)
    }
    /// Whether the AVX-512 transforms for 8 × 8 small images (4 × 4 tiles, one vector per
    /// channel and entry) run.
    #[cfg(target_arch = "x86_64")]
    fn four_wide(&self) -> bool {
        self.transforms == Level::Avx512 && self.tw() == 4 && self.th() == 4
    }
    /// Whether the AVX2 forms of [`Winograd::big_tiles`] and [`Winograd::planes_of_tiles`]
    /// run: rows of eight tiles (w = 16) and AVX2 loops.
    #[cfg(target_arch = "x86_64")]
    fn eight_wide_avx2(&self) -> bool {
        self.transforms == Level::Avx2 && self.tw() == 8
    }
    /// Whether this shape's transforms run in AVX-512 registers.
    fn fast_transforms(&self) -> bool {
        #[cfg(target_arch = "x86_64")]
        return self.eight_wide() || self.four_wide();
        #[cfg(not(target_arch = "x86_64"))]
        false
    }
    /// Tiles per sample.
    pub fn tiles(&self) -> usize {
        self.th() * self.tw()
    }
    /// Elements from one of a set of nine matrices of `rows` × T (or T × `rows`) to the
    /// next: their size and [`SKEW`].
    fn stride(&self, rows: usize) -> usize {
        rows * self.tiles() + SKEW
    }
    /// Elements of the planes' tiles V [9, 4B, T] (and of their gradient).
    pub fn big_tiles_len(&self) -> usize {
        9 * self.stride(self.k())
    }
    /// Elements of the small image's tiles [9, S, T] (either layout).
    pub fn small_tiles_len(&self) -> usize {
        9 * self.stride(self.s())
    }
    /// Elements of a weight-gradient partial, dUᵀ [9, 4B, S].
    pub fn partial_len(&self) -> usize {
        9 * self.k() * self.s()
    }
    /// Elements of the packed U of [`Winograd::pack_forward`].
    pub fn forward_packed_len(&self) -> usize {
        9 * taps::packed_len(self.isa, self.s(), self.k())
    }
    /// Elements of the packed Uᵀ of [`Winograd::pack_adjoint`].
    pub fn adjoint_packed_len(&self) -> usize {
        9 * taps::packed_len(self.isa, self.k(), self.s())
    }

    /// U_e[s, c] = (G g Gᵀ)[i, j] for e = (i, j), g the 2 × 2 kernel of output channel s on
    /// plane c = (b, py, px): g[a, a'] = W[s, b, 2a + py, 2a' + px] (W is [S, B, 4, 4]); the
    /// definition [`Winograd::transform_all`] is tested against.
    #[cfg(test)]
    fn transformed(&self, w: &[f32], e: usize, s: usize, c: usize) -> f32 {
        let (b, py, px) = (c / 4, (c % 4) / 2, c % 2);
        let kernel = &w[(s * self.sh.big_channels + b) * 16..][..16];
        let (gi, gj) = (G[e / 3], G[e % 3]);
        let mut acc = 0.0;
        for a in 0..2 {
            for a2 in 0..2 {
                acc += gi[a] * gj[a2] * kernel[(2 * a + py) * 4 + 2 * a2 + px];
            }
        }
        acc
    }

    /// All of U [9, S, 4B] into `u`: [`Winograd::transformed`]'s sums (the same operations
    /// in the same order), each kernel read once for its nine entries.
    fn transform_all(&self, w: &[f32], u: &mut [f32]) {
        let (sn, k) = (self.s(), self.k());
        let u = &mut u[..9 * sn * k];
        for s in 0..sn {
            for c in 0..k {
                let (b, py, px) = (c / 4, (c % 4) / 2, c % 2);
                let kernel = &w[(s * self.sh.big_channels + b) * 16..][..16];
                let g = [[kernel[py * 4 + px], kernel[py * 4 + 2 + px]], [kernel[(2 + py) * 4 + px], kernel[(2 + py) * 4 + 2 + px]]];
                for e in 0..9 {
                    let (gi, gj) = (G[e / 3], G[e % 3]);
                    let mut acc = 0.0;
                    for a in 0..2 {
                        for a2 in 0..2 {
                            acc += gi[a] * gj[a2] * g[a][a2];
                        }
                    }
                    u[(e * sn + s) * k + c] = acc;
                }
            }
        }
    }

    /// Runs `f` on U [9, S, 4B] of `w` ([`Winograd::transform_all`]), in a per-thread buffer
    /// that grows once to the largest layer and is then reused (packing runs every step).
    fn with_transformed<R>(&self, w: &[f32], f: impl FnOnce(&[f32]) -> R) -> R {
        thread_local! {
            static U: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        U.with_borrow_mut(|u| {
            let len = 9 * self.s() * self.k();
            if u.len() < len {
                u.resize(len, 0.0);
            }
            self.transform_all(w, u);
            f(&u[..len])
        })
    }

    /// W [S, B, 4, 4] as the nine left operands U_e [S, 4B] of [`Winograd::forward`].
    pub fn pack_forward(&self, w: &[f32], out: &mut [f32]) {
        let (sn, k) = (self.s(), self.k());
        let len = taps::packed_len(self.isa, sn, k);
        self.with_transformed(w, |u| {
            for e in 0..9 {
                let ue = &u[e * sn * k..][..sn * k];
                taps::pack(self.isa, sn, k, &mut out[e * len..(e + 1) * len], |s, c| ue[s * k + c]);
            }
        });
    }
    /// W [S, B, 4, 4] as the nine left operands U_eᵀ [4B, S] of [`Winograd::adjoint`].
    pub fn pack_adjoint(&self, w: &[f32], out: &mut [f32]) {
        let (sn, k) = (self.s(), self.k());
        let len = taps::packed_len(self.isa, k, sn);
        self.with_transformed(w, |u| {
            for e in 0..9 {
                let ue = &u[e * sn * k..][..sn * k];
                taps::pack(self.isa, k, sn, &mut out[e * len..(e + 1) * len], |c, s| ue[s * k + c]);
            }
        });
    }
    /// dw [S, B, 4, 4] += Gᵀ dU G for a partial dUᵀ [9, 4B, S] of
    /// [`Winograd::add_weight_gradient`].
    pub fn add_gradient_to(&self, dut: &[f32], dw: &mut [f32]) {
        let (k, sn, bn) = (self.k(), self.s(), self.sh.big_channels);
        let dut = &dut[..self.partial_len()];
        for s in 0..sn {
            for c in 0..k {
                let (b, py, px) = (c / 4, (c % 4) / 2, c % 2);
                let du: [f32; 9] = std::array::from_fn(|e| dut[(e * k + c) * sn + s]);
                let kernel = &mut dw[(s * bn + b) * 16..][..16];
                for a in 0..2 {
                    for a2 in 0..2 {
                        let mut acc = 0.0;
                        for (e, d) in du.iter().enumerate() {
                            acc += G[e / 3][a] * G[e % 3][a2] * d;
                        }
                        kernel[(2 * a + py) * 4 + 2 * a2 + px] += acc;
                    }
                }
            }
        }
    }

    /// [`Winograd::big_tiles`] of the parity planes of `big` [B, 2h, 2w]: for rows of eight
    /// tiles one channel's four planes at a time, split into the start of `planes` (so they
    /// stay in L1 between the split and the transform) instead of all of them first;
    /// otherwise [`ParityShape::split_planes`] into `planes`, then [`Winograd::big_tiles`].
    #[inline(always)]
    pub fn big_tiles_of_image(&self, big: &[f32], planes: &mut [f32], v: &mut [f32]) {
        if !self.fast_image_tiles(big, None, planes, v) {
            self.sh.split_planes(big, planes);
            self.big_tiles(planes, v);
        }
    }

    /// Where this shape's transforms are fast (true; false: nothing done, the caller gates
    /// `dy` itself and takes [`Winograd::big_tiles_of_image`]): the tiles of a transposed
    /// conv's output gradient `dy` taken through the layer's ReLU (read off its output `y`,
    /// where `relu`), each channel's sum of it added to `db` (the bias gradient), in one pass
    /// over the gradient instead of two; `dy` is left as it was.
    #[inline(always)]
    pub fn gated_tiles(&self, dy: &[f32], y: &[f32], relu: bool, db: &mut [f32], planes: &mut [f32], v: &mut [f32]) -> bool {
        self.fast_image_tiles(dy, Some((y, relu, &mut db[..self.sh.big_channels])), planes, v)
    }

    /// The AVX-512 tiles of the images in `big` where this shape has them (false: not done),
    /// the images first gated by `gate` (output, ReLU, bias-gradient sums) if given.
    #[inline(always)]
    fn fast_image_tiles(&self, big: &[f32], gate: Option<(&[f32], bool, &mut [f32])>, planes: &mut [f32], v: &mut [f32]) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            let (bn, image) = (self.sh.big_channels, 4 * self.sh.h * self.sh.w);
            let big = &big[..bn * image];
            let v = &mut v[..self.big_tiles_len()];
            // The gate as raw parts: the output (null: no ReLU) and the sums.
            let (y, sums) = match gate {
                Some((y, relu, sums)) => (if relu { y[..bn * image].as_ptr() } else { std::ptr::null() }, Some(&mut sums[..bn])),
                None => (std::ptr::null(), None),
            };
            if self.four_wide() {
                // SAFETY: AVX-512F is there (four_wide); the slices hold B images of 16 × 16
                // (and as many outputs when y is not null) and the nine entries.
                unsafe { avx512::image_tiles4(bn, big.as_ptr(), y, sums, v.as_mut_ptr(), self.stride(self.k())) };
                return true;
            }
            if self.eight_wide() {
                let local = &mut planes[..4 * (self.sh.h + 1) * (self.sh.w + 1)];
                // SAFETY: AVX-512F is there (eight_wide); the slices above hold every element
                // the kernels touch (images of 2h rows of 32, and outputs as many when y is not
                // null; four planes of h + 1 rows of 17; 9 · 4B · T tiles).
                unsafe { avx512::image_tiles8(bn, self.th(), big.as_ptr(), y, sums, local.as_mut_ptr(), v.as_mut_ptr(), self.stride(self.k())) };
                return true;
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = (big, gate, planes, v);
        false
    }

    /// The adjoint of [`Winograd::big_tiles_of_image`], then act(· + bias) as
    /// [`Winograd::merge_planes`]: the big image [B, 2h, 2w] from its tiles' gradient `dv`
    /// ([`Winograd::planes_of_tiles`] then [`Winograd::merge_planes`], for rows of eight tiles
    /// one channel at a time through the start of `planes`).
    #[inline(always)]
    pub fn image_of_tiles(&self, dv: &[f32], planes: &mut [f32], big: &mut [f32], bias: Option<&[f32]>, relu: bool) {
        #[cfg(target_arch = "x86_64")]
        if self.four_wide() {
            let (dv, big) = (&dv[..self.big_tiles_len()], &mut big[..self.sh.big_channels * 256]);
            let bias = bias.map(|b| &b[..self.sh.big_channels]);
            // SAFETY: as in big_tiles_of_image.
            unsafe { avx512::image_of_tiles4(self.sh.big_channels, dv.as_ptr(), self.stride(self.k()), big.as_mut_ptr(), bias, relu) };
            return;
        }
        #[cfg(target_arch = "x86_64")]
        if self.eight_wide() {
            let plane = (self.sh.h + 1) * (self.sh.w + 1);
            let (bn, image) = (self.sh.big_channels, 4 * self.sh.h * self.sh.w);
            let (dv, local, big) = (&dv[..self.big_tiles_len()], &mut planes[..4 * plane], &mut big[..bn * image]);
            let bias = bias.map(|b| &b[..bn]);
            // SAFETY: as in big_tiles_of_image.
            unsafe { avx512::image_of_tiles8(bn, self.th(), dv.as_ptr(), local.as_mut_ptr(), big.as_mut_ptr(), bias, relu, self.stride(self.k())) };
            return;
        }
        self.planes_of_tiles(dv, planes);
        self.merge_planes(planes, big, bias, relu);
    }

    /// The planes' tiles V_e[c, t] = (Bᵀ d B)[i, j], d the 3 × 3 block of plane c under tile
    /// t = (ty, tx): rows 2ty.., columns 2tx.. . `v` gets [`Winograd::big_tiles_len`].
    #[inline(always)]
    pub fn big_tiles(&self, planes: &[f32], v: &mut [f32]) {
        let (k, t, th, tw) = (self.k(), self.tiles(), self.th(), self.tw());
        let (r, plane) = (self.sh.w + 1, (self.sh.h + 1) * (self.sh.w + 1));
        let kt = self.stride(k);
        let v = &mut v[..9 * kt];
        let planes = &planes[..k * plane];
        #[cfg(target_arch = "x86_64")]
        if self.eight_wide() {
            // SAFETY: AVX-512F is there (eight_wide); the slices above hold every element
            // the kernel touches (rows of 17 = w + 1, th even, 9 · K · T outputs).
            unsafe { avx512::big_tiles8(k, th, plane, planes.as_ptr(), v.as_mut_ptr(), kt) };
            return;
        }
        #[cfg(target_arch = "x86_64")]
        if self.eight_wide_avx2() {
            // SAFETY: AVX2 and FMA are there (the level was supported when built); the slices
            // above hold every element the kernel touches (rows of 17, 9 · K · T outputs).
            unsafe { avx2::big_tiles8(k, th, plane, planes.as_ptr(), v.as_mut_ptr(), kt) };
            return;
        }
        let mut rows = [[0.0f32; MAX_ROW]; 3];
        for c in 0..k {
            let p = &planes[c * plane..][..plane];
            for ty in 0..th {
                // Bᵀ d: the rows d0 − d1, d1, d2 − d1 (whole plane rows, shared by the tiles).
                let (p0, p1, p2) = (&p[2 * ty * r..][..r], &p[(2 * ty + 1) * r..][..r], &p[(2 * ty + 2) * r..][..r]);
                let [t0, t1, t2] = &mut rows;
                for (((d0, d2), a), (b, c2)) in t0[..r].iter_mut().zip(&mut t2[..r]).zip(p0).zip(p1.iter().zip(p2)) {
                    *d0 = a - b;
                    *d2 = c2 - b;
                }
                t1[..r].copy_from_slice(p1);
                let at = c * t + ty * tw;
                for (i, row) in rows.iter().enumerate() {
                    // (Bᵀ d) B: columns 2tx − (2tx + 1), 2tx + 1, (2tx + 2) − (2tx + 1).
                    let (head, tail) = v.split_at_mut((3 * i + 1) * kt);
                    let (mid, last) = tail.split_at_mut(kt);
                    let (o0, o1, o2) = (&mut head[3 * i * kt + at..][..tw], &mut mid[at..][..tw], &mut last[at..][..tw]);
                    for (tx, ((a, b), c2)) in o0.iter_mut().zip(o1.iter_mut()).zip(o2.iter_mut()).enumerate() {
                        let (e, o, e2) = (row[2 * tx], row[2 * tx + 1], row[2 * tx + 2]);
                        *a = e - o;
                        *b = o;
                        *c2 = e2 - o;
                    }
                }
            }
        }
    }

    /// The planes' gradient from their tiles' gradient `dv` ([9, 4B, T]): B dV Bᵀ per tile,
    /// summed where tiles overlap (their shared rows and columns). Overwrites the planes,
    /// padding included (a gradient there is discarded by [`Winograd::merge_planes`]).
    #[inline(always)]
    pub fn planes_of_tiles(&self, dv: &[f32], planes: &mut [f32]) {
        let (k, t, th, tw) = (self.k(), self.tiles(), self.th(), self.tw());
        let (r, plane) = (self.sh.w + 1, (self.sh.h + 1) * (self.sh.w + 1));
        let kt = self.stride(k);
        let dv = &dv[..9 * kt];
        let planes = &mut planes[..k * plane];
        #[cfg(target_arch = "x86_64")]
        if self.eight_wide() {
            // SAFETY: as in big_tiles.
            unsafe { avx512::planes_of_tiles8(k, th, plane, dv.as_ptr(), planes.as_mut_ptr(), kt) };
            return;
        }
        #[cfg(target_arch = "x86_64")]
        if self.eight_wide_avx2() {
            // SAFETY: as above.
            unsafe { avx2::planes_of_tiles8(k, th, plane, dv.as_ptr(), planes.as_mut_ptr(), kt) };
            return;
        }
        let mut dt = [[0.0f32; MAX_ROW]; 3];
        let mut carry = [0.0f32; MAX_ROW];
        for c in 0..k {
            let p = &mut planes[c * plane..][..plane];
            carry[..r].fill(0.0);
            for ty in 0..th {
                let at = c * t + ty * tw;
                for (i, row) in dt.iter_mut().enumerate() {
                    let (v0, v1, v2) = (&dv[3 * i * kt + at..][..tw], &dv[(3 * i + 1) * kt + at..][..tw], &dv[(3 * i + 2) * kt + at..][..tw]);
                    // Column 2tx gets v0 of tile tx and v2 of tile tx − 1; 2tx + 1 its own.
                    for (tx, ((a, b), c2)) in v0.iter().zip(v1).zip(v2).enumerate() {
                        row[2 * tx] = *a;
                        row[2 * tx + 1] = b - a - c2;
                    }
                    row[2 * tw] = 0.0;
                    for (tx, c2) in v2.iter().enumerate() {
                        row[2 * tx + 2] += *c2;
                    }
                }
                plane_rows_of_tile_row(p, ty, r, [&dt[0][..r], &dt[1][..r], &dt[2][..r]], &mut carry[..r]);
            }
            p[2 * th * r..][..r].copy_from_slice(&carry[..r]);
        }
    }

    /// Planes (as [`ParityShape::split_planes`] lays them out) back into the big image
    /// [B, 2h, 2w], padding dropped: act(value + bias), or the plain values.
    #[inline(always)]
    pub fn merge_planes(&self, planes: &[f32], big: &mut [f32], bias: Option<&[f32]>, relu: bool) {
        let (h, w) = (self.sh.h, self.sh.w);
        let (r, plane) = (w + 1, (h + 1) * (w + 1));
        let (bh, bw) = (2 * h, 2 * w);
        for b in 0..self.sh.big_channels {
            let c = bias.map_or(0.0, |v| v[b]);
            let four = &planes[b * 4 * plane..][..4 * plane];
            for (y, dst) in big[b * bh * bw..][..bh * bw].chunks_exact_mut(bw).enumerate() {
                let (i, py) = (y.div_ceil(2), (y + 1) % 2);
                // Odd pixels 2x + 1 sit in plane (py, 0) at column x + 1, even ones 2x in
                // (py, 1) at column x.
                let odd = &four[2 * py * plane + i * r..][1..r];
                let even = &four[(2 * py + 1) * plane + i * r..][..w];
                for ((pair, e), o) in dst.chunks_exact_mut(2).zip(even).zip(odd) {
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

    /// The small image's tiles L_e[s, t] = (A y Aᵀ)[i, j], y its 2 × 2 tile t: the right
    /// operands of [`Winograd::adjoint`]. `l` gets [`Winograd::small_tiles_len`].
    #[inline(always)]
    pub fn small_tiles(&self, small: &[f32], l: &mut [f32]) {
        let (sn, t, th, tw, w) = (self.s(), self.tiles(), self.th(), self.tw(), self.sh.w);
        let st = self.stride(sn);
        let l = &mut l[..9 * st];
        let small = &small[..sn * self.sh.h * w];
        #[cfg(target_arch = "x86_64")]
        if self.four_wide() {
            // SAFETY: AVX-512F is there (four_wide); the slices above hold every element.
            unsafe { avx512::small_tiles4(sn, small.as_ptr(), l.as_mut_ptr(), st) };
            return;
        }
        #[cfg(target_arch = "x86_64")]
        if self.eight_wide() {
            // SAFETY: AVX-512F is there (eight_wide); the slices above hold every element.
            unsafe { avx512::small_tiles8(sn, th, small.as_ptr(), l.as_mut_ptr(), st) };
            return;
        }
        for s in 0..sn {
            for ty in 0..th {
                let r0 = &small[(s * self.sh.h + 2 * ty) * w..][..w];
                let r1 = &small[(s * self.sh.h + 2 * ty + 1) * w..][..w];
                let at = s * t + ty * tw;
                for tx in 0..tw {
                    let (y00, y01, y10, y11) = (r0[2 * tx], r0[2 * tx + 1], r1[2 * tx], r1[2 * tx + 1]);
                    let rows = [(y00, y01), (y00 + y10, y01 + y11), (y10, y11)];
                    for (i, (a, b)) in rows.into_iter().enumerate() {
                        l[3 * i * st + at + tx] = a;
                        l[(3 * i + 1) * st + at + tx] = a + b;
                        l[(3 * i + 2) * st + at + tx] = b;
                    }
                }
            }
        }
    }

    /// The same tiles transposed, Lᵀ_e [T, S]: the gradient operand of
    /// [`Winograd::add_weight_gradient`]. `lt` gets [`Winograd::small_tiles_len`].
    ///
    /// The small image is first transposed into `buf` ([`Winograd::transposed_len`]
    /// elements, [h · (w + 1), S]), so each tile's four pixels are four contiguous vectors
    /// over the channels and every output row is one contiguous vector too.
    #[inline(always)]
    pub fn small_tiles_transposed(&self, small: &[f32], buf: &mut [f32], lt: &mut [f32]) {
        let (sn, th, tw, r) = (self.s(), self.th(), self.tw(), self.sh.w + 1);
        let st = self.stride(sn);
        let lt = &mut lt[..9 * st];
        #[cfg(target_arch = "x86_64")]
        if self.four_wide() && sn.is_multiple_of(16) {
            let small = &small[..sn * 64];
            // SAFETY: AVX-512F is there (four_wide), S is a multiple of 16, and the slices
            // hold every element.
            unsafe { avx512::small_tiles_transposed4(sn, small.as_ptr(), lt.as_mut_ptr(), st) };
            return;
        }
        #[cfg(target_arch = "x86_64")]
        if self.eight_wide() && sn.is_multiple_of(16) {
            let (small, buf) = (&small[..sn * self.sh.h * self.sh.w], &mut buf[..self.transposed_len()]);
            // SAFETY: AVX-512F is there (eight_wide), S is a multiple of 16, and the slices
            // above hold every element.
            unsafe { avx512::small_tiles_transposed8(sn, th, small.as_ptr(), buf.as_mut_ptr(), lt.as_mut_ptr(), st) };
            return;
        }
        self.sh.small_transposed(small, buf);
        let mut parts = lt.chunks_exact_mut(st);
        let out: [&mut [f32]; 9] = std::array::from_fn(|_| parts.next().expect("nine tile entries"));
        for ty in 0..th {
            for tx in 0..tw {
                let q = 2 * ty * r + 2 * tx;
                let (y00, y01) = (&buf[q * sn..][..sn], &buf[(q + 1) * sn..][..sn]);
                let (y10, y11) = (&buf[(q + r) * sn..][..sn], &buf[(q + r + 1) * sn..][..sn]);
                let at = (ty * tw + tx) * sn;
                // Rows of A y: (y00, y01), (y00 + y10, y01 + y11), (y10, y11); then · Aᵀ.
                for s in 0..sn {
                    let (a0, b0, a2, b2) = (y00[s], y01[s], y10[s], y11[s]);
                    let (a1, b1) = (a0 + a2, b0 + b2);
                    out[0][at + s] = a0;
                    out[1][at + s] = a0 + b0;
                    out[2][at + s] = b0;
                    out[3][at + s] = a1;
                    out[4][at + s] = a1 + b1;
                    out[5][at + s] = b1;
                    out[6][at + s] = a2;
                    out[7][at + s] = a2 + b2;
                    out[8][at + s] = b2;
                }
            }
        }
    }
    /// Elements of the buffer [`Winograd::small_tiles_transposed`] needs.
    pub fn transposed_len(&self) -> usize {
        self.sh.h * (self.sh.w + 1) * self.s()
    }

    /// small [S, h, w] = act(Aᵀ M A + bias) per tile, from the products M [9, S, T] of
    /// [`Winograd::forward`]; or the plain values.
    #[inline(always)]
    pub fn small_of_tiles(&self, m: &[f32], small: &mut [f32], bias: Option<&[f32]>, relu: bool) {
        let (sn, t, th, tw, w) = (self.s(), self.tiles(), self.th(), self.tw(), self.sh.w);
        let st = self.stride(sn);
        let m = &m[..9 * st];
        let small = &mut small[..sn * self.sh.h * w];
        #[cfg(target_arch = "x86_64")]
        if self.four_wide() {
            let bias = bias.map(|b| &b[..sn]);
            // SAFETY: AVX-512F is there (four_wide); the slices above hold every element.
            unsafe { avx512::small_of_tiles4(sn, m.as_ptr(), small.as_mut_ptr(), bias, relu, st) };
            return;
        }
        #[cfg(target_arch = "x86_64")]
        if self.eight_wide() {
            let bias = bias.map(|b| &b[..sn]);
            // SAFETY: AVX-512F is there (eight_wide); the slices above hold every element.
            unsafe { avx512::small_of_tiles8(sn, th, m.as_ptr(), small.as_mut_ptr(), bias, relu, st) };
            return;
        }
        let act = |v: f32| if relu { v.max(0.0) } else { v };
        for s in 0..sn {
            let c = bias.map_or(0.0, |v| v[s]);
            for ty in 0..th {
                let at = s * t + ty * tw;
                let me: [&[f32]; 9] = std::array::from_fn(|e| &m[e * st + at..][..tw]);
                let (r0, r1) = small[(s * self.sh.h + 2 * ty) * w..][..2 * w].split_at_mut(w);
                for tx in 0..tw {
                    // Aᵀ M: rows m0 + m1 and m1 + m2; then · A: columns 0 + 1 and 1 + 2.
                    let a: [f32; 3] = std::array::from_fn(|j| me[j][tx] + me[3 + j][tx]);
                    let b: [f32; 3] = std::array::from_fn(|j| me[3 + j][tx] + me[6 + j][tx]);
                    r0[2 * tx] = act(a[0] + a[1] + c);
                    r0[2 * tx + 1] = act(a[1] + a[2] + c);
                    r1[2 * tx] = act(b[0] + b[1] + c);
                    r1[2 * tx + 1] = act(b[1] + b[2] + c);
                }
            }
        }
    }

    /// M_e [S, T] = U_e · V_e for the nine e, from [`Winograd::pack_forward`]'s weights and
    /// [`Winograd::big_tiles`]: the conv in the transformed domain.
    #[inline(always)]
    pub fn forward(&self, packed: &[f32], v: &[f32], m: &mut [f32]) {
        self.nine_products(self.s(), self.k(), packed, v, m);
    }

    /// V'_e [4B, T] = U_eᵀ · L_e for the nine e, from [`Winograd::pack_adjoint`]'s weights
    /// and [`Winograd::small_tiles`]: the transposed conv in the transformed domain.
    #[inline(always)]
    pub fn adjoint(&self, packed: &[f32], l: &[f32], dv: &mut [f32]) {
        self.nine_products(self.k(), self.s(), packed, l, dv);
    }

    /// out_e [rows, T] = A_e · right_e [red, T] for the nine e, A_e packed ([`taps::pack`])
    /// one after the other.
    #[inline(always)]
    fn nine_products(&self, rows: usize, red: usize, packed: &[f32], right: &[f32], out: &mut [f32]) {
        let (t, rs, os) = (self.tiles(), self.stride(red), self.stride(rows));
        let len = taps::packed_len(self.isa, rows, red);
        for e in 0..9 {
            taps::tap_product(self.isa, rows, t, red, &[0], &packed[e * len..(e + 1) * len], &right[e * rs..][..red * t], t, &mut out[e * os..][..rows * t], t, false);
        }
    }

    /// dUᵀ_e [4B, S] += V_e · Lᵀ_e for the nine e: the weight gradient in the transformed
    /// domain, from the big side's tiles ([`Winograd::big_tiles`]) and the small side's
    /// gradient tiles ([`Winograd::small_tiles_transposed`]).
    #[inline(always)]
    pub fn add_weight_gradient(&self, v: &[f32], lt: &[f32], dut: &mut [f32]) {
        let (k, sn, t) = (self.k(), self.s(), self.tiles());
        let (vs, ls) = (self.stride(k), self.stride(sn));
        for e in 0..9 {
            taps::tap_weight_gradient(self.isa, k, sn, t, &[0], &v[e * vs..][..k * t], t, &lt[e * ls..][..sn * t], sn, &mut dut[e * k * sn..(e + 1) * k * sn]);
        }
    }
}

/// Plane rows 2ty and 2ty + 1 of `p` (rows of `r`) from tile row ty's column-combined rows
/// `dt` (B applied to the columns of dV): row 2ty gets dt0 and `carry` (dt2 of the tile row
/// above), row 2ty + 1 its own dt1 − dt0 − dt2; `carry` becomes dt2. Shared by the generic
/// loops and the AVX2 form ([`avx2`]), which inlines it into its AVX2 code.
#[inline(always)]
fn plane_rows_of_tile_row(p: &mut [f32], ty: usize, r: usize, dt: [&[f32]; 3], carry: &mut [f32]) {
    let (row0, rest) = p[2 * ty * r..].split_at_mut(r);
    for ((o, a), cy) in row0.iter_mut().zip(dt[0]).zip(&*carry) {
        *o = a + cy;
    }
    for (((o, a), b), c2) in rest[..r].iter_mut().zip(dt[0]).zip(dt[1]).zip(dt[2]) {
        *o = b - a - c2;
    }
    carry.copy_from_slice(&dt[2][..r]);
}

/// The transforms in AVX-512 registers (see its header).
#[cfg(target_arch = "x86_64")]
mod avx512;
/// Two of the transforms in AVX2 registers (see its header).
#[cfg(target_arch = "x86_64")]
mod avx2;

#[cfg(test)]
mod tests;
