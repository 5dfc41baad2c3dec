"""End-to-end test: the real Oracle Coherence Python client against `satchel serve`.

Run with the venv built from scripts/py/coherence.requirements.txt, against a server that
answers the Coherence gRPC protocol (v0, coherence.NamedCacheService):

    COHERENCE_SERVER_ADDRESS=127.0.0.1:PORT SATCHEL_E2E_CACHE=e2e-123 \\
        target/py/coherence/bin/python crates/coherence/tests/py/coherence_e2e.py

Environment:
    COHERENCE_SERVER_ADDRESS          host:port of the server (read by the client itself)
    COHERENCE_CLIENT_REQUEST_TIMEOUT  per-call timeout in seconds (default here: 10)
    COHERENCE_TLS_CERTS_PATH          CA bundle; when set, the script connects with TLS
    COHERENCE_TLS_CLIENT_CERT/_KEY    client certificate and key for mutual TLS (optional)
    SATCHEL_E2E_CACHE                 cache used by the checks (default: e2e-<pid>)
    SATCHEL_E2E_READBACK_CACHE        cache left filled for the Rust side (default: rust-readback)
    SATCHEL_E2E_SCOPE                 session scope (default: "", the client's default)
    SATCHEL_E2E_PAGING_ENTRIES        entries written for the paging checks (default: 1000)
    SATCHEL_E2E_TIMEOUT               whole-run deadline in seconds (default: 180)
    SATCHEL_E2E_SKIP_BAD_INPUT        set to 1 to skip the raw-gRPC bad-input checks

Prints one line per check. Exits 0 when every check passed; on the first failure prints
`FAIL <check>: <reason>` and exits 1 (2 for a timeout, 3 for an unexpected error). The
last line before `OK` is `READBACK {json}`: the readback cache's name, scope and, for each
entry, the exact key and value bytes (hex) the client wrote, for the Rust test to compare.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
import traceback
from typing import Any, Awaitable, Callable, Optional

os.environ.setdefault("COHERENCE_CLIENT_REQUEST_TIMEOUT", "10")

import grpc  # noqa: E402
from coherence import Options, Session, TlsOptions  # noqa: E402
from coherence.serialization import JSONSerializer, proxy  # noqa: E402

CACHE = os.environ.get("SATCHEL_E2E_CACHE") or f"e2e-{os.getpid()}"
READBACK = os.environ.get("SATCHEL_E2E_READBACK_CACHE") or "rust-readback"
SCOPE = os.environ.get("SATCHEL_E2E_SCOPE", "")
PAGING_ENTRIES = int(os.environ.get("SATCHEL_E2E_PAGING_ENTRIES", "1000"))
TOTAL_TIMEOUT = float(os.environ.get("SATCHEL_E2E_TIMEOUT", "180"))
STEP_TIMEOUT = float(os.environ["COHERENCE_CLIENT_REQUEST_TIMEOUT"]) * 3 + 5
SERIALIZER = JSONSerializer()


class CheckFailed(Exception):
    pass


def log(msg: str) -> None:
    print(msg, flush=True)


def check(cond: bool, what: str) -> None:
    if not cond:
        raise CheckFailed(what)


def expect_eq(got: Any, want: Any, what: str) -> None:
    if type(got) is not type(want) or got != want:
        raise CheckFailed(f"{what}: got {got!r} ({type(got).__name__}), want {want!r} ({type(want).__name__})")


@proxy("test.Person")
class Person:
    """A class the client writes with an `@class` tag."""

    def __init__(self, name: str, age: int, tags: Optional[list[str]] = None) -> None:
        self.name = name
        self.age = age
        self.tags = tags if tags is not None else []

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Person) and vars(self) == vars(other)

    def __repr__(self) -> str:
        return f"Person({self.name!r}, {self.age!r}, {self.tags!r})"


# Every kind of value the test stores, by name. Keys are strings unless noted.
VALUES: dict[str, Any] = {
    "str": "hello",
    "str_unicode": "h\u00e9llo \u2603 \U0001f600",
    "int": 42,
    "int_neg": -7,
    "int_big": 2**64,
    "float": 3.25,
    "float_third": 1 / 3,
    "bool_true": True,
    "bool_false": False,
    "none": None,
    "list": [1, "two", 3.0, None, True],
    "dict": {"a": 1, "b": [1, 2], "c": {"d": None}},
    "nested": {"users": [{"name": "ann", "roles": ["admin"], "meta": {"age": 30, "score": 9.5}}]},
    "person": Person("ann", 30, ["a", "b"]),
}


async def step(name: str, coro: Awaitable[Any]) -> Any:
    try:
        result = await asyncio.wait_for(coro, STEP_TIMEOUT)
    except asyncio.TimeoutError:
        raise CheckFailed(f"{name}: no answer within {STEP_TIMEOUT:.0f}s") from None
    except grpc.aio.AioRpcError as e:
        raise CheckFailed(f"{name}: gRPC {e.code().name}: {e.details()}") from None
    log(f"ok   {name}")
    return result


async def collect(it_coro: Awaitable[Any]) -> list[Any]:
    it = await it_coro
    return [x async for x in it]


def options() -> Options:
    if os.environ.get("COHERENCE_TLS_CERTS_PATH"):
        # The TLS paths come from COHERENCE_TLS_* (read by TlsOptions); the client only uses
        # TLS when TlsOptions are given.
        return Options(tls_options=TlsOptions(enabled=True, locked=True), scope=SCOPE)
    return Options(scope=SCOPE)


async def run() -> dict[str, Any]:
    opts = options()
    log(f"info address={opts.address} scope={SCOPE!r} cache={CACHE} readback={READBACK} "
        f"request_timeout={opts.request_timeout_seconds}s tls={opts.tls_options is not None}")

    session: Session = await step("Session.create()", Session.create(opts))
    try:
        check(session.is_ready(), "session.is_ready() is False after create")
        # v1 (ProxyService) must have answered UNIMPLEMENTED: the client then speaks v0.
        expect_eq(session._protocol_version, 0, "negotiated protocol version (0 = NamedCacheService)")
        log("ok   handshake fell back to v0 (ProxyService UNIMPLEMENTED)")

        cache = await step(f"get_cache({CACHE!r})", session.get_cache(CACHE))
        await step("truncate() of a fresh cache", cache.truncate())
        expect_eq(await step("size() empty", cache.size()), 0, "size of an empty cache")
        expect_eq(await step("is_empty() empty", cache.is_empty()), True, "is_empty of an empty cache")

        await check_values(cache)
        await check_conditional(cache)
        await check_listeners(cache)
        await check_bulk(cache)
        await check_clear_truncate(cache)
        await check_ttl(cache)
        await check_paging(cache)
        readback = await fill_readback(session)
        await check_destroy(session)
        if os.environ.get("SATCHEL_E2E_SKIP_BAD_INPUT") != "1":
            await check_bad_input(opts)
            # The server still serves after bad input.
            again = await step("get_cache after bad input", session.get_cache(CACHE + "-after"))
            expect_eq(await step("put after bad input", again.put("k", "v")), None, "put after bad input")
            expect_eq(await step("get after bad input", again.get("k")), "v", "get after bad input")
            await step("destroy the after-bad-input cache", again.destroy())
        return readback
    finally:
        await asyncio.wait_for(session.close(), 10)


async def check_values(cache: Any) -> None:
    # put/get of every type, and put returning the previous value.
    for name, value in VALUES.items():
        prev = await step(f"put {name}", cache.put(name, value))
        expect_eq(prev, None, f"put({name!r}) on an absent key returns")
    for name, value in VALUES.items():
        got = await step(f"get {name}", cache.get(name))
        expect_eq(got, value, f"get({name!r})")
    expect_eq(await step("size() after puts", cache.size()), len(VALUES), "size after putting every type")
    expect_eq(await step("is_empty() after puts", cache.is_empty()), False, "is_empty after puts")
    expect_eq(await step("get of a missing key", cache.get("missing")), None, "get of a missing key")
    expect_eq(await step("get_or_default", cache.get_or_default("missing", "dflt")), "dflt", "get_or_default")
    # A None value is stored, not an absent key.
    expect_eq(await step("contains_key none-valued", cache.contains_key("none")), True,
              "contains_key of a key mapped to None")
    expect_eq(await step("contains_key missing", cache.contains_key("missing")), False, "contains_key missing")
    expect_eq(await step("contains_value dict", cache.contains_value(VALUES["dict"])), True, "contains_value")
    expect_eq(await step("contains_value person", cache.contains_value(Person("ann", 30, ["a", "b"]))), True,
              "contains_value of an @class object")
    expect_eq(await step("contains_value absent", cache.contains_value("nope")), False, "contains_value absent")
    # Overwrite returns the old value, of its own type.
    expect_eq(await step("put overwrite", cache.put("int", 43)), 42, "put returns the previous value")
    expect_eq(await step("get overwritten", cache.get("int")), 43, "get after overwrite")
    # Non-string keys.
    expect_eq(await step("put int key", cache.put(7, "seven")), None, "put with an int key")
    expect_eq(await step("get int key", cache.get(7)), "seven", "get with an int key")
    expect_eq(await step("get str key '7'", cache.get("7")), None, "the str key '7' is not the int key 7")
    expect_eq(await step("put dict key", cache.put(Person("key", 1), 1.5)), None, "put with an @class key")
    expect_eq(await step("get dict key", cache.get(Person("key", 1))), 1.5, "get with an @class key")


async def check_conditional(cache: Any) -> None:
    expect_eq(await step("put_if_absent absent", cache.put_if_absent("pia", "first")), None,
              "put_if_absent on an absent key returns")
    expect_eq(await step("put_if_absent present", cache.put_if_absent("pia", "second")), "first",
              "put_if_absent on a present key returns the current value")
    expect_eq(await step("get after put_if_absent", cache.get("pia")), "first", "put_if_absent must not overwrite")

    expect_eq(await step("replace absent", cache.replace("rep", "x")), None, "replace on an absent key returns")
    expect_eq(await step("contains_key after replace absent", cache.contains_key("rep")), False,
              "replace must not create a key")
    await step("put rep", cache.put("rep", "old"))
    expect_eq(await step("replace present", cache.replace("rep", "new")), "old", "replace returns the old value")
    expect_eq(await step("get after replace", cache.get("rep")), "new", "get after replace")

    expect_eq(await step("replace_mapping wrong", cache.replace_mapping("rep", "old", "newer")), False,
              "replace_mapping with a wrong old value")
    expect_eq(await step("replace_mapping right", cache.replace_mapping("rep", "new", "newer")), True,
              "replace_mapping with the right old value")
    expect_eq(await step("get after replace_mapping", cache.get("rep")), "newer", "get after replace_mapping")

    expect_eq(await step("remove present", cache.remove("rep")), "newer", "remove returns the removed value")
    expect_eq(await step("remove absent", cache.remove("rep")), None, "remove of an absent key returns")

    await step("put rm", cache.put("rm", {"v": 1}))
    expect_eq(await step("remove_mapping wrong", cache.remove_mapping("rm", {"v": 2})), False,
              "remove_mapping with a wrong value")
    expect_eq(await step("remove_mapping right", cache.remove_mapping("rm", {"v": 1})), True,
              "remove_mapping with the right value")
    expect_eq(await step("contains_key after remove_mapping", cache.contains_key("rm")), False,
              "remove_mapping removed the key")


async def check_listeners(cache: Any) -> None:
    # satchel acknowledges listener registrations (so nothing waits forever) but sends no
    # events: registering, writing and removing must all answer within the step timeout.
    from coherence.event import MapListener

    listener: MapListener[Any, Any] = MapListener()
    await step("add_map_listener for a key", cache.add_map_listener(listener, "lk"))
    await step("add_map_listener for every entry", cache.add_map_listener(listener))
    await step("put with listeners registered", cache.put("lk", 1))
    await step("remove_map_listener for a key", cache.remove_map_listener(listener, "lk"))
    await step("remove_map_listener for every entry", cache.remove_map_listener(listener))
    expect_eq(await step("remove after listeners", cache.remove("lk")), 1, "remove after listeners")


async def check_bulk(cache: Any) -> None:
    batch = {f"bulk-{i}": {"i": i, "sq": i * i} for i in range(20)}
    await step("put_all 20", cache.put_all(batch))
    got = {e.key: e.value for e in await step("get_all 20 + 1 missing",
                                               collect(cache.get_all(set(batch) | {"bulk-missing"})))}
    expect_eq(got, batch, "get_all returns exactly the present keys")


async def check_clear_truncate(cache: Any) -> None:
    check(await cache.size() > 0, "cache should not be empty before clear")
    await step("clear()", cache.clear())
    expect_eq(await step("size() after clear", cache.size()), 0, "size after clear")
    expect_eq(await step("get after clear", cache.get("str")), None, "get after clear")
    await step("put after clear", cache.put("t1", 1))
    await step("put_all after clear", cache.put_all({"t2": 2, "t3": 3}))
    expect_eq(await cache.size(), 3, "size before truncate")
    await step("truncate()", cache.truncate())
    expect_eq(await step("size() after truncate", cache.size()), 0, "size after truncate")
    expect_eq(await step("is_empty() after truncate", cache.is_empty()), True, "is_empty after truncate")


async def check_ttl(cache: Any) -> None:
    await step("put ttl=1500ms", cache.put("ttl", "short", 1500))
    await step("put_if_absent ttl=1500ms", cache.put_if_absent("ttl-pia", "short", 1500))
    await step("put no ttl", cache.put("ttl-keep", "long"))
    expect_eq(await step("get before expiry", cache.get("ttl")), "short", "get before the TTL passed")
    expect_eq(await cache.get("ttl-pia"), "short", "put_if_absent value before the TTL passed")
    deadline = time.monotonic() + 10
    await asyncio.sleep(1.6)
    while True:
        a, b = await cache.get("ttl"), await cache.get("ttl-pia")
        if a is None and b is None:
            break
        check(time.monotonic() < deadline, f"entries with ttl=1500ms still there after 10s: {a!r}, {b!r}")
        await asyncio.sleep(0.25)
    log("ok   ttl entries expired")
    expect_eq(await step("get no-ttl entry", cache.get("ttl-keep")), "long", "an entry without TTL stays")
    expect_eq(await step("size() after expiry", cache.size()), 1, "expired entries are not counted")
    await cache.truncate()


async def check_paging(cache: Any) -> None:
    n = PAGING_ENTRIES
    entries = {f"page-{i:05d}": {"i": i, "pad": "x" * 64} for i in range(n)}
    items = list(entries.items())
    for start in range(0, n, 200):
        await step(f"put_all paging entries {start}..{min(start + 200, n)}", cache.put_all(dict(items[start:start + 200])))
    expect_eq(await step("size() paging", cache.size()), n, "size after writing the paging entries")

    # Count the page requests the client sends.
    stub = cache._client_stub
    calls = {"nextKeySetPage": 0, "nextEntrySetPage": 0}
    for method in calls:
        original = getattr(stub, method)

        def counting(request: Any, _original: Callable[..., Any] = original, _m: str = method, **kw: Any) -> Any:
            calls[_m] += 1
            return _original(request, **kw)

        setattr(stub, method, counting)

    keys = await step("keys(by_page=True)", collect(cache.keys(by_page=True)))
    expect_eq(sorted(keys), sorted(entries), "paged keys")
    check(len(keys) == len(set(keys)), "paged keys contain duplicates")
    check(calls["nextKeySetPage"] >= 2, f"keys over {n} entries came in {calls['nextKeySetPage']} page(s), want 2+")
    log(f"ok   keys(by_page=True): {len(keys)} keys in {calls['nextKeySetPage']} pages")

    values = await step("values(by_page=True)", collect(cache.values(by_page=True)))
    expect_eq(sorted(v["i"] for v in values), list(range(n)), "paged values")
    pages_for_values = calls["nextEntrySetPage"]
    check(pages_for_values >= 2, f"values over {n} entries came in {pages_for_values} page(s), want 2+")

    got = {e.key: e.value for e in await step("entries(by_page=True)", collect(cache.entries(by_page=True)))}
    expect_eq(got, entries, "paged entries")
    check(calls["nextEntrySetPage"] - pages_for_values >= 2, "entries came in a single page")
    log(f"ok   values/entries(by_page=True): {calls['nextEntrySetPage']} entry pages in all")

    # The streaming (unpaged) forms: keySet, values, entrySet.
    keys = await step("keys()", collect(cache.keys()))
    expect_eq(sorted(keys), sorted(entries), "streamed keys")
    values = await step("values()", collect(cache.values()))
    expect_eq(sorted(v["i"] for v in values), list(range(n)), "streamed values")
    got = {e.key: e.value for e in await step("entries()", collect(cache.entries()))}
    expect_eq(got, entries, "streamed entries")

    # An empty cache pages to nothing.
    await cache.truncate()
    expect_eq(await step("keys(by_page=True) empty", collect(cache.keys(by_page=True))), [], "paged keys of an empty cache")
    expect_eq(await step("entries(by_page=True) empty", collect(cache.entries(by_page=True))), [],
              "paged entries of an empty cache")


READBACK_VALUES: dict[str, Any] = {
    "str": "hello",
    "str_unicode": "h\u00e9llo \u2603",
    "int": 42,
    "int_big": 2**64,
    "float": 3.25,
    "bool": True,
    "none": None,
    "list": [1, "two", 3.0, None, True],
    "dict": {"a": 1, "b": [1, 2]},
    "person": Person("ann", 30, ["a", "b"]),
}


async def fill_readback(session: Session) -> dict[str, Any]:
    cache = await step(f"get_cache({READBACK!r})", session.get_cache(READBACK))
    await step("truncate readback cache", cache.truncate())
    for k, v in READBACK_VALUES.items():
        await step(f"readback put {k}", cache.put(k, v))
    for k, v in READBACK_VALUES.items():
        expect_eq(await cache.get(k), v, f"readback get {k}")
    expect_eq(await cache.size(), len(READBACK_VALUES), "readback size")
    return {
        "cache": READBACK,
        "scope": SCOPE,
        "entries": [
            {"key": k, "key_hex": SERIALIZER.serialize(k).hex(), "value_hex": SERIALIZER.serialize(v).hex()}
            for k, v in READBACK_VALUES.items()
        ],
    }


async def check_destroy(session: Session) -> None:
    name = CACHE + "-destroy"
    cache = await step(f"get_cache({name!r})", session.get_cache(name))
    await step("put before destroy", cache.put("k", "v"))
    await step("destroy()", cache.destroy())
    check(cache.destroyed, "cache.destroyed is False after destroy()")
    again = await step("get_cache after destroy", session.get_cache(name))
    check(again is not cache, "get_cache after destroy returned the destroyed cache")
    expect_eq(await step("size() of the re-created cache", again.size()), 0, "a destroyed cache comes back empty")
    await again.destroy()


async def expect_status(what: str, call: Awaitable[Any], codes: tuple[grpc.StatusCode, ...],
                        mention: Optional[str] = None) -> None:
    try:
        result = await asyncio.wait_for(call, STEP_TIMEOUT)
    except asyncio.TimeoutError:
        raise CheckFailed(f"{what}: no answer within {STEP_TIMEOUT:.0f}s (must fail fast)") from None
    except grpc.aio.AioRpcError as e:
        if e.code() not in codes:
            raise CheckFailed(f"{what}: got {e.code().name} ({e.details()!r}), want {'/'.join(c.name for c in codes)}")
        if mention and mention.lower() not in (e.details() or "").lower():
            raise CheckFailed(f"{what}: message {e.details()!r} does not mention {mention!r}")
        log(f"ok   {what}: {e.code().name}: {e.details()}")
        return
    raise CheckFailed(f"{what}: succeeded with {result!r}, want {'/'.join(c.name for c in codes)}")


def raw_channel(address: str) -> grpc.aio.Channel:
    ca = os.environ.get("COHERENCE_TLS_CERTS_PATH")
    if not ca:
        return grpc.aio.insecure_channel(address)

    def read(var: str) -> Optional[bytes]:
        path = os.environ.get(var)
        if not path:
            return None
        with open(path, "rb") as f:
            return f.read()

    creds = grpc.ssl_channel_credentials(read("COHERENCE_TLS_CERTS_PATH"), read("COHERENCE_TLS_CLIENT_KEY"),
                                         read("COHERENCE_TLS_CLIENT_CERT"))
    return grpc.aio.secure_channel(address, creds)


async def check_bad_input(opts: Options) -> None:
    from coherence import messages_pb2 as m
    from coherence.proxy_service_v1_pb2_grpc import ProxyServiceStub
    from coherence.services_pb2_grpc import NamedCacheServiceStub
    from coherence.util import RequestFactoryV1

    key = SERIALIZER.serialize("k")
    value = SERIALIZER.serialize("v")
    invalid = (grpc.StatusCode.INVALID_ARGUMENT,)
    async with raw_channel(opts.address) as channel:
        stub = NamedCacheServiceStub(channel)
        await expect_status("unknown format", stub.put(m.PutRequest(scope=SCOPE, cache=CACHE, format="pof", key=key,
                                                                    value=value)), invalid, "pof")
        await expect_status("malformed key (no 0x15 marker)",
                            stub.get(m.GetRequest(scope=SCOPE, cache=CACHE, format="json", key=b"\x00garbage")),
                            invalid)
        await expect_status("malformed key (bad JSON)",
                            stub.get(m.GetRequest(scope=SCOPE, cache=CACHE, format="json", key=b"\x15{not json")),
                            invalid)
        await expect_status("empty key", stub.get(m.GetRequest(scope=SCOPE, cache=CACHE, format="json", key=b"")),
                            invalid)
        await expect_status("missing cache name", stub.get(m.GetRequest(scope=SCOPE, cache="", format="json", key=key)),
                            invalid, "cache")
        await expect_status("missing cache name (size)", stub.size(m.SizeRequest(scope=SCOPE, cache="")), invalid,
                            "cache")
        # A processor that needs Java on the server (a script) is refused naming the call.
        script = b'\x15{"@class": "processor.ScriptProcessor", "name": "s.js", "language": "js", "args": []}'
        await expect_status("unsupported processor names the call",
                            stub.invoke(m.InvokeRequest(scope=SCOPE, cache=CACHE, format="json", key=key,
                                                        processor=script)),
                            (grpc.StatusCode.UNIMPLEMENTED,), "invoke")
        await expect_status("unsupported processor names the streaming call",
                            collect(_aiter(stub.invokeAll(m.InvokeAllRequest(scope=SCOPE, cache=CACHE, format="json",
                                                                              processor=script)))),
                            (grpc.StatusCode.UNIMPLEMENTED,), "invokeAll")
        # The v1 protocol is not served: the client's handshake relies on this answer. (Only
        # read: writing to a stream the server already refused can turn the status into a
        # client-side INTERNAL, grpc/grpc#36066, which the client also accepts.)
        proxy_stream = ProxyServiceStub(channel).subChannel()
        try:
            await expect_status("v1 ProxyService", proxy_stream.read(), (grpc.StatusCode.UNIMPLEMENTED,))
        finally:
            proxy_stream.cancel()
        # What the client really sends, for the record: UNIMPLEMENTED or that INTERNAL.
        proxy_stream = ProxyServiceStub(channel).subChannel()

        async def handshake() -> Any:
            await proxy_stream.write(RequestFactoryV1.init_sub_channel())
            return await proxy_stream.read()

        try:
            await expect_status("v1 ProxyService with the client's InitRequest", handshake(),
                                (grpc.StatusCode.UNIMPLEMENTED, grpc.StatusCode.INTERNAL))
        finally:
            proxy_stream.cancel()


async def _aiter(call: Any) -> Any:
    return call


def main() -> int:
    started = time.monotonic()
    try:
        readback = asyncio.run(asyncio.wait_for(run(), TOTAL_TIMEOUT))
    except CheckFailed as e:
        log(f"FAIL {e}")
        return 1
    except asyncio.TimeoutError:
        log(f"FAIL the whole run took more than {TOTAL_TIMEOUT:.0f}s")
        return 2
    except Exception as e:  # noqa: BLE001 - report anything unexpected, with its trace
        traceback.print_exc()
        log(f"FAIL unexpected {type(e).__name__}: {e}")
        return 3
    log("READBACK " + json.dumps(readback, sort_keys=True))
    log(f"OK all checks passed in {time.monotonic() - started:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
