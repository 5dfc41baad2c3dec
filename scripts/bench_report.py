#!/usr/bin/env python3
"""Turns criterion's medians (target/criterion/**/new/) into BENCHMARKS.md on stdout.

--check: only verify that the estimates and sizes can be read (smoke mode in CI).
"""
import datetime
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CRITERION = ROOT / "target" / "criterion"
SIZES = ROOT / "target" / "satchel-bench-sizes.json"
STORES = Path(os.environ.get("SATCHEL_STORE_BENCH_JSON", ROOT / "target" / "satchel-store-bench.json"))
PAYLOADS = ["300B", "16KB", "1MB"]
FORMATS = ["json", "msgpack", "bincode"]
COMPRESSIONS = ["none", "zstd", "lz4", "gzip", "zlib"]
TARGET = 1.05  # satchel's median within 5% of the hand-written calls


def load():
    """{(group, function, value): median ns} for every benchmark criterion recorded."""
    out = {}
    for bench in CRITERION.glob("**/new/benchmark.json"):
        meta = json.loads(bench.read_text())
        est = json.loads((bench.parent / "estimates.json").read_text())
        key = (meta["group_id"], meta.get("function_id"), meta.get("value_str"))
        out[key] = est["median"]["point_estimate"]
    return out


def load_stores():
    if not STORES.exists():
        return []
    return [json.loads(l) for l in STORES.read_text().splitlines() if l.strip()]


