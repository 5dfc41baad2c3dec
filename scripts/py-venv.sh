#!/usr/bin/env bash
# Builds (or reuses) the Python virtual environment target/py/NAME from
# scripts/py/NAME.requirements.txt, whose lines are exact pins (`package==version`), and
# prints the path of its python. Idempotent: a stamp holding the requirements file's hash
# makes a second run a no-op; a changed file rebuilds the environment from scratch.
#
#   scripts/py-venv.sh kvdb          # -> /…/target/py/kvdb/bin/python
#
# Environment: PYTHON (default python3.11) is the interpreter the venv is made from.
set -euo pipefail
cd "$(dirname "$0")/.."

name="${1:?usage: scripts/py-venv.sh NAME (reads scripts/py/NAME.requirements.txt)}"
reqs="scripts/py/${name}.requirements.txt"
[ -f "$reqs" ] || { echo "py-venv: no $reqs" >&2; exit 2; }
# Every requirement must be an exact pin, so the environment is the same on every machine.
if grep -vE '^\s*(#.*)?$' "$reqs" | grep -vqE '^[A-Za-z0-9._-]+(\[[A-Za-z0-9,._-]+\])?==[A-Za-z0-9.+!-]+\s*(#.*)?$'; then
  echo "py-venv: $reqs has a line that is not an exact pin (name==version):" >&2
  grep -vE '^\s*(#.*)?$' "$reqs" | grep -vE '==' >&2 || true
  exit 2
fi

venv="target/py/${name}"
stamp="${venv}/.requirements.sha256"
python="${venv}/bin/python"
hash="$(sha256sum "$reqs" | cut -d' ' -f1)"

if [ -x "$python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$hash" ]; then
  echo "$PWD/$python"
  exit 0
fi

interpreter="${PYTHON:-python3.11}"
rm -rf "$venv"
mkdir -p "$(dirname "$venv")"
"$interpreter" -m venv "$venv" >&2
# --no-deps: the file lists the whole closure, so nothing unpinned sneaks in (hiredis, say).
"$python" -m pip install --quiet --disable-pip-version-check --no-input --no-deps \
  -r "$reqs" >&2
# No `pip check`: a file may deliberately leave out a declared dependency (kvdb.requirements.txt
# leaves out hiredis, which kvdb-py declares but breaks with).
echo "$hash" >"$stamp"
echo "$PWD/$python"
