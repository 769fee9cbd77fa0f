#!/usr/bin/env bash
# Publishes a finished study folder into a committable results folder (docs/results/NAME/):
#   results.csv   every job's numbers and metrics (`study export`)
#   report.html   the report, pictures of the best-MIG run per configuration embedded
#   plots/        every plot of the report as PNG and SVG
#   claims.md     the claims tables, recomputed from results.csv alone (`study compare FILE.csv`)
#   configurations.md  medians [IQR] per configuration, from results.csv (scripts/study-table.py)
#   results-series.csv, claims-over-steps.md   when runs recorded metrics during training: the long
#                 table (run, step, metric, value) and the claims' verdicts at every recorded step
#                 (scripts/claims-over-steps.py); with EARLIER=FILE.csv (and EARLIER_LABEL=TEXT) a
#                 shorter study's end of training is the table's first row
# Usage: scripts/publish-study.sh STUDY_DIR OUT_DIR   (binary: $DISENTANGLE or target/release/disentangle)
set -euo pipefail
study=${1:?study folder}
out=${2:?output folder}
bin=${DISENTANGLE:-target/release/disentangle}
mkdir -p "$out"
"$bin" study export "$study" --out "$out/results.csv"
"$bin" study report "$study" --out "$out/report.html"
# The report embeds the pictures; the per-run picture folders beside it would only duplicate them.
rm -rf "$out/pictures"
"$bin" study compare "$out/results.csv" --markdown > "$out/claims.md"
python3 "$(dirname "$0")/study-table.py" "$out/results.csv" > "$out/configurations.md"
if [ -f "$out/results-series.csv" ]; then
    earlier=()
    [ -n "${EARLIER:-}" ] && earlier=(--earlier "$EARLIER" --earlier-label "${EARLIER_LABEL:-earlier study}")
    DISENTANGLE="$bin" python3 "$(dirname "$0")/claims-over-steps.py" "${earlier[@]}" "$out/results.csv" > "$out/claims-over-steps.md"
fi
echo "published $study to $out: $(du -sh "$out" | cut -f1)"
