//! The switchboard: which kernels the engine runs, decided in one place.
//!
//! A [`Kernels`] value says what the engine's own loops are compiled for (AVX-512, AVX2 + FMA
//! or portable code, [`Level`]), where the conv products and where the dense layers'
//! products run (our tap kernels in one of their instruction sets, or the `gemm` crate,
//! [`Products`]), when the parity layers
//! take Winograd's transforms ([`WinogradPolicy`]) and how many samples a thread carries
//! through a run of conv layers ([`Kernels::group`]). It is read once from the CPU and the
//! environment ([`Kernels::current`]), handed to [`crate::Network`] when it is built, and
//! each conv layer turns it into its plan there ([`crate::conv::Algorithm`]); nothing below asks
//! the CPU again. Tests and benchmarks build any value this CPU can run
//! ([`Kernels::supported`]) and compare each with [`Kernels::portable`].
//!
//! Environment (for tests and benchmarks; read once per process):
//! - `DISENTANGLE_ENGINE_KERNELS` = `avx512` | `avx2` (conv products on the AVX2 tap kernels,
//!   dense ones on the crate) | `avx2-taps` (both on the tap kernels) | `avx512-gemm` |
//!   `avx2-gemm` | `gemm` (the widest loops, every product on the crate) | `portable` | `best`
//!   (or unset).
//! - `DISENTANGLE_ENGINE_WINOGRAD` = `off` (or `0`) | N (from N tiles per sample).
//! - `DISENTANGLE_ENGINE_GROUP` = N ≥ 1.
//!
//! The `gemm` crate picks its own instruction set at run time (AVX-512 where the CPU has it);
//! `portable` makes our own code portable, not the crate's.

use std::fmt;
use std::sync::OnceLock;

use crate::simd::Level;
use crate::taps::Isa;

/// Where the conv and dense products run. The two keep packed weights and weight gradients
/// in different layouts, so one choice holds for a whole layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Products {
    /// Our packing-free tap kernels ([`crate::taps`]) for this instruction set.
    Taps(Isa),
    /// The `gemm` crate.
    Gemm,
}

impl Products {
    /// The tap kernels' instruction set, if the products run on them.
    pub fn taps(self) -> Option<Isa> {
        match self {
            Products::Taps(isa) => Some(isa),
            Products::Gemm => None,
        }
    }
    /// Elements of a left operand of `m` rows and `q` reduction indices packed for the tap
    /// kernels (0 on the `gemm` crate, which packs its own).
    pub fn packed_len(self, m: usize, q: usize) -> usize {
        self.taps().map_or(0, |isa| crate::taps::packed_len(isa, m, q))
    }
}

/// When a parity layer runs through Winograd's transforms ([`crate::winograd`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WinogradPolicy {
    Off,
    /// From this many 2 × 2 output tiles per sample up.
    FromTiles(usize),
    /// From the tile counts measured to pay (fewer where the transforms run in AVX-512
    /// registers).
    Measured,
}

/// A [`Kernels`] this CPU cannot run, or a setting that is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KernelsError {
    #[error("{variable}={value:?}: not one of {expected}")]
    Unknown { variable: &'static str, value: String, expected: &'static str },
    #[error("kernels {0:?}: this CPU lacks the instructions they need")]
    Unsupported(String),
    #[error("kernels: {0}")]
    Inconsistent(&'static str),
}

/// The engine's choice of kernels (see the module's header). Built only through its
/// constructors, which check that this CPU runs it and that its parts fit together: tap
/// kernels need loops of at least their width, Winograd needs the tap kernels, a group at
/// least one sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kernels {
    vectors: Level,
    products: Products,
    dense: Products,
    winograd: WinogradPolicy,
    group: usize,
}

/// The preset names [`Kernels::preset`] knows.
const PRESETS: &str = "avx512, avx2, avx2-taps, avx512-gemm, avx2-gemm, gemm, portable, best";

/// The presets below `best`, in the order [`Kernels::supported`] lists them.
const NAMED: [&str; 5] = ["avx2-gemm", "avx2", "avx2-taps", "avx512-gemm", "avx512"];

impl Kernels {
    /// Every part given (`products` for the convs, `dense` for the dense layers); an error
    /// where this CPU cannot run it or the parts do not fit.
    pub fn new(vectors: Level, products: Products, dense: Products, winograd: WinogradPolicy, group: usize) -> Result<Self, KernelsError> {
        let k = Kernels { vectors, products, dense, winograd, group };
        if !vectors.supported() || [products, dense].iter().any(|p| p.taps().is_some_and(|isa| !isa.supported())) {
            return Err(KernelsError::Unsupported(k.name()));
        }
        for p in [products, dense] {
            match p.taps() {
                Some(Isa::Avx512) if vectors != Level::Avx512 => return Err(KernelsError::Inconsistent("AVX-512 tap kernels need AVX-512 loops")),
                Some(Isa::Avx2) if vectors == Level::Baseline => return Err(KernelsError::Inconsistent("AVX2 tap kernels need AVX2 loops")),
                _ => {}
            }
        }
        if products == Products::Gemm && winograd != WinogradPolicy::Off {
            return Err(KernelsError::Inconsistent("Winograd's products run on the tap kernels only"));
        }
        if group == 0 {
            return Err(KernelsError::Inconsistent("a group of zero samples"));
        }
        Ok(k)
    }

