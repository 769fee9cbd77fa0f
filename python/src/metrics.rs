//! The array metrics: codes (N, D) and factor classes (N, K), one sample per row.
//!
//! disentanglement_lib's internal functions (`_compute_mig(mus, ys)` …) take the transposes,
//! (D, N) and (K, N): pass `mus.T` and `ys.T` from such code. Each function uses every row it is
//! given (our command line's defaults cap the sample at the reference study's sizes; here the
//! caller decides). Metrics with a train and a test set take them separately, as the reference
//! does, or split one sample: the first two thirds train, the rest test.

use disentangle_metrics as m;
use disentangle_metrics::ToReport;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::arrays::{F32Matrix, class_matrix, f32_matrix, report_to_dict};
use crate::errors::metrics_error;
use crate::interrupt::run_interruptible;

/// Codes read in place, or (train and test given apart) joined into one buffer.
enum CodeRows {
    InPlace(F32Matrix),
    Joined(Vec<f32>, usize, usize),
}

impl CodeRows {
    fn codes(&self) -> m::Result<m::Codes<'_>> {
        match self {
            CodeRows::InPlace(a) => m::Codes::new(a.values(), a.rows, a.cols),
            CodeRows::Joined(v, n, d) => m::Codes::new(v, *n, *d),
        }
    }
}

/// Codes and factors of one sample, checked against each other.
struct Sample {
    codes: CodeRows,
    factors: Vec<usize>,
    num_samples: usize,
    num_factors: usize,
    /// Rows of the training part (the rest is the test part).
    num_train: usize,
}

impl Sample {
    fn factors(&self) -> m::Result<m::Factors<'_>> {
        m::Factors::new(&self.factors, self.num_samples, self.num_factors)
    }
    fn num_test(&self) -> usize {
        self.num_samples - self.num_train
    }
}

/// Factor classes `factors_name` with one row per row of `codes_name` (which has `rows`).
fn read_factors_for(factors: &Bound<'_, PyAny>, factors_name: &str, rows: usize, codes_name: &str) -> PyResult<(Vec<usize>, usize)> {
    let (f, n, k) = class_matrix(factors, factors_name)?;
    if n != rows {
        return Err(PyValueError::new_err(format!("{factors_name} has {n} rows but {codes_name} has {rows}: one row per sample in both")));
    }
    Ok((f, k))
}

fn read_pair(codes: &Bound<'_, PyAny>, factors: &Bound<'_, PyAny>, codes_name: &str, factors_name: &str) -> PyResult<(F32Matrix, Vec<usize>, usize)> {
    let c = f32_matrix(codes, codes_name)?;
    let (f, k) = read_factors_for(factors, factors_name, c.rows, codes_name)?;
    Ok((c, f, k))
}

/// A sample with an optional separate test set. Without one, `split` decides the training rows.
fn read_sample(
    codes: &Bound<'_, PyAny>,
    factors: &Bound<'_, PyAny>,
    codes_test: Option<&Bound<'_, PyAny>>,
    factors_test: Option<&Bound<'_, PyAny>>,
    split: impl Fn(usize) -> usize,
) -> PyResult<Sample> {
    let (train, mut factor_values, k) = read_pair(codes, factors, "codes", "factors")?;
    match (codes_test, factors_test) {
        (None, None) => {
            let n = train.rows;
            Ok(Sample { num_train: split(n), codes: CodeRows::InPlace(train), factors: factor_values, num_samples: n, num_factors: k })
        }
        (Some(ct), Some(ft)) => {
            let (test, test_factors, kt) = read_pair(ct, ft, "codes_test", "factors_test")?;
            if test.cols != train.cols {
                return Err(PyValueError::new_err(format!("codes_test has {} columns but codes has {}", test.cols, train.cols)));
            }
            if kt != k {
                return Err(PyValueError::new_err(format!("factors_test has {kt} columns but factors has {k}")));
            }
            let mut joined = Vec::with_capacity(train.values().len() + test.values().len());
            joined.extend_from_slice(train.values());
            joined.extend_from_slice(test.values());
            factor_values.extend(test_factors);
            let n = train.rows + test.rows;
            Ok(Sample { num_train: train.rows, codes: CodeRows::Joined(joined, n, train.cols), factors: factor_values, num_samples: n, num_factors: k })
        }
        _ => Err(PyValueError::new_err("pass both codes_test and factors_test, or neither")),
    }
}

fn two_thirds(n: usize) -> usize {
    ((2 * n) as f64 / 3.0).round() as usize
}

