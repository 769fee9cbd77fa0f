//! Metrics during training across a study: the long-format CSV that `study export` writes
//! beside the results table (one row per run, step and metric), reading it back, and the
//! study's runs as they were at one recorded step (what `study compare --step S` tests).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::export::csv_field;
use crate::store::{JobRow, RunNumbers, SeriesValue};

/// The series file that goes with a results table: `results.csv` → `results-series.csv`.
pub fn series_csv_path(results_csv: &Path) -> PathBuf {
    let stem = results_csv.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "results".into());
    results_csv.with_file_name(format!("{stem}-series.csv"))
}

const COLUMNS: [&str; 9] = ["key", "dataset", "configuration", "encoder", "noise", "seed", "step", "metric", "value"];

/// Long format: `key, dataset, configuration, encoder, noise, seed, step, metric, value` (the
/// configuration columns repeated so that a data frame can be grouped without a join).
pub fn series_to_csv(rows: &[JobRow], series: &[SeriesValue]) -> String {
    let by_key: BTreeMap<&str, &JobRow> = rows.iter().map(|r| (r.key.as_str(), r)).collect();
    let mut out = COLUMNS.join(",");
    out.push('\n');
    for v in series {
        let Some(r) = by_key.get(v.key.as_str()) else { continue };
        let value = if v.value.is_finite() { format!("{}", v.value) } else { String::new() };
        let fields = [
            v.key.clone(),
            r.dataset.clone(),
            r.configuration.clone(),
            r.encoder.clone(),
            r.noise.clone(),
            r.seed.to_string(),
            v.step.to_string(),
            v.name.clone(),
            value,
        ];
        out.push_str(&fields.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(","));
        out.push('\n');
    }
    out
}

/// Reads a table written by [`series_to_csv`]. Errors name the line.
pub fn series_from_csv(text: &str) -> Result<Vec<SeriesValue>, String> {
    let records = crate::export::csv_records(text)?;
    let Some((head, body)) = records.split_first() else { return Err("empty file".into()) };
    let col = |name: &str| head.iter().position(|h| h == name).ok_or_else(|| format!("no `{name}` column (not a `study export` series table)"));
    let (key, step, metric, value) = (col("key")?, col("step")?, col("metric")?, col("value")?);
    body.iter()
        .enumerate()
        .filter(|(_, r)| !(r.len() == 1 && r[0].is_empty()))
        .map(|(i, r)| {
            let line = i + 2;
            let get = |c: usize| r.get(c).ok_or_else(|| format!("line {line}: {} fields, expected {}", r.len(), head.len()));
            let step = get(step)?.parse::<u64>().map_err(|_| format!("line {line}: step `{}` is not a whole number", r[step]))?;
            let v = get(value)?;
            let value = if v.is_empty() { f64::NAN } else { v.parse::<f64>().map_err(|_| format!("line {line}: value `{v}` is not a number"))? };
            Ok(SeriesValue { key: get(key)?.clone(), step, name: get(metric)?.clone(), value })
        })
        .collect()
}

/// The steps at which any run has a point, ascending.
pub fn recorded_steps(series: &[SeriesValue]) -> Vec<u64> {
    let mut steps: Vec<u64> = series.iter().map(|v| v.step).collect();
    steps.sort_unstable();
    steps.dedup();
    steps
}

