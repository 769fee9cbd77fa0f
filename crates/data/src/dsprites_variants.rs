//! The reference study's dSprites variants: dSprites images (from the procedural generator or
//! the official file) with a per-observation random nuisance, drawn as disentanglement_lib
//! draws it when it samples observations from factors. The factors stay dSprites' five; the
//! observations become RGB. The nuisances are in `color_dsprites.rs`, `noisy_dsprites.rs` and
//! `scream_dsprites.rs`.

use rand::RngCore;

use crate::error::{DataError, Result};
use crate::factors::{FactorDataset, FactorSpace, batch_seeded_rng, check_output};

const PIXELS: usize = 64 * 64;

/// How a variant turns one binary dSprites image into an RGB observation.
pub trait Nuisance: Send + Sync {
    /// The variant's name (`color-dsprites` …) for a base of the given name.
    fn name(&self) -> &'static str;
    fn describe(&self) -> String;
    fn resident_bytes(&self) -> usize {
        0
    }
    /// `grey`: 64×64 values in {0, 1}; `out`: 3×64×64 (CHW). Draws from `rng` in a fixed order.
    fn apply(&self, grey: &[f32], rng: &mut dyn RngCore, out: &mut [f32]);
}

/// A dSprites dataset with a nuisance applied to every observation.
pub struct DSpritesVariant<N: Nuisance> {
    base: Box<dyn FactorDataset>,
    nuisance: N,
    name: String,
}

impl<N: Nuisance> DSpritesVariant<N> {
    /// Wraps a dSprites dataset (1×64×64 binary observations).
    pub fn new(base: Box<dyn FactorDataset>, nuisance: N) -> Result<Self> {
        if base.observation_shape() != [1, 64, 64] {
            return Err(DataError::InvalidParameter {
                name: "dataset",
                message: format!("{} needs 1×64×64 dSprites images, `{}` has {:?}", nuisance.name(), base.name(), base.observation_shape()),
            });
        }
        let name = if base.name().ends_with("-official") { format!("{}-official", nuisance.name()) } else { nuisance.name().to_string() };
        Ok(DSpritesVariant { base, nuisance, name })
    }
}

impl<N: Nuisance> FactorDataset for DSpritesVariant<N> {
    fn name(&self) -> &str {
        &self.name
    }
    fn source(&self) -> String {
        format!("{} on {}", self.nuisance.describe(), self.base.source())
    }
    fn factors(&self) -> &FactorSpace {
        self.base.factors()
    }
    fn observation_shape(&self) -> [usize; 3] {
        [3, 64, 64]
    }
    fn resident_bytes(&self) -> usize {
        self.base.resident_bytes() + self.nuisance.resident_bytes()
    }
    fn is_stochastic(&self) -> bool {
        true
    }
    fn write_observations(&self, factors: &[usize], out: &mut [f32]) -> Result<()> {
        self.write_observations_with(factors, &mut batch_seeded_rng(factors), out)
    }
    fn write_observations_with(&self, factors: &[usize], rng: &mut dyn RngCore, out: &mut [f32]) -> Result<()> {
        let n = check_output(self.base.factors(), 3 * PIXELS, factors, out)?;
        let mut grey = vec![0f32; n * PIXELS];
        self.base.write_observations(factors, &mut grey)?;
        // One image after the other, so the draws' order does not depend on threads.
        for (g, o) in grey.chunks_exact(PIXELS).zip(out.chunks_exact_mut(3 * PIXELS)) {
            self.nuisance.apply(g, rng, o);
        }
        Ok(())
    }
}
