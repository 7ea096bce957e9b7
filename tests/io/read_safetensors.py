#!/usr/bin/env python3
"""Reads a .safetensors file with the Python standard library only (no numpy, no torch).

Prints a JSON summary: {"metadata": {...}, "tensors": {name: {"dtype", "shape", "sum",
"first"}}}. "first" is null for a tensor with no elements; BOOL sums count the true values.
Proves that deepgen checkpoints are readable by any safetensors consumer.
"""
import array
import json
import struct
import sys

# safetensors dtype -> array typecode of the same width (checked below, since C widths vary).
TYPECODES = {"F32": "f", "F64": "d", "I64": "q", "I32": "i", "U8": "B", "BOOL": "B"}
ITEMSIZES = {"F32": 4, "F64": 8, "I64": 8, "I32": 4, "U8": 1, "BOOL": 1}


def typecode(dtype):
    code = TYPECODES[dtype]
    if array.array(code).itemsize != ITEMSIZES[dtype]:
        code = next(c for c in "hilq" if array.array(c).itemsize == ITEMSIZES[dtype])
    return code


def read(path):
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        raise ValueError(f"{path}: shorter than the 8-byte header length")
    (n,) = struct.unpack("<Q", blob[:8])
    if 8 + n > len(blob):
        raise ValueError(f"{path}: header length {n} exceeds the file")
    header = json.loads(blob[8 : 8 + n].decode("utf-8"))
    data = blob[8 + n :]
    metadata = header.pop("__metadata__", {})
    tensors = {}
    for name, entry in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"]):
        begin, end = entry["data_offsets"]
        values = array.array(typecode(entry["dtype"]))
        values.frombytes(data[begin:end])
        if sys.byteorder == "big":
            values.byteswap()
        count = 1
        for d in entry["shape"]:
            count *= d
        if len(values) != count:
            raise ValueError(f"{path}: tensor {name}: shape does not match its bytes")
        items = [bool(v) for v in values] if entry["dtype"] == "BOOL" else list(values)
        tensors[name] = {
            "dtype": entry["dtype"],
            "shape": entry["shape"],
            "sum": sum(int(v) for v in items) if entry["dtype"] == "BOOL" else sum(items),
            "first": items[0] if items else None,
        }
    return {"metadata": metadata, "tensors": tensors}


def main():
    if len(sys.argv) != 2:
        print("usage: read_safetensors.py FILE.safetensors", file=sys.stderr)
        return 2
    print(json.dumps(read(sys.argv[1]), allow_nan=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