/// Runs `metric` on a worker thread (GIL released, Ctrl-C honoured) and returns its report as a
/// dict of the metric's `namespace`.
fn score<'py, R: ToReport>(py: Python<'py>, namespace: &str, metric: impl FnOnce() -> m::Result<R> + Send + 'static) -> PyResult<Bound<'py, PyDict>> {
    let report = run_interruptible(py, move || metric().map(|r| r.to_report()))?.map_err(metrics_error)?;
    report_to_dict(py, &report, namespace)
}

/// [`score`] of a metric of codes and factors, given the sample's training and test row counts.
fn score_sample<'py, R: ToReport>(
    py: Python<'py>,
    sample: Sample,
    namespace: &str,
    metric: impl FnOnce(&m::Codes<'_>, &m::Factors<'_>, usize, usize) -> m::Result<R> + Send + 'static,
) -> PyResult<Bound<'py, PyDict>> {
    score(py, namespace, move || metric(&sample.codes.codes()?, &sample.factors()?, sample.num_train, sample.num_test()))
}

/// Mutual Information Gap, disentanglement_lib's discrete estimator (Chen et al. 2018).
///
/// Each code is discretized into `num_bins` equal-width bins over its own range; for every factor
/// the gap between the two codes with the highest mutual information, divided by the factor's
/// entropy, averaged over factors.
///
/// Args:
///     codes: (N, D) representation of N samples (any numeric dtype; read in place when
///         C-contiguous float32).
///     factors: (N, K) integer ground-truth classes of the same samples.
///     num_bins: histogram bins per code (reference: 20).
///
/// Returns a dict: ``discrete_mig``, ``discrete_per_factor`` (NaN for a constant factor),
/// ``mutual_information`` (D, K), ``factor_entropies``, ``num_samples``, ``num_bins``.
#[pyfunction]
#[pyo3(signature = (codes, factors, *, num_bins = 20))]
pub fn mig<'py>(py: Python<'py>, codes: &Bound<'py, PyAny>, factors: &Bound<'py, PyAny>, num_bins: usize) -> PyResult<Bound<'py, PyDict>> {
    let s = read_sample(codes, factors, None, None, |n| n)?;
    score_sample(py, s, "mig", move |c, f, rows, _| m::mig(c, f, &m::MigConfig { num_train: rows, num_bins }))
}

/// DCI disentanglement, completeness and informativeness (Eastwood & Williams 2018), with
/// gradient-boosted trees as in disentanglement_lib (scikit-learn's defaults: 100 stages of depth
/// 3, learning rate 0.1).
///
/// Args:
///     codes, factors: the training sample, (N, D) and (N, K).
///     codes_test, factors_test: the test sample; when omitted, the first two thirds of
///         ``codes`` train and the rest test.
///
/// Returns a dict: ``disentanglement``, ``completeness``, ``informativeness_train``,
/// ``informativeness_test`` (accuracies), ``importance_matrix`` (D, K), ``num_train``, ``num_test``.
#[pyfunction]
#[pyo3(signature = (codes, factors, codes_test = None, factors_test = None))]
pub fn dci<'py>(
    py: Python<'py>,
    codes: &Bound<'py, PyAny>,
    factors: &Bound<'py, PyAny>,
    codes_test: Option<&Bound<'py, PyAny>>,
    factors_test: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyDict>> {
    let s = read_sample(codes, factors, codes_test, factors_test, two_thirds)?;
    score_sample(py, s, "dci", |c, f, num_train, num_test| m::dci(c, f, &m::DciConfig { num_train, num_test, ..Default::default() }))
}

/// SAP score (Kumar et al. 2018), disentanglement_lib's discrete version: for every code and
/// factor, the test accuracy of a linear SVM (C = 0.01) on that one code; per factor the gap
/// between the two best codes, averaged.
///
/// Args:
///     codes, factors: the training sample, (N, D) and (N, K); D ≥ 2.
///     codes_test, factors_test: the test sample; when omitted, the first two thirds train.
///
/// Returns a dict: ``SAP_score``, ``score_matrix`` (D, K), ``num_train``, ``num_test``.
#[pyfunction]
#[pyo3(signature = (codes, factors, codes_test = None, factors_test = None))]
pub fn sap<'py>(
    py: Python<'py>,
    codes: &Bound<'py, PyAny>,
    factors: &Bound<'py, PyAny>,
    codes_test: Option<&Bound<'py, PyAny>>,
    factors_test: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyDict>> {
    let s = read_sample(codes, factors, codes_test, factors_test, two_thirds)?;
    score_sample(py, s, "sap", |c, f, num_train, num_test| m::sap(c, f, &m::SapConfig { num_train, num_test, ..Default::default() }))
}

