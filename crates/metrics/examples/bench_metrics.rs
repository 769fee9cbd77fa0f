//! Times every score at the reference sizes on synthetic codes: 10 codes, 5 factors of
//! sizes [3, 6, 40, 32, 32] (dSprites). Codes 0–4 are the factors scaled to [0, 1] plus
//! noise, code 5 mixes factors 0 and 1, codes 6–9 are noise; the FactorVAE and BetaVAE
//! scores use that same function as a trivial encoder.
//!
//!     cargo run --release -p disentangle-metrics --example bench_metrics

use std::time::Instant;

use disentangle_metrics::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const SIZES: [usize; 5] = [3, 6, 40, 32, 32];
const NUM_CODES: usize = 10;

/// The synthetic representation: deterministic in the factors plus seeded noise.
fn synthetic_encoder(
    seed: u64,
) -> impl FnMut(&[usize]) -> Result<Vec<f32>, std::convert::Infallible> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    move |factors: &[usize]| {
        let mut out = Vec::with_capacity(factors.len() / 5 * NUM_CODES);
        for row in factors.chunks_exact(5) {
            let scaled: Vec<f32> = row
                .iter()
                .zip(SIZES)
                .map(|(&c, s)| c as f32 / (s - 1) as f32)
                .collect();
            for &v in &scaled {
                out.push(v + 0.05 * rng.random_range(-1.0f32..1.0));
            }
            out.push(0.5 * scaled[0] + 0.5 * scaled[1] + 0.05 * rng.random_range(-1.0f32..1.0));
            for _ in 6..NUM_CODES {
                out.push(rng.random_range(-1.0f32..1.0));
            }
        }
        Ok(out)
    }
}

fn time<T>(label: &str, f: impl FnOnce() -> Result<T>) -> T {
    let start = Instant::now();
    let out = f().unwrap_or_else(|e| panic!("{label}: {e}"));
    println!("{label:<44} {:>8.3} s", start.elapsed().as_secs_f64());
    out
}

fn main() {
    println!(
        "profile: {}, rayon threads: {}, available parallelism: {}",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
        rayon::current_num_threads(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
    );
    let seed = 0;
    let ground_truth = FactorSizes::new(&SIZES).unwrap();
    let config = EvalConfig::default();
    let rows = config.required_sample_size(&Metric::ALL);
    let mut encoder = synthetic_encoder(1);
    let sample = time(&format!("sample + encode {rows} rows"), || {
        sample_codes(&ground_truth, &mut encoder, rows, seed, 1024)
    });
    let (codes, factors) = (sample.codes(), sample.factors());

    let r = time("mig (10,000 × 10 codes)", || {
        mig(&codes, &factors, &config.mig)
    });
    println!("    mig.discrete = {:.4}", r.score);
    let r = time("factor-vae (10k var + 10k/5k votes, batch 64)", || {
        factor_vae_score(
            &ground_truth,
            &mut synthetic_encoder(2),
            seed,
            &config.factor_vae,
        )
    });
    println!("    factor_vae.eval_accuracy = {:.4}", r.eval_accuracy);
    let r = time("beta-vae (10k/5k points, batch 64)", || {
        beta_vae_score(
            &ground_truth,
            &mut synthetic_encoder(3),
            seed,
            &config.beta_vae,
        )
    });
    println!("    beta_vae.eval_accuracy = {:.4}", r.eval_accuracy);
    let r = time("dci (10k train / 5k test, 100 stages)", || {
        dci(&codes, &factors, &config.dci)
    });
    println!(
        "    dci.disentanglement = {:.4}, completeness = {:.4}, informativeness_test = {:.4}",
        r.disentanglement, r.completeness, r.informativeness_test
    );
    let r = time("sap (10k / 5k)", || sap(&codes, &factors, &config.sap));
    println!("    sap.score = {:.4}", r.score);
    let r = time("modularity (10k)", || {
        modularity(&codes, &factors, &config.modularity)
    });
    println!("    modularity.score = {:.4}", r.score);
    let r = time("explicitness (10k / 5k)", || {
        explicitness(&codes, &factors, &config.explicitness)
    });
    println!("    explicitness.score_test = {:.4}", r.score_test);
    let r = time("unsupervised (10k)", || {
        unsupervised_scores(&codes, &config.unsupervised)
    });
    println!(
        "    gaussian_total_correlation = {:.4}, mutual_info_score = {:.4}",
        r.gaussian_total_correlation, r.mutual_info_score
    );

    // Posteriors for the Monte Carlo diagnostics: the codes as means, σ = 0.1.
    let n = 10_000;
    let mean = &sample.codes[..n * NUM_CODES];
    let logvar = vec![(0.1f32 * 0.1).ln(); n * NUM_CODES];
    let posteriors = GaussianPosteriors::new(mean, &logvar, n, NUM_CODES).unwrap();
    let r = time("info (N = 10,000, M = 10,000 z, D = 10)", || {
        information_diagnostics(&posteriors, seed, &config.info)
    });
    println!(
        "    info.isolation_gap = {:.4}, aggregate_tc = {:.4}, mi_joint = {:.4}",
        r.isolation_gap, r.aggregate_tc, r.mi_joint
    );
    let head = Factors::new(&sample.factors[..n * 5], n, 5).unwrap();
    let r = time("mig-continuous (N = 10,000, M = 10,000 z)", || {
        mig_continuous(&posteriors, &head, seed, &config.mig_continuous)
    });
    println!("    mig.continuous = {:.4}", r.score);
}
