"""Times the Coherence endpoint's bulk calls from the Python client: put_all of N entries
(1,000 a call), a paged and an unpaged read of them, and truncate.

    satchel serve --store memory:// --listen 127.0.0.1:14081 &
    COHERENCE_SERVER_ADDRESS=127.0.0.1:14081 "$(scripts/py-venv.sh coherence)" \
        scripts/coherence_bulk.py 40000

Prints one line of seconds; docs/coherence-protocol.md quotes it ("Whole-cache calls").
"""

import asyncio
import sys
import time

from coherence import Session

N = int(sys.argv[1]) if len(sys.argv) > 1 else 40000


async def main() -> None:
    session = await Session.create()
    cache = await session.get_cache("bulk-timing")
    await cache.truncate()

    t = time.perf_counter()
    for start in range(0, N, 1000):
        await cache.put_all({f"k{i}": {"n": i, "pad": "x" * 40} for i in range(start, min(N, start + 1000))})
    put = time.perf_counter() - t

    t = time.perf_counter()
    paged = 0
    async for _ in await cache.entries(by_page=True):
        paged += 1
    paged_s = time.perf_counter() - t

    t = time.perf_counter()
    unpaged = 0
    async for _ in await cache.entries():
        unpaged += 1
    unpaged_s = time.perf_counter() - t
    assert paged == unpaged == N, (paged, unpaged)

    t = time.perf_counter()
    await cache.truncate()
    truncate_s = time.perf_counter() - t
    assert await cache.size() == 0
    print(f"N={N} put_all {put:.2f}s paged {paged_s:.2f}s unpaged {unpaged_s:.2f}s truncate {truncate_s:.2f}s")
    await session.close()


asyncio.run(main())
