//! Running the engine's own loops (im2col / col2im, bias and activation passes, Adam) with
//! the widest vector instructions the CPU has. The crate is built for baseline x86-64
//! (SSE2), so a loop inlined into [`wide`] is compiled a second time with AVX-512 enabled and
//! that copy is taken when the CPU supports it (checked once, then cached by std).

/// Runs `f`, compiled for AVX-512 where the CPU has it. Everything `f` should vectorize
/// must be inlined into it (`#[inline(always)]` helpers).
#[inline(always)]
pub fn wide<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    match level() {
        // SAFETY: the CPU has every feature the function is compiled for.
        Level::Avx512 => return unsafe { avx512(f) },
        // SAFETY: as above.
        Level::Avx2 => return unsafe { avx2(f) },
        Level::Baseline => {}
    }
    f()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,avx512bw,avx2,fma")]
unsafe fn avx512<R>(f: impl FnOnce() -> R) -> R {
    f()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn avx2<R>(f: impl FnOnce() -> R) -> R {
    f()
}

/// The widest instruction set a feature-enabled copy of a loop may use on this CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Avx512,
    Avx2,
    Baseline,
}

/// This CPU's [`Level`] (std caches the feature checks, so this is a few loads). For a loop
/// with no calls left in it, a copy per level called directly from a `#[target_feature]`
/// function is more reliable than [`wide`]: LLVM may judge a large closure too big to inline
/// into [`wide`]'s feature-enabled function, and the closure then stays baseline code.
#[inline(always)]
pub fn level() -> Level {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512vl")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("fma")
        {
            return Level::Avx512;
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            return Level::Avx2;
        }
    }
    Level::Baseline
}

/// A 16-lane permute index table (for `_mm512_permutexvar_ps` / `_mm512_permutex2var_ps`) as
/// a vector; the AVX-512 transforms of patches4, winograd and transpose share it.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
pub(crate) fn permute_index(lanes: &[i32; 16]) -> std::arch::x86_64::__m512i {
    // SAFETY: the table is 16 lanes.
    unsafe { std::arch::x86_64::_mm512_loadu_si512(lanes.as_ptr() as *const _) }
}
