//! Packing-free products for the parity convolutions ([`crate::parity`]) and, with a single
//! tap, for the lowered convolutions' products ([`crate::conv`]), in AVX-512 and AVX2 + FMA.
//!
//! A parity conv is a sum of GEMMs whose right operand is one buffer read at a few shifts
//! ("taps"). The `gemm` crate computes each tap as its own product: it packs the shifted view
//! again for every tap, reads and writes the output once per tap, and pays its dispatch for
//! what are small per-sample products (M = 32–64, K = 32–256, N = 20–288). These kernels
//! instead keep a block of the output in registers across all taps and the whole reduction
//! (8 × 48 with AVX-512's 32 registers, 6 × 16 with AVX2's 16), broadcasting the left operand
//! from a layout packed once per layer and step, and loading the right operand straight from
//! the shifted buffer (masked at the block's edge, so nothing past the last column is read).
//! On the reference shapes the AVX-512 ones run at 80–97 % of a core's FMA peak, against
//! 50–80 % for the crate (`docs/benchmarks.md`). The weight-gradient kernel, which
//! broadcasts its left operand at any strides and loads its right operand's rows in place, is
//! also [`strided_product`]: the dense layers' forward and input-gradient products, where the
//! crate would pack a whole weight matrix for every product.
//!
//! Which kernels run is the engine's [`crate::Kernels`]' choice ([`crate::kernels::Products`]):
//! every function here takes the [`Isa`] to run. The AVX2 + FMA kernels reach 80–90 % of the
//! AVX-512 ones' speed in the forward products on an AMD Zen 4 and ≈ 75 % in the weight
//! gradients (`docs/benchmarks.md`).

/// An instruction set the kernels of this module are written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isa {
    Avx512,
    Avx2,
}

impl Isa {
    /// Rows of the output block of [`tap_product`] (and of a packed block of its left
    /// operand): sized so the accumulators, the right operand's vectors and one broadcast
    /// fill the register file.
    pub fn rows(self) -> usize {
        match self {
            Isa::Avx512 => 8,
            Isa::Avx2 => 6,
        }
    }

    /// Whether this CPU can run the kernels for `self`.
    pub fn supported(self) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            match self {
                Isa::Avx512 => std::arch::is_x86_feature_detected!("avx512f"),
                Isa::Avx2 => std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma"),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Isa::Avx512 => "avx512",
            Isa::Avx2 => "avx2",
        }
    }
}

/// Elements of a left operand of `m` rows and `q` reduction indices once packed for the
/// kernels of `isa`.
pub fn packed_len(isa: Isa, m: usize, q: usize) -> usize {
    m.div_ceil(isa.rows()) * isa.rows() * q
}

/// Packs a(row, q) for rows 0..m, q in 0..qn into `out` as [row block][q][rows] (rows past m
/// zero), the layout [`tap_product`] for `isa` broadcasts from.
#[inline(always)]
pub fn pack(isa: Isa, m: usize, qn: usize, out: &mut [f32], a: impl Fn(usize, usize) -> f32) {
    let mr = isa.rows();
    let out = &mut out[..packed_len(isa, m, qn)];
    for (mb, block) in out.chunks_exact_mut(qn * mr).enumerate() {
        for (q, lane) in block.chunks_exact_mut(mr).enumerate() {
            for (i, v) in lane.iter_mut().enumerate() {
                let row = mb * mr + i;
                *v = if row < m { a(row, q) } else { 0.0 };
            }
        }
    }
}