/// Modularity (Ridgeway & Mozer 2018), disentanglement_lib's version: from the discretized
/// mutual information of every code with every factor, one minus each code's normalized squared
/// deviation from an ideal one-factor code, averaged over codes.
///
/// Args:
///     codes: (N, D); factors: (N, K) integer classes; num_bins: bins per code (reference: 20).
///
/// Returns a dict: ``modularity_score``, ``per_code``, ``mutual_information``, ``num_samples``,
/// ``num_bins``.
#[pyfunction]
#[pyo3(signature = (codes, factors, *, num_bins = 20))]
pub fn modularity<'py>(py: Python<'py>, codes: &Bound<'py, PyAny>, factors: &Bound<'py, PyAny>, num_bins: usize) -> PyResult<Bound<'py, PyDict>> {
    let s = read_sample(codes, factors, None, None, |n| n)?;
    score_sample(py, s, "modularity", move |c, f, rows, _| m::modularity(c, f, &m::ModularityConfig { num_train: rows, num_bins }))
}

/// Explicitness (Ridgeway & Mozer 2018): codes standardized with the training rows; per factor
/// an L2 logistic regression on all codes (C = 1, multinomial for three or more classes:
/// scikit-learn's ``LogisticRegression()`` objective, solved to convergence); the macro
/// one-vs-rest ROC AUC of its probabilities, averaged over factors, on the training and the test
/// set.
///
/// Args:
///     codes, factors: the training sample; codes_test, factors_test: the test sample (when
///         omitted, the first two thirds train).
///
/// Returns a dict: ``explicitness_score_train``, ``explicitness_score_test``, per-factor AUCs,
/// ``num_train``, ``num_test``.
#[pyfunction]
#[pyo3(signature = (codes, factors, codes_test = None, factors_test = None))]
pub fn explicitness<'py>(
    py: Python<'py>,
    codes: &Bound<'py, PyAny>,
    factors: &Bound<'py, PyAny>,
    codes_test: Option<&Bound<'py, PyAny>>,
    factors_test: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyDict>> {
    let s = read_sample(codes, factors, codes_test, factors_test, two_thirds)?;
    score_sample(py, s, "explicitness", |c, f, num_train, num_test| m::explicitness(c, f, &m::ExplicitnessConfig { num_train, num_test, ..Default::default() }))
}

/// disentanglement_lib's unsupervised scores of the codes alone: the total correlation and the
/// Wasserstein dependency of a Gaussian fitted to them, and the mean pairwise mutual information
/// of the discretized codes.
///
/// Args:
///     codes: (N, D), D ≥ 2; num_bins: bins per code for the mutual information (reference: 20).
///
/// Returns a dict: ``gaussian_total_correlation``, ``gaussian_wasserstein_correlation``,
/// ``gaussian_wasserstein_correlation_norm``, ``mutual_info_score``, ``num_samples``, ``num_bins``.
#[pyfunction]
#[pyo3(signature = (codes, *, num_bins = 20))]
pub fn unsupervised<'py>(py: Python<'py>, codes: &Bound<'py, PyAny>, num_bins: usize) -> PyResult<Bound<'py, PyDict>> {
    let c = f32_matrix(codes, "codes")?;
    score(py, "unsupervised", move || {
        m::unsupervised_scores(&m::Codes::new(c.values(), c.rows, c.cols)?, &m::UnsupervisedConfig { num_train: c.rows, num_bins })
    })
}

fn posteriors<'a>(mean: &'a F32Matrix, logvar: &'a F32Matrix, noise_correlation: f64) -> m::Result<m::GaussianPosteriors<'a>> {
    m::GaussianPosteriors::new(mean.values(), logvar.values(), mean.rows, mean.cols)?.with_noise_correlation(noise_correlation)
}

fn read_posteriors(mean: &Bound<'_, PyAny>, logvar: &Bound<'_, PyAny>) -> PyResult<(F32Matrix, F32Matrix)> {
    let mu = f32_matrix(mean, "mean")?;
    let lv = f32_matrix(logvar, "logvar")?;
    if (mu.rows, mu.cols) != (lv.rows, lv.cols) {
        return Err(PyValueError::new_err(format!("logvar has shape ({}, {}) but mean has ({}, {})", lv.rows, lv.cols, mu.rows, mu.cols)));
    }
    Ok((mu, lv))
}

