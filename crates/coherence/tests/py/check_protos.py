"""Checks crates/coherence/proto/coherence/** against the Coherence Python client's own descriptors.

Compiles our .proto files with grpc_tools.protoc (only as a check: the Rust build uses protox)
and compares every file, message, field (name, number, type, label, oneof) and service method
with the FileDescriptorProto embedded in coherence-client's generated *_pb2.py modules.
Run with the venv built from scripts/py/coherence.requirements.txt:

    target/py/coherence/bin/python crates/coherence/tests/py/check_protos.py

Exit status 0 when every file is identical on the wire, 1 otherwise.
"""

import importlib
import os
import subprocess
import sys
import tempfile

import coherence
import grpc_tools
from google.protobuf import descriptor_pb2 as d

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "proto"))
FILES = [
    "coherence/messages.proto",
    "coherence/services.proto",
    "coherence/v1/common_messages_v1.proto",
    "coherence/v1/cache_service_messages_v1.proto",
    "coherence/v1/proxy_service_messages_v1.proto",
    "coherence/v1/proxy_service_v1.proto",
]
MODULES = ["messages_pb2", "services_pb2", "common_messages_v1_pb2", "cache_service_messages_v1_pb2",
           "proxy_service_messages_v1_pb2", "proxy_service_v1_pb2"]


def norm(f: d.FileDescriptorProto) -> bytes:
    f = d.FileDescriptorProto.FromString(f.SerializeToString())
    f.name = f.name.split("/")[-1]
    del f.dependency[:]
    f.ClearField("options")
    f.ClearField("source_code_info")

    def clean(m: d.DescriptorProto) -> None:
        for fl in m.field:
            fl.ClearField("json_name")
        for n in m.nested_type:
            clean(n)

    for m in f.message_type:
        clean(m)
    for s in f.service:
        for md in s.method:
            md.ClearField("options")
    return f.SerializeToString(deterministic=True)


def main() -> int:
    # The client's generated modules import each other by bare name.
    sys.path.insert(0, os.path.dirname(coherence.__file__))
    include = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "all.pb")
        subprocess.run([sys.executable, "-m", "grpc_tools.protoc", "-I", ROOT, "-I", include,
                        f"--descriptor_set_out={out}", *FILES], check=True)
        fds = d.FileDescriptorSet()
        with open(out, "rb") as fh:
            fds.ParseFromString(fh.read())
    ours = {f.package + "/" + f.name.split("/")[-1]: f for f in fds.file}
    bad = 0
    for mod in MODULES:
        orig = d.FileDescriptorProto()
        importlib.import_module(mod).DESCRIPTOR.CopyToProto(orig)
        key = orig.package + "/" + orig.name
        same = key in ours and norm(orig) == norm(ours[key])
        bad += not same
        print(f"{key:52} {'identical' if same else 'DIFFERENT'}")
    print("OK" if bad == 0 else f"FAIL {bad} file(s) differ")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
