//! Winograd's transforms in AVX-512 registers, for the reference models' shapes. For rows of
//! eight tiles (w = 16) a pair of tile rows is one 16-lane vector of each V_e, built from
//! whole plane rows with two-source permutes, so nothing is gathered element by element; for
//! the 8 × 8 small images (4 × 4 tiles) each channel and entry is one vector. The generic
//! loops of the parent module compute the same values (`tests.rs` compares the two).

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
