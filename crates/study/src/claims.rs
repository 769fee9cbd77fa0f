//! `study compare`: the seed paper's claims, each tested on a study's finished runs by paired
//! differences over seeds (treatment − baseline, same dataset, objective, hyperparameters and
//! seed, one setting changed), with a verdict from a one-sided sign test.
//!
//! The verdict rule, so anyone can redo it: pairs with a zero difference are dropped; of the
//! n others, w go the claimed way. The claim "holds at this scale" when P(≥ w of n | fair coin)
//! ≤ 0.05, is "reversed" when P(≥ n − w of n) ≤ 0.05, and is "inconclusive" otherwise. With five
//! seeds that means five out of five; with ten, nine. A median difference alone never decides.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::report::{Spread, spread};
use crate::store::{FACTOR_VAE, MIG, value_of};
use crate::store::JobRow;

/// The setting a claim changes between its baseline and its treatment runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// The encoder, e.g. conv → split.
    Encoder { baseline: &'static str, treatment: &'static str },
    /// Independent → correlated reparameterization noise (any ρ).
    CorrelatedNoise,
}

/// Which way the claim says the metric moves under the change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Higher,
    Lower,
}

/// One testable statement of the paper.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClaimSpec {
    /// The claim's number in the results tables (issue "the paper's experiments").
    pub id: &'static str,
    pub statement: &'static str,
    pub dataset: &'static str,
    /// Objective family: `vae`, `beta-vae` or `factor-vae` (any hyperparameters).
    pub family: &'static str,
    pub change: Change,
    pub metric: &'static str,
    pub direction: Direction,
}

const CONV_TO_SPLIT: Change = Change::Encoder { baseline: "conv", treatment: "split" };
const CONV_TO_SHARED: Change = Change::Encoder { baseline: "conv", treatment: "shared" };
const RECON: &str = "reconstruction_loss";
const COND_TC: &str = "info.conditional_tc";

const fn claim(id: &'static str, statement: &'static str, dataset: &'static str, family: &'static str, change: Change, metric: &'static str, direction: Direction) -> ClaimSpec {
    ClaimSpec { id, statement, dataset, family, change, metric, direction }
}

/// The seed paper's claims (dSprites unless noted), one row per objective and metric.
pub const PAPER_CLAIMS: &[ClaimSpec] = &[
    claim("1", "correlated noise lowers MIG", "dsprites", "vae", Change::CorrelatedNoise, MIG, Direction::Lower),
    claim("1", "correlated noise lowers MIG", "dsprites", "factor-vae", Change::CorrelatedNoise, MIG, Direction::Lower),
    claim("2", "the sharing-parameter encoder lowers MIG", "dsprites", "vae", CONV_TO_SHARED, MIG, Direction::Lower),
    claim("2", "the sharing-parameter encoder lowers MIG", "dsprites", "factor-vae", CONV_TO_SHARED, MIG, Direction::Lower),
    claim("3", "the split encoder raises MIG", "dsprites", "vae", CONV_TO_SPLIT, MIG, Direction::Higher),
    claim("3", "the split encoder raises MIG", "dsprites", "beta-vae", CONV_TO_SPLIT, MIG, Direction::Higher),
    claim("3", "the split encoder raises MIG", "dsprites", "factor-vae", CONV_TO_SPLIT, MIG, Direction::Higher),
    claim("3", "the split encoder lowers the reconstruction error", "dsprites", "vae", CONV_TO_SPLIT, RECON, Direction::Lower),
    claim("3", "the split encoder lowers the reconstruction error", "dsprites", "beta-vae", CONV_TO_SPLIT, RECON, Direction::Lower),
    claim("3", "the split encoder lowers the reconstruction error", "dsprites", "factor-vae", CONV_TO_SPLIT, RECON, Direction::Lower),
    claim("4", "with the split encoder the KL is lower for VAE", "dsprites", "vae", CONV_TO_SPLIT, "kl", Direction::Lower),
    claim("4", "with the split encoder the KL is higher for FactorVAE", "dsprites", "factor-vae", CONV_TO_SPLIT, "kl", Direction::Higher),
    claim("5", "Cars3D: the split encoder lowers MIG for VAE", "cars3d", "vae", CONV_TO_SPLIT, MIG, Direction::Lower),
    claim("5", "Cars3D: the split encoder raises MIG for FactorVAE", "cars3d", "factor-vae", CONV_TO_SPLIT, MIG, Direction::Higher),
    claim("5", "Cars3D: the split encoder lowers the reconstruction error", "cars3d", "vae", CONV_TO_SPLIT, RECON, Direction::Lower),
    claim("5", "Cars3D: the split encoder lowers the reconstruction error", "cars3d", "factor-vae", CONV_TO_SPLIT, RECON, Direction::Lower),
    claim("6", "correlated noise makes the conditional TC positive", "dsprites", "vae", Change::CorrelatedNoise, COND_TC, Direction::Higher),
    claim("6", "correlated noise makes the conditional TC positive", "dsprites", "factor-vae", Change::CorrelatedNoise, COND_TC, Direction::Higher),
];