/// c[i, j] (+)= Σ_t Σ_l A[i, (t, l)] · b[taps[t] + l·bs + j] for i < m, j < n, l < k.
///
/// `packed` is A as [`pack`] lays it out with q = t·k + l; c has row stride `ldc`.
/// `accumulate` adds to c instead of overwriting it. Runs the kernels of `isa` (`packed`
/// laid out for it); panics unless the CPU supports `isa`.
#[allow(clippy::too_many_arguments)]
pub fn tap_product(isa: Isa, m: usize, n: usize, k: usize, taps: &[usize], packed: &[f32], b: &[f32], bs: usize, c: &mut [f32], ldc: usize, accumulate: bool) {
    if m == 0 || n == 0 {
        return;
    }
    assert!(isa.supported(), "tap_product: this CPU cannot run the {isa:?} kernels");
    let qn = taps.len() * k;
    assert!(packed.len() >= packed_len(isa, m, qn), "tap_product: packed operand too small");
    if qn > 0 {
        let last = taps.iter().max().expect("taps") + (k - 1) * bs + n;
        assert!(last <= b.len(), "tap_product: right operand too small");
    }
    assert!((m - 1) * ldc + n <= c.len(), "tap_product: output too small");
    #[cfg(target_arch = "x86_64")]
    // SAFETY: the CPU supports `isa` (asserted above); the asserts above keep every unmasked
    // access inside the slices, and masked-off lanes are never touched.
    unsafe {
        match isa {
            Isa::Avx512 => avx512::tap_product(m, n, k, taps, packed.as_ptr(), b.as_ptr(), bs, c.as_mut_ptr(), ldc, accumulate),
            Isa::Avx2 => avx2::tap_product(m, n, k, taps, packed.as_ptr(), b.as_ptr(), bs, c.as_mut_ptr(), ldc, accumulate),
        }
    }
}

/// dwt[(t, l), s] += Σ_j b[taps[t] + l·bs + j] · gt[j·ld + s] for l < k, s < sn, j < n: the
/// weight gradient of [`tap_product`] with the output gradient given transposed (gt [n, ld]).
/// dwt is [taps, k, sn]. Panics unless the CPU supports `isa`.
#[allow(clippy::too_many_arguments)]
pub fn tap_weight_gradient(isa: Isa, k: usize, sn: usize, n: usize, taps: &[usize], b: &[f32], bs: usize, gt: &[f32], ld: usize, dwt: &mut [f32]) {
    if k == 0 || sn == 0 || n == 0 {
        return;
    }
    assert!(isa.supported(), "tap_weight_gradient: this CPU cannot run the {isa:?} kernels");
    assert!(ld >= sn && (n - 1) * ld + sn <= gt.len(), "tap_weight_gradient: gradient operand too small");
    let last = taps.iter().max().expect("taps") + (k - 1) * bs + n;
    assert!(last <= b.len(), "tap_weight_gradient: right operand too small");
    assert!(dwt.len() >= taps.len() * k * sn, "tap_weight_gradient: output too small");
    #[cfg(target_arch = "x86_64")]
    // SAFETY: as for `tap_product`.
    unsafe {
        match isa {
            Isa::Avx512 => avx512::broadcast_rows(k, sn, n, taps, b.as_ptr(), bs, 1, gt.as_ptr(), ld, dwt.as_mut_ptr(), sn, true),
            Isa::Avx2 => avx2::broadcast_rows(k, sn, n, taps, b.as_ptr(), bs, 1, gt.as_ptr(), ld, dwt.as_mut_ptr(), sn, true),
        }
    }
}

