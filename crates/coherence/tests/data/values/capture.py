"""Captures the golden bytes in this directory from the real Python client's serializer.

Run with the venv built from scripts/py/coherence.requirements.txt:
    target/py/coherence/bin/python crates/coherence/tests/data/values/capture.py crates/coherence/tests/data/values
Writes NAME.bin (the exact bytes `coherence.serialization.JSONSerializer().serialize` gives),
manifest.json (the Python value, hex and text of each) and floats.txt (bit pattern and
repr of random doubles, to check the float formatting).
"""
import json, sys, os
from decimal import Decimal
from collections import OrderedDict
from coherence.serialization import JSONSerializer, proxy, mappings
s = JSONSerializer()

@proxy("test.Person")
class Person:
    def __init__(self, name, age, tags=None, address=None):
        self.name = name; self.age = age; self.tags = tags or []; self.address = address
    def __eq__(self, o): return isinstance(o, Person) and vars(self) == vars(o)
    def __repr__(self): return f"Person({vars(self)!r})"

@proxy("test.Address")
class Address:
    def __init__(self, city, zip):
        self.city = city; self.zip = zip
    def __eq__(self, o): return isinstance(o, Address) and vars(self) == vars(o)
    def __repr__(self): return f"Address({vars(self)!r})"

@proxy("test.Wallet")
class Wallet:
    def __init__(self, owner, balances):
        self.owner = owner; self.balances = balances
    def __eq__(self, o): return isinstance(o, Wallet) and vars(self) == vars(o)
    def __repr__(self): return f"Wallet({vars(self)!r})"

class Plain:  # no @proxy: jsonpickle py/object
    def __init__(self): self.x = 1

cases = OrderedDict([
  ("str", "hello"),
  ("str_unicode", "h\u00e9llo \u2603 \U0001F600"),
  ("str_escapes", "quote\" back\\ nl\n tab\t ctl\u0001"),
  ("str_empty", ""),
  ("int", 42),
  ("int_neg", -7),
  ("int_zero", 0),
  ("int_i64_max", 2**63-1),
  ("int_i64_min", -(2**63)),
  ("int_big", 2**64),
  ("int_big_neg", -(2**70)),
  ("float", 3.25),
  ("float_third", 1/3),
  ("float_whole", 2.0),
  ("float_exp", 1e300),
  ("float_small", 5e-324),
  ("float_nan", float("nan")),
  ("float_inf", float("inf")),
  ("bool_true", True),
  ("bool_false", False),
  ("none", None),
  ("list", [1, "two", 3.0, None, True]),
  ("list_empty", []),
  ("tuple", (1, 2)),
  ("set", {7}),
  ("dict", {"a": 1, "b": [1, 2], "c": {"d": None}}),
  ("dict_empty", {}),
  ("dict_int_keys", {1: "one", 2: "two"}),
  ("nested", {"users": [{"name": "ann", "roles": ["admin"], "meta": {"age": 30, "score": 9.5}}]}),
  ("decimal", Decimal("12.50")),
  ("class", Person("ann", 30, ["a", "b"])),
  ("class_nested", Person("bob", 41, [], Address("Paris", "75001"))),
  ("class_dict_attr", Wallet("cid", {"eur": 10, "usd": 5})),
  ("class_big_int", Person("big", 2**65)),
  ("ordered_dict", OrderedDict([("z", 1), ("a", 2)])),
])
out = sys.argv[1]
manifest = []
for name, v in cases.items():
    b = s.serialize(v)
    open(os.path.join(out, name + ".bin"), "wb").write(b)
    back = s.deserialize(b)
    if isinstance(v, float) and v != v:
        ok = back != back
    else:
        ok = back == v
    manifest.append({"name": name, "python": repr(v), "bytes_hex": b.hex(), "text": b[1:].decode(), "roundtrip_equal": bool(ok), "back": repr(back)})
    print(f"{name:18} {b!r}  roundtrip={'ok' if ok else 'DIFF -> ' + repr(back)}")
try:
    b = s.serialize(Plain()); print("plain_class", b)
except Exception as e:
    print("plain_class error", e)
json.dump(manifest, open(os.path.join(out, "manifest.json"), "w"), indent=1, ensure_ascii=False)
# deserialize quirks
for raw in [b"", b"\x15null", b"\x15true", b"\x15 42 ", b'\x15{"@class":"unknown.Type","x":1}', b'\x15{"@class":"java.util.HashMap","entries":[{"key":"k","value":1}]}', b'\x15{"entries":[{"key":"k","value":1}]}']:
    try: print("deser", raw, "->", repr(s.deserialize(raw)))
    except Exception as e: print("deser", raw, "-> ERROR", type(e).__name__, e)
try: print(s.deserialize(b"{}"))
except Exception as e: print("no magic ->", type(e).__name__, e)

import random, struct
rnd = random.Random(20261122)
with open(os.path.join(out, "floats.txt"), "w") as f:
    vals = [0.1, 0.2, 0.3, 1/3, 2/3, 1e-4, 1e-5, 9.999e-5, 1e15, 1e16, 9007199254740993.0, 123456789.125, 1e22, 1e23, 2.2250738585072014e-308, 1.7976931348623157e308]
    for _ in range(500):
        bits = rnd.getrandbits(64)
        v = struct.unpack("<d", struct.pack("<Q", bits))[0]
        if v == v and v not in (float("inf"), float("-inf")):
            vals.append(v)
    for _ in range(500):
        vals.append(round(rnd.uniform(-1e6, 1e6), rnd.randint(0, 8)) * 10.0 ** rnd.randint(-30, 30))
    for v in vals:
        bits = struct.unpack("<Q", struct.pack("<d", v))[0]
        f.write(f"{bits:016x} {s.serialize(v)[1:].decode()}\n")
