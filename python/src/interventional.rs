//! Metrics that call the user's encoder: FactorVAE and BetaVAE scores, and `evaluate`, the way
//! disentanglement_lib calls them: `(ground_truth_data, representation_function, random_state)`.
//!
//! Our metric code draws factor vectors; this module renders their observations (our datasets, or
//! any object with disentanglement_lib's `factors_num_values` and
//! `sample_observations_from_factors`), hands them to `representation_function` as (N, H, W, C)
//! float32 and reads back (N, D) codes. The metric runs with the GIL released and takes it back for
//! each call. The first exception the function raises (Ctrl-C's `KeyboardInterrupt` included:
//! signals are checked before every call) stops the metric and is re-raised unchanged.

use std::sync::{Arc, Mutex};

use disentangle_data::FactorDataset;
use disentangle_metrics as m;
use disentangle_metrics::ToReport;
use numpy::{PyArray1, PyArrayMethods};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::arrays::{f32_matrix, json_to_python, report_to_dict};
use crate::datasets::GroundTruthData;
use crate::errors::metrics_error;
use crate::interrupt::run_detached;
use crate::random_state::seed_of;

/// Where observations come from.
enum Observations {
    Ours(Arc<dyn FactorDataset>),
    /// A disentanglement_lib-style Python object.
    Python(Py<PyAny>),
}

/// The metric's view of the user's encoder.
struct PythonRepresentation {
    observations: Observations,
    function: Py<PyAny>,
    num_factors: usize,
    /// Nuisance randomness of stochastic datasets: its own stream of the seed, so it never
    /// shifts the metric's draws of factors.
    rng: ChaCha8Rng,
    /// The first exception raised by Python code; once set, every call fails at once.
    raised: Arc<Mutex<Option<PyErr>>>,
}

/// One batch of observations: rendered by our dataset (n × H × W × C values and its (C, H, W)), or
/// to be asked of a Python dataset with this seed.
enum Batch<'a> {
    Rendered(Vec<f32>, [usize; 3]),
    FromPython(&'a Py<PyAny>, u64),
}

/// Stands in for the stored Python exception inside the metric's error.
#[derive(Debug)]
struct RaisedInPython;

impl std::error::Error for RaisedInPython {}

impl std::fmt::Display for RaisedInPython {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the representation function raised an exception")
    }
}

impl PythonRepresentation {
    fn new(data: &Bound<'_, PyAny>, function: &Bound<'_, PyAny>, seed: u64) -> PyResult<(Self, m::FactorSizes)> {
        if !function.is_callable() {
            return Err(PyTypeError::new_err(format!(
                "representation_function must be callable (observations (N, H, W, C) float32 → codes (N, D)), got {}",
                function.get_type().name()?
            )));
        }
        let (observations, sizes) = match data.cast::<GroundTruthData>() {
            Ok(ours) => {
                let inner = Arc::clone(&ours.get().inner);
                let sizes = inner.factors().sizes().to_vec();
                (Observations::Ours(inner), sizes)
            }
            Err(_) => {
                if !data.hasattr("sample_observations_from_factors")? {
                    return Err(PyTypeError::new_err(format!(
                        "ground_truth_data must be a disentanglekit.datasets.GroundTruthData or have disentanglement_lib's \
                         factors_num_values and sample_observations_from_factors, got {}",
                        data.get_type().name()?
                    )));
                }
                let sizes: Vec<usize> = data
                    .getattr("factors_num_values")
                    .and_then(|v| v.extract())
                    .map_err(|e| PyTypeError::new_err(format!("ground_truth_data.factors_num_values must be a list of class counts: {e}")))?;
                (Observations::Python(data.clone().unbind()), sizes)
            }
        };
        let sizes = m::FactorSizes::new(&sizes).map_err(metrics_error)?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(1);
        Ok((
            PythonRepresentation { observations, function: function.clone().unbind(), num_factors: sizes.num_factors(), rng, raised: Arc::new(Mutex::new(None)) },
            sizes,
        ))
    }

    fn fail(&self, error: PyErr) -> m::BoxError {
        self.raised.lock().expect("never poisoned: no panics while held").get_or_insert(error);
        Box::new(RaisedInPython)
    }

