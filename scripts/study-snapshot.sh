#!/usr/bin/env bash
# Saves what a study in progress has finished, so that a fresh machine resumes it without
# redoing finished runs: a consistent copy of its results database (SQLite's online backup, safe
# while workers write) and the study file it runs. Checkpoints and run folders are not copied.
# Resume elsewhere: mkdir -p DIR && cp OUT_DIR/results.sqlite DIR/ && disentangle study run STUDY --dir DIR
# (the job that was running when the snapshot was taken starts again from its first step).
# Usage: scripts/study-snapshot.sh STUDY_DIR OUT_DIR
set -euo pipefail
study=${1:?study folder}
out=${2:?output folder}
mkdir -p "$out"
python3 - "$study/results.sqlite" "$out/results.sqlite" <<'PY'
import sqlite3, sys, os
src, dst = sys.argv[1], sys.argv[2]
tmp = dst + ".tmp"
with sqlite3.connect(src, timeout=120) as s, sqlite3.connect(tmp) as d:
    s.backup(d)
os.replace(tmp, dst)
with sqlite3.connect(dst) as d:
    rows = d.execute("SELECT status, COUNT(*) FROM jobs GROUP BY status ORDER BY status").fetchall()
print(f"{dst}: " + ", ".join(f"{n} {s}" for s, n in rows))
PY
cp "$study/study.toml" "$out/study.toml"
