"""Drives kvdb-py 0.0.2 against a Redis for the Rust interop tests.

  kvdb_io.py URL write PREFIX SERIALIZER COMPRESSION   writes every sample under PREFIX<name>
  kvdb_io.py URL check PREFIX SERIALIZER COMPRESSION   reads PREFIX<name> (written by Rust), checks
                                                       each equals its sample, prints `ok <name>`
  kvdb_io.py URL dump PREFIX                           prints `<key> <hex bytes>` for every key

COMPRESSION `none` means uncompressed. msgpack cannot carry datetimes, sets or dataclasses
in kvdb-py (its packb hook only knows pydantic models), so those samples are skipped there.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import redis  # noqa: E402
from kvdb import KVDBClient  # noqa: E402

import kvdb_models  # noqa: E402

MSGPACK_SKIP = {"datetime", "set", "dataclass"}


def session(url, serializer, compression):
    kwargs = {"serializer": serializer}
    if compression != "none":
        kwargs["compression"] = compression
    name = f"satchel-{serializer}-{compression}"
    return KVDBClient.get_session(name=name, url=url, **kwargs)


def samples(serializer):
    out = kvdb_models.samples()
    if serializer == "msgpack":
        for name in MSGPACK_SKIP:
            out.pop(name)
    return out


def main():
    url, command, prefix = sys.argv[1:4]
    if command == "dump":
        raw = redis.Redis.from_url(url)
        for key in sorted(raw.scan_iter(match=prefix.replace("*", "\\*") + "*")):
            print(key.decode(), raw.get(key).hex())
        return
    serializer, compression = sys.argv[4:6]
    s = session(url, serializer, compression)
    if command == "write":
        for name, value in samples(serializer).items():
            if serializer == "msgpack" and name == "model":
                # kvdb-py 0.0.2's msgpack hook calls `jsonlib.dumps(...).encode()`, which fails
                # with its default orjson (bytes have no .encode()), and a session ignores a
                # jsonlib option: write what its Encoder would, with the stdlib json.
                from kvdb.io.serializers import MsgPackSerializer

                comp = {} if compression == "none" else {"compression": compression}
                ser = MsgPackSerializer(jsonlib="json", **comp)
                redis.Redis.from_url(url).set(prefix + name, b"_kvdbenc_" + ser.encode(value))
                continue
            s.set(prefix + name, value)
        print(json.dumps(sorted(samples(serializer))))
    elif command == "check":
        failed = False
        for name, value in samples(serializer).items():
            got = s.get(prefix + name)
            if isinstance(value, (str, int)) and not isinstance(value, bool):
                value = str(value)  # kvdb-py stores these raw and reads them back as str
            elif isinstance(value, bytes) and name == "raw_bytes":
                value = value.decode("utf-8", "replace")
            if got == value:
                print("ok", name)
            else:
                failed = True
                print("MISMATCH", name, repr(got), "!=", repr(value))
        sys.exit(1 if failed else 0)
    else:
        sys.exit(f"unknown command {command}")


if __name__ == "__main__":
    main()
