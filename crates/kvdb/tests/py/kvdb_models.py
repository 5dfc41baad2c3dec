"""Models the kvdb interop tests store: the Python side of crates/kvdb/tests/kvdb_e2e.rs."""
import dataclasses
import datetime

from pydantic import BaseModel


class User(BaseModel):
    """Mirrored in Rust as `User`, registered as `kvdb_models.User`."""

    name: str
    visits: int
    roles: list[str]
    last_seen: datetime.datetime


@dataclasses.dataclass
class Point:
    """Mirrored in Rust as `Point`, registered as `kvdb_models.Point`."""

    x: int
    y: int


def samples():
    """Every value the Python side writes, by name. The Rust test mirrors each."""
    when = datetime.datetime(2026, 11, 22, 23, 50, 33, 123456)
    return {
        "dict": {"user": "ann", "items": [7, 9], "ok": True, "ratio": 0.5, "none": None},
        "model": User(name="ann", visits=3, roles=["admin", "user"], last_seen=when),
        "datetime": {"at": when},
        "bytes": {"blob": b"\x00\xc1\xffkvdb"},
        "set": {"tags": {"a"}},
        "dataclass": Point(x=1, y=-2),
        "str": "plain text",
        "int": 42,
        "raw_bytes": b"\x00\x01raw",
    }
