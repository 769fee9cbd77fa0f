//! Running the engine's own loops (im2col / col2im, bias and activation passes, Adam) with
//! the vector instructions the engine's [`crate::Kernels`] choose. The crate is built for
//! baseline x86-64 (SSE2), so a loop inlined into [`wide`] is compiled again with AVX-512 and
//! with AVX2 + FMA enabled, and the copy for the given [`Level`] runs.

/// Runs `f`, compiled for `level` (which the CPU must have: [`Level::supported`], checked
/// when the [`crate::Kernels`] were built). Everything `f` should vectorize must be inlined
/// into it (`#[inline(always)]` helpers).
#[inline(always)]
pub fn wide<R>(level: Level, f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    match level {
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

/// The instruction set a feature-enabled copy of a loop is compiled for. For a loop with no
/// calls left in it, a copy per level called directly from a `#[target_feature]` function is
/// more reliable than [`wide`]: LLVM may judge a large closure too big to inline into
/// [`wide`]'s feature-enabled function, and the closure then stays baseline code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// AVX-512F, VL and BW with FMA.
    Avx512,
    /// AVX2 with FMA.
    Avx2,
    /// Whatever the compilation target guarantees (SSE2 on x86-64).
    Baseline,
}

impl Level {
    /// Whether this CPU has every instruction the level's copies use.
    pub fn supported(self) -> bool {
        match self {
            Level::Baseline => true,
            #[cfg(target_arch = "x86_64")]
            Level::Avx512 => {
                std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512vl")
                    && std::arch::is_x86_feature_detected!("avx512bw")
                    && std::arch::is_x86_feature_detected!("fma")
            }
            #[cfg(target_arch = "x86_64")]
            Level::Avx2 => std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma"),
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }

    /// The widest level this CPU has.
    pub fn detect() -> Level {
        [Level::Avx512, Level::Avx2].into_iter().find(|l| l.supported()).unwrap_or(Level::Baseline)
    }

    pub fn name(self) -> &'static str {
        match self {
            Level::Avx512 => "avx512",
            Level::Avx2 => "avx2",
            Level::Baseline => "portable",
        }
    }
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
