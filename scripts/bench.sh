#!/usr/bin/env bash
# Runs the criterion benchmarks and regenerates BENCHMARKS.md from their medians.
#
#   scripts/bench.sh            full run (about 10 minutes on 2 cores), rewrites BENCHMARKS.md
#   scripts/bench.sh --smoke    every benchmark once, checks that the report script runs;
#                               BENCHMARKS.md is not touched (used by .ci/run)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--smoke" ]; then
  cargo bench -p satchel-benches --bench codec --locked -- --test
  python3 scripts/bench_report.py --check
  exit 0
fi

rm -rf target/criterion
# Bounded: each benchmark samples for about 1.2 s; the whole run stays under 20 minutes.
timeout 1800 cargo bench -p satchel-benches --bench codec --locked
python3 scripts/bench_report.py > BENCHMARKS.md
echo "wrote BENCHMARKS.md"
