//! `disentanglekit._native`: disentangle's metrics (crates/metrics) and datasets (crates/data)
//! for Python. The Python package `disentanglekit` re-exports these functions; see its
//! `__init__.py` and the `.pyi` stubs for the public API.

mod arrays;
mod datasets;
mod errors;
mod interrupt;
mod interventional;
mod metrics;
mod random_state;

use pyo3::prelude::*;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(metrics::mig, m)?)?;
    m.add_function(wrap_pyfunction!(metrics::mig_continuous, m)?)?;
    m.add_function(wrap_pyfunction!(metrics::dci, m)?)?;
    m.add_function(wrap_pyfunction!(metrics::sap, m)?)?;
    m.add_function(wrap_pyfunction!(metrics::modularity, m)?)?;
    m.add_function(wrap_pyfunction!(metrics::explicitness, m)?)?;
    m.add_function(wrap_pyfunction!(metrics::unsupervised, m)?)?;
    m.add_function(wrap_pyfunction!(metrics::information_diagnostics, m)?)?;
    m.add_function(wrap_pyfunction!(metrics::mig_sup, m)?)?;
    m.add_function(wrap_pyfunction!(metrics::dcimig, m)?)?;
    m.add_function(wrap_pyfunction!(metrics::jemmig, m)?)?;
    m.add_function(wrap_pyfunction!(metrics::mig_zaidi, m)?)?;
    m.add_function(wrap_pyfunction!(metrics::modularity_zaidi, m)?)?;
    m.add_function(wrap_pyfunction!(metrics::sap_zaidi, m)?)?;
    m.add_function(wrap_pyfunction!(metrics::irs, m)?)?;
    m.add_function(wrap_pyfunction!(metrics::infomec, m)?)?;
    m.add_function(wrap_pyfunction!(metrics::compute_infomec, m)?)?;
    m.add_function(wrap_pyfunction!(metrics::explicitness_zaidi, m)?)?;
    m.add_function(wrap_pyfunction!(metrics::dci_zaidi, m)?)?;
    m.add_function(wrap_pyfunction!(metrics::dci_es, m)?)?;
    m.add_function(wrap_pyfunction!(interventional::factor_vae_score, m)?)?;
    m.add_function(wrap_pyfunction!(interventional::beta_vae_score, m)?)?;
    m.add_function(wrap_pyfunction!(interventional::evaluate, m)?)?;
    m.add_function(wrap_pyfunction!(interventional::compute_irs, m)?)?;
    m.add_function(wrap_pyfunction!(interventional::compute_downstream_task, m)?)?;
    m.add_function(wrap_pyfunction!(interventional::compute_reduced_downstream_task, m)?)?;
    m.add_function(wrap_pyfunction!(interventional::compute_fairness, m)?)?;
    m.add_function(wrap_pyfunction!(metrics::udr, m)?)?;
    m.add_function(wrap_pyfunction!(metrics::unified_scores, m)?)?;
    m.add_function(wrap_pyfunction!(metrics::downstream_task, m)?)?;
    m.add_function(wrap_pyfunction!(interventional::compute_strong_downstream_task, m)?)?;
    m.add_function(wrap_pyfunction!(interventional::compute_unified_scores, m)?)?;
    m.add_function(wrap_pyfunction!(datasets::load, m)?)?;
    m.add_class::<datasets::GroundTruthData>()?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