/// What the runs say about a claim.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Holds,
    Reversed,
    Inconclusive,
    /// No seed has finished both runs.
    NoPairs,
}

impl Verdict {
    pub fn words(self) -> &'static str {
        match self {
            Verdict::Holds => "holds at this scale",
            Verdict::Reversed => "reversed",
            Verdict::Inconclusive => "inconclusive",
            Verdict::NoPairs => "no paired runs",
        }
    }
}

/// One claim tested on one pair of configurations.
#[derive(Clone, Debug, PartialEq)]
pub struct ClaimResult {
    pub claim: ClaimSpec,
    /// The treatment's and the baseline's configuration labels.
    pub treatment: String,
    pub baseline: String,
    pub treatment_values: Option<Spread>,
    pub baseline_values: Option<Spread>,
    /// (seed, treatment − baseline).
    pub differences: Vec<(u64, f64)>,
    /// Pairs whose difference goes the claimed way, and pairs with a nonzero difference.
    pub wins: usize,
    pub decided: usize,
    pub verdict: Verdict,
}

impl ClaimResult {
    /// Spread of the paired differences over seeds.
    pub fn difference_spread(&self) -> Option<Spread> {
        spread(&self.differences.iter().map(|d| d.1).collect::<Vec<_>>())
    }
}

/// P(X ≥ k) for X ~ Binomial(n, ½).
pub fn sign_test_tail(k: usize, n: usize) -> f64 {
    // C(n, i) built up in f64: exact for the seed counts of any study (n ≤ 1000).
    let mut c = 1.0f64;
    let mut tail = 0.0;
    for i in 0..=n {
        if i >= k {
            tail += c;
        }
        c = c * (n - i) as f64 / (i + 1) as f64;
    }
    tail / 2f64.powi(n as i32)
}

/// The verdict for `wins` of `decided` nonzero pairs going the claimed way.
pub fn verdict(wins: usize, decided: usize) -> Verdict {
    const LEVEL: f64 = 0.05;
    if decided == 0 {
        Verdict::NoPairs
    } else if sign_test_tail(wins, decided) <= LEVEL {
        Verdict::Holds
    } else if sign_test_tail(decided - wins, decided) <= LEVEL {
        Verdict::Reversed
    } else {
        Verdict::Inconclusive
    }
}

fn family(objective_label: &str) -> &str {
    objective_label.split_whitespace().next().unwrap_or("")
}

/// Whether `row` is a treatment run under `change`.
fn is_treatment(row: &JobRow, change: Change) -> bool {
    match change {
        Change::Encoder { treatment, .. } => row.encoder == treatment,
        Change::CorrelatedNoise => row.noise.starts_with("correlated"),
    }
}

/// Whether `row` is `treatment`'s baseline: the same run with the changed setting undone.
fn is_baseline_of(row: &JobRow, treatment: &JobRow, change: Change) -> bool {
    let same = row.dataset == treatment.dataset && row.objective == treatment.objective && row.seed == treatment.seed;
    same && match change {
        Change::Encoder { baseline, .. } => row.encoder == baseline && row.noise == treatment.noise,
        Change::CorrelatedNoise => row.noise == "independent" && row.encoder == treatment.encoder,
    }
}