/// Chen et al.'s (2018) MIG over Gaussian posteriors q(z|x) = N(mean, exp(logvar)): I(z_j; v_k)
/// estimated by Monte Carlo with one z per sample (``num_z_samples`` of them), normalized by
/// ln(number of classes).
///
/// Args:
///     mean, logvar: (N, D) posterior parameters; factors: (N, K) integer classes.
///     num_z_samples: Monte Carlo draws (at most N); seed: their generator's seed.
///
/// Returns a dict: ``continuous`` (the score), per-factor values and the mutual information matrix.
#[pyfunction]
#[pyo3(signature = (mean, logvar, factors, *, num_z_samples = 10_000, seed = 0))]
pub fn mig_continuous<'py>(
    py: Python<'py>,
    mean: &Bound<'py, PyAny>,
    logvar: &Bound<'py, PyAny>,
    factors: &Bound<'py, PyAny>,
    num_z_samples: usize,
    seed: u64,
) -> PyResult<Bound<'py, PyDict>> {
    let (mu, lv) = read_posteriors(mean, logvar)?;
    let (f, k) = read_factors_for(factors, "factors", mu.rows, "mean")?;
    score(py, "mig", move || {
        let config = m::MigContinuousConfig { num_z_samples, ..Default::default() };
        m::mig_continuous(&posteriors(&mu, &lv, 0.0)?, &m::Factors::new(&f, mu.rows, k)?, seed, &config)
    })
}

/// The seed paper's information diagnostics of Gaussian posteriors q(z|x_n) = N(mean_n, D Σ D),
/// D = diag(exp(logvar/2)), Σ = (1 − ρ)I + ρ11ᵀ (ρ = ``noise_correlation``; 0 for a usual VAE).
///
/// With q(z) the mixture of the N posteriors, estimated by Monte Carlo (``num_z_samples`` draws):
/// ``mi_per_dim`` I(z_j; x), ``mi_joint`` I(z; x), ``isolation_gap`` Σ_j I(z_j; x) − I(z; x),
/// ``aggregate_tc`` KL(q(z) ‖ Π q(z_j)), ``conditional_tc`` E_x KL(q(z|x) ‖ Π q(z_j|x)) (analytic:
/// −½ ln det Σ), and the ELBO decomposition (``elbo.index_code_mi``, ``elbo.total_correlation``,
/// ``elbo.dimension_wise_kl``, ``elbo.average_kl``). Lemma 2 of the paper:
/// I(z; x) − Σ I(z_j; x) = conditional_tc − aggregate_tc.
#[pyfunction]
#[pyo3(signature = (mean, logvar, *, noise_correlation = 0.0, num_z_samples = 10_000, seed = 0))]
pub fn information_diagnostics<'py>(
    py: Python<'py>,
    mean: &Bound<'py, PyAny>,
    logvar: &Bound<'py, PyAny>,
    noise_correlation: f64,
    num_z_samples: usize,
    seed: u64,
) -> PyResult<Bound<'py, PyDict>> {
    let (mu, lv) = read_posteriors(mean, logvar)?;
    score(py, "info", move || m::information_diagnostics(&posteriors(&mu, &lv, noise_correlation)?, seed, &m::InfoConfig { num_z_samples }))
}

fn zaidi_config(rows: usize, num_bins: usize, bin_factors: bool) -> m::zaidi::ZaidiConfig {
    m::zaidi::ZaidiConfig { num_train: rows, num_bins, bin_factors }
}

/// MIG-sup (Li et al. 2020) as Zaidi et al.'s code computes it: codes and factors min-max
/// binned into ``num_bins`` (10) bins, I(factor; code) / H(code) in bits; per code the gap
/// between its two largest values; mean over codes. A constant code is an error (NaN in the
/// reference). ``bin_factors=False`` keeps the factor classes (the reference's
/// ``continuous_factors=False``).
///
/// Returns a dict: ``score``, ``per_code``, ``normalized_mutual_information`` (K, D),
/// ``num_samples``, ``num_bins``.
#[pyfunction]
#[pyo3(signature = (codes, factors, *, num_bins = 10, bin_factors = true))]
pub fn mig_sup<'py>(py: Python<'py>, codes: &Bound<'py, PyAny>, factors: &Bound<'py, PyAny>, num_bins: usize, bin_factors: bool) -> PyResult<Bound<'py, PyDict>> {
    let s = read_sample(codes, factors, None, None, |n| n)?;
    score_sample(py, s, "mig_sup", move |c, f, rows, _| m::mig_sup::mig_sup(c, f, &zaidi_config(rows, num_bins, bin_factors)))
}

