//! Noisy-dSprites (reference study): white sprites on a background of uniform noise, every
//! pixel and channel U[0, 1] per observation; sprite pixels stay 1 (min(x + noise, 1)).

use rand::{Rng, RngCore};

use crate::dsprites_variants::Nuisance;

pub struct UniformNoise;

impl Nuisance for UniformNoise {
    fn name(&self) -> &'static str {
        "noisy-dsprites"
    }
    fn describe(&self) -> String {
        "Noisy-dSprites (background noise U[0, 1] per pixel and channel)".into()
    }
    fn apply(&self, grey: &[f32], rng: &mut dyn RngCore, out: &mut [f32]) {
        let n = grey.len();
        // Drawn pixel-major, channel-minor (H×W×3, the reference's order).
        for (p, &g) in grey.iter().enumerate() {
            for c in 0..3 {
                let noise: f32 = rng.random_range(0.0f32..1.0);
                out[c * n + p] = (g + noise).min(1.0);
            }
        }
    }
}
