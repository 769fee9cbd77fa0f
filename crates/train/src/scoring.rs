//! Scoring an encoder with the metrics crate: the metric samples are rendered from the
//! dataset's factor space and encoded with borrowed weights ([`EngineRef`]), so the same code
//! scores a finished run (`disentangle evaluate`, study workers) and a run in the middle of
//! its training (`train --eval-every`): with the same seed and weights the numbers are equal.

use disentangle_data::FactorDataset;
use disentangle_metrics::{
    CodeSample, Codes, EvalConfig, FactorSizes, Factors, GaussianPosteriors, Metric, Report, evaluate_codes, evaluate_representation,
};
use disentangle_models::ModelConfig;
use disentangle_models::config::NoiseConfig;
use disentangle_models::noise::sample_eps;
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::error::{Result, TrainError};
use crate::inference::EngineRef;

/// Which code the interventional and code-based metrics see.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RepresentationKind {
    /// The encoder mean μ(x) (the reference study's default).
    Mean,
    /// A sample z = μ + σ ε with the model's own noise.
    Sampled,
}

/// What to compute and with which samples.
#[derive(Clone, Debug)]
pub struct ScoreOptions {
    pub metrics: Vec<Metric>,
    pub representation: RepresentationKind,
    /// Seed of the metric samples (factor draws, observation nuisance, sampled codes).
    pub seed: u64,
    /// Samples encoded for the posterior-based metrics (info, mig-continuous).
    pub posterior_samples: usize,
    pub config: EvalConfig,
}

/// Encodes factor vectors of `dataset`: (μ, log σ²). A stochastic dataset (Color-dSprites …)
/// draws its observations' nuisance from `rng`.
pub fn encode_factors(
    engine: &EngineRef,
    model: &ModelConfig,
    dataset: &dyn FactorDataset,
    factors: &[usize],
    rng: &mut dyn RngCore,
) -> Result<(Vec<f32>, Vec<f32>)> {
    let n = factors.len() / dataset.factors().num_factors();
    let images = dataset.observations_with(factors, rng)?;
    Ok(engine.encode(&images, n, model.channels, model.latents))
}

/// As [`encode_factors`] for any number of factor vectors: rendered and encoded 1,024 at a
/// time, so memory stays bounded.
pub fn encode_in_chunks(
    engine: &EngineRef,
    model: &ModelConfig,
    dataset: &dyn FactorDataset,
    factors: &[usize],
    rng: &mut dyn RngCore,
) -> Result<(Vec<f32>, Vec<f32>)> {
    let k = dataset.factors().num_factors();
    let (mut mu, mut logvar) = (Vec::with_capacity(factors.len() / k * model.latents), Vec::new());
    for chunk in factors.chunks(1024 * k) {
        let (a, b) = encode_factors(engine, model, dataset, chunk, rng)?;
        mu.extend(a);
        logvar.extend(b);
    }
    Ok((mu, logvar))
}

/// Runs `o.metrics` on the encoder: a metric that fails is reported under `errors.NAME` and
/// the others still count (an error is returned only when the inputs themselves are wrong).
pub fn score(engine: &EngineRef, model: &ModelConfig, dataset: &dyn FactorDataset, o: &ScoreOptions) -> Result<Report> {
    let sizes = FactorSizes::new(dataset.factors().sizes()).map_err(metrics_error)?;
    let latents = model.latents;
    let mut noise_rng = ChaCha8Rng::seed_from_u64(o.seed ^ 0x5eed);
    // Nuisance draws of stochastic datasets, a stream of their own.
    let mut observation_rng = ChaCha8Rng::seed_from_u64(o.seed ^ 0x0b5e_4a7e);
    let mut representation = |factors: &[usize]| -> Result<Vec<f32>, TrainError> {
        let (mu, logvar) = encode_factors(engine, model, dataset, factors, &mut observation_rng)?;
        Ok(match o.representation {
            RepresentationKind::Mean => mu,
            RepresentationKind::Sampled => {
                let eps = sample_eps(&model.noise, mu.len() / latents, latents, &mut noise_rng);
                mu.iter().zip(&logvar).zip(eps).map(|((m, l), e)| m + (0.5 * l).exp() * e).collect()
            }
        })
    };
    let (posterior, others): (Vec<Metric>, Vec<Metric>) = o.metrics.iter().partition(|m| m.needs_posteriors());
    let mut report = Report::new();
    if !others.is_empty() {
        report.extend(evaluate_representation(&others, &sizes, &mut representation, o.seed, &o.config).map_err(metrics_error)?);
    }
    if !posterior.is_empty() {
        let mut rng = ChaCha8Rng::seed_from_u64(o.seed);
        let n = o.posterior_samples;
        let factors = dataset.sample_factors(n, &mut rng);
        let (mu, logvar) = encode_in_chunks(engine, model, dataset, &factors, &mut rng)?;
        let rho = match model.noise {
            NoiseConfig::Correlated { rho } => rho,
            NoiseConfig::Independent => 0.0,
        };
        let posteriors = GaussianPosteriors::new(&mu, &logvar, n, latents)
            .and_then(|p| p.with_noise_correlation(rho))
            .map_err(metrics_error)?;
        let k = dataset.factors().num_factors();
        let sample = CodeSample {
            codes: Codes::new(&mu, n, latents).map_err(metrics_error)?,
            factors: Some(Factors::new(&factors, n, k).map_err(metrics_error)?),
            posteriors: Some(posteriors),
        };
        report.extend(evaluate_codes(&posterior, &sample, Some(o.seed), &o.config).map_err(metrics_error)?);
    }
    report.insert("evaluation.representation", format!("{:?}", o.representation).to_lowercase());
    Ok(report)
}

fn metrics_error(e: disentangle_metrics::MetricsError) -> TrainError {
    TrainError::Metrics(e)
}
