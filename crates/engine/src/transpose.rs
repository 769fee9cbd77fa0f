//! Matrix transposes: 16 × 16 blocks in AVX-512 registers with AVX-512 loops (the weight
//! gradients of the lowered convs and the dense layers' input gradients transpose every step).

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

#[cfg(target_arch = "x86_64")]
use crate::simd::permute_index;
use crate::simd::Level;

/// out [cols, rows] = m [rows, cols]ᵀ, in AVX-512 registers if `level` is AVX-512 (which the
/// CPU must have, as the [`crate::Kernels`] holding it checked), else element by element.
pub fn transpose(level: Level, m: &[f32], rows: usize, cols: usize, out: &mut [f32]) {
    let (m, out) = (&m[..rows * cols], &mut out[..rows * cols]);
    #[cfg(target_arch = "x86_64")]
    if level == Level::Avx512 {
        assert!(level.supported(), "transpose: AVX-512 asked for on a CPU without it");
        // SAFETY: AVX-512F is there (asserted); the slices above hold rows × cols elements.
        unsafe { transpose_avx512(m, rows, cols, out) };
        return;
    }
    block(m, rows, cols, out, 0..rows, 0..cols);
}

/// The part of the transpose in rows `r` and columns `c`, element by element in tiles of 16.
fn block(m: &[f32], rows: usize, cols: usize, out: &mut [f32], r: std::ops::Range<usize>, c: std::ops::Range<usize>) {
    const T: usize = 16;
    for r0 in r.clone().step_by(T) {
        let r1 = (r0 + T).min(r.end);
        for c0 in c.clone().step_by(T) {
            let c1 = (c0 + T).min(c.end);
            for i in r0..r1 {
                for (j, &v) in (c0..c1).zip(&m[i * cols + c0..i * cols + c1]) {
                    out[j * rows + i] = v;
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn transpose_avx512(m: &[f32], rows: usize, cols: usize, out: &mut [f32]) {
    let (rf, cf) = (rows / 16 * 16, cols / 16 * 16);
    let (src, dst) = (m.as_ptr(), out.as_mut_ptr());
    for r0 in (0..rf).step_by(16) {
        for c0 in (0..cf).step_by(16) {
            let mut v = [_mm512_setzero_ps(); 16];
            // SAFETY: rows r0..r0 + 16 and columns c0..c0 + 16 lie inside both matrices.
            unsafe {
                for (k, x) in v.iter_mut().enumerate() {
                    *x = _mm512_loadu_ps(src.add((r0 + k) * cols + c0));
                }
                transpose16(&mut v);
                for (k, x) in v.iter().enumerate() {
                    _mm512_storeu_ps(dst.add((c0 + k) * rows + r0), *x);
                }
            }
        }
    }
    block(m, rows, cols, out, 0..rf, cf..cols);
    block(m, rows, cols, out, rf..rows, 0..cols);
}

/// For a swap of b × b blocks between rows x and y (b = 8, 4, 2, 1): the lanes of x's new
/// row (x's own where lane & b = 0, else y's lane − b) and of y's (x's lane + b, else y's
/// own), as two-source permute indices.
const fn swap_indices(b: usize) -> [[i32; 16]; 2] {
    let mut out = [[0; 16]; 2];
    let mut l = 0;
    while l < 16 {
        (out[0][l], out[1][l]) = if l & b == 0 { (l as i32, (l + b) as i32) } else { ((16 + l - b) as i32, (16 + l) as i32) };
        l += 1;
    }
    out
}
const SWAPS: [[[i32; 16]; 2]; 4] = [swap_indices(8), swap_indices(4), swap_indices(2), swap_indices(1)];

/// 16 rows of 16 transposed in registers: four rounds of swapping the off-diagonal b × b
/// blocks, b = 8, 4, 2, 1.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
pub(crate) unsafe fn transpose16(rows: &mut [__m512; 16]) {
    for (round, b) in [8usize, 4, 2, 1].into_iter().enumerate() {
        let (low, high) = (permute_index(&SWAPS[round][0]), permute_index(&SWAPS[round][1]));
        for i in (0..16).filter(|i| i & b == 0) {
            let (x, y) = (rows[i], rows[i + b]);
            rows[i] = _mm512_permutex2var_ps(x, low, y);
            rows[i + b] = _mm512_permutex2var_ps(x, high, y);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every element lands at its transposed place, on full blocks and ragged edges, with
    /// every level this CPU has (`tests/kernels.rs` reports the others as ignored).
    #[test]
    fn transposes_put_every_element_in_its_place() {
        for level in [Level::Baseline, Level::Avx2, Level::Avx512].into_iter().filter(|l| l.supported()) {
            for (rows, cols) in [(16, 1024), (1024, 16), (64, 256), (37, 50), (3, 17), (17, 3), (1, 1)] {
                let m: Vec<f32> = (0..rows * cols).map(|i| i as f32).collect();
                let mut out = vec![f32::NAN; rows * cols];
                transpose(level, &m, rows, cols, &mut out);
                for i in 0..rows {
                    for j in 0..cols {
                        assert_eq!(out[j * rows + i], m[i * cols + j], "{level:?} {rows} × {cols} at ({i}, {j})");
                    }
                }
            }
        }
    }
}