/// DCIMIG (Sepliarskaia et al. 2019), Zaidi et al.'s estimator: each code's gap between its two
/// largest I(factor; code) goes to its most informed factor; each factor keeps its largest; the
/// sum over the factors' entropies.
///
/// Returns a dict: ``score``, ``per_factor``, ``mutual_information_bits`` (K, D),
/// ``factor_entropies_bits``, ``num_samples``, ``num_bins``.
#[pyfunction]
#[pyo3(signature = (codes, factors, *, num_bins = 10, bin_factors = true))]
pub fn dcimig<'py>(py: Python<'py>, codes: &Bound<'py, PyAny>, factors: &Bound<'py, PyAny>, num_bins: usize, bin_factors: bool) -> PyResult<Bound<'py, PyDict>> {
    let s = read_sample(codes, factors, None, None, |n| n)?;
    score_sample(py, s, "dcimig", move |c, f, rows, _| m::dcimig::dcimig(c, f, &zaidi_config(rows, num_bins, bin_factors)))
}

/// JEMMIG (Do & Tran 2020), Zaidi et al.'s estimator: per factor
/// 1 − (H(factor, z*) − I(factor; z*) + I(factor; z°)) / (H(factor) + log₂ num_bins), z* and z°
/// its two most informative codes; mean over factors.
///
/// Returns a dict: ``score``, ``per_factor``, ``top_code``, ``num_samples``, ``num_bins``.
#[pyfunction]
#[pyo3(signature = (codes, factors, *, num_bins = 10, bin_factors = true))]
pub fn jemmig<'py>(py: Python<'py>, codes: &Bound<'py, PyAny>, factors: &Bound<'py, PyAny>, num_bins: usize, bin_factors: bool) -> PyResult<Bound<'py, PyDict>> {
    let s = read_sample(codes, factors, None, None, |n| n)?;
    score_sample(py, s, "jemmig", move |c, f, rows, _| m::jemmig::jemmig(c, f, &zaidi_config(rows, num_bins, bin_factors)))
}

/// MIG as Zaidi et al.'s code computes it (normalized by the *code's* entropy, 10 min-max bins,
/// factors binned): not the same number as :func:`mig` (disentanglement_lib's).
///
/// Returns a dict: ``score``, ``per_factor``, ``normalized_mutual_information`` (K, D), ...
#[pyfunction]
#[pyo3(signature = (codes, factors, *, num_bins = 10, bin_factors = true))]
pub fn mig_zaidi<'py>(py: Python<'py>, codes: &Bound<'py, PyAny>, factors: &Bound<'py, PyAny>, num_bins: usize, bin_factors: bool) -> PyResult<Bound<'py, PyDict>> {
    let s = read_sample(codes, factors, None, None, |n| n)?;
    score_sample(py, s, "mig_zaidi", move |c, f, rows, _| m::mig_zaidi::mig_zaidi(c, f, &zaidi_config(rows, num_bins, bin_factors)))
}

/// Modularity as Zaidi et al.'s code computes it (:func:`modularity`'s formula with their
/// estimator; a code informing no factor is an error, NaN there).
///
/// Returns a dict: ``score``, ``per_code``, ``num_samples``, ``num_bins``.
#[pyfunction]
#[pyo3(signature = (codes, factors, *, num_bins = 10, bin_factors = true))]
pub fn modularity_zaidi<'py>(py: Python<'py>, codes: &Bound<'py, PyAny>, factors: &Bound<'py, PyAny>, num_bins: usize, bin_factors: bool) -> PyResult<Bound<'py, PyDict>> {
    let s = read_sample(codes, factors, None, None, |n| n)?;
    score_sample(py, s, "modularity_zaidi", move |c, f, rows, _| m::modularity_zaidi::modularity_zaidi(c, f, &zaidi_config(rows, num_bins, bin_factors)))
}

/// SAP as Zaidi et al.'s code computes it by default: per (factor, code) the squared
/// correlation (in-sample R² of a one-feature fit); per factor the gap between its two best
/// codes; mean over factors.
///
/// Returns a dict: ``score``, ``per_factor``, ``r_squared`` (K, D), ``num_samples``.
#[pyfunction]
pub fn sap_zaidi<'py>(py: Python<'py>, codes: &Bound<'py, PyAny>, factors: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyDict>> {
    let s = read_sample(codes, factors, None, None, |n| n)?;
    score_sample(py, s, "sap_zaidi", move |c, f, rows, _| m::sap_zaidi::sap_zaidi(c, f, &m::sap_zaidi::SapZaidiConfig { num_train: rows }))
}

