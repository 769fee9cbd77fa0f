//! disentanglement_lib's strong (out-of-distribution) downstream task
//! (`strong_downstream_task.py`): does a classifier of one factor, trained on codes of data in
//! which another factor never varies, still work when that factor takes its other values?
//!
//! Per training size n: n training and `num_test` test factor vectors are drawn and encoded;
//! a predictor per factor gives the ordinary train and test accuracies. Then for each target
//! factor i, `n_experiment` times: a factor j ≠ i is drawn uniformly, one of its values v
//! uniformly; every training vector gets j = v, every test vector a value of j drawn uniformly
//! among the others; both are encoded again and a fresh predictor of factor i is trained and
//! scored. Keys (the reference's, under `strong_downstream.`): `n:mean_train_accuracy`,
//! `n:mean_test_accuracy` (ordinary), `n:mean_strong_train_accuracy`,
//! `n:mean_strong_test_accuracy` (over factors and experiments) and
//! `n:strong_generalization_gap` = 1 − strong test / ordinary test.
//!
//! Defaults: the reference's test configuration (1,000 training and 1,000 test vectors, 2
//! experiments, boosted trees). Draws: ChaCha8 from the evaluation seed — training vectors,
//! test vectors, then per (i, experiment) the factor, its training value and the test values.
//! *Differs:* the reference draws its interventions from numpy's global generator, which it
//! never seeds (its results change from run to run even with a fixed `random_state`).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::data::{Codes, FactorSizes, Factors};
use crate::downstream::{FittedPredictor, Predictor, PredictorConfig, factor_accuracies};
use crate::error::{Result, degenerate, invalid};
use crate::report::{Report, ToReport};
use crate::representation::{Encoder, Representation};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StrongDownstreamConfig {
    pub num_train: Vec<usize>,
    pub num_test: usize,
    pub n_experiment: usize,
    pub predictor: Predictor,
    #[serde(default)]
    pub predictor_config: PredictorConfig,
}

