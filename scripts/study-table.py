#!/usr/bin/env python3
"""Per-configuration medians [IQR] over seeds from a study's results.csv, as a Markdown table:
MIG, the FactorVAE score (when the study has it), reconstruction error, KL, I(z; x) and the median
training seconds. Quartiles by linear interpolation (numpy's default).
Usage: scripts/study-table.py results.csv"""
import csv, sys
import statistics
rows = [r for r in csv.DictReader(open(sys.argv[1])) if r["status"] == "done"]
order = []
for r in sorted(rows, key=lambda r: int(r["index"])):
    if r["configuration"] not in order:
        order.append(r["configuration"])
def q(v, p):
    v = sorted(v); k = (len(v) - 1) * p; f = int(k); c = min(f + 1, len(v) - 1)
    return v[f] + (v[c] - v[f]) * (k - f)
def cell(v, d):
    return f"{q(v, .5):.{d}f} [{q(v, .25):.{d}f}, {q(v, .75):.{d}f}]"
cols = [("MIG", "mig.discrete", 3), ("FactorVAE score", "factor_vae.eval_accuracy", 3), ("reconstruction error (nats)", "reconstruction_loss", 1), ("KL (nats)", "kl", 2), ("I(z; x) (nats)", "info.mi_joint", 2)]
cols = [c for c in cols if all(r.get(c[1], "") != "" for r in rows)]
print("| configuration | runs | " + " | ".join(c[0] for c in cols) + " | train s / run |")
print("|---|---|" + "---|" * len(cols) + "---|")
for c in order:
    rs = [r for r in rows if r["configuration"] == c]
    cells = [cell([float(r[k]) for r in rs], d) for _, k, d in cols]
    print(f"| {c} | {len(rs)} | " + " | ".join(cells) + f" | {statistics.median(float(r['train_seconds']) for r in rs):.0f} |")