/// The Interventional Robustness Score (Suter et al. 2019) of codes and factors: codes with zero
/// variance dropped; per code and factor 1 − (mean over the factor's values of the
/// ``diff_quantile`` quantile of |z − E[z | value]|) / max |z − mean|; each code's best factor;
/// the max-deviation-weighted mean. disentanglement_lib's defaults (``diff_quantile`` 0.99,
/// factors discretized into 20 bins); ``zaidi=True`` gives Zaidi et al.'s variant (quantile 1.0,
/// 10 min-max bins), unless ``diff_quantile`` / ``num_bins`` are given.
///
/// Returns a dict: ``IRS``, ``disentanglement_scores``, ``irs_matrix``, ``max_deviations``,
/// ``num_active_dims`` (a count; the reference's sums the active codes' values),
/// ``diff_quantile``, ``num_samples``.
#[pyfunction]
#[pyo3(signature = (codes, factors, *, diff_quantile = None, num_bins = None, zaidi = false))]
pub fn irs<'py>(
    py: Python<'py>,
    codes: &Bound<'py, PyAny>,
    factors: &Bound<'py, PyAny>,
    diff_quantile: Option<f64>,
    num_bins: Option<usize>,
    zaidi: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let s = read_sample(codes, factors, None, None, |n| n)?;
    let variant = if zaidi { m::irs::IrsVariant::Zaidi } else { m::irs::IrsVariant::DisentanglementLib };
    let config = m::irs::IrsConfig {
        num_train: s.num_samples,
        diff_quantile: diff_quantile.unwrap_or(if zaidi { 1.0 } else { 0.99 }),
        num_bins: num_bins.unwrap_or(if zaidi { 10 } else { 20 }),
    };
    score(py, "irs", move || {
        let r = m::irs::irs(&s.codes.codes()?, &s.factors()?, &config, variant)?;
        Ok(OwnedIrs(r))
    })
}

/// The IRS result under the `irs` namespace (whose score key is disentanglement_lib's `IRS`).
struct OwnedIrs(m::irs::IrsResult);
impl ToReport for OwnedIrs {
    fn write_to(&self, r: &mut m::Report) {
        m::irs::IrsReport(&self.0).write_to(r)
    }
}

/// InfoMEC (Hsu et al. 2023): InfoM, InfoE, InfoC of codes (N, D) and factors (N, K), as the
/// authors' ``compute_infomec`` computes them (nearest-neighbour NMI for continuous codes,
/// ``discrete_latents=True`` for quantized ones; the estimator's 1e-10 jitter drawn from
/// ``random_state``).
///
/// Returns a dict: ``infom``, ``infoc``, ``infoe``, ``infoe_per_source``, ``nmi`` (K, D),
/// ``active_latents``, ``num_samples``.
#[pyfunction]
#[pyo3(signature = (codes, factors, *, discrete_latents = false, random_state = 0))]
pub fn infomec<'py>(py: Python<'py>, codes: &Bound<'py, PyAny>, factors: &Bound<'py, PyAny>, discrete_latents: bool, random_state: u64) -> PyResult<Bound<'py, PyDict>> {
    let s = read_sample(codes, factors, None, None, |n| n)?;
    score_sample(py, s, "infomec", move |c, f, rows, _| {
        m::infomec::infomec(c, f, random_state, &m::infomec::InfomecConfig { num_train: rows, discrete_latents, ..Default::default() })
    })
}

/// The authors' signature: ``compute_infomec(sources, latents, discrete_latents)`` (sources are
/// the factors, latents the codes) with their keys ``infom``, ``infoe``, ``infoc``, ``nmi``,
/// ``active_latents`` (and our extras).
#[pyfunction]
#[pyo3(signature = (sources, latents, discrete_latents = false))]
pub fn compute_infomec<'py>(py: Python<'py>, sources: &Bound<'py, PyAny>, latents: &Bound<'py, PyAny>, discrete_latents: bool) -> PyResult<Bound<'py, PyDict>> {
    infomec(py, latents, sources, discrete_latents, 0)
}

/// Explicitness as Zaidi et al.'s code computes it: one-vs-rest balanced L2 logistic
/// regressions on min-max scaled codes, the in-sample macro ROC AUC per factor, the mean
/// rescaled 2 (AUC − ½).
///
/// Returns a dict: ``score``, ``per_factor_auc``, ``num_samples``.
#[pyfunction]
#[pyo3(signature = (codes, factors, *, num_bins = 10, bin_factors = true))]
pub fn explicitness_zaidi<'py>(py: Python<'py>, codes: &Bound<'py, PyAny>, factors: &Bound<'py, PyAny>, num_bins: usize, bin_factors: bool) -> PyResult<Bound<'py, PyDict>> {
    let s = read_sample(codes, factors, None, None, |n| n)?;
    score_sample(py, s, "explicitness_zaidi", move |c, f, rows, _| m::explicitness_zaidi::explicitness_zaidi(c, f, &zaidi_config(rows, num_bins, bin_factors)))
}