impl Default for StrongDownstreamConfig {
    fn default() -> Self {
        StrongDownstreamConfig {
            num_train: vec![1000],
            num_test: 1000,
            n_experiment: 2,
            predictor: Predictor::BoostedTrees,
            predictor_config: PredictorConfig::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StrongSize {
    pub num_train: usize,
    pub train_accuracy: Vec<f64>,
    pub test_accuracy: Vec<f64>,
    /// Per (target factor, experiment): (intervened factor, its training value, train
    /// accuracy, test accuracy).
    pub experiments: Vec<(usize, usize, usize, f64, f64)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StrongDownstreamResult {
    pub sizes: Vec<StrongSize>,
    pub num_test: usize,
    pub n_experiment: usize,
    pub seed: Option<u64>,
}

impl ToReport for StrongDownstreamResult {
    fn write_to(&self, r: &mut Report) {
        let mean = |v: &mut dyn Iterator<Item = f64>| {
            let (s, c) = v.fold((0.0, 0usize), |(s, c), x| (s + x, c + 1));
            s / c as f64
        };
        for s in &self.sizes {
            let p = format!("strong_downstream.{}", s.num_train);
            let test = mean(&mut s.test_accuracy.iter().copied());
            let strong_test = mean(&mut s.experiments.iter().map(|e| e.4));
            r.insert_f64(format!("{p}:mean_train_accuracy"), mean(&mut s.train_accuracy.iter().copied()));
            r.insert_f64(format!("{p}:mean_test_accuracy"), test);
            r.insert_f64(format!("{p}:mean_strong_train_accuracy"), mean(&mut s.experiments.iter().map(|e| e.3)));
            r.insert_f64(format!("{p}:mean_strong_test_accuracy"), strong_test);
            r.insert_f64(format!("{p}:strong_generalization_gap"), 1.0 - strong_test / test);
        }
        r.insert("strong_downstream.num_test", self.num_test);
        r.insert("strong_downstream.n_experiment", self.n_experiment);
        r.insert_seed("strong_downstream", self.seed);
    }
}

/// One intervention of the task: (the intervened factor, its value in every training vector,
/// its value in each test vector).
pub type Intervention = (usize, usize, Vec<usize>);

pub fn strong_downstream<R: Representation>(
    ground_truth: &FactorSizes,
    representation: &mut R,
    seed: u64,
    config: &StrongDownstreamConfig,
    rows_per_call: usize,
) -> Result<StrongDownstreamResult> {
    check(ground_truth, config)?;
    let sizes = ground_truth.sizes().to_vec();
    let k = sizes.len();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = Vec::new();
    for &n in &config.num_train {
        let train_f = ground_truth.sample(n, &mut rng);
        let test_f = ground_truth.sample(config.num_test, &mut rng);
        let mut draw = |i: usize, _e: usize, num_test: usize| -> Intervention {
            let others: Vec<usize> = (0..k).filter(|&j| j != i).collect();
            let j = others[rng.random_range(0..others.len())];
            let v = rng.random_range(0..sizes[j]);
            // Uniform among the values other than v.
            let test = (0..num_test)
                .map(|_| {
                    let w = rng.random_range(0..sizes[j] - 1);
                    if w >= v { w + 1 } else { w }
                })
                .collect();
            (j, v, test)
        };
        out.push(strong_downstream_for_size(k, representation, &train_f, &test_f, &mut draw, config, rows_per_call, seed)?);
    }
    Ok(StrongDownstreamResult { sizes: out, num_test: config.num_test, n_experiment: config.n_experiment, seed: Some(seed) })
}

fn check(ground_truth: &FactorSizes, config: &StrongDownstreamConfig) -> Result<()> {
    if config.num_train.is_empty() || config.num_train.contains(&0) || config.num_test == 0 || config.n_experiment == 0 {
        return Err(invalid("strong_downstream", "num_train needs positive sizes; num_test and n_experiment must be positive"));
    }
    let sizes = ground_truth.sizes();
    if sizes.len() < 2 {
        return Err(degenerate("strong_downstream", "needs at least two factors (one to predict, one to intervene on)"));
    }
    if let Some(j) = (0..sizes.len()).find(|&j| sizes[j] < 2) {
        return Err(degenerate("strong_downstream", format!("factor {j} has one value: no other value to test on")));
    }
    Ok(())
}

/// The task for given training and test factor vectors (n×K and num_test×K, row-major) with
/// the interventions from `draw(target factor, experiment, num_test)`, called for each target
/// factor in order and each experiment.
#[allow(clippy::too_many_arguments)]
pub fn strong_downstream_for_size<R: Representation>(
    k: usize,
    representation: &mut R,
    train_f: &[usize],
    test_f: &[usize],
    draw: &mut dyn FnMut(usize, usize, usize) -> Intervention,
    config: &StrongDownstreamConfig,
    rows_per_call: usize,
    seed: u64,
) -> Result<StrongSize> {
    let (n, num_test) = (train_f.len() / k, test_f.len() / k);
    let mut encoder = Encoder::new(representation, k);
    let mut encode = |f: &[usize]| -> Result<(Vec<f32>, usize)> {
        let z = encoder.encode_chunked(f, rows_per_call)?;
        let d = z.len() / (f.len() / k);
        Ok((z, d))
    };
    let score = |train_f: &[usize], train_z: &[f32], test_f: &[usize], test_z: &[f32], d: usize, seed: u64| {
        let (ntr, nte) = (train_f.len() / k, test_f.len() / k);
        factor_accuracies(
            config.predictor,
            (&Codes::new(train_z, ntr, d)?, &Factors::new(train_f, ntr, k)?),
            (&Codes::new(test_z, nte, d)?, &Factors::new(test_f, nte, k)?),
            &config.predictor_config,
            seed,
        )
    };
    let (train_z, d) = encode(train_f)?;
    let (test_z, _) = encode(test_f)?;
    let (train_accuracy, test_accuracy) = score(train_f, &train_z, test_f, &test_z, d, seed ^ n as u64)?;
    let mut experiments = Vec::new();
    for i in 0..k {
        for e in 0..config.n_experiment {
            let (j, v, test_values) = draw(i, e, num_test);
            if j >= k || j == i || test_values.len() != num_test {
                return Err(invalid("strong_downstream", format!("intervention ({j}, {v}, {} test values) for target {i}", test_values.len())));
            }
            let mut tr = train_f.to_vec();
            tr.chunks_mut(k).for_each(|row| row[j] = v);
            let mut te = test_f.to_vec();
            te.chunks_mut(k).zip(&test_values).for_each(|(row, &w)| row[j] = w);
            let (tr_z, _) = encode(&tr)?;
            let (te_z, _) = encode(&te)?;
            // Only factor i's predictor, as the reference.
            let column = |f: &[usize]| f.chunks(k).map(|r| r[i]).collect::<Vec<usize>>();
            let (y_tr, y_te) = (column(&tr), column(&te));
            let model = FittedPredictor::fit(config.predictor, &tr_z, d, &y_tr, &config.predictor_config, seed ^ ((i * 64 + e) as u64) << 8)?;
            let (a, b) = (model.accuracy(&tr_z, d, &y_tr)?, model.accuracy(&te_z, d, &y_te)?);
            experiments.push((i, j, v, a, b));
            crate::interrupt::check()?;
        }
    }
    Ok(StrongSize { num_train: n, train_accuracy, test_accuracy, experiments })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_that_needs_the_intervened_factor_fails_out_of_distribution() {
        let sizes = FactorSizes::new(&[4, 5]).unwrap();
        // Disentangled identity codes: each factor's classifier ignores the other factor.
        let mut identity = |f: &[usize]| -> Result<Vec<f32>, String> { Ok(f.iter().map(|&v| v as f32).collect()) };
        let config = StrongDownstreamConfig { num_train: vec![300], num_test: 200, ..Default::default() };
        let r = strong_downstream(&sizes, &mut identity, 3, &config, 128).unwrap();
        let s = &r.sizes[0];
        assert_eq!(s.experiments.len(), 4);
        assert!(s.experiments.iter().all(|e| e.4 == 1.0), "{:?}", s.experiments);
        let report = r.to_report();
        assert_eq!(report.get_f64("strong_downstream.300:strong_generalization_gap"), Some(0.0));
        // One entangled code, f0 + 4 f1: a classifier of f0 trained with f1 fixed reads the
        // code's absolute level, which moves when f1 changes.
        let mut mixed = |f: &[usize]| -> Result<Vec<f32>, String> { Ok(f.chunks(2).map(|r| (r[0] + 4 * r[1]) as f32).collect()) };
        let r = strong_downstream(&sizes, &mut mixed, 3, &config, 128).unwrap().to_report();
        let gap = r.get_f64("strong_downstream.300:strong_generalization_gap").unwrap();
        assert!(gap > 0.5, "{gap}");
        assert_eq!(r.get_f64("strong_downstream.300:mean_test_accuracy"), Some(1.0));
    }
}