    /// The fastest kernels for this CPU, by measurement (`docs/benchmarks.md`): the AVX-512
    /// tap kernels for every product where it has AVX-512; on AVX2 + FMA the AVX2 tap kernels
    /// for the convs and the `gemm` crate for the dense layers (the `avx2` preset); else
    /// portable loops on the crate.
    pub fn best() -> Self {
        match Level::detect() {
            Level::Avx512 => Self::preset("avx512"),
            Level::Avx2 => Self::preset("avx2"),
            Level::Baseline => Ok(Self::portable()),
        }
        .expect("detected from this CPU")
    }

    /// Plain Rust loops (compiled for baseline x86-64 or whatever the target is) and the
    /// `gemm` crate: what every CPU runs, the reference the fast paths are tested against.
    pub fn portable() -> Self {
        Kernels { vectors: Level::Baseline, products: Products::Gemm, dense: Products::Gemm, winograd: WinogradPolicy::Off, group: 1 }
    }

    fn default_winograd(products: Products) -> WinogradPolicy {
        if products == Products::Gemm { WinogradPolicy::Off } else { WinogradPolicy::Measured }
    }

    /// A named choice (see the module's header), with the default Winograd policy and group.
    pub fn preset(name: &str) -> Result<Self, KernelsError> {
        let (vectors, products, dense) = match name {
            "" | "best" => return Ok(Self::best()),
            "portable" => return Ok(Self::portable()),
            "avx512" => (Level::Avx512, Products::Taps(Isa::Avx512), Products::Taps(Isa::Avx512)),
            "avx2" => (Level::Avx2, Products::Taps(Isa::Avx2), Products::Gemm),
            "avx2-taps" => (Level::Avx2, Products::Taps(Isa::Avx2), Products::Taps(Isa::Avx2)),
            "avx512-gemm" => (Level::Avx512, Products::Gemm, Products::Gemm),
            "avx2-gemm" => (Level::Avx2, Products::Gemm, Products::Gemm),
            "gemm" => (Level::detect(), Products::Gemm, Products::Gemm),
            other => return Err(KernelsError::Unknown { variable: "DISENTANGLE_ENGINE_KERNELS", value: other.into(), expected: PRESETS }),
        };
        Self::new(vectors, products, dense, Self::default_winograd(products), 1)
    }

    /// The same kernels with another Winograd policy (ignored, i.e. off, on the crate).
    pub fn with_winograd(self, policy: WinogradPolicy) -> Self {
        Kernels { winograd: if self.products == Products::Gemm { WinogradPolicy::Off } else { policy }, ..self }
    }

    /// The same kernels carrying `group` samples through a conv run (at least 1).
    pub fn with_group(self, group: usize) -> Self {
        Kernels { group: group.max(1), ..self }
    }

    /// What the environment asks for (see the module's header), checked.
    pub fn from_env() -> Result<Self, KernelsError> {
        let var = |name| std::env::var(name).ok().map(|v| v.trim().to_string());
        let mut k = Self::preset(&var("DISENTANGLE_ENGINE_KERNELS").unwrap_or_default())?;
        if let Some(v) = var("DISENTANGLE_ENGINE_WINOGRAD") {
            let policy = match v.as_str() {
                "off" | "0" => WinogradPolicy::Off,
                "" | "on" | "measured" => WinogradPolicy::Measured,
                n => match n.parse::<usize>() {
                    Ok(n) => WinogradPolicy::FromTiles(n),
                    Err(_) => return Err(KernelsError::Unknown { variable: "DISENTANGLE_ENGINE_WINOGRAD", value: v, expected: "off, measured or a tile count" }),
                },
            };
            k = k.with_winograd(policy);
        }
        if let Some(v) = var("DISENTANGLE_ENGINE_GROUP") {
            match v.parse::<usize>() {
                Ok(g) if g > 0 => k = k.with_group(g),
                _ => return Err(KernelsError::Unknown { variable: "DISENTANGLE_ENGINE_GROUP", value: v, expected: "a sample count ≥ 1" }),
            }
        }
        Ok(k)
    }

