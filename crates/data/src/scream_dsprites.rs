//! Scream-dSprites (reference study): the background of each observation is a random 64×64
//! crop of a painting, averaged with a random colour ((crop + U[0, 1]³) / 2), and the sprite's
//! pixels are that background inverted (1 − x).
//!
//! The reference uses Munch's *The Scream* shrunk to fit 350×274 (274×221 pixels). We cannot
//! download it, so the texture is our own: a procedural image of the same size in the
//! painting's spirit (wavy diagonal bands of orange, red and yellow above, swirling blues and
//! greens below, a dark diagonal railing), generated here from a fixed formula, so it is ours
//! to license with the project and needs no file. `disentangle data show scream-dsprites`
//! shows it behind the sprites; `scream_texture()` returns it.

use rand::{Rng, RngCore};

use crate::dsprites_variants::Nuisance;

/// Texture size (rows, columns), as the reference's thumbnail of the painting.
pub const TEXTURE_HEIGHT: usize = 274;
pub const TEXTURE_WIDTH: usize = 221;

/// The texture, H×W×3 values in [0, 1], row-major.
pub fn scream_texture() -> Vec<f32> {
    let mut t = vec![0f32; TEXTURE_HEIGHT * TEXTURE_WIDTH * 3];
    let mix = |a: [f64; 3], b: [f64; 3], w: f64| -> [f64; 3] { std::array::from_fn(|c| a[c] * (1.0 - w) + b[c] * w) };
    let (orange, red, yellow) = ([0.93, 0.52, 0.18], [0.78, 0.22, 0.14], [0.96, 0.83, 0.38]);
    let (blue, teal, green) = ([0.16, 0.28, 0.55], [0.22, 0.48, 0.52], [0.35, 0.50, 0.28]);
    let railing = [0.30, 0.18, 0.12];
    for y in 0..TEXTURE_HEIGHT {
        for x in 0..TEXTURE_WIDTH {
            let (fy, fx) = (y as f64 / TEXTURE_HEIGHT as f64, x as f64 / TEXTURE_WIDTH as f64);
            // The horizon wobbles; above it the sky's bands, below the fjord's swirls.
            let horizon = 0.42 + 0.06 * (7.0 * fx + 1.3).sin() + 0.03 * (17.0 * fx).sin();
            let sky_wave = (26.0 * fy + 4.0 * (5.0 * fx + 2.0 * fy).sin() + 3.0 * fx).sin();
            let swirl = (18.0 * ((fx - 0.35).powi(2) + (fy - 0.7).powi(2)).sqrt() + 6.0 * (3.0 * fx - 2.0 * fy).sin()).sin();
            let mut c = if fy < horizon {
                let w = 0.5 + 0.5 * sky_wave;
                if w < 0.5 { mix(red, orange, 2.0 * w) } else { mix(orange, yellow, 2.0 * w - 1.0) }
            } else {
                let w = 0.5 + 0.5 * swirl;
                if w < 0.5 { mix(blue, teal, 2.0 * w) } else { mix(teal, green, 2.0 * w - 1.0) }
            };
            // A dark railing running diagonally across the lower left.
            let rail = fy - (1.05 - 0.9 * fx);
            if (0.0..0.05).contains(&rail) {
                c = mix(c, railing, 0.8);
            }
            // Brush-like streaks: a faint high-frequency ripple along the bands.
            let streak = 0.04 * (90.0 * fx + 40.0 * fy + 3.0 * (11.0 * fy).sin()).sin();
            for (k, v) in c.iter().enumerate() {
                t[(y * TEXTURE_WIDTH + x) * 3 + k] = (v + streak).clamp(0.0, 1.0) as f32;
            }
        }
    }
    t
}

pub struct ScreamBackground {
    texture: Vec<f32>,
}

impl ScreamBackground {
    pub fn new() -> Self {
        ScreamBackground { texture: scream_texture() }
    }
}

impl Default for ScreamBackground {
    fn default() -> Self {
        Self::new()
    }
}

impl Nuisance for ScreamBackground {
    fn name(&self) -> &'static str {
        "scream-dsprites"
    }
    fn describe(&self) -> String {
        format!("Scream-dSprites (random 64×64 crop of a {TEXTURE_HEIGHT}×{TEXTURE_WIDTH} procedural painting, averaged with a random colour; sprite inverted)")
    }
    fn resident_bytes(&self) -> usize {
        self.texture.len() * 4
    }
    fn apply(&self, grey: &[f32], rng: &mut dyn RngCore, out: &mut [f32]) {
        // The reference's order: row offset, column offset, then the colour.
        let top = rng.random_range(0..TEXTURE_HEIGHT - 64);
        let left = rng.random_range(0..TEXTURE_WIDTH - 64);
        let colour: [f32; 3] = std::array::from_fn(|_| rng.random_range(0.0f32..1.0));
        let n = grey.len();
        for i in 0..64 {
            for j in 0..64 {
                let p = i * 64 + j;
                let t = &self.texture[((top + i) * TEXTURE_WIDTH + left + j) * 3..][..3];
                for c in 0..3 {
                    let bg = (t[c] + colour[c]) / 2.0;
                    out[c * n + p] = if grey[p] == 1.0 { 1.0 - bg } else { bg };
                }
            }
        }
    }
}
