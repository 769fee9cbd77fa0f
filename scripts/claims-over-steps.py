#!/usr/bin/env python3
"""The claims' verdicts as training goes on, as one Markdown table: a row per training step, a
column per comparison (claim, statement, treatment vs baseline). Every cell comes from
`disentangle study compare … --markdown`, run here once per step, so the table holds nothing that
command does not print:
  - `--earlier FILE.csv` (optional): a shorter study's exported table, its end of training shown
    as the first row (e.g. the 2,000-step mini study);
  - each step of the series (`study compare RESULTS.csv --step S`);
  - the end of training (`study compare RESULTS.csv`: the loss terms over the summary's batches).
Only the comparisons the main study has are shown. A cell reads "median difference · pairs the
claimed way / pairs", with the verdict: ✓ holds at this scale, ✗ reversed, nothing for inconclusive.
Usage: scripts/claims-over-steps.py [--bin DISENTANGLE] [--earlier FILE.csv --earlier-label TEXT]
                                    RESULTS.csv"""
import argparse, csv, os, subprocess, sys

p = argparse.ArgumentParser()
p.add_argument("results")
p.add_argument("--bin", default=os.environ.get("DISENTANGLE", "target/release/disentangle"))
p.add_argument("--earlier")
p.add_argument("--earlier-label", default="earlier study")
a = p.parse_args()

def compare(csv_path, step=None):
    """{(claim, statement, treatment, baseline, metric): (difference, pairs, verdict)}."""
    cmd = [a.bin, "study", "compare", csv_path, "--markdown"] + (["--step", str(step)] if step is not None else [])
    try:
        done = subprocess.run(cmd, capture_output=True, text=True)
    except OSError as e:
        sys.exit(f"claims-over-steps: cannot run {a.bin} ({e}); set --bin or $DISENTANGLE")
    if done.returncode != 0:
        sys.exit(f"claims-over-steps: `{' '.join(cmd)}` failed:\n{done.stderr.strip()}")
    out = done.stdout
    rows, claim = {}, None
    for line in out.splitlines():
        if line.startswith("### Claim "):
            claim = line[len("### Claim "):].strip()
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        # The comparison tables have nine columns; the header and rule lines are skipped.
        if claim is None or ":" in claim or len(cells) != 9 or cells[0] in ("statement", "---"):
            continue
        statement, treatment, baseline, metric, _, _, diff, pairs, verdict = cells
        rows[(claim, statement, treatment, baseline, metric)] = (diff, pairs.replace(" ", ""), verdict)
    return rows

def series_steps(results_csv):
    # The name `study export` gives the series table beside its results table.
    series = results_csv.removesuffix(".csv") + "-series.csv"
    if not os.path.isfile(series):
        sys.exit(f"claims-over-steps: {series} not found (the runs of {results_csv} recorded no metrics during training)")
    with open(series) as f:
        return sorted({int(r["step"]) for r in csv.DictReader(f) if r["metric"] == "mig.discrete" and int(r["step"]) > 0})

mark = {"holds at this scale": " ✓", "reversed": " ✗", "inconclusive": ""}
steps = series_steps(a.results)
table = []  # (label, rows)
if a.earlier:
    table.append((a.earlier_label, compare(a.earlier)))
for s in steps:
    table.append((f"{s:,} (series)", compare(a.results, s)))
final = compare(a.results)
table.append(("end of training", final))
keys = list(final)
short = {"reconstruction error": "recon.", "MIG": "MIG", "KL": "KL"}
def head(k):
    claim, _, treatment, _, metric = k
    return f"claim {claim}: {short.get(metric, metric)}, {treatment.split(' · ')[0]}"
print("| step | " + " | ".join(head(k) for k in keys) + " |")
print("|---|" + "---|" * len(keys))
for label, rows in table:
    cells = []
    for k in keys:
        if k in rows:
            diff, pairs, verdict = rows[k]
            cells.append(f"{diff} · {pairs}{mark.get(verdict, ' ' + verdict)}")
        else:
            cells.append("–")
    print(f"| {label} | " + " | ".join(cells) + " |")
print()
print("Claimed direction per column: " + "; ".join(f"{head(k)}: {k[1]}" for k in keys) + ".")
