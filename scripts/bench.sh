#!/usr/bin/env bash
# Runs the criterion benchmarks and regenerates BENCHMARKS.md from their medians.
#
#   scripts/bench.sh            full run (about 25 minutes on 2 cores), rewrites BENCHMARKS.md
#                               and the charts in benchmarks/
#   scripts/bench.sh --smoke    every benchmark once, unoptimized, checks that the report
#                               script runs; BENCHMARKS.md is not touched (used by .ci/run)
#   scripts/bench.sh --only codec,dict,seal,grpc
#                               only the pipeline, dictionary, sealing and/or gRPC benches
#                               (pipelines about 15 minutes, dictionaries and sealing about a
#                               minute each; gRPC, with the in-process memory and Redis
#                               stores it is compared with, about 8), rewriting only their
#                               sections of BENCHMARKS.md
set -euo pipefail
cd "$(dirname "$0")/.."

# The encoded sizes of the stores' values (a ~750-byte and a ~16 KB JSON session record,
# json+zstd), so redis-benchmark and pgbench move the same number of bytes.
store_bytes() {
  python3 -c 'import json,sys; rows=[json.loads(l) for l in open(sys.argv[1]) if l.strip()]; print(" ".join(str(b) for b in sorted({r["bytes"] for r in rows if r["client"] == "satchel json+zstd"})))' \
    "$SATCHEL_STORE_BENCH_JSON"
}

# The Redis Cluster figures run on the cluster SATCHEL_BENCH_REDIS_CLUSTER_URL names (in
# .ci/run: the test suites' cluster); a full run without one starts its own 3 primaries on
# ports 7331-7333 (scripts/redis-cluster.sh) and stops them when it ends.
SATCHEL_BENCH_REDIS_CLUSTER_URL=${SATCHEL_BENCH_REDIS_CLUSTER_URL:-${SATCHEL_TEST_REDIS_CLUSTER_URL:-}}
own_cluster() {
  if [ -z "$SATCHEL_BENCH_REDIS_CLUSTER_URL" ]; then
    cluster_dir=$(mktemp -d)
    trap 'SATCHEL_CLUSTER_PORTS="7331 7332 7333" scripts/redis-cluster.sh stop "$cluster_dir"' EXIT
    SATCHEL_BENCH_REDIS_CLUSTER_URL=$(SATCHEL_CLUSTER_PORTS="7331 7332 7333" \
      scripts/redis-cluster.sh start "$cluster_dir")
  fi
  export SATCHEL_BENCH_REDIS_CLUSTER_URL
}

if [ "${1:-}" = "--smoke" ]; then
  export SATCHEL_BENCH_REDIS_CLUSTER_URL
  # Smoke figures go to their own file, so they never replace a real run's.
  export SATCHEL_STORE_BENCH_JSON="$PWD/target/satchel-store-bench-smoke.json"
  rm -f "$SATCHEL_STORE_BENCH_JSON"
  # Built in the test profile with the test step's features (`cargo test --workspace
  # --all-features`), so the smoke run reuses the dependencies that step compiled instead of
  # building all of them again optimized (13 minutes of a cold CI run on 2 cores); the
  # figures of a smoke run mean nothing anyway.
  smoke_bench() { cargo test --workspace --all-features --locked --bench "$@"; }
  smoke_bench codec -- --test
  smoke_bench dict -- --test
  smoke_bench seal -- --test
  timeout 600 cargo test --workspace --all-features --locked --bench stores -- --smoke
  for bytes in $(store_bytes); do python3 scripts/store_refs.py --smoke "$bytes"; done
  export SATCHEL_KVDB_BENCH_JSON="$PWD/target/satchel-kvdb-bench-smoke.json"
  "$(scripts/py-venv.sh kvdb)" scripts/kvdb_bench.py "$SATCHEL_KVDB_BENCH_JSON" --seconds 0.2
  python3 scripts/bench_report.py --check
  exit 0
fi

# The pipeline benches, then each case the full pass missed once more, alone: the machine
# drifts by more than the 5% target between passes, so a miss is only reported as one if
# the rerun misses too (BENCHMARKS.md shows both figures).
codec_bench() {
  timeout 1800 cargo bench -p satchel-benches --bench codec --locked
  local rerun
  rerun=$(python3 scripts/bench_report.py --misses)
  if [ -n "$rerun" ]; then
    timeout 900 cargo bench -p satchel-benches --bench codec --locked -- "$rerun"
  fi
}

if [ "${1:-}" = "--only" ]; then
  sections="${2:?--only needs codec, dict, seal, grpc or a comma-separated list of them}"
  for bench in ${sections//,/ }; do
    case "$bench" in
      codec) codec_bench ;;
      dict | seal) timeout 900 cargo bench -p satchel-benches --bench "$bench" --locked ;;
      # The gRPC rows with the in-process stores and the tonic echo they are compared with,
      # in a file of their own (the full run's figures stay where they are).
      grpc)
        export SATCHEL_STORE_BENCH_JSON="$PWD/target/satchel-grpc-bench.json"
        SATCHEL_BENCH_ONLY=memory,redis,grpc timeout 900 \
          cargo bench -p satchel-benches --bench stores --locked
        ;;
      *) echo "--only: no section $bench (codec, dict, seal, grpc)" >&2; exit 2 ;;
    esac
  done
  python3 scripts/bench_report.py --update "$sections"
  exit 0
fi

own_cluster
export SATCHEL_STORE_BENCH_JSON="$PWD/target/satchel-store-bench.json"
rm -rf target/criterion "$SATCHEL_STORE_BENCH_JSON"
# Bounded: each codec benchmark samples for about 1.2 s; each store figure is 3 runs of
# 3 s; the whole run stays under 45 minutes.
codec_bench
timeout 900 cargo bench -p satchel-benches --bench dict --locked
timeout 900 cargo bench -p satchel-benches --bench seal --locked
timeout 2400 cargo bench -p satchel-benches --bench stores --locked
for bytes in $(store_bytes); do python3 scripts/store_refs.py "$bytes"; done
export SATCHEL_KVDB_BENCH_JSON="$PWD/target/satchel-kvdb-bench.json"
"$(scripts/py-venv.sh kvdb)" scripts/kvdb_bench.py "$SATCHEL_KVDB_BENCH_JSON" --seconds 3
python3 scripts/bench_report.py > BENCHMARKS.md
echo "wrote BENCHMARKS.md"
