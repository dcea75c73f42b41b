#!/usr/bin/env bash
# Steady-state benchmark (BENCHMARKS.md, "Steady state"): DAYS consecutive generated days of N payments
# each, imported and run in date order in one database, printing each day's run time, peak RSS and the
# window's row counts — how a daily run grows until its look-back window is full.
#   cargo build --release && bash benches/steady_state.sh [N=100000] [DAYS=22] [LAST=2026-11-25]
set -euo pipefail
N=${1:-100000}
DAYS=${2:-22}
LAST=${3:-2026-11-25}
BIN=${BIN:-$(cd "$(dirname "$0")/.." && pwd)/target/release/alipay-recon}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
cat > alipay-recon.toml <<'TOML'
environment = "production"
[merchant]
name = "Bench"
[environments.production]
merchant_id = "2188000000000001"
[source]
kind = "dir"
dir = "sftp"
[store]
database = "recon.db"
archive_dir = "archive"
reports_dir = "reports"
[email]
transport = "none"
TOML
printf '%-10s %8s %9s %s\n' date "run s" "RSS MB" "window (from the run's log)"
for i in $(seq $((DAYS - 1)) -1 0); do
  d=$(date -d "$LAST - $i days" +%F)
  "$BIN" gen --date "$d" --payments "$N" --out g >/dev/null 2>&1
  mkdir -p sftp sales
  cp -r g/sftp/* sftp/
  cp g/sales/* sales/
  rm -rf g
  "$BIN" --config alipay-recon.toml import-sales "sales/sales-$d.csv" >/dev/null 2>&1
  sync
  log=$( { /usr/bin/time -f "TIME %e %M" "$BIN" --config alipay-recon.toml --log-format json run --date "$d" --no-email >/dev/null; } 2>&1 || true)
  t=$(grep '^TIME' <<<"$log" | awk '{print $2}')
  rss=$(grep '^TIME' <<<"$log" | awk '{printf "%.0f", $3 / 1024}')
  window=$(grep '"reconciled"' <<<"$log" | grep -o '"rows":[0-9]*,"local":[0-9]*,"load_ms":[0-9]*,"engine_ms":[0-9]*' || true)
  printf '%-10s %8s %9s %s\n' "$d" "$t" "$rss" "$window"
done
