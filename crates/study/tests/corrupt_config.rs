//! Study specs, metric settings and training configs from TOML that was corrupted or holds
//! absurd numbers: always an error naming the file or field, never a panic or an
//! allocation failure. proptest draws the edits (seeded from the test name).

use disentangle_study::evaluation::eval_config_with;
use disentangle_study::{PRESETS, StudySpec};
use disentangle_train::config::TrainConfig;
use proptest::prelude::*;

/// Every integer literal of `text` (a run of digits) replaced in turn by one of `values`.
fn with_numbers(text: &str, values: &[u64]) -> String {
    let mut out = String::new();
    let mut k = 0;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            while chars.peek().is_some_and(char::is_ascii_digit) {
                chars.next();
            }
            out.push_str(&values[k % values.len()].to_string());
            k += 1;
        } else {
            out.push(c);
        }
    }
    out
}

fn edits() -> impl Strategy<Value = Vec<(f64, f64, String)>> {
    proptest::collection::vec((0.0..1.0, 0.0..0.05, "[\\[\\]{}=\",.a-z0-9 \n]{0,6}"), 1..4)
}

/// Replaces a few short spans of `text` by random TOML-ish characters.
fn splice(text: &str, edits: &[(f64, f64, String)]) -> String {
    let mut t: Vec<char> = text.chars().collect();
    for (at, len, with) in edits {
        let start = ((at * t.len() as f64) as usize).min(t.len());
        let end = (start + (len * t.len() as f64) as usize).min(t.len());
        t.splice(start..end, with.chars());
    }
    t.into_iter().collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn corrupted_study_specs_parse_or_fail_cleanly(preset in 0..PRESETS.len(), e in edits()) {
        let _ = StudySpec::parse(&splice(PRESETS[preset].1, &e), "bad.toml");
    }

    #[test]
    fn huge_numbers_in_a_study_spec_are_refused(preset in 0..PRESETS.len(),
                                                 values in proptest::collection::vec(prop_oneof![Just(u64::MAX), Just(1u64 << 40), Just(i64::MAX as u64), 0u64..10], 1..6)) {
        match StudySpec::parse(&with_numbers(PRESETS[preset].1, &values), "big.toml") {
            // Whatever parses must describe a study whose job list is small enough to exist.
            Ok(spec) => prop_assert!(spec.jobs().unwrap().len() <= 1_000_000),
            Err(e) => prop_assert!(e.to_string().contains("big.toml"), "{e}"),
        }
    }

    #[test]
    fn metric_settings_with_huge_sizes_are_refused(size in prop_oneof![Just(u64::MAX >> 1), Just(1u64 << 40), Just(1u64 << 25)],
                                                   key in prop_oneof![Just("mig.num_train"), Just("factor_vae.batch_size"),
                                                                      Just("dci.num_test"), Just("info.num_z_samples"), Just("rows_per_call")]) {
        let (table, field) = key.split_once('.').map_or(("", key), |(t, f)| (t, f));
        let text = if table.is_empty() { format!("{field} = {size}\n") } else { format!("[{table}]\n{field} = {size}\n") };
        let overrides: toml::Table = toml::from_str(&text).unwrap();
        let err = eval_config_with(&overrides, "eval.toml").unwrap_err().to_string();
        prop_assert!(err.contains("eval.toml") && (err.contains(key) || err.contains("invalid metric settings")), "{err}");
    }

    #[test]
    fn training_configs_with_corruptions_or_huge_numbers_fail_cleanly(e in edits(), values in proptest::collection::vec(prop_oneof![Just(u64::MAX), Just(1u64 << 40), 0u64..100], 1..6)) {
        let spec = StudySpec::parse(PRESETS[0].1, "preset").unwrap();
        let good = spec.jobs().unwrap()[0].train.to_toml();
        for text in [splice(&good, &e), with_numbers(&good, &values)] {
            if let Ok(c) = toml::from_str::<TrainConfig>(&text)
                && c.validate().is_ok() {
                    prop_assert!(c.batch_size <= disentangle_train::config::MAX_BATCH_SIZE);
                    prop_assert!(c.model.latents <= 1024);
                }
        }
    }
}