def store_section(w, rows):
    if not rows:
        return
    ours = [r for r in rows if r["client"] == "satchel json+zstd" and r["op"] in ("get", "set")]
    refs = {(r["backend"], r["client"], r["op"], r["c"]): r for r in rows if not r["client"].startswith("satchel")}
    size = ours[0]["bytes"] if ours else "?"
    w("## Stores")
    w("")
    w(f"`benches/benches/stores.rs`: typed `CodecStore` get/set of a ~750-byte JSON session record")
    w(f"through `json+zstd` ({size} bytes stored), over 1000 keys, for 3 s, median of 3 runs, at")
    w("concurrency 1 and 50 (tokio tasks sharing one store handle). In the same run: the raw")
    w("redis-rs client (multiplexed connection, plain SET/GET, no codec), `redis-benchmark`")
    w("(SET/GET, `-d` = the stored size, `-r 1000`) and `pgbench` (a custom script with the same")
    w("upsert and select satchel-sql issues, `-M prepared`, 5 s, `-c` connections; satchel's SQL")
    w("pools get 50 connections for this run too). pgbench reports a mean latency, shown under p50.")
    w("")
    w("| backend | op | c | satchel ops/s | p50 µs | p99 µs | reference | ref ops/s | ratio | target |")
    w("| --- | --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | --- |")
    targets = {
        ("redis", "redis-benchmark"): {1: 0.8, 50: 0.8},
        ("redis", "raw redis-rs"): {1: 0.9, 50: 0.9},
        ("postgres", "pgbench"): {1: 0.8, 50: 0.8},
    }
    for r in ours:
        base = [r["backend"], r["op"], str(r["c"]), f"{r['ops_per_sec']:.0f}", f"{r['p50_us']:.0f}", f"{r['p99_us']:.0f}"]
        matched = False
        for (backend, client), tgt in targets.items():
            if backend != r["backend"]:
                continue
            ref = refs.get((backend, client, r["op"], r["c"]))
            if not ref:
                continue
            matched = True
            ratio = r["ops_per_sec"] / ref["ops_per_sec"]
            goal = tgt[r["c"]]
            mark = "✓" if ratio >= goal else "✗"
            w("| " + " | ".join(base + [client, f"{ref['ops_per_sec']:.0f}", f"{ratio:.2f}×", f"≥ {goal} {mark}"]) + " |")
        if not matched:
            w("| " + " | ".join(base + ["—", "", "", ""]) + " |")
    for (backend, client, op, c), ref in sorted(refs.items()):
        w(f"| {backend} | {op} | {c} | | {ref['p50_us']:.0f} | {ref['p99_us']:.0f} | {client} (itself) | {ref['ops_per_sec']:.0f} | | |")
    w("")
    grpc = [r for r in ours if r["backend"].startswith("grpc/")]
    if grpc:
        w("### Through gRPC")
        w("")
        w("The same typed get/set through `GrpcStore` (`grpc://`) to an in-process `satchel-grpc`")
        w("server on loopback (its own tokio runtime, sharing the two cores with the client), next")
        w("to the same store called in-process in the same run. `grpc/memory` is the protocol's own")
        w("cost; `grpc/redis` is the chain a deployment runs (client → server → Redis).")
        w("")
        w("| through | op | c | gRPC ops/s | p50 µs | p99 µs | in-process ops/s | p50 µs | p99 µs | ratio |")
        w("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for r in grpc:
            inner = r["backend"].split("/", 1)[1]
            base = next((b for b in ours if b["backend"] == inner and b["op"] == r["op"] and b["c"] == r["c"]), None)
            if base is None:
                continue
            ratio = r["ops_per_sec"] / base["ops_per_sec"]
            w(f"| {r['backend']} | {r['op']} | {r['c']} | {r['ops_per_sec']:.0f} | {r['p50_us']:.0f} | {r['p99_us']:.0f} | {base['ops_per_sec']:.0f} | {base['p50_us']:.0f} | {base['p99_us']:.0f} | {ratio:.2f}× |")
        w("")
    sessions = [r for r in rows if r["client"] == "satchel session"]
    if sessions:
        w("### Sessions")
        w("")
        w("A session round trip (`connect` + read a counter + `insert` + `save`, a compare-and-set")
        w("write) per second, one session per task, next to the bare `CodecStore` `get` + `set` of the")
        w("same record on the same store in the same run. Target: ≥ 0.8×.")
        w("")
        w("| backend | c | session ops/s | p50 µs | p99 µs | get+set ops/s | ratio | target |")
        w("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
        for r in sessions:
            base = next((b for b in rows if b["backend"] == r["backend"] and b["op"] == "get+set" and b["c"] == r["c"]), None)
            if base is None:
                continue
            ratio = r["ops_per_sec"] / base["ops_per_sec"]
            mark = "✓" if ratio >= 0.8 else "✗"
            w(f"| {r['backend']} | {r['c']} | {r['ops_per_sec']:.0f} | {r['p50_us']:.0f} | {r['p99_us']:.0f} | {base['ops_per_sec']:.0f} | {ratio:.2f}× | ≥ 0.8 {mark} |")
        w("")


def sh(*cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT).stdout.strip()
    except OSError:
        return "?"


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def mbps(nbytes, ns):
    return nbytes / (ns / 1e9) / 1e6


def spec(f, c):
    return f if c == "none" else f"{f}+{c}"


def fmt_ns(ns):
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.1f} µs"
    return f"{ns:.0f} ns"


def main():
    check = "--check" in sys.argv
    est = load()
    stores = load_stores()
    if not check and not est:
        sys.exit("no criterion estimates under target/criterion: run the benchmarks first")
    if check and not (SIZES.exists() and stores):
        sys.exit("bench_report --check: the benchmarks wrote no sizes or no store figures")
    sizes = json.loads(SIZES.read_text())
    lines = []
    w = lines.append
    w("# Benchmarks")
    w("")
    w("Regenerated by `scripts/bench.sh` (criterion, `benches/benches/codec.rs`); do not edit by hand.")
    w("Every figure is a criterion **median** (20 samples); the machine is shared and noisy, so")
    w("compare ratios within one run rather than absolute numbers across runs.")
    w("")
    w(f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}")
    w(f"- commit: `{sh('git', 'rev-parse', '--short', 'HEAD')}`")
    w(f"- machine: {os.cpu_count()} cores, {cpu_model()}; {sh('rustc', '--version')}")
    w("")
    w("## Pipelines next to the raw crates")
    w("")
    w("*raw* is the same work written by hand: `serde_json::to_vec` / `rmp_serde::to_vec_named` /")
    w("`bincode::serde::encode_to_vec`, then `zstd::bulk::compress(_, 3)` / `lz4_flex::compress_prepend_size`")
    w("/ flate2's `GzEncoder`/`ZlibEncoder` at level 6, and the matching decode calls. satchel does")
    w("more in the same time: a header, a zstd content checksum, declared-size and limit checks.")
    w("MB/s counts the payload's JSON size. *time ratio* is satchel's median over raw's: ≤ 1.00 is")
    w(f"as fast or faster; the target is ≤ {TARGET:.2f} (✗ marks a miss).")
    misses = []
    for size in PAYLOADS:
        w("")
        w(f"### {size} session record")
        w("")
        w("| pipeline | bytes | vs JSON | encode MB/s | raw | time ratio | decode MB/s | raw | time ratio |")
        w("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for f in FORMATS:
            for c in COMPRESSIONS:
                s = spec(f, c)
                sz = sizes.get(f"{size}/{s}")
                row = [s]
                if sz:
                    row += [str(sz["satchel"]), f"{sz['json'] / sz['satchel']:.2f}×"]
                    n = sz["json"]
                else:
                    row += ["?", "?"]
                    n = 1
                for op in ["encode", "decode"]:
                    ours = est.get((f"{op}/{size}", s, "satchel"))
                    raw = est.get((f"{op}/{size}", s, "raw"))
                    if ours is None or raw is None:
                        row += ["?", "?", "?"]
                        continue
                    ratio = ours / raw
                    mark = "" if ratio <= TARGET else " ✗"
                    if mark:
                        misses.append(f"{op} {s} {size}: {ratio:.2f}")
                    row += [f"{mbps(n, ours):.0f}", f"{mbps(n, raw):.0f}", f"{ratio:.2f}{mark}"]
                w("| " + " | ".join(row) + " |")
    w("")
    if misses:
        w(f"Missed the ≤ {TARGET:.2f} target ({len(misses)} of {len(PAYLOADS) * 30}): " + "; ".join(misses) + ".")
    else:
        w(f"Every pipeline, payload and direction is within the ≤ {TARGET:.2f} target.")
    w("")
    w("## JSON decoders: serde_json and simd-json")
    w("")
    w("Typed decoding through `Json::serde_only()` and `Json::simd_above(0)` (which includes the copy")
    w("simd-json needs, since it parses in place). With the `simd-json` feature, satchel uses")
    w("simd-json from 8 KiB up (`Json::DEFAULT_SIMD_ABOVE`) and serde_json below.")
    w("")
    w("| document | serde_json | simd-json | simd-json speed-up |")
    w("| --- | ---: | ---: | ---: |")
    for doc in ["300B", "4KB", "16KB", "1MB", "numbers-1MB", "strings-1MB"]:
        a = est.get((f"json_decoders/{doc}", "serde_json", None))
        b = est.get((f"json_decoders/{doc}", "simd-json", None))
        if a is None or b is None:
            continue
        w(f"| {doc} | {fmt_ns(a)} | {fmt_ns(b)} | {a / b:.2f}× |")
    w("")
    w("## Cost of `.checksum()` (CRC-32C), encode + decode round trip")
    w("")
    w("| pipeline | payload | without | with | cost |")
    w("| --- | --- | ---: | ---: | ---: |")
    for size in PAYLOADS:
        for name in ["json", "json+lz4"]:
            a = est.get((f"checksum/{size}", name, "round-trip"))
            b = est.get((f"checksum/{size}", f"{name}.checksum", "round-trip"))
            if a is None or b is None:
                continue
            w(f"| {name} | {size} | {fmt_ns(a)} | {fmt_ns(b)} | {(b / a - 1) * 100:+.1f}% |")
    w("")
    store_section(w, stores)
    w("## What limits the misses")
    w("")
    w("Measured by experiment, not guessed; unprofiled ones say so.")
    w("")
    w("- **bincode decode (about 1.1×):** bincode's byte limit. Decoding the 16 KB record with")
    w("  satchel's code path but without `with_limit` took the same time as raw bincode (17.6 µs")
    w("  both); with the limit, 19.4 µs; the depth guard adds about 3% more. The limit stays:")
    w("  without it, a 10-byte input whose string length prefix claims 2^60 bytes makes bincode")
    w("  allocate that much before reading (see `crates/bincode`).")
    w("- **Redis against raw redis-rs at c = 50:** the raw client sends plain GET/SET")
    w("  pipelined over one multiplexed connection, three times `redis-benchmark`'s rate; satchel")
    w("  runs one Lua script per operation (the compare-and-set and the version live on the")
    w("  server) and encodes/decodes json+zstd on the same two cores the server uses. Against")
    w("  `redis-benchmark`, one operation per round trip, satchel meets the target at c = 50.")
    w("  At c = 1 both references beat satchel by one script execution plus the codec per round")
    w("  trip. Not yet tried: reads as `MULTI HMGET PTTL EXEC` instead of a script.")
    w("- **PostgreSQL at c = 50:** not profiled yet (sqlx's per-query client cost next to")
    w("  pgbench's libpq, with 50 server backends on the same two cores, is the first suspect).")
    w("  At c = 1 the target is met since satchel-sql stopped pinging every pooled connection on")
    w("  checkout (one extra round trip per operation).")
    w("")
    if check:
        # Smoke mode (criterion's --test writes no estimates): the whole report was built
        # from what there is, which exercises every code path; nothing is written.
        print(f"bench_report: {len(est)} estimates, {len(stores)} store rows, report of "
              f"{len(lines)} lines built", file=sys.stderr)
        return
    print("\n".join(lines))


if __name__ == "__main__":
    main()
