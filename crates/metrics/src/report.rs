//! Metric results as one flat JSON object with namespaced keys (`mig.discrete`,
//! `factor_vae.eval_accuracy`, `dci.disentanglement`, ...). Every metric writes its score,
//! the sample sizes it used and the seed (null when the caller did not say which seed
//! drew the codes).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Key prefix of a failed metric's message.
pub const ERRORS: &str = "errors.";
/// Key prefix of a metric that was not run, with the reason.
pub const SKIPPED: &str = "skipped.";

/// Flat, sorted map of namespaced keys to JSON values.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Report(BTreeMap<String, Value>);

impl Report {
    pub fn new() -> Self {
        Report::default()
    }
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<Value>) {
        self.0.insert(key.into(), value.into());
    }
    /// Inserts a float; a non-finite one becomes `null` (JSON has no NaN).
    pub fn insert_f64(&mut self, key: impl Into<String>, value: f64) {
        self.0.insert(key.into(), finite_or_null(value));
    }
    pub fn insert_seed(&mut self, namespace: &str, seed: Option<u64>) {
        self.insert(
            format!("{namespace}.seed"),
            seed.map_or(Value::Null, Value::from),
        );
    }
    /// Records that `metric` failed: `errors.<name>` = the message (every variant's message
    /// already includes its cause).
    pub fn insert_error(&mut self, metric: crate::Metric, error: &crate::MetricsError) {
        self.insert(format!("{ERRORS}{}", metric.name()), error.to_string());
    }
    /// Records that `metric` was not run and why: `skipped.<name>` = the reason.
    pub fn insert_skipped(&mut self, metric: crate::Metric, reason: impl Into<String>) {
        self.insert(format!("{SKIPPED}{}", metric.name()), reason.into());
    }
    /// The metrics that failed, with their messages.
    pub fn errors(&self) -> impl Iterator<Item = (&str, &str)> {
        self.prefixed(ERRORS)
    }
    /// The metrics that were not run, with the reasons.
    pub fn skipped(&self) -> impl Iterator<Item = (&str, &str)> {
        self.prefixed(SKIPPED)
    }
    fn prefixed<'s>(&'s self, prefix: &'s str) -> impl Iterator<Item = (&'s str, &'s str)> + 's {
        self.0.iter().filter_map(move |(k, v)| Some((k.strip_prefix(prefix)?, v.as_str()?)))
    }
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key)
    }
    pub fn get_f64(&self, key: &str) -> Option<f64> {
        self.0.get(key).and_then(Value::as_f64)
    }
    pub fn extend(&mut self, other: Report) {
        self.0.extend(other.0);
    }
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Value)> {
        self.0.iter()
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn as_map(&self) -> &BTreeMap<String, Value> {
        &self.0
    }
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(&self.0).expect("a map of JSON values always serializes")
    }
    /// The scalar scores only (numbers), for a compact table.
    pub fn scalars(&self) -> impl Iterator<Item = (&str, f64)> {
        self.0
            .iter()
            .filter_map(|(k, v)| v.as_f64().map(|x| (k.as_str(), x)))
    }
}

pub(crate) fn finite_or_null(v: f64) -> Value {
    serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
}

pub(crate) fn vector(values: &[f64]) -> Value {
    Value::Array(values.iter().map(|&v| finite_or_null(v)).collect())
}

pub(crate) fn matrix(rows: &[Vec<f64>]) -> Value {
    Value::Array(rows.iter().map(|r| vector(r)).collect())
}

/// A metric result that knows its report keys.
pub trait ToReport {
    fn write_to(&self, report: &mut Report);
    fn to_report(&self) -> Report {
        let mut r = Report::new();
        self.write_to(&mut r);
        r
    }
}
