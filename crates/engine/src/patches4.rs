//! im2col and col2im of the k4 s2 p1 conv between an 8 × 8 image and a 4 × 4 one (the
//! decoder's first transposed conv) in AVX-512 registers.
//!
//! The general lowering ([`crate::conv::Geometry`]) moves these patches as rows of at most
//! four pixels, 4096 short loops per sample. Here one channel of the 8 × 8 image is four
//! vectors (two image rows each), each of its four parity planes (4 × 4) one vector, and every
//! patch row (a kernel tap over the 16 small positions) is one plane shifted by at most one
//! row and column: a single masked permute.
//!
//! Tap (ky, kx) reads big pixel (2·o + ky − 1, …) = (2·(o + q) + r, …) with (q, r) the
//! [`split`] of ky: plane (ry, rx) at small position o + q.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

#[cfg(target_arch = "x86_64")]
use crate::simd::permute_index;
use crate::simd::Level;

/// Pixels of the small image, lanes of one vector.
const P: usize = 16;

/// Tap k of a k4 conv with padding 1 as (q, r): big index 2·o + k − 1 = 2·(o + q) + r.
const fn split(k: usize) -> (isize, usize) {
    let d = k as isize - 1;
    (d.div_euclid(2), d.rem_euclid(2) as usize)
}

/// Lane (a, b) of a 4 × 4 grid takes lane (a + sy, b + sx) of the source where that lies in
/// the grid: the permute indices and the mask of such lanes.
const fn shift(sy: isize, sx: isize) -> ([i32; 16], u16) {
    let (mut idx, mut mask) = ([0i32; 16], 0u16);
    let mut lane = 0;
    while lane < 16 {
        let (a, b) = ((lane / 4) as isize + sy, (lane % 4) as isize + sx);
        if a >= 0 && a < 4 && b >= 0 && b < 4 {
            idx[lane] = (a * 4 + b) as i32;
            mask |= 1 << lane;
        }
        lane += 1;
    }
    (idx, mask)
}

/// Per tap t = 4·ky + kx, for im2col: the patch row is plane (ry, rx) shifted by (qy, qx).
const fn im2col_shifts() -> [([i32; 16], u16); 16] {
    let mut out = [([0i32; 16], 0u16); 16];
    let mut t = 0;
    while t < 16 {
        let ((qy, _), (qx, _)) = (split(t / 4), split(t % 4));
        out[t] = shift(qy, qx);
        t += 1;
    }
    out
}

/// Per tap, for col2im: the plane receives the patch row shifted back by (−qy, −qx).
const fn col2im_shifts() -> [([i32; 16], u16); 16] {
    let mut out = [([0i32; 16], 0u16); 16];
    let mut t = 0;
    while t < 16 {
        let ((qy, _), (qx, _)) = (split(t / 4), split(t % 4));
        out[t] = shift(-qy, -qx);
        t += 1;
    }
    out
}

const IM2COL: [([i32; 16], u16); 16] = im2col_shifts();
const COL2IM: [([i32; 16], u16); 16] = col2im_shifts();

/// Plane (ry, rx) of an 8 × 8 image held as four vectors z_a (rows 2a, 2a + 1): lane
/// (a, b) = z_a's lane 8·ry + 2b + rx, so a = 0, 1 come from (z0, z1) and a = 2, 3 from
/// (z2, z3) by the same indices.
const fn plane_indices() -> [[i32; 16]; 4] {
    let mut out = [[0i32; 16]; 4];
    let mut r = 0;
    while r < 4 {
        let (ry, rx) = (r / 2, r % 2);
        let mut lane = 0;
        while lane < 16 {
            let (a, b) = (lane / 4, lane % 4);
            out[r][lane] = ((a % 2) * 16 + ry * 8 + 2 * b + rx) as i32;
            lane += 1;
        }
        r += 1;
    }
    out
}

/// Rows 2k, 2k + 1 of the image from its planes: lane 8·ry + x takes plane (ry, x mod 2)'s
/// lane 4k + x / 2 (the two planes of a row parity as a two-source permute).
const fn image_indices() -> [[i32; 16]; 4] {
    let mut out = [[0i32; 16]; 4];
    let mut k = 0;
    while k < 4 {
        let mut lane = 0;
        while lane < 16 {
            let x = lane % 8;
            out[k][lane] = ((x % 2) * 16 + k * 4 + x / 2) as i32;
            lane += 1;
        }
        k += 1;
    }
    out
}

pub(crate) const PLANE: [[i32; 16]; 4] = plane_indices();
pub(crate) const IMAGE: [[i32; 16]; 4] = image_indices();

/// col [(c, ky, kx), ld] (first 16 columns of each row) = the k4 s2 p1 patches of
/// `img` [C, 8, 8] at the 4 × 4 small positions. Panics unless the CPU has AVX-512 (the conv layers call it only with AVX-512 loops).
pub fn im2col(img: &[f32], channels: usize, col: &mut [f32], ld: usize) {
    assert!(Level::Avx512.supported(), "im2col4: AVX-512F needed");
    assert!(img.len() >= channels * 64 && ld >= P && col.len() >= (channels * 16 - 1) * ld + P, "im2col4: buffers too small");
    // SAFETY: AVX-512F is there; the asserts bound every access.
    #[cfg(target_arch = "x86_64")]
    unsafe {
        im2col_avx512(img.as_ptr(), channels, col.as_mut_ptr(), ld)
    }
}

