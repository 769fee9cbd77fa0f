//! The lowering of a conv onto GEMM: im2col (a big image's patches as the columns of a
//! matrix) and col2im (its adjoint, patches summed back into an image), directly or through
//! the image's stride-2 parity planes ("phases"), which turns the gathers into contiguous
//! copies.

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
