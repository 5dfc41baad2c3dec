"""A minimal in-memory Coherence v0 server in Python, to check coherence_e2e.py itself.

Not part of satchel: it is the smallest server that behaves as docs/coherence-protocol.md
says satchel must, written against the client's own generated stubs. Use it to run the
end-to-end script without satchel (or to compare behaviours):

    target/py/coherence/bin/python crates/coherence/tests/py/reference_server.py 127.0.0.1:0 &
    # prints "LISTENING 127.0.0.1:PORT"
    COHERENCE_SERVER_ADDRESS=127.0.0.1:PORT target/py/coherence/bin/python crates/coherence/tests/py/coherence_e2e.py

Page size: SATCHEL_REF_PAGE_SIZE entries (default 100). TLS: set SATCHEL_REF_TLS_CERT and
SATCHEL_REF_TLS_KEY (PEM files) to serve TLS instead of plaintext.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from typing import Any, AsyncIterator, Optional

import grpc
from coherence import messages_pb2 as m
from coherence import services_pb2_grpc as svc
from google.protobuf import empty_pb2, wrappers_pb2

PAGE_SIZE = int(os.environ.get("SATCHEL_REF_PAGE_SIZE", "100"))
MAGIC = b"\x15"

# (scope, cache) -> {key bytes: (value bytes, expiry in monotonic ms or None)}
CACHES: dict[tuple[str, str], dict[bytes, tuple[bytes, Optional[float]]]] = {}


def now_ms() -> float:
    return time.monotonic() * 1000


async def bad(context: grpc.aio.ServicerContext, code: grpc.StatusCode, msg: str) -> None:
    await context.abort(code, msg)


async def cache_for(request: Any, context: grpc.aio.ServicerContext, with_format: bool = True
                    ) -> dict[bytes, tuple[bytes, Optional[float]]]:
    if not request.cache:
        await bad(context, grpc.StatusCode.INVALID_ARGUMENT, "invalid request, cache name cannot be null or empty")
    if with_format and request.format != "json":
        await bad(context, grpc.StatusCode.INVALID_ARGUMENT,
                  f"unsupported serialization format {request.format!r}: satchel supports \"json\" only")
    c = CACHES.setdefault((request.scope, request.cache), {})
    t = now_ms()
    for k in [k for k, (_, exp) in c.items() if exp is not None and exp <= t]:
        del c[k]
    return c


async def check_bytes(context: grpc.aio.ServicerContext, what: str, data: bytes) -> bytes:
    if not data.startswith(MAGIC):
        await bad(context, grpc.StatusCode.INVALID_ARGUMENT, f"malformed {what}: missing the 0x15 marker of format json")
    try:
        json.loads(data[1:].decode())
    except ValueError as e:
        await bad(context, grpc.StatusCode.INVALID_ARGUMENT, f"malformed {what}: invalid JSON: {e}")
    return data


def expiry(ttl: int) -> Optional[float]:
    return now_ms() + ttl if ttl > 0 else None


class Service(svc.NamedCacheServiceServicer):
    async def get(self, request: m.GetRequest, context: Any) -> m.OptionalValue:
        c = await cache_for(request, context)
        key = await check_bytes(context, "key", request.key)
        if key in c:
            return m.OptionalValue(present=True, value=c[key][0])
        return m.OptionalValue(present=False)

    async def put(self, request: m.PutRequest, context: Any) -> wrappers_pb2.BytesValue:
        c = await cache_for(request, context)
        key = await check_bytes(context, "key", request.key)
        value = await check_bytes(context, "value", request.value)
        old = c.get(key)
        c[key] = (value, expiry(request.ttl))
        return wrappers_pb2.BytesValue(value=old[0] if old else b"")

    async def putIfAbsent(self, request: m.PutIfAbsentRequest, context: Any) -> wrappers_pb2.BytesValue:
        c = await cache_for(request, context)
        key = await check_bytes(context, "key", request.key)
        value = await check_bytes(context, "value", request.value)
        if key in c:
            return wrappers_pb2.BytesValue(value=c[key][0])
        c[key] = (value, expiry(request.ttl))
        return wrappers_pb2.BytesValue(value=b"")

    async def putAll(self, request: m.PutAllRequest, context: Any) -> empty_pb2.Empty:
        c = await cache_for(request, context)
        for e in request.entry:
            c[await check_bytes(context, "key", e.key)] = (await check_bytes(context, "value", e.value),
                                                            expiry(request.ttl))
        return empty_pb2.Empty()

    async def getAll(self, request: m.GetAllRequest, context: Any) -> AsyncIterator[m.Entry]:
        c = await cache_for(request, context)
        for k in request.key:
            if k in c:
                yield m.Entry(key=k, value=c[k][0])

    async def remove(self, request: m.RemoveRequest, context: Any) -> wrappers_pb2.BytesValue:
        c = await cache_for(request, context)
        old = c.pop(await check_bytes(context, "key", request.key), None)
        return wrappers_pb2.BytesValue(value=old[0] if old else b"")

    async def removeMapping(self, request: m.RemoveMappingRequest, context: Any) -> wrappers_pb2.BoolValue:
        c = await cache_for(request, context)
        key = await check_bytes(context, "key", request.key)
        if key in c and c[key][0] == request.value:
            del c[key]
            return wrappers_pb2.BoolValue(value=True)
        return wrappers_pb2.BoolValue(value=False)

    async def replace(self, request: m.ReplaceRequest, context: Any) -> wrappers_pb2.BytesValue:
        c = await cache_for(request, context)
        key = await check_bytes(context, "key", request.key)
        if key not in c:
            return wrappers_pb2.BytesValue(value=b"")
        old = c[key]
        c[key] = (await check_bytes(context, "value", request.value), old[1])
        return wrappers_pb2.BytesValue(value=old[0])

    async def replaceMapping(self, request: m.ReplaceMappingRequest, context: Any) -> wrappers_pb2.BoolValue:
        c = await cache_for(request, context)
        key = await check_bytes(context, "key", request.key)
        if key in c and c[key][0] == request.previousValue:
            c[key] = (await check_bytes(context, "value", request.newValue), c[key][1])
            return wrappers_pb2.BoolValue(value=True)
        return wrappers_pb2.BoolValue(value=False)

    async def containsKey(self, request: m.ContainsKeyRequest, context: Any) -> wrappers_pb2.BoolValue:
        c = await cache_for(request, context)
        return wrappers_pb2.BoolValue(value=await check_bytes(context, "key", request.key) in c)

    async def containsValue(self, request: m.ContainsValueRequest, context: Any) -> wrappers_pb2.BoolValue:
        c = await cache_for(request, context)
        return wrappers_pb2.BoolValue(value=any(v == request.value for v, _ in c.values()))

    async def containsEntry(self, request: m.ContainsEntryRequest, context: Any) -> wrappers_pb2.BoolValue:
        c = await cache_for(request, context)
        return wrappers_pb2.BoolValue(value=request.key in c and c[request.key][0] == request.value)

    async def size(self, request: m.SizeRequest, context: Any) -> wrappers_pb2.Int32Value:
        return wrappers_pb2.Int32Value(value=len(await cache_for(request, context, with_format=False)))

    async def isEmpty(self, request: m.IsEmptyRequest, context: Any) -> wrappers_pb2.BoolValue:
        return wrappers_pb2.BoolValue(value=not await cache_for(request, context, with_format=False))

    async def isReady(self, request: m.IsReadyRequest, context: Any) -> wrappers_pb2.BoolValue:
        await cache_for(request, context, with_format=False)
        return wrappers_pb2.BoolValue(value=True)

    async def clear(self, request: m.ClearRequest, context: Any) -> empty_pb2.Empty:
        (await cache_for(request, context, with_format=False)).clear()
        return empty_pb2.Empty()

    async def truncate(self, request: m.TruncateRequest, context: Any) -> empty_pb2.Empty:
        (await cache_for(request, context, with_format=False)).clear()
        return empty_pb2.Empty()

    async def destroy(self, request: m.DestroyRequest, context: Any) -> empty_pb2.Empty:
        await cache_for(request, context, with_format=False)
        CACHES.pop((request.scope, request.cache), None)
        return empty_pb2.Empty()

    async def keySet(self, request: m.KeySetRequest, context: Any) -> AsyncIterator[wrappers_pb2.BytesValue]:
        c = await cache_for(request, context)
        if request.filter:
            await bad(context, grpc.StatusCode.UNIMPLEMENTED, "keySet with a filter is not supported")
        for k in list(c):
            yield wrappers_pb2.BytesValue(value=k)

    async def values(self, request: m.ValuesRequest, context: Any) -> AsyncIterator[wrappers_pb2.BytesValue]:
        c = await cache_for(request, context)
        if request.filter or request.comparator:
            await bad(context, grpc.StatusCode.UNIMPLEMENTED, "values with a filter is not supported")
        for v, _ in list(c.values()):
            yield wrappers_pb2.BytesValue(value=v)

    async def entrySet(self, request: m.EntrySetRequest, context: Any) -> AsyncIterator[m.Entry]:
        c = await cache_for(request, context)
        if request.filter or request.comparator:
            await bad(context, grpc.StatusCode.UNIMPLEMENTED, "entrySet with a filter is not supported")
        for k, (v, _) in list(c.items()):
            yield m.Entry(key=k, value=v)

    @staticmethod
    async def _page(request: m.PageRequest, context: Any) -> tuple[bytes, list[tuple[bytes, bytes]]]:
        # Cookie: the last key of the previous page; pages walk the keys in byte order.
        c = await cache_for(request, context)
        keys = sorted(c)
        after = request.cookie
        rest = [k for k in keys if k > after] if after else keys
        page = rest[:PAGE_SIZE]
        cookie = page[-1] if len(rest) > PAGE_SIZE else b""
        return cookie, [(k, c[k][0]) for k in page]

    async def nextKeySetPage(self, request: m.PageRequest, context: Any) -> AsyncIterator[wrappers_pb2.BytesValue]:
        cookie, page = await self._page(request, context)
        yield wrappers_pb2.BytesValue(value=cookie)
        for k, _ in page:
            yield wrappers_pb2.BytesValue(value=k)

    async def nextEntrySetPage(self, request: m.PageRequest, context: Any) -> AsyncIterator[m.EntryResult]:
        cookie, page = await self._page(request, context)
        yield m.EntryResult(cookie=cookie)
        for k, v in page:
            yield m.EntryResult(key=k, value=v)

    async def events(self, request_iterator: Any, context: Any) -> AsyncIterator[m.MapListenerResponse]:
        # Acknowledge every request (INIT included) by uid; send no events.
        async for req in request_iterator:
            if req.subscribe or req.type == m.MapListenerRequest.RequestType.INIT:
                yield m.MapListenerResponse(subscribed=m.MapListenerSubscribedResponse(uid=req.uid))
            else:
                yield m.MapListenerResponse(unsubscribed=m.MapListenerUnsubscribedResponse(uid=req.uid))

    async def invoke(self, request: Any, context: Any) -> Any:
        await bad(context, grpc.StatusCode.UNIMPLEMENTED, "coherence invoke (entry processors) is not supported")

    async def invokeAll(self, request: Any, context: Any) -> Any:
        await bad(context, grpc.StatusCode.UNIMPLEMENTED, "coherence invokeAll (entry processors) is not supported")


async def serve(address: str) -> None:
    server = grpc.aio.server()
    svc.add_NamedCacheServiceServicer_to_server(Service(), server)
    cert, key = os.environ.get("SATCHEL_REF_TLS_CERT"), os.environ.get("SATCHEL_REF_TLS_KEY")
    if cert and key:
        with open(cert, "rb") as c, open(key, "rb") as k:
            creds = grpc.ssl_server_credentials([(k.read(), c.read())])
        port = server.add_secure_port(address, creds)
    else:
        port = server.add_insecure_port(address)
    await server.start()
    print(f"LISTENING {address.rsplit(':', 1)[0]}:{port}", flush=True)
    await server.wait_for_termination()


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:0"))