/// DCI with Lasso importances as Zaidi et al.'s code computes it (``dci(..., model='lasso')``):
/// α by 10-fold cross-validation, in-sample informativeness max(1 − 12 MSE, 0).
///
/// Returns a dict: ``disentanglement``, ``completeness``, ``informativeness``,
/// ``importance_matrix`` (K, D), ``alphas``, ...
#[pyfunction]
pub fn dci_zaidi<'py>(py: Python<'py>, codes: &Bound<'py, PyAny>, factors: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyDict>> {
    let s = read_sample(codes, factors, None, None, |n| n)?;
    score_sample(py, s, "dci_zaidi", move |c, f, rows, _| m::dci_zaidi::dci_zaidi(c, f, &m::dci_zaidi::DciZaidiConfig { num_train: rows }))
}

/// DCI-ES explicitness E and size S (Eastwood et al., ICLR 2023): per factor, gradient-boosted
/// regression trees of increasing depth (the capacities) predict the standardized factor; their
/// test losses form the loss–capacity curve, and E = 1 − (area between the curve and its lowest
/// loss up to the capacity reaching it) / (½ · capacity range · (baseline loss − lowest loss)).
/// S = K / D. The authors' code was not available: tested against the paper's properties
/// (docs/metrics.md says how and what is our convention).
///
/// Args:
///     codes, factors: the training sample, (N, D) and (N, K).
///     codes_test, factors_test: the test sample; when omitted, the first two thirds of
///         ``codes`` train and the rest test.
///     capacities: the probes' maximum tree depths, strictly increasing.
///     num_stages, learning_rate: of every probe.
///     min_informativeness: E_j is 0 when the best probe removes less than this share of the
///         baseline loss.
///     random_state: seed of the trees' feature orders.
///
/// Returns a dict: ``explicitness``, ``size``, ``informativeness``, ``per_factor_explicitness``,
/// ``per_factor_informativeness``, ``losses`` (K, capacities), ``baseline_losses``,
/// ``best_capacities``, ``capacities``, ``num_train``, ``num_test``.
#[pyfunction]
#[pyo3(signature = (codes, factors, codes_test = None, factors_test = None, *, capacities = vec![1, 2, 3, 4, 5, 6, 7, 8], num_stages = 100, learning_rate = 0.1, min_informativeness = 0.05, random_state = None))]
#[allow(clippy::too_many_arguments)]
pub fn dci_es<'py>(
    py: Python<'py>,
    codes: &Bound<'py, PyAny>,
    factors: &Bound<'py, PyAny>,
    codes_test: Option<&Bound<'py, PyAny>>,
    factors_test: Option<&Bound<'py, PyAny>>,
    capacities: Vec<usize>,
    num_stages: usize,
    learning_rate: f64,
    min_informativeness: f64,
    random_state: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyDict>> {
    let seed = crate::random_state::seed_of(random_state)?;
    let s = read_sample(codes, factors, codes_test, factors_test, two_thirds)?;
    score_sample(py, s, "dci_es", move |c, f, num_train, num_test| {
        m::dci_es::dci_es(c, f, &m::dci_es::DciEsConfig { num_train, num_test, capacities, num_stages, learning_rate, seed, min_informativeness })
    })
}

/// UDR, the Unsupervised Disentanglement Ranking (Duan et al. 2020), as disentanglement_lib's
/// ``compute_udr_sklearn`` computes it from the models' codes of the same observations.
///
/// Args:
///     codes: a list of (N, D) arrays, one per model (same N observations, same D).
///     kl: a list of (D,) arrays: each model's mean KL divergence per latent over them.
///     correlation_matrix: ``"lasso"`` (α = 0.1) or ``"spearman"``.
///     filter_low_kl, kl_filter_threshold: drop latents whose KL is ≤ the threshold.
///
/// Returns a dict: ``model_scores`` (one per model), ``pairwise_disentanglement_scores``
/// (models × models), ``raw_correlations`` (models × models × D × D; empty on the diagonal).
#[pyfunction]
#[pyo3(signature = (codes, kl, *, correlation_matrix = "lasso", filter_low_kl = true, kl_filter_threshold = 0.01))]
pub fn udr<'py>(
    py: Python<'py>,
    codes: Vec<Bound<'py, PyAny>>,
    kl: Vec<Vec<f64>>,
    correlation_matrix: &str,
    filter_low_kl: bool,
    kl_filter_threshold: f64,
) -> PyResult<Bound<'py, PyDict>> {
    let correlation = match correlation_matrix {
        "lasso" => m::UdrCorrelation::Lasso,
        "spearman" => m::UdrCorrelation::Spearman,
        other => return Err(PyValueError::new_err(format!("correlation_matrix {other:?}: use \"lasso\" or \"spearman\""))),
    };
    if codes.len() != kl.len() {
        return Err(PyValueError::new_err(format!("{} code arrays but {} KL vectors: one of each per model", codes.len(), kl.len())));
    }
    let matrices: Vec<F32Matrix> = codes.iter().enumerate().map(|(i, c)| f32_matrix(c, &format!("codes[{i}]"))).collect::<PyResult<_>>()?;
    let config = m::UdrConfig { correlation, filter_low_kl, kl_filter_threshold, num_data_points: matrices.first().map_or(0, |a| a.rows), ..Default::default() };
    let result = run_interruptible(py, move || {
        let models = matrices
            .iter()
            .zip(&kl)
            .map(|(a, k)| Ok(m::UdrModel { codes: m::Codes::new(a.values(), a.rows, a.cols)?, kl: k }))
            .collect::<m::Result<Vec<_>>>()?;
        m::udr(&models, &config)
    })?
    .map_err(metrics_error)?;
    let dict = report_to_dict(py, &result.to_report(), "udr")?;
    dict.set_item("raw_correlations", result.raw_correlations)?;
    Ok(dict)
}

