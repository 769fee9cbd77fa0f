//! The two transforms of the planes for rows of eight tiles (w = 16) in AVX2 registers: one
//! tile row is one 8-lane vector of each V_e. The generic loops of the parent module spend
//! most of their time taking plane rows apart into even and odd columns (and putting them
//! back together) one element at a time; here that is two shuffles and a lane permute per 16
//! columns. Same arithmetic as the generic loops, so the same values (`tests.rs`).

use std::arch::x86_64::*;

/// Plane row length (w + 1) for w = 16.
const R: usize = 17;

/// Columns 0, 2, .., 14 and 1, 3, .., 15 of the 16 floats at `q`.
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn even_odd(q: *const f32) -> (__m256, __m256) {
    // SAFETY: the caller's row holds 16 floats from q.
    let (lo, hi) = unsafe { (_mm256_loadu_ps(q), _mm256_loadu_ps(q.add(8))) };
    // [lo0 lo2 hi0 hi2 | lo4 lo6 hi4 hi6], then the 64-bit pairs in order 0, 2, 1, 3.
    let even = _mm256_shuffle_ps::<0b10_00_10_00>(lo, hi);
    let odd = _mm256_shuffle_ps::<0b11_01_11_01>(lo, hi);
    (
        _mm256_castpd_ps(_mm256_permute4x64_pd::<0b11_01_10_00>(_mm256_castps_pd(even))),
        _mm256_castpd_ps(_mm256_permute4x64_pd::<0b11_01_10_00>(_mm256_castps_pd(odd))),
    )
}

/// Columns 2, 4, .., 16 of the row at `q` (of R floats) from its even columns: lanes 1..8 of
/// `even` and then column 16, read alone (so nothing past the row is read).
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn next_even(even: __m256, q: *const f32) -> __m256 {
    let shifted = _mm256_permutevar8x32_ps(even, _mm256_setr_epi32(1, 2, 3, 4, 5, 6, 7, 7));
    // SAFETY: column 16 is the row's last.
    let last = _mm256_set1_ps(unsafe { *q.add(16) });
    _mm256_blend_ps::<0b1000_0000>(shifted, last)
}

/// V [9, K, T] from K planes of `th + 1` rows of R ([`super::Winograd::big_tiles`] for
/// w = 16): per tile row, (Bᵀ d) rows d0 − d1, d1, d2 − d1, then their columns
/// e − o, o, e' − o.
///
/// # Safety
/// AVX2 and FMA are there; `planes` holds K planes of `plane` floats, (2·th + 1) rows of R
/// each; `v` holds 9 rows of `kt` floats, each with K · th · 8 tiles.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn big_tiles8(k: usize, th: usize, plane: usize, planes: *const f32, v: *mut f32, kt: usize) {
    let t = th * 8;
    for c in 0..k {
        for ty in 0..th {
            // SAFETY: rows 2ty .. 2ty + 2 lie in plane c (the caller's bounds). No closures
            // here: they would not inherit this function's target features.
            let (n0, n1, n2, e0, e1, e2, o0, o1, o2);
            unsafe {
                let q0 = planes.add(c * plane + 2 * ty * R);
                let (q1, q2) = (q0.add(R), q0.add(2 * R));
                (e0, o0) = even_odd(q0);
                (e1, o1) = even_odd(q1);
                (e2, o2) = even_odd(q2);
                (n0, n1, n2) = (next_even(e0, q0), next_even(e1, q1), next_even(e2, q2));
            }
            // Bᵀ d per column class: rows d0 − d1, d1, d2 − d1.
            let bt = [
                (_mm256_sub_ps(e0, e1), _mm256_sub_ps(o0, o1), _mm256_sub_ps(n0, n1)),
                (e1, o1, n1),
                (_mm256_sub_ps(e2, e1), _mm256_sub_ps(o2, o1), _mm256_sub_ps(n2, n1)),
            ];
            let at = c * t + ty * 8;
            for (i, (e, o, n)) in bt.into_iter().enumerate() {
                // SAFETY: entries 3i .. 3i + 2 of the tile row at `at` lie in `v`.
                unsafe {
                    _mm256_storeu_ps(v.add(3 * i * kt + at), _mm256_sub_ps(e, o));
                    _mm256_storeu_ps(v.add((3 * i + 1) * kt + at), o);
                    _mm256_storeu_ps(v.add((3 * i + 2) * kt + at), _mm256_sub_ps(n, o));
                }
            }
        }
    }
}

/// The planes' gradient from their tiles' gradient `dv` ([`super::Winograd::planes_of_tiles`]
/// for w = 16): per tile row and entry row i, column 2tx gets v0 of tile tx and v2 of tile
/// tx − 1, column 2tx + 1 gets v1 − v0 − v2; then the rows the same way.
///
/// # Safety
/// As [`big_tiles8`], `planes` written instead of read.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn planes_of_tiles8(k: usize, th: usize, plane: usize, dv: *const f32, planes: *mut f32, kt: usize) {
    let t = th * 8;
    let zero = _mm256_setzero_ps();
    let back_one = _mm256_setr_epi32(0, 0, 1, 2, 3, 4, 5, 6);
    for c in 0..k {
        // SAFETY: plane c lies in `planes` (the caller's bounds).
        let p = unsafe { std::slice::from_raw_parts_mut(planes.add(c * plane), plane) };
        let mut carry = [0.0f32; R];
        for ty in 0..th {
            let at = c * t + ty * 8;
            let mut dt = [[0.0f32; R]; 3];
            for (i, row) in dt.iter_mut().enumerate() {
                // SAFETY: entries 3i .. 3i + 2 of the tile row at `at` lie in `dv`.
                let (a, b, c2) = unsafe { (_mm256_loadu_ps(dv.add(3 * i * kt + at)), _mm256_loadu_ps(dv.add((3 * i + 1) * kt + at)), _mm256_loadu_ps(dv.add((3 * i + 2) * kt + at))) };
                // Even columns: v0 of tile tx plus v2 of tile tx − 1 (none for tx = 0).
                let from_left = _mm256_blend_ps::<1>(_mm256_permutevar8x32_ps(c2, back_one), zero);
                let even = _mm256_add_ps(a, from_left);
                let odd = _mm256_sub_ps(_mm256_sub_ps(b, a), c2);
                let (lo, hi) = (_mm256_unpacklo_ps(even, odd), _mm256_unpackhi_ps(even, odd));
                // SAFETY: the row holds R = 17 floats: 16 stored here, the last below.
                unsafe {
                    _mm256_storeu_ps(row.as_mut_ptr(), _mm256_permute2f128_ps::<0x20>(lo, hi));
                    _mm256_storeu_ps(row.as_mut_ptr().add(8), _mm256_permute2f128_ps::<0x31>(lo, hi));
                }
                let mut tail = [0.0f32; 8];
                // SAFETY: eight floats.
                unsafe { _mm256_storeu_ps(tail.as_mut_ptr(), c2) };
                row[16] = tail[7];
            }
            super::plane_rows_of_tile_row(p, ty, R, [&dt[0], &dt[1], &dt[2]], &mut carry);
        }
        p[2 * th * R..][..R].copy_from_slice(&carry);
    }
}
