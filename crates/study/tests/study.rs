//! Study specs, the results database's claiming rules, CSV, report helpers and a tiny study
//! run end to end (including taking over a job whose worker died mid-run).

use std::path::Path;
use std::time::Duration;

use disentangle_study::export::{csv_field, to_csv};
use disentangle_study::report::{PairedDifference, ReportOptions, base64, paired_differences, spread, write_report};
use disentangle_study::slurm::{SlurmOptions, sbatch_script};
use disentangle_study::store::{ClaimOne, RunNumbers, Store, WorkerId};
use disentangle_study::{PRESETS, RunOptions, StudyDir, StudySpec, load_study, run_study};
use disentangle_train::trainer::{TrainOptions, train};

const TINY: &str = r#"
name = "tiny"
seeds = 2
steps = 12
batch_size = 8
summary_batches = 2
checkpoint_every = 4
metrics = ["mig", "factor-vae"]

[[grid]]
datasets = ["dsprites"]
encoders = ["conv", "split"]
objectives = [{ model = "vae" }]

[eval]
rows_per_call = 256
mig = { num_train = 400 }
factor_vae = { batch_size = 16, num_train = 40, num_eval = 20, num_variance_estimate = 400 }
"#;

#[test]
fn presets_parse_with_the_expected_sizes() {
    let sizes: Vec<(&str, usize, usize)> = PRESETS
        .iter()
        .map(|(name, _)| {
            let s = load_study(name).unwrap();
            (*name, s.configurations().unwrap().len(), s.jobs().unwrap().len())
        })
        .collect();
    // paper: 3 objectives × {conv, split} + 2 shared + 2 correlated = 10 configurations × 10 seeds.
    assert_eq!(sizes[0], ("paper-dsprites", 10, 100));
    assert_eq!(sizes[1], ("paper-cars3d", 10, 100));
    // The mini presets: the same configurations at 5 seeds.
    assert_eq!(sizes[2], ("paper-mini-dsprites", 10, 50));
    assert_eq!(sizes[3], ("paper-mini-cars3d", 10, 50));
    // The medium preset: VAE and FactorVAE × {conv, split}, 5 seeds, MIG every 2,000 steps.
    assert_eq!(sizes[4], ("paper-medium-dsprites", 4, 20));
    let medium = load_study("paper-medium-dsprites").unwrap();
    let job = &medium.jobs().unwrap()[0];
    assert_eq!((job.train.steps, job.train.checkpoint_every, job.train.series.every), (20_000, 1000, 2000));
    assert_eq!(job.train.series.metrics, ["mig"]);
    assert_eq!(job.train.series.samples, 10_000, "the reference MIG sample, as at the end");
    assert_eq!((medium.eval_config().unwrap().factor_vae.num_train, medium.eval_config().unwrap().factor_vae.num_eval), (2000, 1000));
    // dlib: 6 objectives × 6 values × 6 datasets × 50 seeds.
    assert_eq!(sizes[5], ("dlib-grid", 216, 10800));
    for (mini, full) in [("paper-mini-dsprites", "paper-dsprites"), ("paper-mini-cars3d", "paper-cars3d")] {
        let (m, f) = (load_study(mini).unwrap(), load_study(full).unwrap());
        assert_eq!(m.configurations().unwrap(), f.configurations().unwrap(), "{mini}");
        let (me, fe) = (m.eval_config().unwrap(), f.eval_config().unwrap());
        // Reference MIG sizes; the FactorVAE score's votes cut as the preset's header explains.
        assert_eq!(me.mig.num_train, fe.mig.num_train, "{mini}");
        assert_eq!((me.factor_vae.num_train, me.factor_vae.num_eval), (2000, 1000), "{mini}");
        assert!(m.metrics.iter().any(|x| x == "info") && m.seeds().len() >= 5, "{mini}");
    }
    let cars = load_study("paper-cars3d").unwrap();
    assert!(cars.jobs().unwrap().iter().all(|j| j.train.model.channels == 3));
    let paper = load_study("paper-dsprites").unwrap();
    let labels: Vec<String> = paper.configurations().unwrap().iter().map(|c| c.label()).collect();
    for want in ["vae · split · independent", "beta-vae β=4 · conv · independent", "factor-vae γ=30 · split · independent", "vae · shared · independent", "vae · conv · correlated ρ=0.9"] {
        assert!(labels.iter().any(|l| l == want), "{want} missing from {labels:?}");
    }
}

