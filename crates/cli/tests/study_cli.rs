//! `disentangle study` and `disentangle visualize` as a user runs them: a tiny study whose
//! worker process is killed mid-study and rerun, its CSV, its report and a model's pictures.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn disentangle(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_disentangle")).args(args).env_remove("DISENTANGLE_DATA").output().expect("runs")
}

fn ok(o: &Output) -> String {
    assert!(o.status.success(), "stderr: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout.clone()).unwrap()
}

const STUDY: &str = r#"
name = "cli-tiny"
seeds = 2
steps = 40
batch_size = 8
summary_batches = 2
checkpoint_every = 5
metrics = ["mig"]

[[grid]]
datasets = ["dsprites"]
encoders = ["conv", "split"]
objectives = [{ model = "beta-vae", beta = 2 }]

[eval]
mig = { num_train = 300 }
"#;

/// Column `name` of every data row of a CSV without quoted commas in the used columns.
fn column(csv: &str, name: &str) -> Vec<String> {
    let mut lines = csv.lines();
    let head: Vec<&str> = lines.next().unwrap().split(',').collect();
    let i = head.iter().position(|h| *h == name).unwrap_or_else(|| panic!("no column {name}"));
    lines.map(|l| l.split(',').nth(i).unwrap().to_string()).collect()
}

fn export(dir: &Path) -> String {
    let csv = dir.join("results.csv");
    ok(&disentangle(&["study", "export", dir.to_str().unwrap(), "--out", csv.to_str().unwrap()]));
    std::fs::read_to_string(csv).unwrap()
}

#[test]
fn killed_study_completes_on_rerun_without_duplicates() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("tiny.toml");
    std::fs::write(&file, STUDY).unwrap();
    let dir = tmp.path().join("study");
    let (file_s, dir_s) = (file.to_str().unwrap(), dir.to_str().unwrap());

    let listed = ok(&disentangle(&["study", "list", file_s]));
    assert!(listed.contains("2 configurations × 2 seeds = 4 jobs"), "{listed}");

    // Start a worker and kill it as soon as the first result is in.
    let mut child = Command::new(env!("CARGO_BIN_EXE_disentangle"))
        .args(["study", "run", file_s, "--dir", dir_s, "--quiet"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let db = dir.join("results.sqlite");
    loop {
        assert!(start.elapsed() < Duration::from_secs(600), "no job finished in 10 minutes");
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the study finished ({status}) before it could be killed");
        }
        if db.is_file() {
            let csv = export(&dir);
            if column(&csv, "status").iter().any(|s| s == "done") {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let csv = export(&dir);
    let done_before = column(&csv, "status").iter().filter(|s| *s == "done").count();
    assert!((1..4).contains(&done_before), "killed with {done_before} of 4 done");

    // Rerun: the dead worker's job is taken over at once, the rest run, nothing twice.
    let out = ok(&disentangle(&["study", "run", file_s, "--dir", dir_s, "--quiet", "--jobs", "2"]));
    assert!(out.contains(&format!("{} runs completed now, 0 failed, {done_before} were already done, of 4", 4 - done_before)), "{out}");
    let csv = export(&dir);
    assert_eq!(column(&csv, "status"), ["done"; 4]);
    let mut keys = column(&csv, "key");
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 4);
    let attempts: u32 = column(&csv, "attempts").iter().map(|a| a.parse::<u32>().unwrap()).sum();
    assert!((4..=5).contains(&attempts), "at most the killed job runs twice: {attempts} attempts");
    for m in column(&csv, "mig.discrete") {
        let v: f64 = m.parse().unwrap();
        assert!((0.0..=1.0).contains(&v));
    }

    // The report: every section, plots decodable.
    let report = ok(&disentangle(&["study", "report", dir_s]));
    assert!(report.contains("report.html"), "{report}");
    let html = std::fs::read_to_string(dir.join("report").join("report.html")).unwrap();
    for id in ["mig", "factor-vae", "kl-recon", "table", "paired", "pictures", "runs"] {
        assert!(html.contains(&format!("id=\"{id}\"")), "section {id} missing");
    }
    // Every finished run has its explorer page, linked from the runs table, and every point
    // of the violins and the scatter links to one of them.
    let done = column(&csv, "status").iter().filter(|s| *s == "done").count();
    let explorers: Vec<_> = std::fs::read_dir(dir.join("report/explorers")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(explorers.len(), done);
    let areas: Vec<&str> = html.match_indices("<area ").map(|(i, _)| &html[i..i + html[i..].find('>').unwrap()]).collect();
    assert!(areas.len() >= 2 * done, "{} linked points for {done} runs", areas.len());
    for area in areas {
        let href = &area[area.find("href=\"").unwrap() + 6..];
        let href = &href[..href.find('"').unwrap()];
        assert!(dir.join("report").join(href).is_file(), "{href} is not a written explorer");
    }
    for e in &explorers {
        let name = e.file_name().unwrap().to_str().unwrap();
        assert!(html.contains(&format!("<a href=\"explorers/{name}\">open</a>")), "the runs table does not link {name}");
    }
    let png = std::fs::read(dir.join("report/plots/mig_dsprites.png")).unwrap();
    image::load_from_memory(&png).unwrap();
    assert!(dir.join("report/plots/kl_recon_dsprites.svg").is_file());

    // The claims table: claim 3 (the split encoder raises MIG) for β-VAE, from the seeds'
    // pairs as the CSV has them; two pairs can never pass the sign test.
    let (encoders, seeds, migs) = (column(&csv, "encoder"), column(&csv, "seed"), column(&csv, "mig.discrete"));
    let mig_of = |enc: &str, seed: &str| -> f64 {
        let i = (0..encoders.len()).find(|&i| encoders[i] == enc && seeds[i] == seed).expect("run of the tiny study");
        migs[i].parse().unwrap()
    };
    let mut distinct = seeds.clone();
    distinct.sort();
    distinct.dedup();
    let pairs: Vec<f64> = distinct.iter().map(|s| mig_of("split", s) - mig_of("conv", s)).collect();
    let (wins, decided) = (pairs.iter().filter(|d| **d > 0.0).count(), pairs.iter().filter(|d| **d != 0.0).count());
    let table = ok(&disentangle(&["study", "compare", dir_s]));
    let line = table.lines().find(|l| l.starts_with("3 ") && l.contains("split") && l.contains("MIG")).unwrap_or_else(|| panic!("no claim-3 MIG line:\n{table}"));
    assert!(line.contains(&format!("{wins}/{decided}")), "{line}");
    assert!(line.ends_with(if decided == 0 { "no paired runs" } else { "inconclusive" }), "{line}");
    let md = ok(&disentangle(&["study", "compare", dir_s, "--markdown"]));
    assert!(md.contains("### Claim 3") && md.contains("| beta-vae β=2 · split · independent | beta-vae β=2 · conv · independent | MIG |"), "{md}");

    // Slurm script for the same study.
    let sbatch = tmp.path().join("job.sbatch");
    ok(&disentangle(&["study", "slurm", file_s, "--dir", dir_s, "--out", sbatch.to_str().unwrap()]));
    let script = std::fs::read_to_string(&sbatch).unwrap();
    assert!(script.contains("#SBATCH --array=0-3\n") && script.contains("--index \"$SLURM_ARRAY_TASK_ID\""), "{script}");
    // A task whose job is done exits at once.
    ok(&disentangle(&["study", "run-one", file_s, "--dir", dir_s, "--index", "2"]));
    let bad = disentangle(&["study", "run-one", file_s, "--dir", dir_s, "--index", "9"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("has 4 jobs"));

    // Pictures of one run.
    let run = dir.join("runs").join("dsprites.vae_beta-2.split.independent.s1");
    let pics = tmp.path().join("pics");
    let out = ok(&disentangle(&["visualize", run.to_str().unwrap(), "--out", pics.to_str().unwrap(), "--kl-samples", "64", "--steps", "5"]));
    assert!(out.contains("latents by mean KL"), "{out}");
    let names: Vec<String> = std::fs::read_dir(&pics).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    for suffix in ["_reconstructions.png", "_prior_samples.png", "_traversals.png", "_traversals.gif", "_caption.txt"] {
        let name = names.iter().find(|n| n.ends_with(suffix)).unwrap_or_else(|| panic!("no *{suffix} in {names:?}"));
        assert!(name.starts_with("dsprites.vae_beta-2.split.independent.s1.step40"), "{name}");
    }
    let trav = names.iter().find(|n| n.ends_with("_traversals.png")).unwrap();
    let img = image::open(pics.join(trav)).unwrap();
    // 10 latent rows of 64 px (+ gaps and the caption line), 5 columns plus the label column.
    assert!(img.height() >= 10 * 64 && img.width() > 5 * 64, "{}×{}", img.width(), img.height());
    let caption = std::fs::read_to_string(pics.join(names.iter().find(|n| n.ends_with("_caption.txt")).unwrap())).unwrap();
    assert!(caption.contains("kind = \"split\"") && caption.contains("z"), "{caption}");

    // Bad input: an unknown preset is named.
    let bad = disentangle(&["study", "run", "no-such-study"]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("neither a study file nor a preset"));
}

/// A reader that stops early (`disentangle study list dlib-grid | head`) ends the process
/// quietly: no panic message about a broken pipe.
#[test]
fn closing_the_output_pipe_early_is_not_a_crash() {
    use std::io::{BufRead, BufReader};
    // 10,800 lines (≈ 600 kB): more than a pipe buffer holds, so writing blocks until we close it.
    let mut child = Command::new(env!("CARGO_BIN_EXE_disentangle"))
        .args(["study", "list", "dlib-grid"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    assert!(first.contains("10800 jobs"), "{first}");
    // The reader is dropped here, closing the pipe.
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked") && !stderr.contains("Broken pipe"), "{stderr}");
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        // Ended by SIGPIPE (13 on Linux and the BSDs), the default action it restores.
        assert_eq!(out.status.signal(), Some(13), "{:?}", out.status);
    }
}

/// Metrics during training through a study: recorded, exported as a long table, plotted,
/// compared at a step (from the folder and from the CSVs alone, with the same result), and
/// the last point equal to the end-of-run MIG.
#[test]
fn a_study_with_eval_every_records_exports_plots_and_compares_its_series() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("series.toml");
    std::fs::write(
        &file,
        r#"
name = "cli-series"
seeds = 2
steps = 6
batch_size = 8
summary_batches = 2
eval_every = 3
metrics = ["mig"]

[[grid]]
datasets = ["dsprites"]
encoders = ["conv", "split"]
objectives = [{ model = "vae" }]

[eval]
mig = { num_train = 300 }
"#,
    )
    .unwrap();
    let dir = tmp.path().join("study");
    let (file_s, dir_s) = (file.to_str().unwrap(), dir.to_str().unwrap());
    ok(&disentangle(&["study", "run", file_s, "--dir", dir_s, "--quiet"]));
    let out_csv = tmp.path().join("out").join("results.csv");
    std::fs::create_dir_all(out_csv.parent().unwrap()).unwrap();
    let said = ok(&disentangle(&["study", "export", dir_s, "--out", out_csv.to_str().unwrap()]));
    let series_csv = tmp.path().join("out").join("results-series.csv");
    assert!(said.contains("results-series.csv"), "{said}");
    let series = std::fs::read_to_string(&series_csv).unwrap();
    let results = std::fs::read_to_string(&out_csv).unwrap();
    // Points at 0, 3 and 6 for each of the 4 runs, each with MIG and the loss terms.
    let (keys, steps, metrics, values) = (column(&series, "key"), column(&series, "step"), column(&series, "metric"), column(&series, "value"));
    for key in column(&results, "key") {
        let mut at: Vec<&str> = (0..keys.len()).filter(|&i| keys[i] == key && metrics[i] == "mig.discrete").map(|i| steps[i].as_str()).collect();
        at.sort_by_key(|s| s.parse::<u64>().unwrap());
        assert_eq!(at, ["0", "3", "6"], "{key}");
        for name in ["summary.reconstruction_loss", "summary.kl"] {
            assert_eq!((0..keys.len()).filter(|&i| keys[i] == key && metrics[i] == name).count(), 3, "{key} {name}");
        }
        // The last point is the end-of-run MIG: same weights, sample, seed and sizes.
        let last = (0..keys.len()).find(|&i| keys[i] == key && metrics[i] == "mig.discrete" && steps[i] == "6").unwrap();
        let row = column(&results, "key").iter().position(|k| *k == key).unwrap();
        assert_eq!(values[last], column(&results, "mig.discrete")[row], "{key}");
    }
    // Compare at a recorded step: from the folder and from the CSVs, the same tables.
    let from_dir = ok(&disentangle(&["study", "compare", dir_s, "--step", "3"]));
    let from_csv = ok(&disentangle(&["study", "compare", out_csv.to_str().unwrap(), "--step", "3"]));
    assert_eq!(from_dir, from_csv);
    assert!(from_dir.starts_with("at step 3") && from_dir.contains("split"), "{from_dir}");
    let at_end = ok(&disentangle(&["study", "compare", dir_s, "--step", "6"]));
    let plain = ok(&disentangle(&["study", "compare", dir_s]));
    let mig_line = |t: &str| t.lines().find(|l| l.starts_with("3 ") && l.contains("MIG")).map(str::to_string).unwrap_or_else(|| panic!("{t}"));
    assert_eq!(mig_line(&at_end), mig_line(&plain), "the last step's MIG verdict is the end-of-run one");
    let bad = disentangle(&["study", "compare", dir_s, "--step", "4"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("recorded steps: 0, 3, 6"), "{}", String::from_utf8_lossy(&bad.stderr));
    // The report plots MIG over steps.
    ok(&disentangle(&["study", "report", dir_s, "--no-pictures"]));
    let html = std::fs::read_to_string(dir.join("report/report.html")).unwrap();
    assert!(html.contains("id=\"mig-over-steps\""));
    image::load_from_memory(&std::fs::read(dir.join("report/plots/mig_over_steps_dsprites.png")).unwrap()).unwrap();
    assert!(dir.join("report/plots/mig_over_steps_dsprites.svg").is_file());

    // UDR of each configuration's two seeds, stored with the runs and used by export, compare
    // and report. (Threshold 0: after 6 steps some latents may still be near the prior.)
    let said = ok(&disentangle(&["study", "udr", dir_s, "--num-data-points", "200", "--kl-filter-threshold", "0"]));
    let scores: Vec<f64> = said.lines().filter_map(|l| l.split("UDR ").nth(1)).map(|v| v.split_whitespace().next().unwrap().parse().unwrap()).collect();
    assert_eq!(scores.len(), 4, "{said}");
    assert!(scores.iter().all(|s| (0.0..=1.0 + 1e-12).contains(s)), "{said}");
    // With two seeds each run's UDR is its one pair's score: the two runs of a configuration agree.
    assert!((scores[0] - scores[1]).abs() < 1e-12 && (scores[2] - scores[3]).abs() < 1e-12, "{said}");
    let results = export(&dir);
    let stored: Vec<f64> = column(&results, "udr.lasso").iter().map(|v| v.parse().unwrap()).collect();
    assert_eq!(stored.len(), 4);
    let compared = ok(&disentangle(&["study", "compare", dir_s]));
    assert!(compared.contains("UDR (udr.lasso) vs MIG"), "{compared}");
    ok(&disentangle(&["study", "report", dir_s, "--no-pictures"]));
    let html = std::fs::read_to_string(dir.join("report/report.html")).unwrap();
    assert!(html.contains("id=\"udr\"") && dir.join("report/plots/udr_mig_dsprites.png").is_file());
    // `disentangle udr` on two runs gives the scores the study stored for them.
    let (keys, encoders) = (column(&results, "key"), column(&results, "encoder"));
    let conv: Vec<usize> = (0..keys.len()).filter(|&i| encoders[i] == "conv").collect();
    let runs: Vec<String> = conv.iter().map(|&i| dir.join("runs").join(&keys[i]).to_str().unwrap().to_string()).collect();
    let json = tmp.path().join("udr.json");
    ok(&disentangle(&["udr", &runs[0], &runs[1], "--num-data-points", "200", "--kl-filter-threshold", "0", "--out", json.to_str().unwrap()]));
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    for (j, &i) in conv.iter().enumerate() {
        assert!((v["model_scores"][j].as_f64().unwrap() - stored[i]).abs() < 1e-12, "{v} vs {stored:?}");
    }
    // One run is not a comparison.
    let one = disentangle(&["udr", &runs[0]]);
    assert!(!one.status.success());
}

/// Every published study (docs/results/*/) is reproducible from its committed CSV: `study compare
/// results.csv --markdown` prints its `claims.md` byte for byte. Where a study recorded metrics
/// during training, its series' last point is the end of training: at the last recorded step the
/// MIG rows of the claims equal those of the end-of-run comparison (the loss rows differ: the
/// series averages them over 50 batches, the summary over 1,000).
#[test]
fn published_studies_are_reproduced_from_their_committed_csv() {
    let results = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/results");
    let mut studies = 0;
    for entry in std::fs::read_dir(&results).unwrap() {
        let dir = entry.unwrap().path();
        let (csv, claims) = (dir.join("results.csv"), dir.join("claims.md"));
        if !csv.is_file() {
            continue;
        }
        studies += 1;
        let printed = ok(&disentangle(&["study", "compare", csv.to_str().unwrap(), "--markdown"]));
        assert_eq!(printed, std::fs::read_to_string(&claims).unwrap(), "{} differs from what `study compare` prints", claims.display());
        let series = dir.join("results-series.csv");
        if !series.is_file() {
            continue;
        }
        let values = disentangle_study::series::series_from_csv(&std::fs::read_to_string(&series).unwrap()).unwrap();
        let last_step = *disentangle_study::series::recorded_steps(&values).last().unwrap();
        let at_last = ok(&disentangle(&["study", "compare", csv.to_str().unwrap(), "--markdown", "--step", &last_step.to_string()]));
        let mig_rows = |text: &str| text.lines().filter(|l| l.contains("| MIG |")).map(str::to_string).collect::<Vec<_>>();
        assert!(!mig_rows(&printed).is_empty(), "{}: no MIG rows", dir.display());
        assert_eq!(mig_rows(&at_last), mig_rows(&printed), "{}: the series' step {last_step} is not the end of training", dir.display());
    }
    assert!(studies >= 3, "found {studies} published studies in {}", results.display());
}