/// Every claim of `claims` tested on the finished rows of a study: one result per treatment
/// configuration present (a claim with no treatment runs at all gives none).
pub fn compare(claims: &[ClaimSpec], rows: &[JobRow]) -> Vec<ClaimResult> {
    let done: Vec<&JobRow> = rows.iter().filter(|r| r.status == "done").collect();
    let mut out = Vec::new();
    for c in claims {
        // Treatment configurations of this claim, by label, with their runs.
        let mut groups: BTreeMap<&str, Vec<&JobRow>> = BTreeMap::new();
        for r in done.iter().filter(|r| r.dataset == c.dataset && family(&r.objective) == c.family && is_treatment(r, c.change)) {
            groups.entry(r.configuration.as_str()).or_default().push(r);
        }
        for (label, treated) in groups {
            let mut baseline_label = None;
            let (mut t_vals, mut b_vals, mut differences) = (Vec::new(), Vec::new(), Vec::new());
            for t in &treated {
                let Some(tv) = value_of(t, c.metric) else { continue };
                t_vals.push(tv);
                if let Some(b) = done.iter().find(|b| is_baseline_of(b, t, c.change)) {
                    baseline_label.get_or_insert_with(|| b.configuration.clone());
                    if let Some(bv) = value_of(b, c.metric) {
                        differences.push((t.seed, tv - bv));
                    }
                }
            }
            // The baseline's own spread over all its finished seeds, not only the paired ones.
            if let Some(bl) = &baseline_label {
                b_vals.extend(done.iter().filter(|b| &b.configuration == bl && b.dataset == c.dataset).filter_map(|b| value_of(b, c.metric)));
            }
            differences.sort_by_key(|d| d.0);
            let claimed = |d: f64| match c.direction {
                Direction::Higher => d > 0.0,
                Direction::Lower => d < 0.0,
            };
            let decided = differences.iter().filter(|d| d.1 != 0.0).count();
            let wins = differences.iter().filter(|d| claimed(d.1)).count();
            out.push(ClaimResult {
                claim: *c,
                treatment: label.to_string(),
                baseline: baseline_label.unwrap_or_else(|| "–".into()),
                treatment_values: spread(&t_vals),
                baseline_values: spread(&b_vals),
                differences,
                wins,
                decided,
                verdict: verdict(wins, decided),
            });
        }
    }
    out
}

fn median_iqr(s: Option<Spread>) -> String {
    s.map_or_else(|| "–".into(), |s| format!("{:.3} [{:.3}, {:.3}]", s.median, s.q25, s.q75))
}

fn metric_name(m: &str) -> &str {
    match m {
        MIG => "MIG",
        FACTOR_VAE => "FactorVAE score",
        RECON => "reconstruction error",
        "kl" => "KL",
        COND_TC => "conditional TC",
        other => other,
    }
}

/// The results as one Markdown table per claim (what `docs/results/*/README.md` holds).
pub fn to_markdown(results: &[ClaimResult]) -> String {
    let mut s = String::new();
    let mut last = "";
    for r in results {
        if r.claim.id != last {
            last = r.claim.id;
            let _ = write!(s, "\n### Claim {}\n\n", r.claim.id);
            s.push_str("| statement | treatment | baseline | metric | treatment median [IQR] | baseline median [IQR] | median difference | claimed way / pairs | verdict |\n");
            s.push_str("|---|---|---|---|---|---|---|---|---|\n");
        }
        let diff = r.difference_spread();
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} / {} | {} |",
            r.claim.statement,
            r.treatment,
            r.baseline,
            metric_name(r.claim.metric),
            median_iqr(r.treatment_values),
            median_iqr(r.baseline_values),
            diff.map_or_else(|| "–".into(), |d| format!("{:+.3}", d.median)),
            r.wins,
            r.decided,
            r.verdict.words()
        );
    }
    s
}

