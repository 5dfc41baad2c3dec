"""The example of the README (section "Using Coherence clients"), run by the Rust test
`readme_example_runs` against the in-process server (COHERENCE_SERVER_ADDRESS)."""

import asyncio

from coherence import Session


async def main() -> None:
    session = await Session.create()  # $COHERENCE_SERVER_ADDRESS, default localhost:1408
    cache = await session.get_cache("carts")
    await cache.put("ann", {"items": [1, 2], "note": "hello"})
    print(await cache.get("ann"))
    await session.close()


asyncio.run(main())