    fn encode_batch(&mut self, factors: &[usize]) -> Result<Vec<f32>, m::BoxError> {
        if self.raised.lock().expect("never poisoned").is_some() {
            return Err(Box::new(RaisedInPython));
        }
        let n = factors.len() / self.num_factors;
        // Our datasets render here, without the GIL; a Python dataset gets a RandomState seeded
        // from our stream.
        let source = match &self.observations {
            Observations::Ours(dataset) => {
                let values = GroundTruthData::render_hwc(dataset.as_ref(), factors, &mut self.rng).map_err(|e| Box::new(e) as m::BoxError)?;
                Batch::Rendered(values, dataset.observation_shape())
            }
            Observations::Python(data) => Batch::FromPython(data, self.rng.next_u64() >> 32),
        };
        let result = Python::attach(|py| -> PyResult<Vec<f32>> {
            py.check_signals()?;
            let batch = match source {
                Batch::Rendered(values, [c, h, w]) => PyArray1::from_vec(py, values).reshape([n, h, w, c])?.into_any(),
                Batch::FromPython(data, seed) => {
                    let np = py.import("numpy")?;
                    let classes: Vec<i64> = factors.iter().map(|&v| v as i64).collect();
                    let classes = PyArray1::from_vec(py, classes).reshape([n, self.num_factors])?;
                    let state = np.getattr("random")?.getattr("RandomState")?.call1((seed,))?;
                    data.bind(py).call_method1("sample_observations_from_factors", (classes, state))?
                }
            };
            let codes = self.function.bind(py).call1((batch,))?;
            let codes = f32_matrix(&codes, "the output of representation_function")?;
            if codes.rows != n {
                return Err(PyValueError::new_err(format!(
                    "representation_function returned {} rows of codes for {n} observations",
                    codes.rows
                )));
            }
            Ok(codes.values().to_vec())
        });
        result.map_err(|e| self.fail(e))
    }

    /// The stored exception, if Python code raised one.
    fn take_raised(&self) -> Option<PyErr> {
        self.raised.lock().expect("never poisoned").take()
    }
}

fn run_metric<T: Send>(
    py: Python<'_>,
    mut representation: PythonRepresentation,
    metric: impl FnOnce(&mut dyn FnMut(&[usize]) -> Result<Vec<f32>, m::BoxError>) -> m::Result<T> + Send,
) -> PyResult<T> {
    let result = run_detached(py, || {
        let mut encode = |f: &[usize]| representation.encode_batch(f);
        metric(&mut encode)
    })?;
    if let Some(raised) = representation.take_raised() {
        return Err(raised);
    }
    result.map_err(metrics_error)
}

/// FactorVAE score (Kim & Mnih 2018), disentanglement_lib's ``compute_factor_vae``.
///
/// Codes of ``num_variance_estimate`` random observations give each code's scale (codes whose
/// standard deviation is below 0.05 are pruned, as in the reference: ``num_active_dims``). Each vote fixes one random
/// factor at one random class, encodes ``batch_size`` observations and votes (argmin of the
/// normalized variances → factor); a majority-vote classifier is fitted on ``num_train`` votes
/// and tested on ``num_eval``.
///
/// Args:
///     ground_truth_data: a ``disentanglekit.datasets`` dataset, or any object with
///         disentanglement_lib's ``factors_num_values`` and
///         ``sample_observations_from_factors(factors, random_state)``.
///     representation_function: observations (N, H, W, C) float32 → codes (N, D) array-like.
///     random_state: int seed, None (0) or numpy RandomState / Generator (one seed is drawn).
///     artifact_dir: ignored (accepted for disentanglement_lib's positional order).
///
/// Returns a dict: ``train_accuracy``, ``eval_accuracy``, ``num_active_dims`` and the sizes used.
#[pyfunction]
#[pyo3(signature = (ground_truth_data, representation_function, random_state = None, artifact_dir = None, batch_size = 64, num_train = 10_000, num_eval = 5_000, num_variance_estimate = 10_000))]
#[allow(clippy::too_many_arguments)]
pub fn factor_vae_score<'py>(
    py: Python<'py>,
    ground_truth_data: &Bound<'py, PyAny>,
    representation_function: &Bound<'py, PyAny>,
    random_state: Option<&Bound<'py, PyAny>>,
    artifact_dir: Option<&Bound<'py, PyAny>>,
    batch_size: usize,
    num_train: usize,
    num_eval: usize,
    num_variance_estimate: usize,
) -> PyResult<Bound<'py, PyDict>> {
    let _ = artifact_dir;
    let seed = seed_of(random_state)?;
    let (representation, sizes) = PythonRepresentation::new(ground_truth_data, representation_function, seed)?;
    let config = m::FactorVaeConfig { batch_size, num_train, num_eval, num_variance_estimate, ..Default::default() };
    let result = run_metric(py, representation, |encode| Ok(m::factor_vae_score(&sizes, &mut { encode }, seed, &config)?.to_report()))?;
    report_to_dict(py, &result, "factor_vae")
}

