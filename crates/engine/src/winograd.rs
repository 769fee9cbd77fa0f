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
//! The transforms are plain loops over rows of tiles, and AVX-512 permutes of whole rows for
//! the reference models' shapes (rows of eight tiles; the 8 × 8 small images' 4 × 4 tiles,
//! one vector per channel and entry); the products run on the tap kernels
//! ([`crate::taps`]), so this path is taken only where those run. Per sample the GEMMs are T
//! columns wide, so only images with enough tiles gain ([`Winograd::for_shape`]).

use std::sync::OnceLock;

use crate::parity::ParityShape;
use crate::taps;

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

/// When [`Winograd::for_shape`] takes this path.
#[derive(Debug, Clone, Copy)]
enum Use {
    /// `DISENTANGLE_ENGINE_WINOGRAD=off` (or `0`).
    Never,
    /// `=N`: from N tiles up.
    From(usize),
    /// Unset: from [`DEFAULT_MIN_TILES`], or [`FAST_MIN_TILES`] with the fast transforms.
    Default,
}

fn usage() -> Use {
    static USE: OnceLock<Use> = OnceLock::new();
    *USE.get_or_init(|| match std::env::var("DISENTANGLE_ENGINE_WINOGRAD").as_deref() {
        Ok("off") | Ok("0") => Use::Never,
        Ok(v) => v.parse().ok().filter(|&n: &usize| n > 0).map_or(Use::Default, Use::From),
        Err(_) => Use::Default,
    })
}

/// One parity layer's shape, run through Winograd's transforms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Winograd {
    pub sh: ParityShape,
}