/// The results as plain text, one line per claim and configuration.
pub fn to_text(results: &[ClaimResult]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{:<5} {:<45} {:<22} {:<24} {:>10} {:>9}  verdict", "claim", "treatment (vs baseline)", "metric", "treatment median [IQR]", "median Δ", "way/pairs");
    for r in results {
        let diff = r.difference_spread();
        let _ = writeln!(
            s,
            "{:<5} {:<45} {:<22} {:<24} {:>10} {:>9}  {}\n      {}; vs {} (median [IQR] {})",
            r.claim.id,
            r.treatment,
            metric_name(r.claim.metric),
            median_iqr(r.treatment_values),
            diff.map_or_else(|| "–".into(), |d| format!("{:+.4}", d.median)),
            format!("{}/{}", r.wins, r.decided),
            r.verdict.words(),
            r.claim.statement,
            r.baseline,
            median_iqr(r.baseline_values),
        );
    }
    s
}

/// Claim 6's second half for one configuration: Lemma 2 measured on its runs. Lemma 2 says
/// I(z; x) − Σ_j I(z_j; x) = E_x KL(q(z|x) ‖ Π_j q(z_j|x)) − KL(q(z) ‖ Π_j q(z_j)), i.e. the
/// isolation gap Σ_j I(z_j; x) − I(z; x) equals the aggregate TC minus the conditional TC.
/// With independent noise the conditional TC is zero, so the gap is the aggregate TC (≥ 0):
/// the code's information is isolated exactly when its aggregate posterior factorizes. With
/// correlated noise the conditional TC is the positive constant −½ ln det Σ, and the gap turns
/// negative once it exceeds the aggregate TC (information shared between the dimensions).
#[derive(Clone, Debug, PartialEq)]
pub struct TheoryRow {
    pub dataset: String,
    pub configuration: String,
    /// Finished runs with all three quantities.
    pub runs: usize,
    pub conditional_tc: Spread,
    pub aggregate_tc: Spread,
    pub isolation_gap: Spread,
    /// Largest |gap − (aggregate TC − conditional TC)| over the runs: Lemma 2's residual,
    /// zero up to rounding for these estimators (they satisfy it term by term).
    pub lemma_residual: f64,
    /// Runs whose isolation gap is negative.
    pub negative_gaps: usize,
}

/// The information diagnostics of every configuration with finished `info` runs, in the order
/// the configurations first appear.
pub fn theory(rows: &[JobRow]) -> Vec<TheoryRow> {
    let mut order: Vec<(&str, &str)> = Vec::new();
    let mut values: BTreeMap<(&str, &str), Vec<[f64; 3]>> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.status == "done") {
        let get = |m: &str| value_of(r, m);
        let (Some(ctc), Some(tc), Some(gap)) = (get(COND_TC), get("info.aggregate_tc"), get("info.isolation_gap")) else { continue };
        let k = (r.dataset.as_str(), r.configuration.as_str());
        if !values.contains_key(&k) {
            order.push(k);
        }
        values.entry(k).or_default().push([ctc, tc, gap]);
    }
    order
        .into_iter()
        .filter_map(|k| {
            let v = &values[&k];
            let column = |i: usize| spread(&v.iter().map(|x| x[i]).collect::<Vec<_>>());
            Some(TheoryRow {
                dataset: k.0.to_string(),
                configuration: k.1.to_string(),
                runs: v.len(),
                conditional_tc: column(0)?,
                aggregate_tc: column(1)?,
                isolation_gap: column(2)?,
                lemma_residual: v.iter().map(|x| (x[2] - (x[1] - x[0])).abs()).fold(0.0, f64::max),
                negative_gaps: v.iter().filter(|x| x[2] < 0.0).count(),
            })
        })
        .collect()
}

/// The Lemma 2 table as Markdown (values in nats).
pub fn theory_to_markdown(rows: &[TheoryRow]) -> String {
    let mut s = String::from("\n### Claim 6: Lemma 2 per configuration (nats)\n\n");
    s.push_str("| dataset | configuration | runs | conditional TC median [IQR] | aggregate TC median [IQR] | isolation gap Σ I(z_j; x) − I(z; x) median [IQR] | gap < 0 | max \\|gap − (TC − conditional TC)\\| |\n");
    s.push_str("|---|---|---|---|---|---|---|---|\n");
    for r in rows {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} / {} | {:.1e} |",
            r.dataset,
            r.configuration,
            r.runs,
            median_iqr(Some(r.conditional_tc)),
            median_iqr(Some(r.aggregate_tc)),
            median_iqr(Some(r.isolation_gap)),
            r.negative_gaps,
            r.runs,
            r.lemma_residual
        );
    }
    s
}