/// BetaVAE score (Higgins et al. 2017), disentanglement_lib's ``compute_beta_vae_sklearn``: each
/// point fixes one random factor across ``batch_size`` pairs of observations and averages the
/// absolute code differences; a logistic regression predicts the fixed factor (``num_train``
/// training points, ``num_eval`` test points).
///
/// Arguments as for ``factor_vae_score``. Returns a dict: ``train_accuracy``, ``eval_accuracy``
/// and the sizes used.
#[pyfunction]
#[pyo3(signature = (ground_truth_data, representation_function, random_state = None, artifact_dir = None, batch_size = 64, num_train = 10_000, num_eval = 5_000))]
#[allow(clippy::too_many_arguments)]
pub fn beta_vae_score<'py>(
    py: Python<'py>,
    ground_truth_data: &Bound<'py, PyAny>,
    representation_function: &Bound<'py, PyAny>,
    random_state: Option<&Bound<'py, PyAny>>,
    artifact_dir: Option<&Bound<'py, PyAny>>,
    batch_size: usize,
    num_train: usize,
    num_eval: usize,
) -> PyResult<Bound<'py, PyDict>> {
    let _ = artifact_dir;
    let seed = seed_of(random_state)?;
    let (representation, sizes) = PythonRepresentation::new(ground_truth_data, representation_function, seed)?;
    let config = m::BetaVaeConfig { batch_size, num_train, num_eval, ..Default::default() };
    let result = run_metric(py, representation, |encode| Ok(m::beta_vae_score(&sizes, &mut { encode }, seed, &config)?.to_report()))?;
    report_to_dict(py, &result, "beta_vae")
}

/// Several metrics of an encoder at the reference study's sample sizes, as our command line's
/// ``evaluate`` runs them: ``metrics`` is a comma-separated list or a list of names among
/// ``mig``, ``factor-vae``, ``beta-vae``, ``dci``, ``sap``, ``modularity``, ``explicitness``,
/// ``unsupervised`` (or ``all`` of these). The code-based ones share one sample of factor vectors
/// drawn with the seed; FactorVAE and BetaVAE draw their own.
///
/// Returns disentanglement_lib's layout: one dict per reference evaluation (``mig``:
/// ``{"discrete_mig": …}``, ``factor_vae_metric``, ``beta_vae_sklearn``, ``dci``, ``sap_score``,
/// ``modularity_explicitness``, ``unsupervised``), and ``disentangle`` with everything else under
/// our key names: sample sizes, seeds, and ``errors.<metric>`` for a metric that failed on this
/// sample (a degenerate representation) while the others went on. An exception raised by
/// ``representation_function`` is raised.
#[pyfunction]
#[pyo3(signature = (ground_truth_data, representation_function, metrics = None, random_state = None))]
pub fn evaluate<'py>(
    py: Python<'py>,
    ground_truth_data: &Bound<'py, PyAny>,
    representation_function: &Bound<'py, PyAny>,
    metrics: Option<&Bound<'py, PyAny>>,
    random_state: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let list = match metrics {
        // Every metric a representation function can feed (the posterior-based ones are left out below).
        None => "all".to_string(),
        Some(v) => match v.extract::<String>() {
            Ok(s) => s,
            Err(_) => v
                .extract::<Vec<String>>()
                .map_err(|_| PyTypeError::new_err("metrics must be a comma-separated string or a list of metric names"))?
                .join(","),
        },
    };
    let mut metrics = m::parse_metrics(&list).map_err(metrics_error)?;
    if list.trim() == "all" {
        metrics.retain(|m| !m.needs_posteriors());
    }
    if let Some(bad) = metrics.iter().find(|m| m.needs_posteriors()) {
        return Err(PyValueError::new_err(format!(
            "`{bad}` needs Gaussian posteriors, not a representation function: encode (mean, logvar) yourself and call {}",
            if bad.name() == "info" { "information_diagnostics" } else { "mig_continuous" }
        )));
    }
    let seed = seed_of(random_state)?;
    let (representation, sizes) = PythonRepresentation::new(ground_truth_data, representation_function, seed)?;
    let config = m::EvalConfig::default();
    let report = run_metric(py, representation, |encode| m::evaluate_representation(&metrics, &sizes, &mut { encode }, seed, &config))?;
    json_to_python(py, &m::to_dlib_names(&report))
}