    /// This process's kernels: [`Kernels::from_env`], read once; [`Kernels::best`] where the
    /// environment names something invalid (the CLI checks [`Kernels::from_env`] first and
    /// reports such a value).
    pub fn current() -> Self {
        static CURRENT: OnceLock<Kernels> = OnceLock::new();
        *CURRENT.get_or_init(|| Self::from_env().unwrap_or_else(|_| Self::best()))
    }

    /// Every preset this CPU runs, [`Kernels::portable`] first and always: what the tests
    /// compare.
    pub fn supported() -> Vec<Self> {
        let mut all = vec![Self::portable()];
        for name in NAMED {
            if let Ok(k) = Self::preset(name) {
                all.push(k);
            }
        }
        all
    }

    pub fn vectors(&self) -> Level {
        self.vectors
    }
    /// Where the conv layers' products run.
    pub fn products(&self) -> Products {
        self.products
    }
    /// Where the dense layers' forward and input-gradient products run (their weight
    /// gradients always run on the `gemm` crate, see [`crate::dense`]).
    pub fn dense_products(&self) -> Products {
        self.dense
    }
    /// The tap kernels' instruction set, if the products run on them.
    pub fn taps(&self) -> Option<Isa> {
        self.products.taps()
    }
    pub fn winograd(&self) -> WinogradPolicy {
        self.winograd
    }
    /// Samples a thread carries through a whole run of conv layers before its next ones (1:
    /// one sample through every layer; the batch: layer-by-layer passes). Any value gives the
    /// same bits; it only changes what stays in cache.
    pub fn group(&self) -> usize {
        self.group
    }

    /// The preset's name of the loops and products (`avx512`, `avx2-gemm`, `portable`, …),
    /// or a description where no preset has them.
    pub fn name(&self) -> String {
        let taps = |p: Products| p.taps().map(Isa::name);
        match (self.vectors, taps(self.products), taps(self.dense)) {
            (Level::Baseline, None, None) => "portable".into(),
            (v, None, None) => format!("{}-gemm", v.name()),
            (Level::Avx512, Some("avx512"), Some("avx512")) => "avx512".into(),
            (Level::Avx2, Some("avx2"), None) => "avx2".into(),
            (Level::Avx2, Some("avx2"), Some("avx2")) => "avx2-taps".into(),
            (v, c, d) => format!("{} loops, convs on {}, dense on {}", v.name(), c.unwrap_or("gemm"), d.unwrap_or("gemm")),
        }
    }
}

impl fmt::Display for Kernels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.name())?;
        match self.winograd {
            WinogradPolicy::Off if self.products != Products::Gemm => write!(f, ", Winograd off")?,
            WinogradPolicy::FromTiles(n) => write!(f, ", Winograd from {n} tiles")?,
            _ => {}
        }
        if self.group != 1 {
            write!(f, ", group {}", self.group)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn portable_is_always_supported_and_first() {
        let all = Kernels::supported();
        assert_eq!(all[0], Kernels::portable());
        assert_eq!(Kernels::preset("portable").unwrap(), Kernels::portable());
        assert!(all.contains(&Kernels::best()), "the best kernels are among the supported ones");
        // Every named preset is either listed or refused by this CPU.
        let refused = NAMED.iter().filter(|n| Kernels::preset(n).is_err()).count();
        assert_eq!(all.len() + refused, 1 + NAMED.len());
    }

    #[test]
    fn inconsistent_or_unknown_choices_are_refused() {
        assert!(matches!(Kernels::preset("avx9"), Err(KernelsError::Unknown { .. })));
        let gemm = Products::Gemm;
        assert!(matches!(Kernels::new(Level::Baseline, gemm, gemm, WinogradPolicy::Measured, 1), Err(KernelsError::Inconsistent(_))));
        assert!(matches!(Kernels::new(Level::Baseline, gemm, gemm, WinogradPolicy::Off, 0), Err(KernelsError::Inconsistent(_))));
        if Isa::Avx2.supported() {
            let taps = Products::Taps(Isa::Avx2);
            assert!(matches!(Kernels::new(Level::Baseline, taps, gemm, WinogradPolicy::Off, 1), Err(KernelsError::Inconsistent(_))));
            assert!(matches!(Kernels::new(Level::Baseline, gemm, taps, WinogradPolicy::Off, 1), Err(KernelsError::Inconsistent(_))));
        }
        assert_eq!(Kernels::portable().with_winograd(WinogradPolicy::Measured).winograd(), WinogradPolicy::Off);
        assert_eq!(Kernels::portable().with_group(0).group(), 1);
    }

    #[test]
    fn names_round_trip_through_presets() {
        for k in Kernels::supported() {
            assert_eq!(Kernels::preset(&k.name()).unwrap(), k, "{k}");
        }
    }
}