/// img [C, 8, 8] = act(col2im(col) + bias): the adjoint of [`im2col`] (overwriting `img`),
/// then the bias and ReLU if given. Panics unless the CPU has AVX-512 (the conv layers call it only with AVX-512 loops).
pub fn col2im(col: &[f32], ld: usize, channels: usize, img: &mut [f32], bias: Option<&[f32]>, relu: bool) {
    assert!(Level::Avx512.supported(), "col2im4: AVX-512F needed");
    assert!(img.len() >= channels * 64 && ld >= P && col.len() >= (channels * 16 - 1) * ld + P, "col2im4: buffers too small");
    assert!(bias.is_none_or(|b| b.len() >= channels), "col2im4: bias too short");
    // SAFETY: as in im2col.
    #[cfg(target_arch = "x86_64")]
    unsafe {
        col2im_avx512(col.as_ptr(), ld, channels, img.as_mut_ptr(), bias, relu)
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn im2col_avx512(img: *const f32, channels: usize, col: *mut f32, ld: usize) {
    unsafe {
        let low_half_high: __mmask16 = 0xFF00;
        for c in 0..channels {
            let src = img.add(c * 64);
            let z = [_mm512_loadu_ps(src), _mm512_loadu_ps(src.add(16)), _mm512_loadu_ps(src.add(32)), _mm512_loadu_ps(src.add(48))];
            let mut planes = [_mm512_setzero_ps(); 4];
            for (r, plane) in planes.iter_mut().enumerate() {
                let idx = permute_index(&PLANE[r]);
                let top = _mm512_permutex2var_ps(z[0], idx, z[1]);
                let bottom = _mm512_permutex2var_ps(z[2], idx, z[3]);
                *plane = _mm512_mask_blend_ps(low_half_high, top, bottom);
            }
            for (t, (idx, mask)) in IM2COL.iter().enumerate() {
                let ((_, ry), (_, rx)) = (split(t / 4), split(t % 4));
                let row = _mm512_maskz_permutexvar_ps(*mask, permute_index(idx), planes[ry * 2 + rx]);
                _mm512_storeu_ps(col.add((c * 16 + t) * ld), row);
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn col2im_avx512(col: *const f32, ld: usize, channels: usize, img: *mut f32, bias: Option<&[f32]>, relu: bool) {
    unsafe {
        let low_half_high: __mmask16 = 0xFF00;
        let zero = _mm512_setzero_ps();
        for c in 0..channels {
            let mut planes = [zero; 4];
            for (t, (idx, mask)) in COL2IM.iter().enumerate() {
                let ((_, ry), (_, rx)) = (split(t / 4), split(t % 4));
                let row = _mm512_loadu_ps(col.add((c * 16 + t) * ld));
                let p = &mut planes[ry * 2 + rx];
                *p = _mm512_add_ps(*p, _mm512_maskz_permutexvar_ps(*mask, permute_index(idx), row));
            }
            let b = _mm512_set1_ps(bias.map_or(0.0, |v| v[c]));
            let dst = img.add(c * 64);
            for (k, idx) in IMAGE.iter().enumerate() {
                let idx = permute_index(idx);
                let even_rows = _mm512_permutex2var_ps(planes[0], idx, planes[1]);
                let odd_rows = _mm512_permutex2var_ps(planes[2], idx, planes[3]);
                let mut v = _mm512_add_ps(_mm512_mask_blend_ps(low_half_high, even_rows, odd_rows), b);
                if relu {
                    v = _mm512_max_ps(v, zero);
                }
                _mm512_storeu_ps(dst.add(k * 16), v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conv::Geometry;

    /// Both against the general lowering, which is tested against the direct sums.
    #[test]
    fn patches_equal_the_general_lowering() {
        if !Level::Avx512.supported() {
            // tests/kernels.rs reports the AVX-512 kernels as ignored on this CPU.
            return;
        }
        let c = 5;
        let g = Geometry::new(c, 8, 8, 4, 4, 2, 1);
        let img: Vec<f32> = (0..c * 64).map(|k| ((k * 37) % 23) as f32 - 11.0).collect();
        let ld = 40;
        let mut want = vec![f32::NAN; g.k() * g.p()];
        let mut phases = vec![0.0; g.phase_len()];
        g.im2col_via_phases(&img, &mut want, &mut phases);
        let mut got = vec![f32::NAN; g.k() * ld];
        im2col(&img, c, &mut got, ld);
        for r in 0..g.k() {
            assert_eq!(&got[r * ld..][..16], &want[r * 16..][..16], "im2col row {r}");
        }

        let col: Vec<f32> = (0..g.k() * ld).map(|k| ((k * 53) % 29) as f32 * 0.25 - 3.0).collect();
        let mut packed = vec![0.0; g.k() * 16];
        for r in 0..g.k() {
            packed[r * 16..][..16].copy_from_slice(&col[r * ld..][..16]);
        }
        let bias: Vec<f32> = (0..c).map(|k| k as f32 - 2.0).collect();
        let mut want = vec![0.0; c * 64];
        g.col2im_add_via_phases(&packed, &mut want, &mut phases);
        for (row, b) in want.chunks_mut(64).zip(&bias) {
            row.iter_mut().for_each(|v| *v = (*v + b).max(0.0));
        }
        let mut got = vec![f32::NAN; c * 64];
        col2im(&col, ld, c, &mut got, Some(&bias), true);
        assert_eq!(got, want, "col2im");
    }
}
