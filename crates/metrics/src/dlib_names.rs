//! Our report in disentanglement_lib's names, for analysis code written against it: one
//! object per reference evaluation (`mig`, `factor_vae_metric`, …) holding the keys its
//! `compute_*` function returns (`discrete_mig`, `eval_accuracy`, `SAP_score`, …). Our
//! modularity and explicitness are one evaluation there (`modularity_explicitness`). Scores
//! the reference does not have (continuous MIG, the information diagnostics) keep our
//! names under `disentangle`.

use serde_json::{Map, Value};

use crate::report::Report;

/// (our key, reference evaluation, reference key), in the order the reference lists them.
pub const DLIB_KEYS: &[(&str, &str, &str)] = &[
    ("mig.discrete", "mig", "discrete_mig"),
    ("factor_vae.train_accuracy", "factor_vae_metric", "train_accuracy"),
    ("factor_vae.eval_accuracy", "factor_vae_metric", "eval_accuracy"),
    ("factor_vae.num_active_dims", "factor_vae_metric", "num_active_dims"),
    ("beta_vae.train_accuracy", "beta_vae_sklearn", "train_accuracy"),
    ("beta_vae.eval_accuracy", "beta_vae_sklearn", "eval_accuracy"),
    ("dci.informativeness_train", "dci", "informativeness_train"),
    ("dci.informativeness_test", "dci", "informativeness_test"),
    ("dci.disentanglement", "dci", "disentanglement"),
    ("dci.completeness", "dci", "completeness"),
    ("sap.score", "sap_score", "SAP_score"),
    ("modularity.score", "modularity_explicitness", "modularity_score"),
    ("explicitness.score_train", "modularity_explicitness", "explicitness_score_train"),
    ("explicitness.score_test", "modularity_explicitness", "explicitness_score_test"),
    ("unsupervised.gaussian_total_correlation", "unsupervised", "gaussian_total_correlation"),
    ("unsupervised.gaussian_wasserstein_correlation", "unsupervised", "gaussian_wasserstein_correlation"),
    ("unsupervised.gaussian_wasserstein_correlation_norm", "unsupervised", "gaussian_wasserstein_correlation_norm"),
    ("unsupervised.mutual_info_score", "unsupervised", "mutual_info_score"),
    // The reference's `num_active_dims` of IRS sums the active codes' values (not a count), so
    // ours, a count, keeps its own name.
    ("irs.score", "irs", "IRS"),
];

/// Metrics whose keys are the reference's own, after our prefix: (our prefix, reference
/// evaluation). Their reference keys all hold a `:` (`10:mean_test_accuracy`,
/// `mean_fairness:pred0:sens1`); our extra keys under the prefix (sizes, seeds, matrices,
/// removed codes) stay under `disentangle`.
pub const DLIB_PREFIXES: &[(&str, &str)] = &[
    ("downstream.logistic_regression.", "downstream_task_logistic_regression"),
    ("downstream.boosted_trees.", "downstream_task_boosted_trees"),
    ("reduced_downstream.", "reduced_downstream_task"),
    ("strong_downstream.", "strong_downstream_task"),
    ("fairness.", "fairness"),
    ("unified.", "unified_scores"),
];

/// Whether `rest` (a key after its prefix) is one of the reference's keys: theirs hold a `:`,
/// or (unified scores) start with a matrix name; ours are sizes, seeds, matrices and lists.
fn is_reference_key(rest: &str) -> bool {
    let unified = crate::unified::MATRICES.iter().any(|m| rest.starts_with(&format!("{m}.")));
    (rest.contains(':') || unified) && !rest.ends_with(":removed_codes") && !rest.ends_with(".matrix") && !rest.ends_with(".error")
}

fn prefixed_name(key: &str) -> Option<(&'static str, &str)> {
    DLIB_PREFIXES.iter().find_map(|(prefix, evaluation)| {
        let rest = key.strip_prefix(prefix)?;
        is_reference_key(rest).then_some((*evaluation, rest))
    })
}

