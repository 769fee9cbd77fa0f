//! `study export`: the results table as CSV (one row per job, one column per metric) for
//! pandas (`pd.read_csv`). Missing values are empty fields.

use std::collections::BTreeSet;

use crate::store::JobRow;

/// RFC 4180 quoting: fields with commas, quotes or line breaks are quoted, quotes doubled.
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
}

fn num(v: Option<f64>) -> String {
    match v {
        Some(v) if v.is_finite() => format!("{v}"),
        _ => String::new(),
    }
}

/// The metric columns: every scalar metric any job has, minus bookkeeping (seeds, sizes).
pub fn metric_columns(rows: &[JobRow]) -> Vec<String> {
    let names: BTreeSet<&str> = rows.iter().flat_map(|r| r.metrics.iter().map(|(n, _)| n.as_str())).collect();
    names.into_iter().map(String::from).collect()
}

pub fn to_csv(rows: &[JobRow]) -> String {
    let metrics = metric_columns(rows);
    let mut head: Vec<String> = [
        "index", "key", "status", "dataset", "configuration", "objective", "hyperparameters", "encoder", "noise", "seed", "steps",
        "attempts", "reconstruction_loss", "kl", "elbo", "regularizer", "loss", "tc", "train_seconds", "eval_seconds", "run_dir", "error",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    head.extend(metrics.iter().cloned());
    let mut out = head.iter().map(|h| csv_field(h)).collect::<Vec<_>>().join(",");
    out.push('\n');
    for r in rows {
        let n = r.numbers.as_ref();
        let mut f: Vec<String> = vec![
            r.index.to_string(),
            r.key.clone(),
            r.status.clone(),
            r.dataset.clone(),
            r.configuration.clone(),
            r.objective.clone(),
            r.hyperparameters.clone(),
            r.encoder.clone(),
            r.noise.clone(),
            r.seed.to_string(),
            r.steps.to_string(),
            r.attempts.to_string(),
            num(n.map(|n| n.reconstruction_loss)),
            num(n.map(|n| n.kl)),
            num(n.map(|n| n.elbo)),
            num(n.map(|n| n.regularizer)),
            num(n.map(|n| n.loss)),
            num(n.and_then(|n| n.tc)),
            num(n.map(|n| n.train_seconds)),
            num(n.map(|n| n.eval_seconds)),
            r.run_dir.clone(),
            r.error.clone().unwrap_or_default(),
        ];
        f.extend(metrics.iter().map(|m| num(r.metric(m))));
        out.push_str(&f.iter().map(|s| csv_field(s)).collect::<Vec<_>>().join(","));
        out.push('\n');
    }
    out
}