/// c[i·ldc + s] (+)= Σ_j a[i·ars + j·acs] · b[j·ldb + s] for i < m, s < n, j < k.
///
/// The weight-gradient kernel as a general product: the left operand is read in place at
/// any strides (each element is one broadcast, so a transposed view costs nothing) and the
/// right operand's rows are loaded straight from memory, so neither operand is packed. The
/// dense layers use it: packing a 1000 × 1000 weight for every product (what the `gemm`
/// crate does) costs as much as the product itself at 64 rows. `accumulate` adds to c
/// instead of overwriting it. Panics unless the CPU supports `isa`.
#[allow(clippy::too_many_arguments)]
pub fn strided_product(isa: Isa, m: usize, n: usize, k: usize, a: &[f32], ars: usize, acs: usize, b: &[f32], ldb: usize, c: &mut [f32], ldc: usize, accumulate: bool) {
    if m == 0 || n == 0 {
        return;
    }
    assert!(isa.supported(), "strided_product: this CPU cannot run the {isa:?} kernels");
    assert!(ldc >= n && (m - 1) * ldc + n <= c.len(), "strided_product: output too small");
    if k == 0 {
        if !accumulate {
            c.chunks_mut(ldc).take(m).for_each(|row| row[..n].fill(0.0));
        }
        return;
    }
    assert!((m - 1) * ars + (k - 1) * acs < a.len(), "strided_product: left operand too small");
    assert!((k - 1) * ldb + n <= b.len(), "strided_product: right operand too small");
    #[cfg(target_arch = "x86_64")]
    // SAFETY: the CPU supports `isa`; the asserts above keep every unmasked access inside the
    // slices, masked-off lanes are never touched, and c is borrowed mutably, so it aliases
    // neither operand.
    unsafe {
        match isa {
            Isa::Avx512 => avx512::broadcast_rows(m, n, k, &[0], a.as_ptr(), ars, acs, b.as_ptr(), ldb, c.as_mut_ptr(), ldc, accumulate),
            Isa::Avx2 => avx2::broadcast_rows(m, n, k, &[0], a.as_ptr(), ars, acs, b.as_ptr(), ldb, c.as_mut_ptr(), ldc, accumulate),
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    /// Rows and columns of an output block: 32 registers hold 8 × 3 accumulators.
    const MR: usize = 8;
    const NB: usize = 48;

    /// Lanes 0..len of a 16-lane vector (len in 1..=16).
    #[inline(always)]
    fn lanes(len: usize) -> __mmask16 {
        if len >= 16 { 0xffff } else { ((1u32 << len) - 1) as __mmask16 }
    }

    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn tap_product(m: usize, n: usize, k: usize, taps: &[usize], packed: *const f32, b: *const f32, bs: usize, c: *mut f32, ldc: usize, accumulate: bool) {
        let qn = taps.len() * k;
        let mut n0 = 0;
        while n0 < n {
            let width = (n - n0).min(NB);
            let nv = width.div_ceil(16);
            let mask = lanes(width - (nv - 1) * 16);
            for mb in 0..m.div_ceil(MR) {
                let rows = (m - mb * MR).min(MR);
                // SAFETY (all three): in bounds by the caller's asserts.
                unsafe {
                    let (a, bp, cp) = (packed.add(mb * qn * MR), b.add(n0), c.add(mb * MR * ldc + n0));
                    match nv {
                        3 => block::<3>(taps, k, a, bp, bs, cp, ldc, rows, mask, accumulate),
                        2 => block::<2>(taps, k, a, bp, bs, cp, ldc, rows, mask, accumulate),
                        _ => block::<1>(taps, k, a, bp, bs, cp, ldc, rows, mask, accumulate),
                    }
                }
            }
            n0 += NB;
        }
    }

    /// One MR × 16·NV output block (its last vector masked to `mask`), all taps, all k.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    unsafe fn block<const NV: usize>(taps: &[usize], k: usize, mut a: *const f32, b: *const f32, bs: usize, c: *mut f32, ldc: usize, rows: usize, mask: __mmask16, accumulate: bool) {
        unsafe {
            let mut acc = [[_mm512_setzero_ps(); NV]; MR];
            for &off in taps {
                let mut row = b.add(off);
                for _ in 0..k {
                    let mut bv = [_mm512_setzero_ps(); NV];
                    for (v, x) in bv.iter_mut().enumerate() {
                        *x = if v + 1 == NV { _mm512_maskz_loadu_ps(mask, row.add(16 * v)) } else { _mm512_loadu_ps(row.add(16 * v)) };
                    }
                    for (i, acc_row) in acc.iter_mut().enumerate() {
                        let av = _mm512_set1_ps(*a.add(i));
                        for (x, y) in acc_row.iter_mut().zip(&bv) {
                            *x = _mm512_fmadd_ps(av, *y, *x);
                        }
                    }
                    a = a.add(MR);
                    row = row.add(bs);
                }
            }
            for (i, acc_row) in acc.iter().enumerate().take(rows) {
                let out = c.add(i * ldc);
                for (v, x) in acc_row.iter().enumerate() {
                    let mv = if v + 1 == NV { mask } else { 0xffff };
                    let p = out.add(16 * v);
                    let value = if accumulate { _mm512_add_ps(*x, _mm512_maskz_loadu_ps(mv, p)) } else { *x };
                    _mm512_mask_storeu_ps(p, mv, value);
                }
            }
        }
    }

    /// out[(t·k + l)·ldo + s] (+)= Σ_j b[taps[t] + l·bs + j·bcs] · gt[j·ld + s] for l < k,
    /// s < sn, j < n: [`super::tap_weight_gradient`] and [`super::strided_product`].
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn broadcast_rows(k: usize, sn: usize, n: usize, taps: &[usize], b: *const f32, bs: usize, bcs: usize, gt: *const f32, ld: usize, out: *mut f32, ldo: usize, accumulate: bool) {
        for (t, &off) in taps.iter().enumerate() {
            // Output columns in chunks of up to four vectors; rows in blocks sized so the
            // accumulators fit the 32 vector registers.
            let mut s0 = 0;
            while s0 < sn {
                let width = (sn - s0).min(64);
                let nv = width.div_ceil(16);
                let mask = lanes(width - (nv - 1) * 16);
                let full = if nv > 2 { 6 } else { 8 };
                let mut l0 = 0;
                while l0 < k {
                    let rows = (k - l0).min(full);
                    let rows = if rows == full { full } else if rows >= 4 { 4 } else if rows >= 2 { 2 } else { 1 };
                    // SAFETY: in bounds by the caller's asserts.
                    unsafe {
                        let (bp, gp, op) = (b.add(off + l0 * bs), gt.add(s0), out.add((t * k + l0) * ldo + s0));
                        macro_rules! go {
                            ($r:literal, $v:literal) => {
                                grad_block::<$r, $v>(n, bp, bs, bcs, gp, ld, op, ldo, mask, accumulate)
                            };
                        }
                        match (rows, nv) {
                            (8, 1) => go!(8, 1),
                            (8, _) => go!(8, 2),
                            (6, 3) => go!(6, 3),
                            (6, _) => go!(6, 4),
                            (4, 1) => go!(4, 1),
                            (4, 2) => go!(4, 2),
                            (4, 3) => go!(4, 3),
                            (4, _) => go!(4, 4),
                            (2, 1) => go!(2, 1),
                            (2, 2) => go!(2, 2),
                            (2, 3) => go!(2, 3),
                            (2, _) => go!(2, 4),
                            (_, 1) => go!(1, 1),
                            (_, 2) => go!(1, 2),
                            (_, 3) => go!(1, 3),
                            _ => go!(1, 4),
                        }
                    }
                    l0 += rows;
                }
                s0 += 64;
            }
        }
    }

    /// out[i, s] (+)= Σ_j b[i·bs + j·bcs] · gt[j·ld + s] for i < R, s < 16·NV (last vector
    /// masked).
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    unsafe fn grad_block<const R: usize, const NV: usize>(n: usize, b: *const f32, bs: usize, bcs: usize, gt: *const f32, ld: usize, out: *mut f32, ldo: usize, mask: __mmask16, accumulate: bool) {
        unsafe {
            let mut acc = [[_mm512_setzero_ps(); NV]; R];
            for j in 0..n {
                let g = gt.add(j * ld);
                let mut gv = [_mm512_setzero_ps(); NV];
                for (v, x) in gv.iter_mut().enumerate() {
                    *x = if v + 1 == NV { _mm512_maskz_loadu_ps(mask, g.add(16 * v)) } else { _mm512_loadu_ps(g.add(16 * v)) };
                }
                for (i, acc_row) in acc.iter_mut().enumerate() {
                    let bv = _mm512_set1_ps(*b.add(i * bs + j * bcs));
                    for (x, y) in acc_row.iter_mut().zip(&gv) {
                        *x = _mm512_fmadd_ps(bv, *y, *x);
                    }
                }
            }
            for (i, acc_row) in acc.iter().enumerate() {
                for (v, x) in acc_row.iter().enumerate() {
                    let mv = if v + 1 == NV { mask } else { 0xffff };
                    let p = out.add(i * ldo + 16 * v);
                    let value = if accumulate { _mm512_add_ps(*x, _mm512_maskz_loadu_ps(mv, p)) } else { *x };
                    _mm512_mask_storeu_ps(p, mv, value);
                }
            }
        }
    }
}

/// The AVX2 + FMA kernels: the same loops as [`x86`]'s on 8-lane vectors, with blocks sized
/// for 16 registers (6 × 2 accumulators, two right-operand vectors, one broadcast) and
/// AVX2's vector masks at the block's edge.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    const MR: usize = 6;
    const NB: usize = 16;

    /// A mask of lanes 0..len (len in 1..=8) for `maskload` / `maskstore`.
    #[inline(always)]
    unsafe fn lanes(len: usize) -> __m256i {
        static TABLE: [i32; 16] = [-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0];
        // SAFETY: 8 − len ≤ 7, so the eight lanes read lie inside TABLE.
        unsafe { _mm256_loadu_si256(TABLE.as_ptr().add(8 - len) as *const __m256i) }
    }

    /// Loads vector v of a block of NV vectors at p; the last one only on `mask` when `partial`.
    #[inline(always)]
    unsafe fn load<const NV: usize>(p: *const f32, v: usize, partial: bool, mask: __m256i) -> __m256 {
        unsafe { if partial && v + 1 == NV { _mm256_maskload_ps(p.add(8 * v), mask) } else { _mm256_loadu_ps(p.add(8 * v)) } }
    }

    #[inline(always)]
    unsafe fn store<const NV: usize>(p: *mut f32, v: usize, partial: bool, mask: __m256i, x: __m256, accumulate: bool) {
        unsafe {
            let x = if accumulate { _mm256_add_ps(x, load::<NV>(p, v, partial, mask)) } else { x };
            if partial && v + 1 == NV { _mm256_maskstore_ps(p.add(8 * v), mask, x) } else { _mm256_storeu_ps(p.add(8 * v), x) }
        }
    }

    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn tap_product(m: usize, n: usize, k: usize, taps: &[usize], packed: *const f32, b: *const f32, bs: usize, c: *mut f32, ldc: usize, accumulate: bool) {
        let qn = taps.len() * k;
        let mut n0 = 0;
        while n0 < n {
            let width = (n - n0).min(NB);
            let nv = width.div_ceil(8);
            let tail = width - (nv - 1) * 8;
            // SAFETY: tail is in 1..=8.
            let (partial, mask) = (tail < 8, unsafe { lanes(tail) });
            for mb in 0..m.div_ceil(MR) {
                let rows = (m - mb * MR).min(MR);
                // SAFETY (all three): in bounds by the caller's asserts.
                unsafe {
                    let (a, bp, cp) = (packed.add(mb * qn * MR), b.add(n0), c.add(mb * MR * ldc + n0));
                    // The edge flag is a constant of each copy, so a full block's loop holds no
                    // mask register next to its 12 accumulators, two right-operand vectors and
                    // one broadcast (15 of the 16 registers; 4 × 24 blocks spilled).
                    match (nv, partial) {
                        (2, false) => block::<2, false>(taps, k, a, bp, bs, cp, ldc, rows, mask, accumulate),
                        (2, true) => block::<2, true>(taps, k, a, bp, bs, cp, ldc, rows, mask, accumulate),
                        (_, false) => block::<1, false>(taps, k, a, bp, bs, cp, ldc, rows, mask, accumulate),
                        _ => block::<1, true>(taps, k, a, bp, bs, cp, ldc, rows, mask, accumulate),
                    }
                }
            }
            n0 += NB;
        }
    }

    /// One MR × 8·NV output block, all taps, all k.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    unsafe fn block<const NV: usize, const PARTIAL: bool>(taps: &[usize], k: usize, mut a: *const f32, b: *const f32, bs: usize, c: *mut f32, ldc: usize, rows: usize, mask: __m256i, accumulate: bool) {
        unsafe {
            let mut acc = [[_mm256_setzero_ps(); NV]; MR];
            for &off in taps {
                let mut row = b.add(off);
                for _ in 0..k {
                    let mut bv = [_mm256_setzero_ps(); NV];
                    for (v, x) in bv.iter_mut().enumerate() {
                        *x = load::<NV>(row, v, PARTIAL, mask);
                    }
                    for (i, acc_row) in acc.iter_mut().enumerate() {
                        let av = _mm256_set1_ps(*a.add(i));
                        for (x, y) in acc_row.iter_mut().zip(&bv) {
                            *x = _mm256_fmadd_ps(av, *y, *x);
                        }
                    }
                    a = a.add(MR);
                    row = row.add(bs);
                }
            }
            for (i, acc_row) in acc.iter().enumerate().take(rows) {
                for (v, x) in acc_row.iter().enumerate() {
                    store::<NV>(c.add(i * ldc), v, PARTIAL, mask, *x, accumulate);
                }
            }
        }
    }

    /// The AVX2 copy of [`super::avx512::broadcast_rows`].
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn broadcast_rows(k: usize, sn: usize, n: usize, taps: &[usize], b: *const f32, bs: usize, bcs: usize, gt: *const f32, ld: usize, out: *mut f32, ldo: usize, accumulate: bool) {
        for (t, &off) in taps.iter().enumerate() {
            // Output columns in chunks of up to two vectors, rows in blocks of up to six:
            // 12 accumulators, two gradient vectors and one broadcast.
            let mut s0 = 0;
            while s0 < sn {
                let width = (sn - s0).min(16);
                let nv = width.div_ceil(8);
                let tail = width - (nv - 1) * 8;
                // SAFETY: tail is in 1..=8.
                let (partial, mask) = (tail < 8, unsafe { lanes(tail) });
                let mut l0 = 0;
                while l0 < k {
                    let rows = match k - l0 {
                        r if r >= 6 => 6,
                        r if r >= 4 => 4,
                        r if r >= 2 => 2,
                        _ => 1,
                    };
                    // SAFETY: in bounds by the caller's asserts.
                    unsafe {
                        let (bp, gp, op) = (b.add(off + l0 * bs), gt.add(s0), out.add((t * k + l0) * ldo + s0));
                        macro_rules! go {
                            ($r:literal, $v:literal) => {
                                grad_block::<$r, $v>(n, bp, bs, bcs, gp, ld, op, ldo, partial, mask, accumulate)
                            };
                        }
                        match (rows, nv) {
                            (6, 1) => go!(6, 1),
                            (6, _) => go!(6, 2),
                            (4, 1) => go!(4, 1),
                            (4, _) => go!(4, 2),
                            (2, 1) => go!(2, 1),
                            (2, _) => go!(2, 2),
                            (_, 1) => go!(1, 1),
                            _ => go!(1, 2),
                        }
                    }
                    l0 += rows;
                }
                s0 += 16;
            }
        }
    }

    /// out[i, s] (+)= Σ_j b[i·bs + j·bcs] · gt[j·ld + s] for i < R, s < 8·NV.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    unsafe fn grad_block<const R: usize, const NV: usize>(n: usize, b: *const f32, bs: usize, bcs: usize, gt: *const f32, ld: usize, out: *mut f32, ldo: usize, partial: bool, mask: __m256i, accumulate: bool) {
        unsafe {
            let mut acc = [[_mm256_setzero_ps(); NV]; R];
            for j in 0..n {
                let g = gt.add(j * ld);
                let mut gv = [_mm256_setzero_ps(); NV];
                for (v, x) in gv.iter_mut().enumerate() {
                    *x = load::<NV>(g, v, partial, mask);
                }
                for (i, acc_row) in acc.iter_mut().enumerate() {
                    let bv = _mm256_set1_ps(*b.add(i * bs + j * bcs));
                    for (x, y) in acc_row.iter_mut().zip(&gv) {
                        *x = _mm256_fmadd_ps(bv, *y, *x);
                    }
                }
            }
            for (i, acc_row) in acc.iter().enumerate() {
                for (v, x) in acc_row.iter().enumerate() {
                    store::<NV>(out.add(i * ldo), v, partial, mask, *x, accumulate);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(n: usize, f: f32) -> Vec<f32> {
        (0..n).map(|i| ((i as f32 + 0.5) * f).sin()).collect()
    }

    /// The instruction sets this CPU can run the kernels for (each is tested, whichever one
    /// [`isa`] picks).
    fn isas() -> Vec<Isa> {
        let found: Vec<Isa> = [Isa::Avx512, Isa::Avx2].into_iter().filter(|i| i.supported()).collect();
        if found.is_empty() {
            eprintln!("neither AVX-512F nor AVX2 + FMA on this CPU: the tap kernels are not used here, nothing to test");
        }
        found
    }

    #[test]
    fn tap_products_match_an_f64_sum_on_every_edge_shape() {
        for isa in isas() {
            for (m, n, k, bs, taps) in [
                (32, 272, 128, 289, vec![0, 1, 17, 18]),
                (13, 50, 7, 60, vec![0, 3, 11]),
                (8, 48, 5, 49, vec![0]),
                (1, 1, 1, 1, vec![0]),
                (9, 17, 3, 20, vec![2, 0]),
                (64, 24, 64, 36, vec![0, 1, 6, 7]),
                (7, 96, 2, 100, vec![1]),
                (5, 23, 4, 30, vec![0, 1]),
                (4, 24, 3, 25, vec![0]),
                (3, 9, 6, 10, vec![1, 0]),
            ] {
                let t = taps.len();
                let a = values(m * t * k, 0.37);
                let b = values(taps.iter().max().unwrap() + (k - 1) * bs + n, 0.11);
                let mut packed = vec![f32::NAN; packed_len(isa, m, t * k)];
                pack(isa, m, t * k, &mut packed, |i, q| a[i * t * k + q]);
                let ldc = n + 3;
                for accumulate in [false, true] {
                    let start = values(m * ldc, 0.7);
                    let mut c = start.clone();
                    tap_product(isa, m, n, k, &taps, &packed, &b, bs, &mut c, ldc, accumulate);
                    for i in 0..m {
                        for j in 0..ldc {
                            let got = c[i * ldc + j];
                            if j >= n {
                                assert_eq!(got, start[i * ldc + j], "wrote outside the output at ({i}, {j})");
                                continue;
                            }
                            let mut want = if accumulate { start[i * ldc + j] as f64 } else { 0.0 };
                            let mut magnitude = want.abs();
                            for (ti, &off) in taps.iter().enumerate() {
                                for l in 0..k {
                                    let term = a[i * t * k + ti * k + l] as f64 * b[off + l * bs + j] as f64;
                                    want += term;
                                    magnitude += term.abs();
                                }
                            }
                            // The worst-case rounding of an f32 sum of t·k + 1 terms.
                            let bound = (t * k + 2) as f64 * f32::EPSILON as f64 * magnitude;
                            assert!((got as f64 - want).abs() <= bound, "{isa:?} m{m} n{n} k{k} ({i}, {j}): {got} vs {want}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn strided_products_match_an_f64_sum_for_plain_and_transposed_left_operands() {
        for isa in isas() {
            for (m, n, k) in [(64, 1000, 10), (13, 70, 9), (1, 1, 1), (7, 23, 33), (30, 130, 5), (9, 2, 17)] {
                let a = values(m * k, 0.37);
                let b = values(k * (n + 1), 0.11);
                let ldc = n + 3;
                // a as [m, k] row-major, then the same values read through a transposed view.
                let at: Vec<f32> = (0..k * m).map(|x| a[(x % m) * k + x / m]).collect();
                for ((left, ars, acs), accumulate) in [((&a, k, 1), false), ((&at, 1, m), true), ((&a, k, 1), true), ((&at, 1, m), false)] {
                    let start = values(m * ldc, 0.7);
                    let mut c = start.clone();
                    strided_product(isa, m, n, k, left, ars, acs, &b, n + 1, &mut c, ldc, accumulate);
                    for i in 0..m {
                        for s in 0..ldc {
                            let got = c[i * ldc + s];
                            if s >= n {
                                assert_eq!(got, start[i * ldc + s], "wrote outside the output at ({i}, {s})");
                                continue;
                            }
                            let terms = (0..k).map(|j| a[i * k + j] as f64 * b[j * (n + 1) + s] as f64);
                            let first = if accumulate { start[i * ldc + s] as f64 } else { 0.0 };
                            let want = first + terms.clone().sum::<f64>();
                            let bound = (k + 2) as f64 * f32::EPSILON as f64 * (first.abs() + terms.map(f64::abs).sum::<f64>());
                            assert!((got as f64 - want).abs() <= bound, "{isa:?} m{m} n{n} k{k} ({i}, {s}): {got} vs {want}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn tap_weight_gradients_match_an_f64_sum_on_every_edge_shape() {
        for isa in isas() {
            for (k, sn, n, bs, taps) in [
                (128, 32, 272, 289, vec![0, 1, 17, 18]),
                (256, 64, 20, 25, vec![0, 1, 5, 6]),
                (13, 70, 9, 12, vec![0, 2]),
                (5, 17, 33, 40, vec![3]),
                (1, 1, 1, 1, vec![0]),
                (11, 48, 7, 8, vec![1, 0]),
                (7, 23, 5, 6, vec![0, 1]),
                (3, 9, 4, 5, vec![0]),
            ] {
                let t = taps.len();
                let ld = sn + 2;
                let b = values(taps.iter().max().unwrap() + (k - 1) * bs + n, 0.11);
                let gt = values((n - 1) * ld + sn, 0.29);
                let start = values(t * k * sn, 0.5);
                let mut dwt = start.clone();
                tap_weight_gradient(isa, k, sn, n, &taps, &b, bs, &gt, ld, &mut dwt);
                for ti in 0..t {
                    for l in 0..k {
                        for s in 0..sn {
                            let idx = (ti * k + l) * sn + s;
                            let terms = (0..n).map(|j| b[taps[ti] + l * bs + j] as f64 * gt[j * ld + s] as f64);
                            let want = start[idx] as f64 + terms.clone().sum::<f64>();
                            let magnitude = start[idx].abs() as f64 + terms.map(f64::abs).sum::<f64>();
                            let bound = (n + 2) as f64 * f32::EPSILON as f64 * magnitude;
                            assert!((dwt[idx] as f64 - want).abs() <= bound, "{isa:?} k{k} s{sn} n{n} ({ti}, {l}, {s}): {} vs {want}", dwt[idx]);
                        }
                    }
                }
            }
        }
    }
}