impl Winograd {
    /// The Winograd form of `sh` where it applies and pays: the tap kernels run, the small
    /// image splits into whole 2 × 2 tiles, and there are enough of them.
    pub fn for_shape(sh: ParityShape) -> Option<Self> {
        let wg = Self::any(sh)?;
        let min = match usage() {
            Use::Never => return None,
            Use::From(n) => n,
            Use::Default if wg.fast_transforms() => FAST_MIN_TILES,
            Use::Default => DEFAULT_MIN_TILES,
        };
        (wg.tiles() >= min).then_some(wg)
    }
    /// The Winograd form of `sh` whenever it fits, whatever the tile count (tests).
    pub fn any(sh: ParityShape) -> Option<Self> {
        let fits = sh.h.is_multiple_of(2) && sh.w.is_multiple_of(2) && sh.h > 0 && sh.w < MAX_ROW;
        (fits && taps::available()).then_some(Winograd { sh })
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
        self.tw() == 8 && self.th().is_multiple_of(2) && taps::isa() == Some(taps::Isa::Avx512)
    }
    /// Whether the AVX-512 transforms for 8 × 8 small images (4 × 4 tiles, one vector per
    /// channel and entry) run.
    #[cfg(target_arch = "x86_64")]
    fn four_wide(&self) -> bool {
        self.tw() == 4 && self.th() == 4 && taps::isa() == Some(taps::Isa::Avx512)
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
        9 * taps::packed_len(self.s(), self.k())
    }
    /// Elements of the packed Uᵀ of [`Winograd::pack_adjoint`].
    pub fn adjoint_packed_len(&self) -> usize {
        9 * taps::packed_len(self.k(), self.s())
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
        let len = taps::packed_len(sn, k);
        self.with_transformed(w, |u| {
            for e in 0..9 {
                let ue = &u[e * sn * k..][..sn * k];
                taps::pack(sn, k, &mut out[e * len..(e + 1) * len], |s, c| ue[s * k + c]);
            }
        });
    }
    /// W [S, B, 4, 4] as the nine left operands U_eᵀ [4B, S] of [`Winograd::adjoint`].
    pub fn pack_adjoint(&self, w: &[f32], out: &mut [f32]) {
        let (sn, k) = (self.s(), self.k());
        let len = taps::packed_len(k, sn);
        self.with_transformed(w, |u| {
            for e in 0..9 {
                let ue = &u[e * sn * k..][..sn * k];
                taps::pack(k, sn, &mut out[e * len..(e + 1) * len], |c, s| ue[s * k + c]);
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
                unsafe { fast::image_tiles4(bn, big.as_ptr(), y, sums, v.as_mut_ptr(), self.stride(self.k())) };
                return true;
            }
            if self.eight_wide() {
                let local = &mut planes[..4 * (self.sh.h + 1) * (self.sh.w + 1)];
                // SAFETY: AVX-512F is there (eight_wide); the slices above hold every element
                // the kernels touch (images of 2h rows of 32, and outputs as many when y is not
                // null; four planes of h + 1 rows of 17; 9 · 4B · T tiles).
                unsafe { fast::image_tiles8(bn, self.th(), big.as_ptr(), y, sums, local.as_mut_ptr(), v.as_mut_ptr(), self.stride(self.k())) };
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
            unsafe { fast::image_of_tiles4(self.sh.big_channels, dv.as_ptr(), self.stride(self.k()), big.as_mut_ptr(), bias, relu) };
            return;
        }
        #[cfg(target_arch = "x86_64")]
        if self.eight_wide() {
            let plane = (self.sh.h + 1) * (self.sh.w + 1);
            let (bn, image) = (self.sh.big_channels, 4 * self.sh.h * self.sh.w);
            let (dv, local, big) = (&dv[..self.big_tiles_len()], &mut planes[..4 * plane], &mut big[..bn * image]);
            let bias = bias.map(|b| &b[..bn]);
            // SAFETY: as in big_tiles_of_image.
            unsafe { fast::image_of_tiles8(bn, self.th(), dv.as_ptr(), local.as_mut_ptr(), big.as_mut_ptr(), bias, relu, self.stride(self.k())) };
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
            unsafe { fast::big_tiles8(k, th, plane, planes.as_ptr(), v.as_mut_ptr(), kt) };
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
            unsafe { fast::planes_of_tiles8(k, th, plane, dv.as_ptr(), planes.as_mut_ptr(), kt) };
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
                // Rows: 2ty gets dt0 (and dt2 of the tile row above), 2ty + 1 its own.
                let (row0, rest) = p[2 * ty * r..].split_at_mut(r);
                for ((o, a), cy) in row0.iter_mut().zip(&dt[0][..r]).zip(&carry[..r]) {
                    *o = a + cy;
                }
                for (((o, a), b), c2) in rest[..r].iter_mut().zip(&dt[0][..r]).zip(&dt[1][..r]).zip(&dt[2][..r]) {
                    *o = b - a - c2;
                }
                carry[..r].copy_from_slice(&dt[2][..r]);
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
            unsafe { fast::small_tiles4(sn, small.as_ptr(), l.as_mut_ptr(), st) };
            return;
        }
        #[cfg(target_arch = "x86_64")]
        if self.eight_wide() {
            // SAFETY: AVX-512F is there (eight_wide); the slices above hold every element.
            unsafe { fast::small_tiles8(sn, th, small.as_ptr(), l.as_mut_ptr(), st) };
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
            unsafe { fast::small_tiles_transposed4(sn, small.as_ptr(), lt.as_mut_ptr(), st) };
            return;
        }
        #[cfg(target_arch = "x86_64")]
        if self.eight_wide() && sn.is_multiple_of(16) {
            let (small, buf) = (&small[..sn * self.sh.h * self.sh.w], &mut buf[..self.transposed_len()]);
            // SAFETY: AVX-512F is there (eight_wide), S is a multiple of 16, and the slices
            // above hold every element.
            unsafe { fast::small_tiles_transposed8(sn, th, small.as_ptr(), buf.as_mut_ptr(), lt.as_mut_ptr(), st) };
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
            unsafe { fast::small_of_tiles4(sn, m.as_ptr(), small.as_mut_ptr(), bias, relu, st) };
            return;
        }
        #[cfg(target_arch = "x86_64")]
        if self.eight_wide() {
            let bias = bias.map(|b| &b[..sn]);
            // SAFETY: AVX-512F is there (eight_wide); the slices above hold every element.
            unsafe { fast::small_of_tiles8(sn, th, m.as_ptr(), small.as_mut_ptr(), bias, relu, st) };
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
        let len = taps::packed_len(rows, red);
        for e in 0..9 {
            taps::tap_product(rows, t, red, &[0], &packed[e * len..(e + 1) * len], &right[e * rs..][..red * t], t, &mut out[e * os..][..rows * t], t, false);
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
            taps::tap_weight_gradient(k, sn, t, &[0], &v[e * vs..][..k * t], t, &lt[e * ls..][..sn * t], sn, &mut dut[e * k * sn..(e + 1) * k * sn]);
        }
    }
}

/// The transforms of the planes for rows of eight tiles (w = 16), in AVX-512: a pair of
/// tile rows is one 16-lane vector of each V_e, built from whole plane rows with two-source
/// permutes, so nothing is gathered element by element.
#[cfg(target_arch = "x86_64")]
mod fast {
    use std::arch::x86_64::*;

    use crate::simd::permute_index;

    /// Plane row length (w + 1) for w = 16.
    const R: usize = 17;
    /// Lanes 0, 2, .., 14 of the first source, then of the second.
    const EVEN: [i32; 16] = [0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30];
    const ODD: [i32; 16] = [1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31];
    /// Lane tx of the first source to lane 2tx, of the second to 2tx + 1 (tiles 0..8 of
    /// the pair's first row), and the same for lanes 8..16 (its second row).
    const SPREAD: [[i32; 16]; 2] = [
        [0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23],
        [8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31],
    ];

    /// V [9, K, T] from K planes of (2·th + 1) × 17 (T = 8·th).
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn big_tiles8(k: usize, th: usize, plane: usize, planes: *const f32, v: *mut f32, kt: usize) {
        for c in 0..k {
            unsafe { plane_tiles8(th, planes.add(c * plane), v.add(c * 8 * th), kt) };
        }
    }

    /// V [9, 4B, T] straight from the images [B, 4·th, 16·2]: each channel's four parity
    /// planes split into `local` (4 planes of (2·th + 1) × 17), then transformed from there.
    /// `y`, if not null: the layer's outputs, whose zeros gate the images (a ReLU's
    /// gradient); `sums`: each gated image's sum added there.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn image_tiles8(bn: usize, th: usize, big: *const f32, y: *const f32, mut sums: Option<&mut [f32]>, local: *mut f32, v: *mut f32, kt: usize) {
        let (t, h) = (8 * th, 2 * th);
        let (plane, image) = ((h + 1) * R, 4 * h * 16);
        for b in 0..bn {
            unsafe {
                let gate = if y.is_null() { y } else { y.add(b * image) };
                let sum = split_channel8(h, big.add(b * image), gate, local);
                if let Some(s) = sums.as_deref_mut() {
                    s[b] += sum;
                }
                for q in 0..4 {
                    plane_tiles8(th, local.add(q * plane), v.add((4 * b + q) * t), kt);
                }
            }
        }
    }

    /// One image [2h, 32] into its four parity planes (py, px) of (h + 1) × 17, zero padded,
    /// as [`crate::parity::ParityShape::split_planes`] lays them out: image row y is row
    /// (y + 1) / 2 of planes (py, ·), py = (y + 1) % 2; its odd pixels go to plane (py, 0)
    /// from column 1, its even ones to plane (py, 1) from column 0.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn split_channel8(h: usize, img: *const f32, gate: *const f32, four: *mut f32) -> f32 {
        let plane = (h + 1) * R;
        unsafe {
            let (even, odd) = (permute_index(&EVEN), permute_index(&ODD));
            let zero = _mm512_setzero_ps();
            let mut acc = zero;
            // The padding rows: row 0 of planes (0, ·), row h of planes (1, ·); their 17th
            // elements are the next rows' first, written below or by the padding columns.
            for (q, row) in [(0, 0), (1, 0), (2, h), (3, h)] {
                let p = four.add(q * plane + row * R);
                _mm512_storeu_ps(p, zero);
                *p.add(16) = 0.0;
            }
            for y in 0..2 * h {
                let (i, py) = (y.div_ceil(2), (y + 1) % 2);
                let (mut lo, mut hi) = (_mm512_loadu_ps(img.add(y * 32)), _mm512_loadu_ps(img.add(y * 32 + 16)));
                if !gate.is_null() {
                    let (glo, ghi) = (_mm512_loadu_ps(gate.add(y * 32)), _mm512_loadu_ps(gate.add(y * 32 + 16)));
                    lo = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask::<_CMP_GT_OQ>(glo, zero), lo);
                    hi = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask::<_CMP_GT_OQ>(ghi, zero), hi);
                }
                acc = _mm512_add_ps(acc, _mm512_add_ps(lo, hi));
                let odd_row = four.add(2 * py * plane + i * R);
                let even_row = four.add((2 * py + 1) * plane + i * R);
                *odd_row = 0.0;
                _mm512_storeu_ps(odd_row.add(1), _mm512_permutex2var_ps(lo, odd, hi));
                _mm512_storeu_ps(even_row, _mm512_permutex2var_ps(lo, even, hi));
                *even_row.add(16) = 0.0;
            }
            _mm512_reduce_add_ps(acc)
        }
    }

    /// One plane's tiles: with A the row's columns 0..16 and B its columns 1..17 (after the
    /// row transform Bᵀ), D = A − B holds (Bᵀ d B)[i, 0] in its even lanes and −(Bᵀ d B)[i, 2]
    /// in its odd ones, and B's even lanes are (Bᵀ d B)[i, 1]. `v` points at the plane's
    /// tiles in V_0 (V_e is kt further on per e).
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn plane_tiles8(th: usize, p: *const f32, v: *mut f32, kt: usize) {
        unsafe {
            let (even, odd) = (permute_index(&EVEN), permute_index(&ODD));
            for pair in 0..th / 2 {
                // [half][i]: D and B after the row transform, for the pair's two tile rows.
                let mut d = [[_mm512_setzero_ps(); 3]; 2];
                let mut b = [[_mm512_setzero_ps(); 3]; 2];
                for half in 0..2 {
                    let row = p.add((2 * (2 * pair + half)) * R);
                    let (a0, a1, a2) = (_mm512_loadu_ps(row), _mm512_loadu_ps(row.add(R)), _mm512_loadu_ps(row.add(2 * R)));
                    let (b0, b1, b2) = (_mm512_loadu_ps(row.add(1)), _mm512_loadu_ps(row.add(R + 1)), _mm512_loadu_ps(row.add(2 * R + 1)));
                    let ta = [_mm512_sub_ps(a0, a1), a1, _mm512_sub_ps(a2, a1)];
                    let tb = [_mm512_sub_ps(b0, b1), b1, _mm512_sub_ps(b2, b1)];
                    for i in 0..3 {
                        d[half][i] = _mm512_sub_ps(ta[i], tb[i]);
                        b[half][i] = tb[i];
                    }
                }
                let at = pair * 16;
                for i in 0..3 {
                    let v0 = _mm512_permutex2var_ps(d[0][i], even, d[1][i]);
                    let v1 = _mm512_permutex2var_ps(b[0][i], even, b[1][i]);
                    let neg2 = _mm512_permutex2var_ps(d[0][i], odd, d[1][i]);
                    let v2 = _mm512_sub_ps(_mm512_setzero_ps(), neg2);
                    _mm512_storeu_ps(v.add(3 * i * kt + at), v0);
                    _mm512_storeu_ps(v.add((3 * i + 1) * kt + at), v1);
                    _mm512_storeu_ps(v.add((3 * i + 2) * kt + at), v2);
                }
            }
        }
    }

    /// The adjoint of [`big_tiles8`]: K planes of (2·th + 1) × 17 from dV [9, K, T],
    /// overwritten.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn planes_of_tiles8(k: usize, th: usize, plane: usize, dv: *const f32, planes: *mut f32, kt: usize) {
        for c in 0..k {
            unsafe { tiles_plane8(th, dv.add(c * 8 * th), kt, planes.add(c * plane)) };
        }
    }

    /// The adjoint of [`image_tiles8`], then act(· + bias): each channel's four planes
    /// formed in `local` from dV [9, 4B, T], then merged into its image [4·th, 32].
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn image_of_tiles8(bn: usize, th: usize, dv: *const f32, local: *mut f32, big: *mut f32, bias: Option<&[f32]>, relu: bool, kt: usize) {
        let (t, h) = (8 * th, 2 * th);
        let (plane, image) = ((h + 1) * R, 4 * h * 16);
        for b in 0..bn {
            unsafe {
                for q in 0..4 {
                    tiles_plane8(th, dv.add((4 * b + q) * t), kt, local.add(q * plane));
                }
                merge_channel8(h, local, big.add(b * image), bias.map_or(0.0, |v| v[b]), relu);
            }
        }
    }

    /// One image [2h, 32] = act(planes + bias) from its four parity planes, padding dropped
    /// (the inverse of [`split_channel8`]).
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn merge_channel8(h: usize, four: *const f32, img: *mut f32, bias: f32, relu: bool) {
        let plane = (h + 1) * R;
        unsafe {
            let spread = [permute_index(&SPREAD[0]), permute_index(&SPREAD[1])];
            let c = _mm512_set1_ps(bias);
            let zero = _mm512_setzero_ps();
            let act = |x: __m512| if relu { _mm512_max_ps(x, zero) } else { x };
            for y in 0..2 * h {
                let (i, py) = (y.div_ceil(2), (y + 1) % 2);
                let odd = act(_mm512_add_ps(_mm512_loadu_ps(four.add(2 * py * plane + i * R + 1)), c));
                let even = act(_mm512_add_ps(_mm512_loadu_ps(four.add((2 * py + 1) * plane + i * R)), c));
                _mm512_storeu_ps(img.add(y * 32), _mm512_permutex2var_ps(even, spread[0], odd));
                _mm512_storeu_ps(img.add(y * 32 + 16), _mm512_permutex2var_ps(even, spread[1], odd));
            }
        }
    }

    /// One plane of (2·th + 1) × 17 from its tiles' gradient (`dv` at the plane's tiles in
    /// dV_0), overwritten. The rows a tile row shares with the next (its last, their first)
    /// are carried in registers.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn tiles_plane8(th: usize, dv: *const f32, kt: usize, p: *mut f32) {
        unsafe {
            let spread = [permute_index(&SPREAD[0]), permute_index(&SPREAD[1])];
            let zero = _mm512_setzero_ps();
            let last: __mmask16 = 1;
            // A row's gradient: columns 0..16 from A's lanes plus B's shifted up one, and
            // column 16 from B's lane 15.
            let row_of = |da: __m512, db: __m512| -> (__m512, __m512) {
                let up = _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(db), _mm512_castps_si512(zero), 15));
                let top = _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(zero), _mm512_castps_si512(db), 15));
                (_mm512_add_ps(da, up), top)
            };
            let (mut carry, mut carry_top) = (zero, zero);
            for pair in 0..th / 2 {
                let at = pair * 16;
                let mut dve = [zero; 9];
                for (e, x) in dve.iter_mut().enumerate() {
                    *x = _mm512_loadu_ps(dv.add(e * kt + at));
                }
                for (half, idx) in spread.iter().enumerate() {
                    let mut da = [zero; 3];
                    let mut db = [zero; 3];
                    for i in 0..3 {
                        // D's gradient: dV0 in even lanes, −dV2 in odd ones; B's own: dV1
                        // in even lanes. D = A − B.
                        let neg2 = _mm512_sub_ps(zero, dve[3 * i + 2]);
                        let dd = _mm512_permutex2var_ps(dve[3 * i], *idx, neg2);
                        let b1 = _mm512_permutex2var_ps(dve[3 * i + 1], *idx, zero);
                        da[i] = dd;
                        db[i] = _mm512_sub_ps(b1, dd);
                    }
                    // The row transform's adjoint: d0 = t0, d1 = t1 − t0 − t2, d2 = t2.
                    let r0 = row_of(da[0], db[0]);
                    let r1 = row_of(_mm512_sub_ps(_mm512_sub_ps(da[1], da[0]), da[2]), _mm512_sub_ps(_mm512_sub_ps(db[1], db[0]), db[2]));
                    let r2 = row_of(da[2], db[2]);
                    let row = p.add(2 * (2 * pair + half) * R);
                    _mm512_storeu_ps(row, _mm512_add_ps(r0.0, carry));
                    _mm512_mask_storeu_ps(row.add(16), last, _mm512_add_ps(r0.1, carry_top));
                    _mm512_storeu_ps(row.add(R), r1.0);
                    _mm512_mask_storeu_ps(row.add(R + 16), last, r1.1);
                    (carry, carry_top) = r2;
                }
            }
            let row = p.add(2 * th * R);
            _mm512_storeu_ps(row, carry);
            _mm512_mask_storeu_ps(row.add(16), last, carry_top);
        }
    }

    /// The small image's tiles L [9, S, T] from small [S, 2·th, 16]: a pair of tile rows
    /// (image rows 4q..4q + 4) is one vector per entry, the tiles' even and odd columns
    /// gathered from two image rows by one permute each.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn small_tiles8(sn: usize, th: usize, small: *const f32, l: *mut f32, st: usize) {
        let t = 8 * th;
        unsafe {
            let (even, odd) = (permute_index(&EVEN), permute_index(&ODD));
            for s in 0..sn {
                let img = small.add(s * 2 * th * 16);
                for pair in 0..th / 2 {
                    let mut rows = [_mm512_setzero_ps(); 4];
                    for (k, r) in rows.iter_mut().enumerate() {
                        *r = _mm512_loadu_ps(img.add((4 * pair + k) * 16));
                    }
                    let (y00, y01) = (_mm512_permutex2var_ps(rows[0], even, rows[2]), _mm512_permutex2var_ps(rows[0], odd, rows[2]));
                    let (y10, y11) = (_mm512_permutex2var_ps(rows[1], even, rows[3]), _mm512_permutex2var_ps(rows[1], odd, rows[3]));
                    let at = s * t + pair * 16;
                    let ay = [(y00, y01), (_mm512_add_ps(y00, y10), _mm512_add_ps(y01, y11)), (y10, y11)];
                    for (i, (a, b)) in ay.into_iter().enumerate() {
                        _mm512_storeu_ps(l.add(3 * i * st + at), a);
                        _mm512_storeu_ps(l.add((3 * i + 1) * st + at), _mm512_add_ps(a, b));
                        _mm512_storeu_ps(l.add((3 * i + 2) * st + at), b);
                    }
                }
            }
        }
    }

    /// small [S, 2·th, 16] = act(Aᵀ M A + bias) from M [9, S, T]: a pair of tile rows at a
    /// time, the even and odd columns of each image row interleaved by a permute.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn small_of_tiles8(sn: usize, th: usize, m: *const f32, small: *mut f32, bias: Option<&[f32]>, relu: bool, st: usize) {
        let t = 8 * th;
        unsafe {
            let spread = [permute_index(&SPREAD[0]), permute_index(&SPREAD[1])];
            let zero = _mm512_setzero_ps();
            let act = |x: __m512| if relu { _mm512_max_ps(x, zero) } else { x };
            for s in 0..sn {
                let c = _mm512_set1_ps(bias.map_or(0.0, |v| v[s]));
                let img = small.add(s * 2 * th * 16);
                for pair in 0..th / 2 {
                    let at = s * t + pair * 16;
                    let mut me = [_mm512_setzero_ps(); 9];
                    for (e, x) in me.iter_mut().enumerate() {
                        *x = _mm512_loadu_ps(m.add(e * st + at));
                    }
                    // Aᵀ M: rows m0 + m1 and m1 + m2; then · A: columns 0 + 1 and 1 + 2.
                    let a = [_mm512_add_ps(me[0], me[3]), _mm512_add_ps(me[1], me[4]), _mm512_add_ps(me[2], me[5])];
                    let b = [_mm512_add_ps(me[3], me[6]), _mm512_add_ps(me[4], me[7]), _mm512_add_ps(me[5], me[8])];
                    let e0 = act(_mm512_add_ps(_mm512_add_ps(a[0], a[1]), c));
                    let o0 = act(_mm512_add_ps(_mm512_add_ps(a[1], a[2]), c));
                    let e1 = act(_mm512_add_ps(_mm512_add_ps(b[0], b[1]), c));
                    let o1 = act(_mm512_add_ps(_mm512_add_ps(b[1], b[2]), c));
                    // Lanes 0..8 are tile row 2·pair (image rows 4·pair, +1), 8..16 the next.
                    for (half, idx) in spread.iter().enumerate() {
                        let row = img.add((4 * pair + 2 * half) * 16);
                        _mm512_storeu_ps(row, _mm512_permutex2var_ps(e0, *idx, o0));
                        _mm512_storeu_ps(row.add(16), _mm512_permutex2var_ps(e1, *idx, o1));
                    }
                }
            }
        }
    }

    /// Lᵀ [9, T, S] from small [S, 2·th, 16] (S a multiple of 16): the image transposed into
    /// `buf` as [2·th · 17, S] (the layout of
    /// [`crate::parity::ParityShape::small_transposed`], its 17th column left unwritten since
    /// no tile reads it) by 16 × 16 register transposes, then each tile's four pixels are
    /// rows of S channels and each entry one row too.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn small_tiles_transposed8(sn: usize, th: usize, small: *const f32, buf: *mut f32, lt: *mut f32, st: usize) {
        let h = 2 * th;
        unsafe {
            for i in 0..h {
                for s0 in (0..sn).step_by(16) {
                    let mut rows = [_mm512_setzero_ps(); 16];
                    for (k, r) in rows.iter_mut().enumerate() {
                        *r = _mm512_loadu_ps(small.add(((s0 + k) * h + i) * 16));
                    }
                    crate::transpose::transpose16(&mut rows);
                    for (j, row) in rows.iter().enumerate() {
                        _mm512_storeu_ps(buf.add((i * R + j) * sn + s0), *row);
                    }
                }
            }
            for ty in 0..th {
                for tx in 0..8 {
                    let q = 2 * ty * R + 2 * tx;
                    let at = (ty * 8 + tx) * sn;
                    for s0 in (0..sn).step_by(16) {
                        let px = |d: usize| _mm512_loadu_ps(buf.add((q + d) * sn + s0));
                        let (a0, b0, a2, b2) = (px(0), px(1), px(R), px(R + 1));
                        let (a1, b1) = (_mm512_add_ps(a0, a2), _mm512_add_ps(b0, b2));
                        // Rows of A y: (a0, b0), (a1, b1), (a2, b2); then · Aᵀ.
                        let out = [a0, _mm512_add_ps(a0, b0), b0, a1, _mm512_add_ps(a1, b1), b1, a2, _mm512_add_ps(a2, b2), b2];
                        for (e, x) in out.into_iter().enumerate() {
                            _mm512_storeu_ps(lt.add(e * st + at + s0), x);
                        }
                    }
                }
            }
        }
    }

    /// The transforms for 4 × 4 tiles (w = h = 8, T = 16): one vector holds an entry's 16
    /// tiles of one channel. Lanes (ty, tx) of a D vector = pixel (4ty + oy, 4tx + ox) of a
    /// 16 × 16 image: plane (py, px) at row 2ty + a, column 2tx + b is image pixel
    /// (4ty + 2a + py − 1, 4tx + 2b + px − 1), so each (oy, ox) in −1..=4 belongs to exactly one
    /// plane and one (a, b) of its 3 × 3 block.
    ///
    /// Permute indices and valid lanes picking column 4tx + ox of rows ty = 0, 1 (first and
    /// second source) into lanes 0..8, and of rows 2, 3 by the same indices into lanes 8..16.
    const fn column_picks() -> [([i32; 16], u16); 6] {
        let mut out = [([0i32; 16], 0u16); 6];
        let mut o = 0;
        while o < 6 {
            let ox = o as isize - 1;
            let mut lane = 0;
            while lane < 16 {
                let (ty, tx) = (lane / 4, lane % 4);
                let x = 4 * tx as isize + ox;
                if x >= 0 && x < 16 {
                    out[o].0[lane] = ((ty % 2) * 16) as i32 + x as i32;
                    out[o].1 |= 1 << lane;
                }
                lane += 1;
            }
            o += 1;
        }
        out
    }
    const COLUMNS: [([i32; 16], u16); 6] = column_picks();

    /// The adjoint of a column pick for one image row of tile row ty: lane x takes lane
    /// (ty, (x − ox) / 4) where x − ox is a multiple of 4 in 0..16.
    const fn column_puts() -> [[([i32; 16], u16); 6]; 4] {
        let mut out = [[([0i32; 16], 0u16); 6]; 4];
        let mut ty = 0;
        while ty < 4 {
            let mut o = 0;
            while o < 6 {
                let ox = o as isize - 1;
                let mut x = 0;
                while x < 16 {
                    let d = x as isize - ox;
                    if d >= 0 && d % 4 == 0 && d / 4 < 4 {
                        out[ty][o].0[x] = (ty * 4) as i32 + (d / 4) as i32;
                        out[ty][o].1 |= 1 << x;
                    }
                    x += 1;
                }
                o += 1;
            }
            ty += 1;
        }
        out
    }
    const PUTS: [[([i32; 16], u16); 6]; 4] = column_puts();

    /// V [9, 4B, 16] (entries `kt` apart) straight from the images [B, 16, 16]; `gate` and
    /// `sums` as in [`image_tiles8`].
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn image_tiles4(bn: usize, big: *const f32, gate: *const f32, mut sums: Option<&mut [f32]>, v: *mut f32, kt: usize) {
        unsafe {
            let zero = _mm512_setzero_ps();
            let upper: __mmask16 = 0xFF00;
            for b in 0..bn {
                let img = big.add(b * 256);
                let mut rows = [zero; 16];
                let mut acc = zero;
                for (y, r) in rows.iter_mut().enumerate() {
                    *r = _mm512_loadu_ps(img.add(y * 16));
                    if !gate.is_null() {
                        let g = _mm512_loadu_ps(gate.add(b * 256 + y * 16));
                        *r = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask::<_CMP_GT_OQ>(g, zero), *r);
                    }
                    acc = _mm512_add_ps(acc, *r);
                }
                if let Some(s) = sums.as_deref_mut() {
                    s[b] += _mm512_reduce_add_ps(acc);
                }
                let row = |y: isize| if (0..16).contains(&y) { rows[y as usize] } else { zero };
                for q in 0..4 {
                    let (py, px) = (q / 2, q % 2);
                    // d[a][b] over the 16 tiles, then Bᵀ d B as in big_tiles.
                    let mut d = [[zero; 3]; 3];
                    for (a, da) in d.iter_mut().enumerate() {
                        let oy = (2 * a + py) as isize - 1;
                        let r = [row(oy), row(4 + oy), row(8 + oy), row(12 + oy)];
                        for (bb, dab) in da.iter_mut().enumerate() {
                            let (idx, mask) = &COLUMNS[2 * bb + px];
                            let idx = permute_index(idx);
                            let top = _mm512_maskz_permutex2var_ps(*mask, r[0], idx, r[1]);
                            let bottom = _mm512_maskz_permutex2var_ps(*mask, r[2], idx, r[3]);
                            *dab = _mm512_mask_blend_ps(upper, top, bottom);
                        }
                    }
                    let t: [[__m512; 3]; 3] = [
                        [_mm512_sub_ps(d[0][0], d[1][0]), _mm512_sub_ps(d[0][1], d[1][1]), _mm512_sub_ps(d[0][2], d[1][2])],
                        d[1],
                        [_mm512_sub_ps(d[2][0], d[1][0]), _mm512_sub_ps(d[2][1], d[1][1]), _mm512_sub_ps(d[2][2], d[1][2])],
                    ];
                    let c = 4 * b + q;
                    for (i, ti) in t.iter().enumerate() {
                        let out = [_mm512_sub_ps(ti[0], ti[1]), ti[1], _mm512_sub_ps(ti[2], ti[1])];
                        for (j, x) in out.into_iter().enumerate() {
                            _mm512_storeu_ps(v.add((3 * i + j) * kt + c * 16), x);
                        }
                    }
                }
            }
        }
    }

    /// The adjoint of [`image_tiles4`], then act(· + bias): the images [B, 16, 16] from
    /// dV [9, 4B, 16], overwritten.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn image_of_tiles4(bn: usize, dv: *const f32, kt: usize, big: *mut f32, bias: Option<&[f32]>, relu: bool) {
        unsafe {
            let zero = _mm512_setzero_ps();
            for b in 0..bn {
                let mut rows = [zero; 16];
                for q in 0..4 {
                    let (py, px) = (q / 2, q % 2);
                    let c = 4 * b + q;
                    let mut dve = [zero; 9];
                    for (e, x) in dve.iter_mut().enumerate() {
                        *x = _mm512_loadu_ps(dv.add(e * kt + c * 16));
                    }
                    // Adjoint of the column transform (t0 − t1, t1, t2 − t1), then of the rows.
                    let mut dt = [[zero; 3]; 3];
                    for (i, row) in dt.iter_mut().enumerate() {
                        let (v0, v1, v2) = (dve[3 * i], dve[3 * i + 1], dve[3 * i + 2]);
                        *row = [v0, _mm512_sub_ps(_mm512_sub_ps(v1, v0), v2), v2];
                    }
                    let mut dd = [[zero; 3]; 3];
                    for j in 0..3 {
                        dd[0][j] = dt[0][j];
                        dd[1][j] = _mm512_sub_ps(_mm512_sub_ps(dt[1][j], dt[0][j]), dt[2][j]);
                        dd[2][j] = dt[2][j];
                    }
                    for (a, dda) in dd.iter().enumerate() {
                        let oy = (2 * a + py) as isize - 1;
                        for (bb, x) in dda.iter().enumerate() {
                            let o = 2 * bb + px;
                            for (ty, puts) in PUTS.iter().enumerate() {
                                let y = 4 * ty as isize + oy;
                                if (0..16).contains(&y) {
                                    let (idx, mask) = &puts[o];
                                    let r = &mut rows[y as usize];
                                    *r = _mm512_add_ps(*r, _mm512_maskz_permutexvar_ps(*mask, permute_index(idx), *x));
                                }
                            }
                        }
                    }
                }
                let c = _mm512_set1_ps(bias.map_or(0.0, |v| v[b]));
                let img = big.add(b * 256);
                for (y, r) in rows.iter().enumerate() {
                    let mut x = _mm512_add_ps(*r, c);
                    if relu {
                        x = _mm512_max_ps(x, zero);
                    }
                    _mm512_storeu_ps(img.add(y * 16), x);
                }
            }
        }
    }

    /// The four parity planes of an 8 × 8 image (as [`crate::patches4`] splits them): y_ab
    /// lanes (ty, tx) = pixel (2ty + a, 2tx + b), in the order (0, 0), (0, 1), (1, 0), (1, 1).
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn quarters(img: *const f32) -> [__m512; 4] {
        unsafe {
            let z = [_mm512_loadu_ps(img), _mm512_loadu_ps(img.add(16)), _mm512_loadu_ps(img.add(32)), _mm512_loadu_ps(img.add(48))];
            let mut out = [_mm512_setzero_ps(); 4];
            for (r, o) in out.iter_mut().enumerate() {
                let idx = permute_index(&crate::patches4::PLANE[r]);
                let top = _mm512_permutex2var_ps(z[0], idx, z[1]);
                let bottom = _mm512_permutex2var_ps(z[2], idx, z[3]);
                *o = _mm512_mask_blend_ps(0xFF00, top, bottom);
            }
            out
        }
    }

    /// A small image's nine tile entries (A y Aᵀ) from its quarters.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn small_entries4(y: [__m512; 4]) -> [__m512; 9] {
        let [y00, y01, y10, y11] = y;
        let (a1, b1) = (_mm512_add_ps(y00, y10), _mm512_add_ps(y01, y11));
        [y00, _mm512_add_ps(y00, y01), y01, a1, _mm512_add_ps(a1, b1), b1, y10, _mm512_add_ps(y10, y11), y11]
    }

    /// L [9, S, 16] (entries `st` apart) from small [S, 8, 8].
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn small_tiles4(sn: usize, small: *const f32, l: *mut f32, st: usize) {
        unsafe {
            for s in 0..sn {
                let e = small_entries4(quarters(small.add(s * 64)));
                for (k, x) in e.into_iter().enumerate() {
                    _mm512_storeu_ps(l.add(k * st + s * 16), x);
                }
            }
        }
    }

    /// Lᵀ [9, 16, S] (entries `st` apart) from small [S, 8, 8], S a multiple of 16: sixteen
    /// channels' entries at a time, each entry's 16 × 16 block transposed in registers.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn small_tiles_transposed4(sn: usize, small: *const f32, lt: *mut f32, st: usize) {
        unsafe {
            let mut block = [[_mm512_setzero_ps(); 16]; 9];
            for s0 in (0..sn).step_by(16) {
                for k in 0..16 {
                    let e = small_entries4(quarters(small.add((s0 + k) * 64)));
                    for (x, b) in e.into_iter().zip(block.iter_mut()) {
                        b[k] = x;
                    }
                }
                for (e, b) in block.iter_mut().enumerate() {
                    crate::transpose::transpose16(b);
                    for (t, row) in b.iter().enumerate() {
                        _mm512_storeu_ps(lt.add(e * st + t * sn + s0), *row);
                    }
                }
            }
        }
    }

    /// small [S, 8, 8] = act(Aᵀ M A + bias) from M [9, S, 16] (entries `st` apart).
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn small_of_tiles4(sn: usize, m: *const f32, small: *mut f32, bias: Option<&[f32]>, relu: bool, st: usize) {
        unsafe {
            let zero = _mm512_setzero_ps();
            for s in 0..sn {
                let c = _mm512_set1_ps(bias.map_or(0.0, |v| v[s]));
                let act = |x: __m512| {
                    let x = _mm512_add_ps(x, c);
                    if relu { _mm512_max_ps(x, zero) } else { x }
                };
                let mut me = [zero; 9];
                for (e, x) in me.iter_mut().enumerate() {
                    *x = _mm512_loadu_ps(m.add(e * st + s * 16));
                }
                let a = [_mm512_add_ps(me[0], me[3]), _mm512_add_ps(me[1], me[4]), _mm512_add_ps(me[2], me[5])];
                let b = [_mm512_add_ps(me[3], me[6]), _mm512_add_ps(me[4], me[7]), _mm512_add_ps(me[5], me[8])];
                // The output's quarters (2ty + a, 2tx + b), in quarters' order.
                let q = [
                    act(_mm512_add_ps(a[0], a[1])),
                    act(_mm512_add_ps(a[1], a[2])),
                    act(_mm512_add_ps(b[0], b[1])),
                    act(_mm512_add_ps(b[1], b[2])),
                ];
                let img = small.add(s * 64);
                for (k, idx) in crate::patches4::IMAGE.iter().enumerate() {
                    let idx = permute_index(idx);
                    let even_rows = _mm512_permutex2var_ps(q[0], idx, q[1]);
                    let odd_rows = _mm512_permutex2var_ps(q[2], idx, q[3]);
                    _mm512_storeu_ps(img.add(k * 16), _mm512_mask_blend_ps(0xFF00, even_rows, odd_rows));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parity::tests::values;
    use crate::parity::{add_unpermuted_gradient, down_weights, up_weights};

    fn close(a: &[f32], b: &[f32], what: &str) {
        let scale = b.iter().fold(1.0f32, |m, v| m.max(v.abs()));
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            assert!((x - y).abs() <= 2e-5 * scale, "{what}[{i}]: {x} vs {y}");
        }
    }

    /// Conv, transposed conv and weight gradient through the transforms against the parity
    /// GEMMs (themselves tested against the definitions in `parity`), on the models' shapes
    /// and on ragged ones, with bias and ReLU where the layers apply them.
    #[test]
    fn winograd_products_equal_the_parity_gemms() {
        for (bc, sc, h, w) in [(3, 5, 2, 2), (2, 3, 4, 6), (16, 16, 8, 8), (32, 32, 16, 16), (17, 20, 6, 4), (64, 32, 8, 8), (32, 64, 4, 4), (16, 16, 4, 16), (3, 7, 8, 16), (32, 64, 8, 8), (5, 3, 8, 8)] {
            let sh = ParityShape { big_channels: bc, small_channels: sc, h, w };
            let Some(wg) = Winograd::any(sh) else {
                eprintln!("no tap kernels on this CPU: the Winograd path is not used here");
                return;
            };
            let what = |s: &str| format!("{sh:?} {s}");
            let wt = values(sh.weight_len(), 0.37);
            let bias = values(bc.max(sc), 0.7);
            let big = values(bc * 4 * h * w, 0.11);
            let small = values(sc * h * w, 0.23);
            let mut planes = vec![f32::NAN; sh.planes_len()];
            sh.split_planes(&big, &mut planes);

            // Conv: act(down(big) + bias).
            let mut wd = vec![0.0; sh.weight_len()];
            down_weights(&sh, &wt, &mut wd);
            let mut grid = vec![f32::NAN; sh.grid_len()];
            sh.down(&wd, &planes, &mut grid);
            let mut want = vec![0.0; sc * h * w];
            sh.grid_to_small(&grid, &mut want, Some(&bias), true);
            let mut packed = vec![f32::NAN; wg.forward_packed_len().max(wg.adjoint_packed_len())];
            wg.pack_forward(&wt, &mut packed);
            let mut v = vec![f32::NAN; wg.big_tiles_len()];
            wg.big_tiles(&planes, &mut v);
            // Straight from the image: the same tiles, bit for bit.
            let mut work = vec![f32::NAN; sh.planes_len()];
            let mut v_direct = vec![f32::NAN; wg.big_tiles_len()];
            wg.big_tiles_of_image(&big, &mut work, &mut v_direct);
            // (Bits, so the untouched NaN between the nine matrices compare equal too.)
            let bits = |x: &[f32]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&v_direct), bits(&v), "{}", what("tiles of the image"));
            // A transposed conv's output gradient through its ReLU: the tiles of the gated
            // image, and its per-channel sums added to the bias gradient.
            let out = values(bc * 4 * h * w, 0.53);
            let gated: Vec<f32> = big.iter().zip(&out).map(|(&d, &y)| if y > 0.0 { d } else { 0.0 }).collect();
            let mut want_v = vec![f32::NAN; wg.big_tiles_len()];
            wg.big_tiles_of_image(&gated, &mut work, &mut want_v);
            let want_sums: Vec<f32> = gated.chunks(4 * h * w).map(|c| 0.25 + c.iter().sum::<f32>()).collect();
            let (mut sums, mut got_v) = (vec![0.25; bc], vec![f32::NAN; wg.big_tiles_len()]);
            let done = wg.gated_tiles(&big, &out, true, &mut sums, &mut work, &mut got_v);
            assert_eq!(done, wg.fast_transforms(), "{}", what("gated tiles where the transforms are fast"));
            if done {
                assert_eq!(bits(&got_v), bits(&want_v), "{}", what("tiles of the gated gradient"));
                close(&sums, &want_sums, &what("bias gradient"));
            }
            let mut m = vec![f32::NAN; wg.small_tiles_len()];
            wg.forward(&packed, &v, &mut m);
            let mut got = vec![f32::NAN; sc * h * w];
            wg.small_of_tiles(&m, &mut got, Some(&bias), true);
            close(&got, &want, &what("conv"));

            // Transposed conv: act(up(small) + bias).
            let mut wu = vec![0.0; sh.weight_len()];
            up_weights(&sh, &wt, &mut wu);
            let mut padded = vec![f32::NAN; sh.padded_small_len()];
            sh.pad_small(&small, &mut padded);
            let mut out = vec![f32::NAN; sh.up_len()];
            sh.up(&wu, &padded, &mut out);
            let mut want = vec![0.0; bc * 4 * h * w];
            sh.interleave(&out, &mut want, Some(&bias), true);
            wg.pack_adjoint(&wt, &mut packed);
            let mut l = vec![f32::NAN; wg.small_tiles_len()];
            wg.small_tiles(&small, &mut l);
            let mut dv = vec![f32::NAN; wg.big_tiles_len()];
            wg.adjoint(&packed, &l, &mut dv);
            let mut dplanes = vec![f32::NAN; sh.planes_len()];
            wg.planes_of_tiles(&dv, &mut dplanes);
            let mut got = vec![f32::NAN; bc * 4 * h * w];
            wg.merge_planes(&dplanes, &mut got, Some(&bias), true);
            close(&got, &want, &what("transposed conv"));
            // Planes and merge one channel at a time (or, for 4 × 4 tiles, summed straight
            // into the image rows in another order): the same image.
            let mut fused = vec![f32::NAN; bc * 4 * h * w];
            wg.image_of_tiles(&dv, &mut work, &mut fused, Some(&bias), true);
            close(&fused, &got, &what("image of the tiles"));

            // Weight gradient of <down_W(big), small>, added to a nonzero start.
            let mut grid_small = vec![f32::NAN; sh.grid_len()];
            sh.small_on_grid(&small, &mut grid_small);
            let mut dwd = vec![0.0; sh.weight_len()];
            sh.weight_gradient(&grid_small, &planes, &mut dwd);
            let mut want = vec![0.5; sh.weight_len()];
            add_unpermuted_gradient(&sh, &dwd, &mut want);
            let mut lt = vec![f32::NAN; wg.small_tiles_len()];
            let mut tbuf = vec![f32::NAN; wg.transposed_len()];
            wg.small_tiles_transposed(&small, &mut tbuf, &mut lt);
            let mut dut = vec![0.0; wg.partial_len()];
            wg.add_weight_gradient(&v, &lt, &mut dut);
            let mut got = vec![0.5; sh.weight_len()];
            wg.add_gradient_to(&dut, &mut got);
            close(&got, &want, &what("weight gradient"));
        }
    }

    /// All nine transformed kernels at once are the entry-by-entry definition, bit for bit.
    #[test]
    fn transforming_all_entries_at_once_equals_the_definition() {
        let sh = ParityShape { big_channels: 3, small_channels: 5, h: 4, w: 4 };
        let Some(wg) = Winograd::any(sh) else { return };
        let w = values(sh.weight_len(), 0.29);
        let mut u = vec![f32::NAN; 9 * 5 * 12];
        wg.transform_all(&w, &mut u);
        for e in 0..9 {
            for s in 0..5 {
                for c in 0..12 {
                    assert_eq!(u[(e * 5 + s) * 12 + c].to_bits(), wg.transformed(&w, e, s, c).to_bits(), "U[{e}, {s}, {c}]");
                }
            }
        }
    }

    /// Merging is the inverse of splitting, value for value.
    #[test]
    fn merging_planes_inverts_splitting_them() {
        let sh = ParityShape { big_channels: 3, small_channels: 2, h: 4, w: 6 };
        let Some(wg) = Winograd::any(sh) else { return };
        let big = values(3 * 4 * 4 * 6, 0.3);
        let mut planes = vec![f32::NAN; sh.planes_len()];
        sh.split_planes(&big, &mut planes);
        let mut back = vec![f32::NAN; big.len()];
        wg.merge_planes(&planes, &mut back, None, false);
        assert_eq!(back, big);
    }
}
