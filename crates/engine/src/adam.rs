//! Adam over a flat parameter buffer, with burn's arithmetic (same f32 operations in the
//! same order, bias corrections folded into one factor and ε scaled by √(1 − β₂ᵗ)), so both
//! engines take the same steps and a state moves between them unchanged.

use rayon::prelude::*;

use crate::simd::Level;

#[derive(Debug, Clone, PartialEq)]
pub struct Adam {
    pub beta_1: f32,
    pub beta_2: f32,
    pub epsilon: f32,
    /// Steps taken (burn's `time`).
    pub time: usize,
    pub moment_1: Vec<f32>,
    pub moment_2: Vec<f32>,
}

impl Adam {
    pub fn new(beta_1: f32, beta_2: f32, epsilon: f32, len: usize) -> Self {
        Adam { beta_1, beta_2, epsilon, time: 0, moment_1: vec![0.0; len], moment_2: vec![0.0; len] }
    }

    /// The reference optimizer of the VAE: β = (0.9, 0.999), ε = 1e-8.
    pub fn for_vae(len: usize) -> Self {
        Adam::new(0.9, 0.999, 1e-8, len)
    }

    /// The reference optimizer of the FactorVAE discriminator: β = (0.5, 0.9), ε = 1e-8.
    pub fn for_discriminator(len: usize) -> Self {
        Adam::new(0.5, 0.9, 1e-8, len)
    }

    /// params −= lr · m̂ / (√v̂ + ε) after folding `grads` into the moments, with loops
    /// compiled for `level` (the same bits at every level: no reassociation).
    pub fn step(&mut self, level: Level, lr: f64, params: &mut [f32], grads: &[f32]) {
        assert_eq!(params.len(), grads.len());
        assert_eq!(params.len(), self.moment_1.len());
        self.time += 1;
        let (b1, b2) = (self.beta_1, self.beta_2);
        let t = self.time as i32;
        let bc2_sqrt = (1.0 - b2.powi(t)).sqrt();
        let factor = bc2_sqrt / (1.0 - b1.powi(t));
        let eps = self.epsilon * bc2_sqrt;
        let lr = lr as f32;
        const CHUNK: usize = 1 << 14;
        params
            .par_chunks_mut(CHUNK)
            .zip(grads.par_chunks(CHUNK))
            .zip(self.moment_1.par_chunks_mut(CHUNK).zip(self.moment_2.par_chunks_mut(CHUNK)))
            .for_each(|((p, g), (m, v))| crate::simd::wide(level, #[inline(always)] || {
                // Zipped, not indexed: no bounds checks, so the loop vectorizes.
                for (((p, &g), m), v) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
                    *m = *m * b1 + g * (1.0 - b1);
                    *v = *v * b2 + g * g * (1.0 - b2);
                    let update = *m * factor / (v.sqrt() + eps);
                    *p -= update * lr;
                }
            }));
    }
}
