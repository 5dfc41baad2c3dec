#!/usr/bin/env bash
# Runs the Coherence Python client's own end-to-end suite (v2.0.4, kept read-only in
# ../shared/peers/coherence-py-client) against `satchel serve`, and compares each test's
# outcome with scripts/coherence-peer.expected, the list docs/coherence-protocol.md explains.
#
#   scripts/coherence-peer.sh [SATCHEL_BINARY]     # default target/debug/satchel
#
# Fails when a test listed as passing does not pass (a regression), and when a test listed
# as failing passes (the list, and the docs, are out of date: move it). Writes the run's
# outcomes to target/coherence-peer/outcomes.txt in the list's format.
#
# The server: `satchel serve --store memory://` on 127.0.0.1:1408, the suite's default
# address (its test_basics asserts the default, so COHERENCE_SERVER_ADDRESS stays unset).
# The backing store is the memory store because the suite writes 220,000 entries for each
# paged test; the endpoint over SQLite and Redis is covered by crates/coherence/tests.
# test_ai.py is not run: it needs vector indexes on a Java server, and spends ~28 s a test
# filling caches before it is refused.
set -euo pipefail
cd "$(dirname "$0")/.."

peer="../shared/peers/coherence-py-client"
[ -d "$peer/tests/e2e" ] || { echo "coherence-peer: no $peer/tests/e2e" >&2; exit 2; }
satchel="${1:-target/debug/satchel}"
[ -x "$satchel" ] || { echo "coherence-peer: no binary $satchel (cargo build -p satchel-cli)" >&2; exit 2; }
python="$(scripts/py-venv.sh coherence-peer)"

out="target/coherence-peer"
rm -rf "$out"
mkdir -p "$out"
# ../shared is read-only: pytest writes caches and bytecode next to the tests otherwise.
cp -r "$peer/tests" "$out/tests"

if (exec 3<>/dev/tcp/127.0.0.1/1408) 2>/dev/null; then
  echo "coherence-peer: 127.0.0.1:1408 is taken; the suite needs its default address" >&2
  exit 1
fi
"$satchel" serve --store memory:// --listen 127.0.0.1:1408 >"$out/serve.out" 2>"$out/serve.log" &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do
  grep -q "listening on" "$out/serve.out" 2>/dev/null && break
  kill -0 "$server" 2>/dev/null || { cat "$out/serve.log" >&2; exit 1; }
  sleep 0.2
done

# Bounded: 60 s a test (pytest-timeout), 15 minutes in all.
status=0
(cd "$out" && PYTHONDONTWRITEBYTECODE=1 timeout 900 "$python" -m pytest tests/e2e \
  --ignore=tests/e2e/test_ai.py -p no:cacheprovider --tb=native --timeout=60 \
  --junitxml=junit.xml -q -rN >pytest.out 2>&1) || status=$?
# pytest: 0 all passed, 1 some failed; anything else (or timeout's 124) is a broken run.
if [ "$status" -gt 1 ]; then
  tail -40 "$out/pytest.out" >&2
  echo "coherence-peer: the suite did not run to the end (exit $status)" >&2
  exit 1
fi

"$python" - "$out/junit.xml" scripts/coherence-peer.expected "$out/outcomes.txt" <<'EOF'
import sys
import xml.etree.ElementTree as ET

junit, expected_file, outcomes_file = sys.argv[1:]
outcome = {}
for case in ET.parse(junit).iter("testcase"):
    name = case.get("classname").rsplit(".", 1)[-1] + "::" + case.get("name")
    kinds = {child.tag for child in case}
    if "skipped" in kinds:
        result = "skip"
    elif kinds & {"failure", "error"}:
        result = "fail"
    else:
        result = "pass"
    # A test that passes its body but fails its teardown is a failure.
    if outcome.get(name) != "fail":
        outcome[name] = result

expected = {}
for line in open(expected_file):
    line = line.split("#", 1)[0].strip()
    if line:
        result, name = line.split(None, 1)
        expected[name.strip()] = result

with open(outcomes_file, "w") as f:
    for name in sorted(outcome):
        f.write(f"{outcome[name]} {name}\n")

counts = {r: sum(1 for v in outcome.values() if v == r) for r in ("pass", "fail", "skip")}
print(f"coherence-peer: {counts['pass']} passed, {counts['fail']} failed, "
      f"{counts['skip']} skipped of {len(outcome)} (test_ai.py not run)")
problems = []
for name, result in sorted(outcome.items()):
    want = expected.get(name)
    if want is None:
        problems.append(f"not in {expected_file}: {result} {name}")
    elif want == "pass" and result != "pass":
        problems.append(f"REGRESSION, listed as passing: {result} {name}")
    elif want != "pass" and result == "pass":
        problems.append(f"passes now, listed as {want}: update the list and the docs: {name}")
for name in sorted(set(expected) - set(outcome)):
    problems.append(f"listed but not run: {name}")
for p in problems:
    print("  " + p)
sys.exit(1 if problems else 0)
EOF
