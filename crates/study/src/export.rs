//! `study export`: the results table as CSV (one row per job, one column per metric) for
//! pandas (`pd.read_csv`). Missing values are empty fields. [`from_csv`] reads such a file
//! back, so `study compare results.csv` recomputes published tables from the CSV alone.

use std::collections::BTreeSet;

use crate::store::{JobRow, RunNumbers};

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

/// Splits RFC 4180 text into records of fields (quoted fields may hold commas, doubled quotes
/// and line breaks).
pub(crate) fn csv_records(text: &str) -> Result<Vec<Vec<String>>, String> {
    let mut records = Vec::new();
    let (mut record, mut field) = (Vec::new(), String::new());
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    let mut line = 1;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => {
                if c == '\n' {
                    line += 1;
                }
                field.push(c);
            }
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
                line += 1;
            }
            (false, c) => field.push(c),
        }
    }
    if quoted {
        return Err(format!("line {line}: a quoted field is not closed"));
    }
    if !field.is_empty() || !record.is_empty() {
        record.push(field);
        records.push(record);
    }
    Ok(records)
}

/// Reads a table written by [`to_csv`] back into rows (run folders as recorded, so pictures
/// cannot be made from it, but every number is there). Errors name the line and column.
pub fn from_csv(text: &str) -> Result<Vec<JobRow>, String> {
    let records = csv_records(text)?;
    let Some((head, body)) = records.split_first() else { return Err("empty file".into()) };
    let col = |name: &str| head.iter().position(|h| h == name).ok_or_else(|| format!("no `{name}` column (not a `study export` table)"));
    let fixed = [
        "index", "key", "status", "dataset", "configuration", "objective", "hyperparameters", "encoder", "noise", "seed", "steps",
        "attempts", "reconstruction_loss", "kl", "elbo", "regularizer", "loss", "tc", "train_seconds", "eval_seconds", "run_dir", "error",
    ];
    let at: Vec<usize> = fixed.iter().map(|n| col(n)).collect::<Result<_, _>>()?;
    let metric_cols: Vec<(usize, &String)> = head.iter().enumerate().filter(|(_, h)| !fixed.contains(&h.as_str())).collect();
    let mut rows = Vec::with_capacity(body.len());
    for (r, rec) in body.iter().enumerate() {
        let line = r + 2;
        if rec.len() != head.len() {
            return Err(format!("line {line}: {} fields, the header has {}", rec.len(), head.len()));
        }
        let text = |k: usize| rec[at[k]].clone();
        let number = |k: usize| -> Result<Option<f64>, String> {
            let s = &rec[at[k]];
            if s.is_empty() { Ok(None) } else { s.parse().map(Some).map_err(|_| format!("line {line}, column `{}`: `{s}` is not a number", fixed[k])) }
        };
        let integer = |k: usize| -> Result<u64, String> { rec[at[k]].parse().map_err(|_| format!("line {line}, column `{}`: `{}` is not a count", fixed[k], rec[at[k]])) };
        let numbers = match (number(12)?, number(13)?, number(14)?, number(15)?, number(16)?) {
            (Some(reconstruction_loss), Some(kl), Some(elbo), Some(regularizer), Some(loss)) => Some(RunNumbers {
                reconstruction_loss,
                kl,
                elbo,
                regularizer,
                loss,
                tc: number(17)?,
                train_seconds: number(18)?.unwrap_or(f64::NAN),
                eval_seconds: number(19)?.unwrap_or(f64::NAN),
            }),
            _ => None,
        };
        let mut metrics = Vec::new();
        for &(c, name) in &metric_cols {
            let s = &rec[c];
            if !s.is_empty() {
                metrics.push((name.clone(), s.parse().map_err(|_| format!("line {line}, column `{name}`: `{s}` is not a number"))?));
            }
        }
        let error = text(21);
        rows.push(JobRow {
            index: integer(0)? as usize,
            key: text(1),
            status: text(2),
            dataset: text(3),
            configuration: text(4),
            objective: text(5),
            hyperparameters: text(6),
            encoder: text(7),
            noise: text(8),
            seed: integer(9)?,
            steps: integer(10)?,
            attempts: integer(11)? as u32,
            run_dir: text(20),
            error: (!error.is_empty()).then_some(error),
            numbers,
            metrics,
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_round_trips_every_number_and_awkward_text() {
        let mut rows = Vec::new();
        for (i, status) in ["done", "failed", "pending"].iter().enumerate() {
            rows.push(JobRow {
                key: format!("k{i}"),
                index: i,
                dataset: "dsprites".into(),
                configuration: "factor-vae γ=30 · split · correlated ρ=0.9".into(),
                objective: "factor-vae γ=30".into(),
                hyperparameters: "gamma=30".into(),
                encoder: "split".into(),
                noise: "correlated-0.9".into(),
                seed: i as u64,
                steps: 2000,
                run_dir: "runs/a,b".into(),
                status: status.to_string(),
                attempts: 1,
                error: (*status == "failed").then(|| "a \"quoted\", multi\nline error".to_string()),
                numbers: (*status == "done").then_some(RunNumbers { reconstruction_loss: 0.1 + 0.2, kl: 1e-300, elbo: -3.5, regularizer: 7.0, loss: 2.0 / 3.0, tc: Some(-0.0), train_seconds: 65.3, eval_seconds: 16.0 }),
                metrics: if *status == "done" { vec![("info.isolation_gap".into(), 12.884649954720821), ("mig.discrete".into(), 0.05404654347713104)] } else { vec![] },
            });
        }
        let back = from_csv(&to_csv(&rows)).unwrap();
        assert_eq!(back, rows);
        assert!(from_csv("index,key\n1,2\n").unwrap_err().contains("no `status` column"));
        let mut bad = to_csv(&rows);
        bad = bad.replacen("0.30000000000000004", "zero point three", 1);
        assert!(from_csv(&bad).unwrap_err().contains("line 2, column `reconstruction_loss`"), "{}", from_csv(&bad).unwrap_err());
    }
}