#[test]
fn jobs_are_seed_major_with_unique_keys() {
    let spec = StudySpec::parse(TINY, "test").unwrap();
    let jobs = spec.jobs().unwrap();
    let seeds: Vec<u64> = jobs.iter().map(|j| j.seed).collect();
    assert_eq!(seeds, [0, 0, 1, 1]);
    let mut keys: Vec<&str> = jobs.iter().map(|j| j.key.as_str()).collect();
    assert_eq!(keys[0], "dsprites.vae_beta-1.conv.independent.s0");
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 4);
    assert!(jobs.iter().all(|j| j.train.steps == 12 && j.train.checkpoint_every == 4 && j.train.batch_size == 8));
    assert_eq!(spec.eval_config().unwrap().mig.num_train, 400);
}

#[test]
fn bad_specs_name_the_field() {
    let cases = [
        (TINY.replace(r#"encoders = ["conv", "split"]"#, r#"encoders = ["conv", "spilt"]"#), "spilt"),
        (TINY.replace(r#"{ model = "vae" }"#, r#"{ model = "vae", gamma = 3 }"#), "gamma"),
        (TINY.replace(r#"{ model = "vae" }"#, r#"{ model = "vea" }"#), "vea"),
        (TINY.replace("seeds = 2", "seeds = []"), "seeds"),
        (TINY.replace("mig = { num_train = 400 }", "mig = { num_trian = 400 }"), "num_trian"),
        (TINY.replace(r#"metrics = ["mig", "factor-vae"]"#, r#"metrics = ["mgi"]"#), "mgi"),
        (TINY.replace("batch_size = 8", "batch_size = 1"), "batch_size"),
        (TINY.replace(r#"objectives = [{ model = "vae" }]"#, r#"objectives = [{ model = "vae" }]
noises = ["correlated:1.5"]"#), "correlated:1.5"),
    ];
    for (text, needle) in cases {
        let err = StudySpec::parse(&text, "bad.toml").unwrap_err().to_string();
        assert!(err.contains("bad.toml") && err.contains(needle), "{needle}: {err}");
    }
}

fn tiny_store(dir: &Path) -> Store {
    let spec = StudySpec::parse(TINY, "test").unwrap();
    StudyDir::new(dir).prepare(&spec).unwrap()
}

#[test]
fn claims_are_exclusive_and_dead_workers_are_taken_over() {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = tiny_store(tmp.path());
    let a = WorkerId::this_process(0);
    let b = WorkerId::this_process(1);
    let long = Duration::from_secs(3600);
    let c1 = store.claim_next(&a, long, false).unwrap().unwrap();
    let c2 = store.claim_next(&b, long, false).unwrap().unwrap();
    assert_ne!(c1.key, c2.key);
    assert_eq!((c1.index, c2.index), (0, 1));
    // Only the holder can record the result.
    assert!(!store.finish(&c1.key, &b, &RunNumbers::default(), &[], &[]).unwrap());
    assert!(store.finish(&c1.key, &a, &RunNumbers::default(), &[("mig.discrete".into(), 0.5)], &[]).unwrap());
    assert!(matches!(store.claim_key(&c1.key, &b, long).unwrap(), ClaimOne::AlreadyDone));
    assert!(matches!(store.claim_key(&c2.key, &a, long).unwrap(), ClaimOne::HeldBy(w) if w == b.to_db()));
    // A worker on this host whose process is gone: its job is taken over at once.
    let dead = WorkerId { host: disentangle_study::store::hostname(), pid: u32::MAX - 7, thread: 0 };
    let c3 = store.claim_next(&dead, long, false).unwrap().unwrap();
    let taken = store.claim_next(&a, long, false).unwrap().unwrap();
    assert_eq!(taken.key, c3.key);
    assert_eq!(taken.attempts, 2);
    let c4 = store.claim_next(&a, long, false).unwrap().unwrap();
    assert_eq!(c4.index, 3);
    // A worker elsewhere whose heartbeat is older than the limit is also taken over.
    let remote = WorkerId { host: "elsewhere".into(), pid: 1, thread: 0 };
    store.fail(&taken.key, &a, "test").unwrap();
    assert!(store.claim_next(&remote, long, false).unwrap().is_none(), "failed jobs wait for --retry-failed");
    let c5 = store.claim_next(&remote, long, true).unwrap().unwrap();
    assert_eq!(c5.key, taken.key);
    assert!(store.claim_next(&a, long, false).unwrap().is_none());
    std::thread::sleep(Duration::from_millis(1100));
    store.heartbeat().unwrap(); // this process's workers are alive; the remote one is silent
    let c6 = store.claim_next(&a, Duration::from_secs(1), false).unwrap().unwrap();
    assert_eq!(c6.key, c5.key);
    let counts = store.counts().unwrap();
    assert_eq!((counts.done, counts.running, counts.pending), (1, 3, 0));
}

#[test]
fn concurrent_workers_never_claim_a_job_twice() {
    let tmp = tempfile::tempdir().unwrap();
    let text = TINY.replace("seeds = 2", "seeds = 25");
    let spec = StudySpec::parse(&text, "test").unwrap();
    StudyDir::new(tmp.path()).prepare(&spec).unwrap();
    let db = tmp.path().join("results.sqlite");
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let db = db.clone();
            std::thread::spawn(move || {
                let mut store = Store::open(&db).unwrap();
                let w = WorkerId::this_process(t);
                let mut mine = Vec::new();
                while let Some(c) = store.claim_next(&w, Duration::from_secs(3600), false).unwrap() {
                    assert!(store.finish(&c.key, &w, &RunNumbers::default(), &[], &[]).unwrap());
                    mine.push(c.key);
                }
                mine
            })
        })
        .collect();
    let mut all: Vec<String> = handles.into_iter().flat_map(|h| h.join().unwrap()).collect();
    assert_eq!(all.len(), 50);
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 50);
    assert_eq!(Store::open(&db).unwrap().counts().unwrap().done, 50);
}

#[test]
fn csv_and_report_helpers() {
    assert_eq!(csv_field("a,b"), "\"a,b\"");
    assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    assert_eq!(csv_field("plain"), "plain");
    for (raw, enc) in [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foobar", "Zm9vYmFy")] {
        assert_eq!(base64(raw.as_bytes()), enc);
    }
    let s = spread(&[4.0, 1.0, f64::NAN, 3.0, 2.0]).unwrap();
    assert_eq!((s.n, s.median, s.q25, s.q75, s.min, s.max), (4, 2.5, 1.75, 3.25, 1.0, 4.0));
    let p = PairedDifference { dataset: "d".into(), split: "s".into(), conv: "c".into(), metric: "m".into(), differences: vec![(0, 0.1), (1, -0.2), (2, 0.3)] };
    assert_eq!(p.wins(), 2);
    let script = sbatch_script("tiny", "/abs/tiny.toml", Path::new("/shared/studies/tiny"), 4, &SlurmOptions { max_parallel: Some(2), ..Default::default() });
    assert!(script.starts_with("#!/bin/bash\n"));
    assert!(script.contains("#SBATCH --array=0-3%2\n"));
    assert!(script.contains("study run-one /abs/tiny.toml --dir /shared/studies/tiny --index \"$SLURM_ARRAY_TASK_ID\""));
}

#[test]
fn tiny_study_end_to_end_with_a_dead_worker() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = StudyDir::new(tmp.path());
    let spec = StudySpec::parse(TINY, "test").unwrap();
    let jobs = spec.jobs().unwrap();
    let mut store = dir.prepare(&spec).unwrap();
    // A worker that died half way through job 1: it holds the claim and left a run with a
    // checkpoint at step 4.
    let dead = WorkerId { host: disentangle_study::store::hostname(), pid: u32::MAX - 11, thread: 0 };
    let ClaimOne::Claimed(claim) = store.claim_key(&jobs[1].key, &dead, Duration::from_secs(3600)).unwrap() else { panic!("claimable") };
    let run_dir = tmp.path().join(&claim.run_dir);
    train(jobs[1].train.clone(), &run_dir, &TrainOptions { progress: false, stop_after: Some(4), ..Default::default() }).unwrap();
    assert!(!run_dir.join("summary.json").exists());
    let options = RunOptions { jobs: 2, progress: false, ..RunOptions::default() };
    let r = run_study(&spec, &dir, &options).unwrap();
    assert_eq!((r.completed, r.failed, r.already_done, r.total), (4, 0, 0, 4));
    // The taken-over run continued from its checkpoint (its log starts at step 4, not over).
    let log = std::fs::read_to_string(run_dir.join("log.jsonl")).unwrap();
    let steps: Vec<u64> = log.lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["step"].as_u64().unwrap()).collect();
    assert_eq!(steps.last(), Some(&12));
    let rows = Store::open(&dir.db_path()).unwrap().rows().unwrap();
    assert_eq!(rows.len(), 4);
    for row in &rows {
        assert_eq!(row.status, "done", "{}", row.key);
        assert_eq!(row.attempts, if row.key == jobs[1].key { 2 } else { 1 });
        let mig = row.metric("mig.discrete").unwrap();
        assert!((0.0..=1.0).contains(&mig));
        let fv = row.metric("factor_vae.eval_accuracy").unwrap();
        assert!((0.0..=1.0).contains(&fv));
        let n = row.numbers.as_ref().unwrap();
        assert!(n.kl.is_finite() && n.reconstruction_loss > 0.0);
        assert!(tmp.path().join(&row.run_dir).join("metrics.json").is_file());
    }
    // A second run has nothing left to do.
    let again = run_study(&spec, &dir, &options).unwrap();
    assert_eq!((again.completed, again.already_done), (0, 4));

    let csv = to_csv(&rows);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 5);
    assert!(lines[0].starts_with("index,key,status,dataset,configuration"));
    assert!(lines[0].contains("mig.discrete") && lines[0].contains("factor_vae.eval_accuracy"));

    let configs = spec.configurations().unwrap();
    let pairs = paired_differences(&configs, &rows, "mig.discrete");
    assert_eq!(pairs.len(), 1);
    assert_eq!(pairs[0].differences.len(), 2);
    let split0 = rows.iter().find(|r| r.encoder == "split" && r.seed == 0).unwrap().metric("mig.discrete").unwrap();
    let conv0 = rows.iter().find(|r| r.encoder == "conv" && r.seed == 0).unwrap().metric("mig.discrete").unwrap();
    assert!((pairs[0].differences[0].1 - (split0 - conv0)).abs() < 1e-12);

    let mut o = ReportOptions::default();
    o.picture_options.kl_samples = 64;
    let out = write_report(&dir, &o).unwrap();
    let html = std::fs::read_to_string(&out.html).unwrap();
    for id in ["summary", "mig", "factor-vae", "kl-recon", "table", "paired", "pictures"] {
        assert!(html.contains(&format!("id=\"{id}\"")), "section {id} missing");
    }
    assert_eq!(out.pictured.len(), 2, "one best-MIG run per configuration");
    assert!(html.matches("data:image/png;base64,").count() >= 3 + 2 * 2);
    assert!(html.contains("data:image/gif;base64,"));
    assert_eq!(out.plots.len(), 6, "MIG, FactorVAE and scatter, each PNG + SVG");
    for p in &out.plots {
        let bytes = std::fs::read(p).unwrap();
        if p.extension().unwrap() == "png" {
            let img = image::load_from_memory(&bytes).unwrap();
            assert!(img.width() >= 640 && img.height() >= 400);
        } else {
            assert!(String::from_utf8(bytes).unwrap().contains("<svg"));
        }
    }
}

#[test]
fn changed_spec_updates_waiting_jobs_only() {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = tiny_store(tmp.path());
    let w = WorkerId::this_process(0);
    let c = store.claim_next(&w, Duration::from_secs(3600), false).unwrap().unwrap();
    assert!(store.finish(&c.key, &w, &RunNumbers::default(), &[], &[]).unwrap());
    // Longer training and one more seed.
    let spec = StudySpec::parse(&TINY.replace("steps = 12", "steps = 20").replace("seeds = 2", "seeds = 3"), "test").unwrap();
    let store = StudyDir::new(tmp.path()).prepare(&spec).unwrap();
    let rows = store.rows().unwrap();
    assert_eq!(rows.len(), 6);
    for r in &rows {
        assert_eq!(r.steps, if r.key == c.key { 12 } else { 20 }, "{}", r.key);
    }
    assert_eq!(store.counts().unwrap().done, 1);
}

#[test]
fn training_reports_progress_to_the_caller() {
    use std::sync::{Arc, Mutex};
    let tmp = tempfile::tempdir().unwrap();
    let job = StudySpec::parse(TINY, "test").unwrap().jobs().unwrap().remove(0);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let cb = disentangle_train::trainer::ProgressCallback(Arc::new(move |step, total| sink.lock().unwrap().push((step, total))));
    let o = TrainOptions { on_progress: Some(cb), ..Default::default() };
    train(job.train, &tmp.path().join("run"), &o).unwrap();
    assert_eq!(*seen.lock().unwrap(), [(10, 12), (12, 12)]);
}

#[test]
fn a_device_override_trains_and_scores_every_job_there() {
    // The same one-seed study on the CPU engine and, overridden, on burn's flex backend: every
    // run records the device it ran on, and the two agree up to floating point.
    let spec = StudySpec::parse(&TINY.replace("seeds = 2", "seeds = 1").replace(r#"metrics = ["mig", "factor-vae"]"#, r#"metrics = ["mig"]"#), "test").unwrap();
    let mut recon = Vec::new();
    for device in [None, Some("flex")] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = StudyDir::new(tmp.path());
        let options = RunOptions { progress: false, device: device.map(String::from), ..RunOptions::default() };
        let r = run_study(&spec, &dir, &options).unwrap();
        assert_eq!((r.completed, r.failed), (2, 0));
        let rows = Store::open(&dir.db_path()).unwrap().rows().unwrap();
        for row in &rows {
            let config = std::fs::read_to_string(tmp.path().join(&row.run_dir).join("config.toml")).unwrap();
            assert!(config.contains(&format!("device = \"{}\"", device.unwrap_or("cpu"))), "{config}");
        }
        recon.push(rows.iter().map(|r| r.numbers.as_ref().unwrap().reconstruction_loss).collect::<Vec<_>>());
    }
    for (cpu, flex) in recon[0].iter().zip(&recon[1]) {
        assert!((cpu - flex).abs() / cpu < 1e-3, "cpu {cpu} vs flex {flex}");
    }
}
