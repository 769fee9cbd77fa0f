//! Color-dSprites (reference study): each observation's sprite gets a random colour, every
//! channel uniform in [0.5, 1]; the background stays black.

use rand::{Rng, RngCore};

use crate::dsprites_variants::Nuisance;

pub struct RandomColor;

impl Nuisance for RandomColor {
    fn name(&self) -> &'static str {
        "color-dsprites"
    }
    fn describe(&self) -> String {
        "Color-dSprites (sprite colour U[0.5, 1]³ per observation)".into()
    }
    fn apply(&self, grey: &[f32], rng: &mut dyn RngCore, out: &mut [f32]) {
        let colour: [f32; 3] = std::array::from_fn(|_| rng.random_range(0.5f32..1.0));
        let n = grey.len();
        for (c, &k) in colour.iter().enumerate() {
            for (o, &g) in out[c * n..(c + 1) * n].iter_mut().zip(grey) {
                *o = g * k;
            }
        }
    }
}