/// disentanglement_lib's ``compute_irs``: the Interventional Robustness Score of an encoder on
/// ``num_train`` observations drawn from ``ground_truth_data`` (factor vectors uniform, from the
/// seed of ``random_state``), factors discretized into 20 bins, ``diff_quantile`` 0.99 (1.0 is
/// the paper's version). ``batch_size`` is how many observations each call of
/// ``representation_function`` gets.
///
/// Returns a dict: ``IRS``, ``num_active_dims`` (a count of the codes with nonzero variance;
/// disentanglement_lib's sums their values), ``disentanglement_scores``, ``irs_matrix``, ...
#[pyfunction]
#[pyo3(signature = (ground_truth_data, representation_function, random_state = None, artifact_dir = None, diff_quantile = 0.99, num_train = 10_000, batch_size = 16))]
#[allow(clippy::too_many_arguments)]
pub fn compute_irs<'py>(
    py: Python<'py>,
    ground_truth_data: &Bound<'py, PyAny>,
    representation_function: &Bound<'py, PyAny>,
    random_state: Option<&Bound<'py, PyAny>>,
    artifact_dir: Option<&Bound<'py, PyAny>>,
    diff_quantile: f64,
    num_train: usize,
    batch_size: usize,
) -> PyResult<Bound<'py, PyDict>> {
    let _ = artifact_dir;
    let seed = seed_of(random_state)?;
    let (representation, sizes) = PythonRepresentation::new(ground_truth_data, representation_function, seed)?;
    let mut config = m::EvalConfig { rows_per_call: batch_size.max(1), ..Default::default() };
    config.irs.diff_quantile = diff_quantile;
    config.irs.num_train = num_train;
    let report = run_metric(py, representation, |encode| m::evaluate_representation(&[m::Metric::Irs], &sizes, &mut { encode }, seed, &config))?;
    if let Some((_, message)) = report.errors().next() {
        return Err(PyValueError::new_err(message.to_string()));
    }
    report_to_dict(py, &report, "irs")
}

pub(crate) fn predictor_named(name: &str) -> PyResult<m::Predictor> {
    match name.replace('-', "_").as_str() {
        "logistic_regression" | "logistic_regression_cv" => Ok(m::Predictor::LogisticRegressionCv),
        "boosted_trees" | "gradient_boosting_classifier" => Ok(m::Predictor::BoostedTrees),
        _ => Err(PyValueError::new_err(format!(
            "predictor {name:?}: use \"logistic_regression\" (disentanglement_lib's logistic_regression_cv) or \"boosted_trees\" (gradient_boosting_classifier)"
        ))),
    }
}

/// The report's keys under `from.` moved under `to.` (so one namespace holds them all).
pub(crate) fn renamespace(report: m::Report, from: &str, to: &str) -> m::Report {
    let mut out = m::Report::new();
    for (key, value) in report.iter() {
        let key = match key.strip_prefix(&format!("{from}.")) {
            Some(rest) if !key.starts_with(&format!("{to}.")) => format!("{to}.{rest}"),
            _ => key.clone(),
        };
        out.insert(key, value.clone());
    }
    out
}

/// Runs one metric of `config` through `evaluate_representation`; a failure is a ValueError.
fn one_metric(
    py: Python<'_>,
    ground_truth_data: &Bound<'_, PyAny>,
    representation_function: &Bound<'_, PyAny>,
    random_state: Option<&Bound<'_, PyAny>>,
    metric: m::Metric,
    config: m::EvalConfig,
) -> PyResult<m::Report> {
    let seed = seed_of(random_state)?;
    let (representation, sizes) = PythonRepresentation::new(ground_truth_data, representation_function, seed)?;
    let report = run_metric(py, representation, |encode| m::evaluate_representation(&[metric], &sizes, &mut { encode }, seed, &config))?;
    if let Some((_, message)) = report.errors().next() {
        return Err(PyValueError::new_err(message.to_string()));
    }
    Ok(report)
}

