//! What the timing examples share.

// Each example uses only part of this module.
#![allow(dead_code)]

use std::time::Instant;

/// The median of `reps` timings of `f` in milliseconds, after one untimed warm-up call.
pub fn median_ms(mut f: impl FnMut(), reps: usize) -> f64 {
    f();
    let mut t: Vec<f64> = (0..reps)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[reps / 2]
}

/// Samples of the per-sample timings: a batch of distinct samples, so inputs come from L2
/// as in training.
pub const SAMPLES: usize = 64;

/// The median over repetitions of `f` run on samples 0..[`SAMPLES`], in µs per sample.
pub fn per_sample_us(mut f: impl FnMut(usize)) -> f64 {
    let mut t: Vec<f64> = (0..9)
        .map(|_| {
            let start = Instant::now();
            (0..SAMPLES).for_each(&mut f);
            start.elapsed().as_secs_f64() * 1e6 / SAMPLES as f64
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[4]
}

/// Deterministic inputs in [−0.5, 0.5).
pub fn values(n: usize) -> Vec<f32> {
    (0..n).map(|k| ((k * 7919) % 997) as f32 / 997.0 - 0.5).collect()
}
