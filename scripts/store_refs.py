#!/usr/bin/env python3
"""Runs the reference tools next to the store benchmark, same value size, same
concurrency, same machine: redis-benchmark (SET/GET; with --cluster on the cluster that
SATCHEL_BENCH_REDIS_CLUSTER_URL names, if any) and pgbench (the same upsert and
select satchel-sql issues). Appends JSON lines to target/satchel-store-bench.json.

Usage: scripts/store_refs.py [--smoke] BYTES
"""
import json
import os
import re
import resource
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = Path(os.environ.get("SATCHEL_STORE_BENCH_JSON", ROOT / "target" / "satchel-store-bench.json"))
SMOKE = "--smoke" in sys.argv
BYTES = int([a for a in sys.argv[1:] if not a.startswith("--")][0])
PG = ["-h", "127.0.0.1", "-p", "5432", "-U", "postgres"]


def machine_ticks():
    """CPU ticks the whole machine has spent busy (/proc/stat without idle and iowait)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    return sum(v) - v[3] - v[4]


def child_cpu():
    """CPU seconds (user + system) the reference tools this script ran have used."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_measured(cmd, timeout):
    """Runs a reference tool; returns its stdout and (its own CPU s, the machine's busy CPU s)."""
    cpu0, ticks0 = child_cpu(), machine_ticks()
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=True).stdout
    return out, child_cpu() - cpu0, (machine_ticks() - ticks0) / os.sysconf("SC_CLK_TCK")


def emit(rows, **fields):
    print(json.dumps(fields))
    rows.append(json.dumps(fields))


def redis_benchmark(rows, port="6379", backend="redis", cluster=False):
    if not shutil.which("redis-benchmark"):
        print("skipped redis-benchmark: not installed")
        return
    client = "redis-benchmark --cluster" if cluster else "redis-benchmark"
    for c in (1, 50):
        n = 2000 if SMOKE else (30000 if c == 1 else 300000)
        out = subprocess.run(
            ["redis-benchmark", "-h", "127.0.0.1", "-p", port, "-t", "set,get",
             "-d", str(BYTES), "-c", str(c), "-n", str(n), "-r", "1000", "--csv",
             *(["--cluster"] if cluster else [])],
            capture_output=True, text=True, timeout=300, check=True,
        ).stdout
        # --cluster prints the nodes it found before the CSV.
        lines = [l.strip().strip('"').split('","') for l in out.splitlines()
                 if l.strip().startswith('"')]
        header = lines[0]
        for row in lines[1:]:
            rec = dict(zip(header, row))
            op = rec["test"].lower()
            emit(rows, backend=backend, client=client, op=op, c=c, bytes=BYTES,
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
    # crates/sql/src/dialect.rs), with the key and value as parameters (-M prepared sends
    # pgbench variables as parameters; the value goes as bytea's hex text, `-D v=\x…`,
    # where satchel sends it binary), so the value's bytes travel on every set as satchel's
    # do.
    scripts = {
        "set": (
            "\\set k random(0, 999)\n"
            f"INSERT INTO {table} (key, value, version, expires_at) "
            f"VALUES ('k' || :k, :v::bytea, (extract(epoch from clock_timestamp()) * 1000000)::bigint, NULL) "
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
            out, own_cpu, machine_cpu = run_measured(
                ["pgbench", *PG, "-n", "-M", "prepared", "-c", str(c), "-j", "2",
                 "-T", seconds, "-D", f"v={value}", "-f", str(path), "test"],
                timeout=120,
            )
            tps = float(re.search(r"tps = ([0-9.]+)", out).group(1))
            done = int(re.search(r"number of transactions actually processed: (\d+)", out).group(1))
            lat = re.search(r"latency average = ([0-9.]+) ms", out)
            emit(rows, backend="postgres", client="pgbench", op=op, c=c, bytes=BYTES,
                 ops_per_sec=tps, p50_us=float(lat.group(1)) * 1000 if lat else 0.0,
                 p99_us=0.0, client_cpu_us=own_cpu * 1e6 / max(done, 1),
                 machine_cpu_us=machine_cpu * 1e6 / max(done, 1))
    subprocess.run(["psql", *PG, "-d", "test", "-qc", f"DROP TABLE IF EXISTS {table};"],
                   check=True, capture_output=True, timeout=60)


def main():
    rows = []
    redis_benchmark(rows)
    # A Redis Cluster when SATCHEL_BENCH_REDIS_CLUSTER_URL names one (its first node's port).
    cluster = os.environ.get("SATCHEL_BENCH_REDIS_CLUSTER_URL", "")
    m = re.match(r"redis-cluster://[^?/]*:(\d+)", cluster)
    if m:
        redis_benchmark(rows, port=m.group(1), backend="redis-cluster", cluster=True)
    pgbench(rows)
    with OUT.open("a") as f:
        for r in rows:
            f.write(r + "\n")


if __name__ == "__main__":
    main()
