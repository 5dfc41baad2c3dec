#!/usr/bin/env python3
"""Runs the reference tools next to the store benchmark, same value size, same
concurrency, same machine: redis-benchmark (SET/GET) and pgbench (the same upsert and
select satchel-sql issues). Appends JSON lines to target/satchel-store-bench.json.

Usage: scripts/store_refs.py [--smoke] BYTES
"""
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = Path(os.environ.get("SATCHEL_STORE_BENCH_JSON", ROOT / "target" / "satchel-store-bench.json"))
SMOKE = "--smoke" in sys.argv
BYTES = int([a for a in sys.argv[1:] if not a.startswith("--")][0])
PG = ["-h", "127.0.0.1", "-p", "5432", "-U", "postgres"]


def emit(rows, **fields):
    print(json.dumps(fields))
    rows.append(json.dumps(fields))


def redis_benchmark(rows):
    if not shutil.which("redis-benchmark"):
        print("skipped redis-benchmark: not installed")
        return
    for c in (1, 50):
        n = 2000 if SMOKE else (30000 if c == 1 else 300000)
        out = subprocess.run(
            ["redis-benchmark", "-h", "127.0.0.1", "-p", "6379", "-t", "set,get",
             "-d", str(BYTES), "-c", str(c), "-n", str(n), "-r", "1000", "--csv"],
            capture_output=True, text=True, timeout=300, check=True,
        ).stdout
        lines = [l.strip().strip('"').split('","') for l in out.splitlines() if l.strip()]
        header = lines[0]
        for row in lines[1:]:
            rec = dict(zip(header, row))
            op = rec["test"].lower()
            emit(rows, backend="redis", client="redis-benchmark", op=op, c=c, bytes=BYTES,
                 ops_per_sec=float(rec["rps"]),
                 p50_us=float(rec.get("p50_latency_ms", 0)) * 1000,
                 p99_us=float(rec.get("p99_latency_ms", 0)) * 1000)


def pgbench(rows):
    if not shutil.which("pgbench") or not shutil.which("psql"):
        print("skipped pgbench: not installed")
        return
    table = "satchel_pgbench"
    value = "\\x" + "78" * BYTES
    subprocess.run(
        ["psql", *PG, "-d", "test", "-qc",
         f"DROP TABLE IF EXISTS {table}; CREATE TABLE {table} (key TEXT PRIMARY KEY, "
         f"value BYTEA NOT NULL, version BIGINT NOT NULL, expires_at BIGINT); "
         f"INSERT INTO {table} SELECT 'k' || g, '{value}'::bytea, 1, NULL "
         f"FROM generate_series(0, 999) g;"],
        check=True, capture_output=True, timeout=60,
    )
    # The statements satchel-sql runs for an unconditional set and a get (see
    # crates/sql/src/backend.rs), with the key and value as parameters.
    scripts = {
        "set": (
            "\\set k random(0, 999)\n"
            f"INSERT INTO {table} (key, value, version, expires_at) "
            f"VALUES ('k' || :k, '{value}'::bytea, (extract(epoch from clock_timestamp()) * 1000000)::bigint, NULL) "
            f"ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, "
            f"version = GREATEST({table}.version + 1, EXCLUDED.version), expires_at = EXCLUDED.expires_at "
            f"RETURNING version;\n"
        ),
        "get": (
            "\\set k random(0, 999)\n"
            f"SELECT value, version, expires_at FROM {table} WHERE key = 'k' || :k "
            f"AND (expires_at IS NULL OR expires_at > (extract(epoch from clock_timestamp()) * 1000)::bigint);\n"
        ),
    }
    tmp = ROOT / "target" / "pgbench"
    tmp.mkdir(parents=True, exist_ok=True)
    for op, sql in scripts.items():
        path = tmp / f"{op}.sql"
        path.write_text(sql)
        for c in (1, 50):
            seconds = "1" if SMOKE else "5"
            out = subprocess.run(
                ["pgbench", *PG, "-n", "-M", "prepared", "-c", str(c), "-j", "2",
                 "-T", seconds, "-f", str(path), "test"],
                capture_output=True, text=True, timeout=120, check=True,
            ).stdout
            tps = float(re.search(r"tps = ([0-9.]+)", out).group(1))
            lat = re.search(r"latency average = ([0-9.]+) ms", out)
            emit(rows, backend="postgres", client="pgbench", op=op, c=c, bytes=BYTES,
                 ops_per_sec=tps, p50_us=float(lat.group(1)) * 1000 if lat else 0.0,
                 p99_us=0.0)
    subprocess.run(["psql", *PG, "-d", "test", "-qc", f"DROP TABLE IF EXISTS {table};"],
                   check=True, capture_output=True, timeout=60)


def main():
    rows = []
    redis_benchmark(rows)
    pgbench(rows)
    with OUT.open("a") as f:
        for r in rows:
            f.write(r + "\n")


if __name__ == "__main__":
    main()