/// The finished runs as they were at `step`: each run's metrics are its series values at that
/// step and its reconstruction loss, KL, loss and TC the series' averages there (over the
/// series' batches, fewer than the end-of-run summary's). Runs without a point at `step` are
/// left out, so the claims compare only runs that reached it.
pub fn rows_at_step(rows: &[JobRow], series: &[SeriesValue], step: u64) -> Vec<JobRow> {
    let mut at: BTreeMap<&str, Vec<(&str, f64)>> = BTreeMap::new();
    for v in series.iter().filter(|v| v.step == step) {
        at.entry(v.key.as_str()).or_default().push((v.name.as_str(), v.value));
    }
    rows.iter()
        .filter(|r| r.status == "done")
        .filter_map(|r| {
            let values = at.get(r.key.as_str())?;
            let get = |n: &str| values.iter().find(|(k, _)| *k == n).map(|(_, v)| *v);
            let (recon, kl, loss) = (get("summary.reconstruction_loss")?, get("summary.kl")?, get("summary.loss").unwrap_or(f64::NAN));
            let mut row = r.clone();
            row.steps = step;
            row.numbers = Some(RunNumbers {
                reconstruction_loss: recon,
                kl,
                elbo: -(recon + kl),
                regularizer: loss - recon,
                loss,
                tc: get("summary.tc"),
                train_seconds: f64::NAN,
                eval_seconds: f64::NAN,
            });
            row.metrics = values.iter().filter(|(k, _)| !k.starts_with("summary.")).map(|(k, v)| (k.to_string(), *v)).collect();
            row.metrics.sort_by(|a, b| a.0.cmp(&b.0));
            Some(row)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(key: &str, seed: u64) -> JobRow {
        JobRow {
            key: key.into(),
            index: 0,
            dataset: "dsprites".into(),
            configuration: "vae · split, \"x\" · independent".into(),
            objective: "vae".into(),
            hyperparameters: String::new(),
            encoder: "split".into(),
            noise: "independent".into(),
            seed,
            steps: 100,
            run_dir: format!("runs/{key}"),
            status: "done".into(),
            attempts: 1,
            error: None,
            numbers: Some(RunNumbers { reconstruction_loss: 90.0, kl: 20.0, ..Default::default() }),
            metrics: vec![("mig.discrete".into(), 0.3)],
        }
    }

    fn value(key: &str, step: u64, name: &str, value: f64) -> SeriesValue {
        SeriesValue { key: key.into(), step, name: name.into(), value }
    }

    #[test]
    fn the_long_table_reads_back_exactly() {
        let rows = vec![row("a.s0", 0), row("a.s1", 1)];
        let series = vec![
            value("a.s0", 0, "mig.discrete", 0.012_345_678_901_234_5),
            value("a.s0", 50, "mig.discrete", f64::NAN),
            value("a.s1", 50, "summary.kl", 21.5),
            // A value of a run the table does not list is not written.
            value("gone.s0", 50, "mig.discrete", 0.5),
        ];
        let text = series_to_csv(&rows, &series);
        assert_eq!(text.lines().count(), 4, "a header and three rows:\n{text}");
        let back = series_from_csv(&text).unwrap();
        assert_eq!(back.len(), 3);
        assert_eq!(back[0], series[0], "numbers round-trip to the bit");
        assert!(back[1].value.is_nan() && back[1].step == 50);
        assert_eq!(back[2], series[2]);
        assert_eq!(recorded_steps(&back), vec![0, 50]);
    }

    #[test]
    fn a_damaged_long_table_names_the_line() {
        let e = series_from_csv("key,step,metric,value\na,x,mig.discrete,0.1\n").unwrap_err();
        assert!(e.contains("line 2") && e.contains("step"), "{e}");
        let e = series_from_csv("key,metric,value\n").unwrap_err();
        assert!(e.contains("`step`"), "{e}");
        let e = series_from_csv("key,step,metric,value\na,3,mig.discrete,abc\n").unwrap_err();
        assert!(e.contains("line 2") && e.contains("abc"), "{e}");
    }

    #[test]
    fn rows_at_a_step_take_that_steps_values_and_drop_runs_without_it() {
        let rows = vec![row("a.s0", 0), row("a.s1", 1)];
        let series = vec![
            value("a.s0", 40, "mig.discrete", 0.1),
            value("a.s0", 40, "summary.reconstruction_loss", 120.0),
            value("a.s0", 40, "summary.kl", 15.0),
            value("a.s0", 40, "summary.loss", 135.0),
            value("a.s1", 80, "mig.discrete", 0.2),
            value("a.s1", 80, "summary.reconstruction_loss", 110.0),
            value("a.s1", 80, "summary.kl", 16.0),
        ];
        let at = rows_at_step(&rows, &series, 40);
        assert_eq!(at.len(), 1);
        assert_eq!(at[0].key, "a.s0");
        assert_eq!(at[0].steps, 40);
        assert_eq!(at[0].metric("mig.discrete"), Some(0.1));
        let n = at[0].numbers.as_ref().unwrap();
        assert_eq!((n.reconstruction_loss, n.kl, n.elbo, n.regularizer), (120.0, 15.0, -135.0, 15.0));
        assert!(at[0].metrics.iter().all(|(k, _)| !k.starts_with("summary.")));
        assert!(rows_at_step(&rows, &series, 60).is_empty());
    }
}