/// disentanglement_lib's ``compute_downstream_task``: per factor, a classifier trained on the
/// codes of ``num_train`` observations (each size in the list) and tested on ``num_test``;
/// ``predictor`` is ``"logistic_regression"`` (``logistic_regression_cv``: one-vs-rest, C by
/// 5-fold cross-validation) or ``"boosted_trees"`` (``gradient_boosting_classifier``). The sets of
/// different sizes are the first rows of one training pool (the reference draws each afresh).
///
/// Returns a dict with the reference's keys: ``"10:mean_train_accuracy"``,
/// ``"10:mean_test_accuracy"``, ``"10:min_test_accuracy"``, ``"10:test_accuracy_factor_0"``, …
#[pyfunction]
#[pyo3(signature = (ground_truth_data, representation_function, random_state = None, artifact_dir = None, num_train = vec![10, 100, 1000, 10_000], num_test = 5000, batch_size = 16, predictor = "logistic_regression"))]
#[allow(clippy::too_many_arguments)]
pub fn compute_downstream_task<'py>(
    py: Python<'py>,
    ground_truth_data: &Bound<'py, PyAny>,
    representation_function: &Bound<'py, PyAny>,
    random_state: Option<&Bound<'py, PyAny>>,
    artifact_dir: Option<&Bound<'py, PyAny>>,
    num_train: Vec<usize>,
    num_test: usize,
    batch_size: usize,
    predictor: &str,
) -> PyResult<Bound<'py, PyDict>> {
    let _ = artifact_dir;
    let p = predictor_named(predictor)?;
    let mut config = m::EvalConfig { rows_per_call: batch_size.max(1), ..Default::default() };
    config.downstream = m::DownstreamConfig { num_train, num_test, predictors: vec![p], ..Default::default() };
    let report = one_metric(py, ground_truth_data, representation_function, random_state, m::Metric::Downstream, config)?;
    let ns = format!("downstream.{}", p.key());
    report_to_dict(py, &renamespace(report, "downstream", &ns), &ns)
}

/// disentanglement_lib's ``compute_reduced_downstream_task``: per factor of interest, the
/// ``num_factors_to_remove`` codes most important for it (gradient-boosted trees' importances,
/// the reference's ``factorwise_dci``) are removed and every factor is predicted from the rest.
///
/// Returns a dict with the reference's keys
/// (``"100:reduced_factor_0:mean_test_accuracy_reduced_factor"``, …,
/// ``"100:mean_test_accuracy_other_factors"``) and ``…:removed_codes``.
#[pyfunction]
#[pyo3(signature = (ground_truth_data, representation_function, random_state = None, artifact_dir = None, num_factors_to_remove = 1, num_train = vec![100], num_test = 100, batch_size = 16, predictor = "boosted_trees"))]
#[allow(clippy::too_many_arguments)]
pub fn compute_reduced_downstream_task<'py>(
    py: Python<'py>,
    ground_truth_data: &Bound<'py, PyAny>,
    representation_function: &Bound<'py, PyAny>,
    random_state: Option<&Bound<'py, PyAny>>,
    artifact_dir: Option<&Bound<'py, PyAny>>,
    num_factors_to_remove: usize,
    num_train: Vec<usize>,
    num_test: usize,
    batch_size: usize,
    predictor: &str,
) -> PyResult<Bound<'py, PyDict>> {
    let _ = artifact_dir;
    let mut config = m::EvalConfig { rows_per_call: batch_size.max(1), ..Default::default() };
    config.reduced_downstream = m::ReducedDownstreamConfig { num_factors_to_remove, num_train, num_test, predictor: predictor_named(predictor)?, ..Default::default() };
    let report = one_metric(py, ground_truth_data, representation_function, random_state, m::Metric::ReducedDownstream, config)?;
    report_to_dict(py, &report, "reduced_downstream")
}

