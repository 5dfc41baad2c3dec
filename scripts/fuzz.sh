#!/usr/bin/env bash
# Builds the cargo-fuzz targets on the stable toolchain (RUSTC_BOOTSTRAP=1) and runs them.
#
#   scripts/fuzz.sh --smoke        build every target, run each for 10 s (used by .ci/run)
#   scripts/fuzz.sh [SECONDS]      run each target SECONDS (default 600) and append a row per
#                                  target to FUZZING.md
#
# Each run starts from the committed seeds (fuzz/seeds/TARGET) plus whatever corpus earlier
# runs left in fuzz/corpus/TARGET (not committed). A crash leaves its input in
# fuzz/artifacts/TARGET and makes this script fail.
set -euo pipefail
cd "$(dirname "$0")/.."

smoke=false
seconds=600
case "${1:-}" in
  --smoke) smoke=true; seconds=10 ;;
  "") ;;
  *) seconds=$1 ;;
esac

if ! command -v cargo-fuzz >/dev/null 2>&1; then
  echo "installing cargo-fuzz (once per machine)"
  cargo install cargo-fuzz --locked --quiet
fi
export RUSTC_BOOTSTRAP=1

cargo fuzz build --release --debug-assertions
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
status=0
for target in $(cargo fuzz list); do
  mkdir -p "fuzz/corpus/$target"
  cp -n fuzz/seeds/"$target"/* "fuzz/corpus/$target/" 2>/dev/null || true
  log=$(mktemp)
  echo "--- $target for ${seconds}s"
  if cargo fuzz run --release --debug-assertions "$target" "fuzz/corpus/$target" -- \
      -max_total_time="$seconds" -rss_limit_mb=2048 -malloc_limit_mb=512 \
      -print_final_stats=1 >"$log" 2>&1; then
    crashes=0
  else
    crashes=1
    status=1
    tail -n 40 "$log"
  fi
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  echo "$target: ${runs:-?} executions in ${seconds}s, crashes: $crashes"
  if ! $smoke; then
    printf '| %s | %s | `%s` | %s | %s | %s |\n' "$(date -u +%F)" "$target" "$commit" \
      "$seconds" "${runs:-?}" "$crashes" >> FUZZING.md
  fi
  rm -f "$log"
done
exit $status
