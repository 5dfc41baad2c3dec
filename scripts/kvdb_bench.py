#!/usr/bin/env python3
"""kvdb-py 0.0.2 set/get throughput on a live Redis, for comparison with satchel's benches.

    target/py/kvdb/bin/python scripts/kvdb_bench.py RESULTS.json [--url URL] [--seconds S]

Cases: a ~750-byte and a ~16 KB JSON session record (the same records as
crates/testkit/src/payloads.rs `session_750` / `session_medium`, mirrored below) x
serializer='json' with and without compression='zstd' x concurrency 1 (the sync session)
and 50 (its async API, 50 tasks). Each case runs `--seconds` per operation, in three
rounds; the JSON written holds, per case and operation, the median ops/s of the rounds and
p50/p99 latency in microseconds over all of them. Keys live under a unique prefix and are
deleted afterwards.
"""
import argparse
import asyncio
import json
import os
import statistics
import sys
import time

from kvdb import KVDBClient

MASK = (1 << 64) - 1
WORDS = [
    "alpha", "cart", "blue", "shoe", "garden", "lamp", "river", "tea", "wool", "desk",
    "linen", "coffee", "mug", "oak", "red", "small", "large", "organic",
]


class Rng:
    """splitmix64, as in payloads.rs."""

    def __init__(self, seed):
        self.state = seed

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def word(self):
        return WORDS[self.next() % len(WORDS)]

    def hex(self, n):
        return "".join(f"{self.next():016x}" for _ in range((n + 15) // 16))[:n]


def session(seed, cart_lines, history):
    r = Rng(seed)
    record = {"id": r.hex(22), "user_id": r.next() % 10_000_000}
    record["user_name"] = f"{r.word()}.{r.word()}"
    record["roles"] = ["user"]
    record["created_at"] = 1_790_000_000_000 + r.next() % 1_000_000
    record["last_seen"] = 1_790_000_500_000 + r.next() % 1_000_000
    record["csrf"] = r.hex(32)
    record["prefs"] = {"lang": "en-GB", "theme": "dark"}
    cart = []
    for _ in range(cart_lines):
        line = {"sku": f"SKU-{r.next() % 1_000_000:06}", "qty": r.next() % 5 + 1}
        line["price_cents"] = r.next() % 100_000
        line["title"] = f"{r.word()} {r.word()} {r.word()}"
        cart.append(line)
    record["cart"] = cart
    record["history"] = [
        f"/shop/{r.word()}/{r.word()}?page={r.next() % 40}" for _ in range(history)
    ]
    return record


#: Distinct keys per case, all written before measuring so every get finds its key.
KEYS = 200

PAYLOADS = {"session_750": session(4, 5, 4), "session_16k": session(2, 160, 135)}


def summary(rounds, latencies):
    latencies.sort()

    def pct(p):
        return round(latencies[min(len(latencies) - 1, int(len(latencies) * p))] * 1e6, 1)

    return {
        "ops_per_sec": round(statistics.median(rounds), 1),
        "rounds_ops_per_sec": [round(r, 1) for r in rounds],
        "p50_us": pct(0.50),
        "p99_us": pct(0.99),
        "ops": len(latencies),
    }


def run_sync(s, prefix, value, seconds):
    out = {}
    for op in ("set", "get"):
        rounds, latencies, i = [], [], 0
        for _ in range(3):
            n, start = 0, time.perf_counter()
            end = start + seconds / 3
            while True:
                key = f"{prefix}{i % KEYS}"
                t = time.perf_counter()
                if op == "set":
                    s.set(key, value)
                else:
                    got = s.get(key)
                    assert got is not None, key
                latencies.append(time.perf_counter() - t)
                n, i = n + 1, i + 1
                if time.perf_counter() >= end:
                    break
            rounds.append(n / (time.perf_counter() - start))
        out[op] = summary(rounds, latencies)
    return out


async def run_async(s, prefix, value, seconds, tasks):
    out = {}
    for op in ("set", "get"):
        rounds, latencies = [], []
        for _ in range(3):
            counter = [0]
            end = time.perf_counter() + seconds / 3

            async def worker(w):
                j = 0
                while time.perf_counter() < end:
                    key = f"{prefix}{(w * 7 + j) % KEYS}"
                    t = time.perf_counter()
                    if op == "set":
                        await s.aset(key, value)
                    else:
                        got = await s.aget(key)
                        assert got is not None, key
                    latencies.append(time.perf_counter() - t)
                    counter[0] += 1
                    j += 1

            start = time.perf_counter()
            await asyncio.gather(*(worker(w) for w in range(tasks)))
            rounds.append(counter[0] / (time.perf_counter() - start))
        out[op] = summary(rounds, latencies)
    return out


def main():
    asyncio.run(amain())


async def amain():
    # One event loop for the whole run: kvdb-py's async pool is bound to the loop it
    # first ran on.
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results")
    parser.add_argument("--url", default=os.environ.get("SATCHEL_TEST_REDIS_URL", "redis://127.0.0.1:6379"))
    parser.add_argument("--seconds", type=float, default=3.0, help="per case and operation")
    args = parser.parse_args()

    prefix = f"satchel-bench:kvdb:{os.getpid()}:{time.time_ns()}:"
    results = {
        "tool": "kvdb-py 0.0.2",
        "python": sys.version.split()[0],
        "url": args.url,
        "seconds_per_case": args.seconds,
        "payload_json_bytes": {k: len(json.dumps(v, separators=(",", ":"))) for k, v in PAYLOADS.items()},
        "cases": [],
    }
    sessions = []
    try:
        for compression in (None, "zstd"):
            kwargs = {"serializer": "json"}
            if compression:
                kwargs["compression"] = compression
            name = f"bench-json-{compression or 'none'}"
            s = KVDBClient.get_session(name=name, url=args.url, **kwargs)
            sessions.append(s)
            for payload, value in PAYLOADS.items():
                base = f"{prefix}{name}:{payload}:"
                for k in range(KEYS):
                    s.set(f"{base}{k}", value)
                case = {"serializer": "json", "compression": compression or "none", "payload": payload}
                print(f"{name} {payload} c=1", file=sys.stderr)
                results["cases"].append({**case, "concurrency": 1, **run_sync(s, base, value, args.seconds)})
                print(f"{name} {payload} c=50", file=sys.stderr)
                measured = await run_async(s, base, value, args.seconds, 50)
                results["cases"].append({**case, "concurrency": 50, **measured})
    finally:
        import redis

        raw = redis.Redis.from_url(args.url)
        for key in raw.scan_iter(match=prefix + "*", count=1000):
            raw.delete(key)
    with open(args.results, "w") as f:
        json.dump(results, f, indent=2)
        f.write("\n")
    for c in results["cases"]:
        print(
            f"{c['compression']:>5} {c['payload']:<12} c={c['concurrency']:<3} "
            f"set {c['set']['ops_per_sec']:>9.0f}/s p99 {c['set']['p99_us']:>8.0f}us  "
            f"get {c['get']['ops_per_sec']:>9.0f}/s p99 {c['get']['p99_us']:>8.0f}us"
        )


if __name__ == "__main__":
    main()