/// disentanglement_lib's unified scores of codes and factors (its ``unified_scores(mus_train,
/// ys_train, mus_test, ys_test, …)`` with the three matrices, rows as samples here): the
/// boosted-trees importance, mutual-information (20 bins) and SVM-accuracy matrices, each
/// aggregated as DCI, MIG, SAP and Modularity, with the precision summary.
///
/// Args:
///     codes, factors: the training sample, (N, D) and (N, K).
///     codes_test, factors_test: the test sample; when omitted, the first two thirds train.
///
/// Returns a dict with the reference's keys (``"mutual_information_matrix.mig"``, …) and
/// ``"<matrix>.matrix"``.
#[pyfunction]
#[pyo3(signature = (codes, factors, codes_test = None, factors_test = None, *, num_bins = 20))]
pub fn unified_scores<'py>(
    py: Python<'py>,
    codes: &Bound<'py, PyAny>,
    factors: &Bound<'py, PyAny>,
    codes_test: Option<&Bound<'py, PyAny>>,
    factors_test: Option<&Bound<'py, PyAny>>,
    num_bins: usize,
) -> PyResult<Bound<'py, PyDict>> {
    let s = read_sample(codes, factors, codes_test, factors_test, two_thirds)?;
    score_sample(py, s, "unified", move |c, f, num_train, num_test| {
        m::unified(c, f, &m::UnifiedConfig { num_train, num_test, num_bins, ..Default::default() }, None)
    })
}

/// The downstream task on arrays (disentanglement_lib's ``_compute_loss`` with its key names): per
/// factor, a classifier trained on ``codes``/``factors`` and tested on ``codes_test``/
/// ``factors_test``; ``predictor`` is ``"logistic_regression"`` (one-vs-rest, C by 5-fold
/// cross-validation) or ``"boosted_trees"``.
///
/// Returns a dict with keys ``"{n}:mean_train_accuracy"``, ``"{n}:mean_test_accuracy"``,
/// ``"{n}:min_…"``, ``"{n}:train_accuracy_factor_{k}"``, ``"{n}:test_accuracy_factor_{k}"``, n the
/// number of training rows.
#[pyfunction]
#[pyo3(signature = (codes, factors, codes_test, factors_test, *, predictor = "logistic_regression"))]
pub fn downstream_task<'py>(
    py: Python<'py>,
    codes: &Bound<'py, PyAny>,
    factors: &Bound<'py, PyAny>,
    codes_test: &Bound<'py, PyAny>,
    factors_test: &Bound<'py, PyAny>,
    predictor: &str,
) -> PyResult<Bound<'py, PyDict>> {
    let p = crate::interventional::predictor_named(predictor)?;
    let s = read_sample(codes, factors, Some(codes_test), Some(factors_test), |n| n)?;
    let ns = format!("downstream.{}", p.key());
    let to = ns.clone();
    score_sample(py, s, &ns, move |c, f, num_train, num_test| {
        let report = m::downstream(c, f, &m::DownstreamConfig { num_train: vec![num_train], num_test, predictors: vec![p], ..Default::default() }, None)?.to_report();
        // The sizes and seed under the predictor's namespace too, so they lose the prefix.
        Ok(ReportAsIs(crate::interventional::renamespace(report, "downstream", &to)))
    })
}

/// A finished report, written as it is.
struct ReportAsIs(m::Report);
impl ToReport for ReportAsIs {
    fn write_to(&self, r: &mut m::Report) {
        r.extend(self.0.clone());
    }
}