/// The Lemma 2 table as plain text.
pub fn theory_to_text(rows: &[TheoryRow]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "Claim 6, Lemma 2 per configuration (nats): isolation gap = aggregate TC − conditional TC");
    let _ = writeln!(s, "{:<9} {:<40} {:>4} {:<26} {:<26} {:<26} {:>7} {:>9}", "dataset", "configuration", "runs", "conditional TC", "aggregate TC", "isolation gap", "gap < 0", "residual");
    for r in rows {
        let _ = writeln!(
            s,
            "{:<9} {:<40} {:>4} {:<26} {:<26} {:<26} {:>7} {:>9.1e}",
            r.dataset,
            r.configuration,
            r.runs,
            median_iqr(Some(r.conditional_tc)),
            median_iqr(Some(r.aggregate_tc)),
            median_iqr(Some(r.isolation_gap)),
            format!("{}/{}", r.negative_gaps, r.runs),
            r.lemma_residual
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::RunNumbers;

    fn row(dataset: &str, objective: &str, encoder: &str, noise: &str, seed: u64, mig: f64, recon: f64) -> JobRow {
        JobRow {
            key: format!("{dataset}-{objective}-{encoder}-{noise}-{seed}"),
            index: 0,
            dataset: dataset.into(),
            configuration: format!("{objective} · {encoder} · {noise}"),
            objective: objective.into(),
            hyperparameters: String::new(),
            encoder: encoder.into(),
            noise: noise.into(),
            seed,
            steps: 10,
            run_dir: String::new(),
            status: "done".into(),
            attempts: 1,
            error: None,
            numbers: Some(RunNumbers { reconstruction_loss: recon, kl: 10.0, ..RunNumbers::default() }),
            metrics: vec![(MIG.into(), mig)],
        }
    }

    #[test]
    fn sign_test_tails_are_binomial() {
        assert_eq!(sign_test_tail(0, 5), 1.0);
        assert_eq!(sign_test_tail(5, 5), 1.0 / 32.0);
        assert_eq!(sign_test_tail(4, 5), 6.0 / 32.0);
        // 9 or 10 of 10: (10 + 1) / 1024.
        assert!((sign_test_tail(9, 10) - 11.0 / 1024.0).abs() < 1e-15);
        assert_eq!(verdict(5, 5), Verdict::Holds);
        assert_eq!(verdict(4, 5), Verdict::Inconclusive);
        assert_eq!(verdict(0, 5), Verdict::Reversed);
        assert_eq!(verdict(9, 10), Verdict::Holds);
        assert_eq!(verdict(8, 10), Verdict::Inconclusive);
        assert_eq!(verdict(0, 0), Verdict::NoPairs);
    }

    #[test]
    fn pairs_by_seed_and_judges_each_claim() {
        let mut rows = Vec::new();
        for seed in 0..5 {
            let s = seed as f64;
            // Split beats conv on MIG on every seed for VAE; reconstruction is mixed.
            rows.push(row("dsprites", "vae", "conv", "independent", seed, 0.10 + 0.01 * s, 30.0 + s));
            rows.push(row("dsprites", "vae", "split", "independent", seed, 0.20 + 0.01 * s, if seed % 2 == 0 { 29.0 + s } else { 31.0 + s }));
            // Correlated noise raises MIG on every seed: the claim is reversed.
            rows.push(row("dsprites", "vae", "conv", "correlated ρ=0.9", seed, 0.30, 30.0));
        }
        // A conv run with no split twin for seed 7 and an unfinished split run change nothing.
        rows.push(row("dsprites", "vae", "conv", "independent", 7, 0.5, 1.0));
        let mut running = row("dsprites", "vae", "split", "independent", 8, 0.9, 1.0);
        running.status = "running".into();
        rows.push(running);

        let results = compare(PAPER_CLAIMS, &rows);
        let find = |id: &str, metric: &str, family: &str| results.iter().find(|r| r.claim.id == id && r.claim.metric == metric && r.claim.family == family).expect("result");

        let mig = find("3", MIG, "vae");
        assert_eq!(mig.treatment, "vae · split · independent");
        assert_eq!(mig.baseline, "vae · conv · independent");
        assert_eq!(mig.differences.iter().map(|d| d.0).collect::<Vec<_>>(), vec![0, 1, 2, 3, 4]);
        assert!(mig.differences.iter().all(|d| (d.1 - 0.10).abs() < 1e-12));
        assert_eq!((mig.wins, mig.decided, mig.verdict), (5, 5, Verdict::Holds));
        // The baseline's spread covers all six finished conv seeds.
        assert_eq!(mig.baseline_values.expect("spread").n, 6);

        let recon = find("3", RECON, "vae");
        assert_eq!((recon.wins, recon.decided, recon.verdict), (3, 5, Verdict::Inconclusive));

        let noise = find("1", MIG, "vae");
        assert_eq!(noise.treatment, "vae · conv · correlated ρ=0.9");
        // MIG 0.30 against 0.10–0.14: higher on every seed, the claim says lower.
        assert_eq!((noise.wins, noise.decided, noise.verdict), (0, 5, Verdict::Reversed));

        // No FactorVAE, no shared encoder, no Cars3D runs: no rows for those claims.
        assert!(results.iter().all(|r| r.claim.family == "vae" && r.claim.dataset == "dsprites" && r.claim.id != "2"));
        // Claim 6 has treatment runs but no conditional-TC metric: a row with no pairs.
        let tc = find("6", COND_TC, "vae");
        assert_eq!(tc.verdict, Verdict::NoPairs);

        let md = to_markdown(&results);
        assert!(md.contains("### Claim 3") && md.contains("| 5 / 5 | holds at this scale |") && md.contains("| 0 / 5 | reversed |"), "{md}");
        assert!(to_text(&results).contains("holds at this scale"));
    }

    #[test]
    fn lemma_two_table_summarizes_each_configuration() {
        let with_info = |noise: &str, seed: u64, ctc: f64, tc: f64, gap: f64| {
            let mut r = row("dsprites", "vae", "conv", noise, seed, 0.1, 30.0);
            r.metrics = vec![(COND_TC.into(), ctc), ("info.aggregate_tc".into(), tc), ("info.isolation_gap".into(), gap)];
            r
        };
        let ctc = 9.257; // −½ ln det Σ for ρ = 0.9, D = 10
        let mut rows = vec![
            with_info("independent", 0, 0.0, 2.0, 2.0),
            with_info("independent", 1, 0.0, 4.0, 4.0),
            with_info("independent", 2, 0.0, 3.0, 3.0),
            with_info("correlated ρ=0.9", 0, ctc, 5.0, 5.0 - ctc),
            // One run off Lemma 2 by 0.5: the residual column must show it.
            with_info("correlated ρ=0.9", 1, ctc, 12.0, 12.0 - ctc + 0.5),
        ];
        // Runs without info metrics, and unfinished ones, are left out.
        rows.push(row("dsprites", "vae", "split", "independent", 0, 0.1, 30.0));
        let mut running = with_info("independent", 3, 0.0, 100.0, 100.0);
        running.status = "running".into();
        rows.push(running);

        let t = theory(&rows);
        assert_eq!(t.len(), 2);
        let (ind, cor) = (&t[0], &t[1]);
        assert_eq!((ind.configuration.as_str(), ind.runs, ind.negative_gaps), ("vae · conv · independent", 3, 0));
        assert_eq!(ind.isolation_gap.median, 3.0);
        assert_eq!(ind.lemma_residual, 0.0);
        assert_eq!((cor.runs, cor.negative_gaps), (2, 1));
        assert!((cor.lemma_residual - 0.5).abs() < 1e-12);
        assert_eq!(cor.conditional_tc.median, ctc);
        let md = theory_to_markdown(&t);
        assert!(md.contains("| dsprites | vae · conv · correlated ρ=0.9 | 2 |") && md.contains("| 1 / 2 | 5.0e-1 |"), "{md}");
        assert!(theory_to_text(&t).contains("vae · conv · independent"));
    }
}