/// The report with disentanglement_lib's names. Every key of the report appears once:
/// mapped scores under their reference evaluation, everything else (sample sizes, seeds,
/// per-factor detail, our extra scores, errors) under `disentangle` with our name.
pub fn to_dlib_names(report: &Report) -> Value {
    let mut out = Map::new();
    let mut ours = Map::new();
    for (key, value) in report.iter() {
        let mapped = DLIB_KEYS.iter().find(|(k, _, _)| k == key).map(|(_, e, n)| (*e, *n)).or_else(|| prefixed_name(key));
        match mapped {
            Some((evaluation, name)) => {
                let group = out.entry(evaluation.to_string()).or_insert_with(|| Value::Object(Map::new()));
                group.as_object_mut().expect("groups are objects").insert(name.to_string(), value.clone());
            }
            None => {
                ours.insert(key.clone(), value.clone());
            }
        }
    }
    if !ours.is_empty() {
        out.insert("disentangle".into(), Value::Object(ours));
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_lands_once_under_the_reference_names() {
        let mut r = Report::new();
        r.insert_f64("mig.discrete", 0.25);
        r.insert_f64("sap.score", 0.5);
        r.insert_f64("modularity.score", 0.75);
        r.insert_f64("explicitness.score_test", 0.8);
        r.insert("mig.num_samples", 10_000);
        r.insert("errors.dci", "did not converge");
        let v = to_dlib_names(&r);
        assert_eq!(v["mig"]["discrete_mig"], 0.25);
        assert_eq!(v["sap_score"]["SAP_score"], 0.5);
        assert_eq!(v["modularity_explicitness"]["modularity_score"], 0.75);
        assert_eq!(v["modularity_explicitness"]["explicitness_score_test"], 0.8);
        assert_eq!(v["disentangle"]["mig.num_samples"], 10_000);
        assert_eq!(v["disentangle"]["errors.dci"], "did not converge");
        let leaves: usize = v.as_object().unwrap().values().map(|g| g.as_object().unwrap().len()).sum();
        assert_eq!(leaves, r.len());
        // Reference keys of the metrics that keep them after our prefix.
        let mut r = Report::new();
        r.insert_f64("downstream.logistic_regression.10:mean_test_accuracy", 0.5);
        r.insert_f64("downstream.boosted_trees.10:mean_test_accuracy", 0.6);
        r.insert("downstream.num_test", 5000);
        r.insert_f64("fairness.mean_fairness:mean_pred:mean_sens", 0.1);
        r.insert("reduced_downstream.100:reduced_factor_0:removed_codes", vec![3]);
        r.insert_f64("reduced_downstream.100:mean_test_accuracy_reduced_factor", 0.3);
        let v = to_dlib_names(&r);
        assert_eq!(v["downstream_task_logistic_regression"]["10:mean_test_accuracy"], 0.5);
        assert_eq!(v["downstream_task_boosted_trees"]["10:mean_test_accuracy"], 0.6);
        assert_eq!(v["fairness"]["mean_fairness:mean_pred:mean_sens"], 0.1);
        assert_eq!(v["reduced_downstream_task"]["100:mean_test_accuracy_reduced_factor"], 0.3);
        assert_eq!(v["disentangle"]["downstream.num_test"], 5000);
        assert!(v["disentangle"]["reduced_downstream.100:reduced_factor_0:removed_codes"].is_array());
        let mut r = Report::new();
        r.insert_f64("unified.mutual_information_matrix.mig", 0.4);
        r.insert("unified.mutual_information_matrix.matrix", vec![vec![1.0]]);
        r.insert("unified.num_train", 10);
        let v = to_dlib_names(&r);
        assert_eq!(v["unified_scores"]["mutual_information_matrix.mig"], 0.4);
        assert!(v["disentangle"]["unified.mutual_information_matrix.matrix"].is_array());
        assert_eq!(v["disentangle"]["unified.num_train"], 10);
        // No two of our keys share a reference name.
        for (i, a) in DLIB_KEYS.iter().enumerate() {
            for b in &DLIB_KEYS[i + 1..] {
                assert!(a.0 != b.0 && (a.1, a.2) != (b.1, b.2), "{a:?} {b:?}");
            }
        }
    }
}
