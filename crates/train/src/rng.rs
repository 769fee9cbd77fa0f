//! The run's random streams. Each is a ChaCha8 stream of the run seed, so they never overlap,
//! and each can be saved and restored exactly by its word position.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Independent streams: training data, reparameterization noise, FactorVAE permutations,
/// and the summary evaluation (kept apart so evaluating never shifts training).
pub struct RunRngs {
    pub data: ChaCha8Rng,
    pub noise: ChaCha8Rng,
    pub permutation: ChaCha8Rng,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RngState {
    /// Word positions as decimal strings (u128 does not fit JSON numbers).
    pub data: String,
    pub noise: String,
    pub permutation: String,
}

fn stream(seed: u64, id: u64) -> ChaCha8Rng {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    r.set_stream(id);
    r
}

pub const SUMMARY_STREAM: u64 = 4;

/// The stream used for the end-of-run summary.
pub fn summary_rng(seed: u64) -> ChaCha8Rng {
    stream(seed, SUMMARY_STREAM)
}

impl RunRngs {
    pub fn new(seed: u64) -> Self {
        RunRngs { data: stream(seed, 1), noise: stream(seed, 2), permutation: stream(seed, 3) }
    }

    pub fn state(&self) -> RngState {
        RngState {
            data: self.data.get_word_pos().to_string(),
            noise: self.noise.get_word_pos().to_string(),
            permutation: self.permutation.get_word_pos().to_string(),
        }
    }

    pub fn restore(seed: u64, state: &RngState) -> Option<Self> {
        let mut r = RunRngs::new(seed);
        r.data.set_word_pos(state.data.parse().ok()?);
        r.noise.set_word_pos(state.noise.parse().ok()?);
        r.permutation.set_word_pos(state.permutation.parse().ok()?);
        Some(r)
    }
}