/// disentanglement_lib's ``compute_fairness`` (Locatello et al. 2019): per target factor a
/// classifier (``predictor``, gradient-boosted trees as in the reference's study) trained on
/// ``num_train`` codes; per sensitive factor, ``num_test_points_per_class`` observations with the
/// sensitive factor set to each of its values in turn; the total-variation distance of the
/// prediction distributions.
///
/// Returns a dict with the reference's keys: ``"mean_fairness:mean_pred:mean_sens"`` (the paper's
/// score), ``"mean_fairness:pred0:sens1"``, ``"max_fairness:…"``, … and the two matrices.
#[pyfunction]
#[pyo3(signature = (ground_truth_data, representation_function, random_state = None, artifact_dir = None, num_train = 10_000, num_test_points_per_class = 100, batch_size = 16, predictor = "boosted_trees"))]
#[allow(clippy::too_many_arguments)]
pub fn compute_fairness<'py>(
    py: Python<'py>,
    ground_truth_data: &Bound<'py, PyAny>,
    representation_function: &Bound<'py, PyAny>,
    random_state: Option<&Bound<'py, PyAny>>,
    artifact_dir: Option<&Bound<'py, PyAny>>,
    num_train: usize,
    num_test_points_per_class: usize,
    batch_size: usize,
    predictor: &str,
) -> PyResult<Bound<'py, PyDict>> {
    let _ = artifact_dir;
    let mut config = m::EvalConfig { rows_per_call: batch_size.max(1), ..Default::default() };
    config.fairness = m::FairnessConfig { num_train, num_test_points_per_class, predictor: predictor_named(predictor)?, ..Default::default() };
    let report = one_metric(py, ground_truth_data, representation_function, random_state, m::Metric::Fairness, config)?;
    report_to_dict(py, &report, "fairness")
}

/// disentanglement_lib's ``compute_strong_downstream_task``: for each target factor and
/// ``n_experiment`` times, another factor is fixed at one value in the training set and takes
/// its other values in the test set; a classifier (``predictor``) trained on the first is
/// scored on the second. Interventions come from the seed of ``random_state`` (the reference
/// draws them from numpy's unseeded global generator).
///
/// Returns a dict with the reference's keys: ``"1000:mean_test_accuracy"``,
/// ``"1000:mean_strong_test_accuracy"``, ``"1000:strong_generalization_gap"``, …
#[pyfunction]
#[pyo3(signature = (ground_truth_data, representation_function, random_state = None, artifact_dir = None, num_train = vec![1000], num_test = 1000, n_experiment = 2, batch_size = 16, predictor = "boosted_trees"))]
#[allow(clippy::too_many_arguments)]
pub fn compute_strong_downstream_task<'py>(
    py: Python<'py>,
    ground_truth_data: &Bound<'py, PyAny>,
    representation_function: &Bound<'py, PyAny>,
    random_state: Option<&Bound<'py, PyAny>>,
    artifact_dir: Option<&Bound<'py, PyAny>>,
    num_train: Vec<usize>,
    num_test: usize,
    n_experiment: usize,
    batch_size: usize,
    predictor: &str,
) -> PyResult<Bound<'py, PyDict>> {
    let _ = artifact_dir;
    let mut config = m::EvalConfig { rows_per_call: batch_size.max(1), ..Default::default() };
    config.strong_downstream = m::StrongDownstreamConfig { num_train, num_test, n_experiment, predictor: predictor_named(predictor)?, ..Default::default() };
    let report = one_metric(py, ground_truth_data, representation_function, random_state, m::Metric::StrongDownstream, config)?;
    report_to_dict(py, &report, "strong_downstream")
}

/// disentanglement_lib's ``compute_unified_scores``: the boosted-trees importance, mutual
/// information and SVM accuracy matrices of ``num_train`` training and ``num_test`` test codes,
/// each aggregated as DCI, MIG, SAP and Modularity, with the precision summary.
///
/// Returns a dict with the reference's keys (``"mutual_information_matrix.mig"``,
/// ``"importance_gbt_matrix.dci_disentanglement"``, ``"accuracy_svm_matrix.sap"``, …) and the
/// matrices (``"<matrix>.matrix"``).
#[pyfunction]
#[pyo3(signature = (ground_truth_data, representation_function, random_state = None, artifact_dir = None, num_train = 10_000, num_test = 5000, batch_size = 16))]
#[allow(clippy::too_many_arguments)]
pub fn compute_unified_scores<'py>(
    py: Python<'py>,
    ground_truth_data: &Bound<'py, PyAny>,
    representation_function: &Bound<'py, PyAny>,
    random_state: Option<&Bound<'py, PyAny>>,
    artifact_dir: Option<&Bound<'py, PyAny>>,
    num_train: usize,
    num_test: usize,
    batch_size: usize,
) -> PyResult<Bound<'py, PyDict>> {
    let _ = artifact_dir;
    let mut config = m::EvalConfig { rows_per_call: batch_size.max(1), ..Default::default() };
    config.unified = m::UnifiedConfig { num_train, num_test, ..Default::default() };
    let report = one_metric(py, ground_truth_data, representation_function, random_state, m::Metric::Unified, config)?;
    report_to_dict(py, &report, "unified")
}
