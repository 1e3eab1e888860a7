#!/usr/bin/env python3
"""Writes the files of a captured kevo suite with the standard library only: .safetensors files
(the format of https://github.com/huggingface/safetensors: an 8-byte little-endian header size, a
JSON header, then the raw tensor bytes) and the suite YAML that `kevo eval --suite` loads.

scripts/capture_kv.py uses it; tests/evaluator_suite_stats_test.cc runs it and reads its files back
with kevo's own reader (evaluator/tensor_files.cc). As a command it prints a file's header:
    python3 scripts/kevo_tensors.py show FILE.safetensors
"""
import json
import math
import os
import struct
import sys

# Element sizes of the dtypes kevo reads (evaluator/tensor_files.h).
DTYPE_SIZES = {"BF16": 2, "F16": 2, "F32": 4, "F64": 8}


def _nbytes(data):
    return memoryview(data).nbytes


def write_safetensors(path, tensors, metadata=None):
    """Writes `tensors`, a list of (name, dtype, shape, data), to `path`.

    dtype is one of DTYPE_SIZES; data is any bytes-like object (bytes, bytearray, memoryview, a
    numpy array) holding prod(shape) elements, little-endian, C order. metadata: str -> str. The
    file appears whole or not at all (written beside it, then renamed)."""
    if sys.byteorder != "little":
        raise ValueError("safetensors data is little-endian; this host is not")
    header = {}
    offset = 0
    for name, dtype, shape, data in tensors:
        if dtype not in DTYPE_SIZES:
            raise ValueError("tensor %r: dtype %r is not one of %s" % (name, dtype, sorted(DTYPE_SIZES)))
        if name in header or name == "__metadata__":
            raise ValueError("tensor name %r is used twice or reserved" % name)
        want = math.prod(shape) * DTYPE_SIZES[dtype]
        if _nbytes(data) != want:
            raise ValueError("tensor %r: %d bytes given, shape %s of %s needs %d"
                             % (name, _nbytes(data), list(shape), dtype, want))
        header[name] = {"dtype": dtype, "shape": [int(d) for d in shape],
                        "data_offsets": [offset, offset + want]}
        offset += want
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)  # the format pads the header to 8 bytes with spaces
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for _, _, _, data in tensors:
            f.write(memoryview(data).cast("B"))
    os.replace(tmp, path)


def read_safetensors_header(path):
    """The JSON header of a .safetensors file (a dict) and the offset where tensor data starts."""
    with open(path, "rb") as f:
        raw = f.read(8)
        if len(raw) != 8:
            raise ValueError("%s: too short for safetensors" % path)
        (n,) = struct.unpack("<Q", raw)
        if n > os.path.getsize(path) - 8:
            raise ValueError("%s: header size past the end of the file" % path)
        return json.loads(f.read(n)), 8 + n


def bf16_bytes(values):
    """Python floats -> bf16 bytes, rounded to nearest even (what torch does), NaN kept quiet."""
    out = bytearray()
    for x in values:
        (u,) = struct.unpack("<I", struct.pack("<f", x))
        if (u & 0x7FFFFFFF) > 0x7F800000:
            h = 0x7FC0
        else:
            h = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16) & 0xFFFF
        out += struct.pack("<H", h)
    return bytes(out)


def f16_bytes(values):
    return struct.pack("<%de" % len(values), *values)


def f32_bytes(values):
    return struct.pack("<%df" % len(values), *values)


def write_suite_yaml(path, name, entries, comment_lines=(), seed=1):
    """A suite of captured workloads. entries: dicts with `name` and `file` (a .safetensors path,
    relative to the YAML's folder) and optional `q`, `k`, `v` tensor names (default q, k, v)."""
    lines = ["# " + c if c else "#" for c in comment_lines]
    lines += ["name: " + json.dumps(name), "seed: %d" % seed, "tensors:"]
    for e in entries:
        fields = ", ".join("%s: %s" % (key, json.dumps(str(e[key])))
                           for key in ("name", "file", "q", "k", "v") if key in e)
        lines.append("  - {" + fields + "}")
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(tmp, path)


def _show(path):
    header, start = read_safetensors_header(path)
    meta = header.pop("__metadata__", {})
    print("%s: %d tensors, data from byte %d" % (path, len(header), start))
    for name, t in header.items():
        print("  %-12s %-5s %s" % (name, t["dtype"], t["shape"]))
    for k in sorted(meta):
        print("  meta %s = %s" % (k, meta[k]))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "show":
        _show(sys.argv[2])
    else:
        print("usage: kevo_tensors.py show FILE.safetensors", file=sys.stderr)
        sys.exit(2)
