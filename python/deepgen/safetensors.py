"""A small reader of the safetensors files deepgen writes (mirrors src/io/safetensors.cpp).

The format: an 8-byte little-endian header length, a JSON header naming each tensor's dtype,
shape and byte range in the data section that follows, and an optional "__metadata__" object of
string values. deepgen writes F32, F64, I64, I32, U8 and BOOL; nothing else is accepted here.
No safetensors package is needed (none is installed with Debian's python3-torch).
"""
import json
import struct

import torch

_DTYPES = {
    "F32": (torch.float32, 4),
    "F64": (torch.float64, 8),
    "I64": (torch.int64, 8),
    "I32": (torch.int32, 4),
    "U8": (torch.uint8, 1),
    "BOOL": (torch.bool, 1),
}
_METADATA = "__metadata__"
_MAX_HEADER = 100_000_000  # the official reader's limit: a corrupt length must not allocate GBs


class SafetensorsError(ValueError):
    """The file is not a safetensors file deepgen could have written."""


def read(path):
    """(tensors, metadata): {name: CPU tensor} in header order and {key: str} (empty if none)."""
    with open(path, "rb") as f:
        blob = f.read()

    def fail(defect):
        raise SafetensorsError("%s: invalid safetensors file: %s" % (path, defect))

    if len(blob) < 8:
        fail("truncated: %d bytes, fewer than the 8-byte header length" % len(blob))
    (n,) = struct.unpack("<Q", blob[:8])
    if n > len(blob) - 8 or n > _MAX_HEADER:
        fail("header length %d does not fit the file of %d bytes" % (n, len(blob)))
    try:
        header = json.loads(blob[8:8 + n])
    except ValueError:
        fail("header is not valid JSON")
    if not isinstance(header, dict):
        fail("header is not a JSON object")
    metadata = header.pop(_METADATA, {})
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        fail("__metadata__ is not an object of strings")

    data = memoryview(blob)[8 + n:]
    tensors = {}
    for name, entry in header.items():
        if entry.get("dtype") not in _DTYPES:
            fail("tensor '%s': unsupported dtype %r" % (name, entry.get("dtype")))
        dtype, itemsize = _DTYPES[entry["dtype"]]
        shape = entry.get("shape")
        begin, end = entry.get("data_offsets", (None, None))
        if not isinstance(shape, list) or not isinstance(begin, int) or not isinstance(end, int):
            fail("tensor '%s': missing shape or data_offsets" % name)
        count = 1
        for d in shape:
            count *= d
        if not 0 <= begin <= end <= len(data) or end - begin != count * itemsize:
            fail("tensor '%s': data_offsets %s do not hold shape %s of %s"
                 % (name, [begin, end], shape, entry["dtype"]))
        # bytearray: frombuffer needs a writable buffer; clone() so no tensor keeps the blob alive.
        raw = bytearray(data[begin:end])
        flat = torch.frombuffer(raw, dtype=dtype) if raw else torch.empty(0, dtype=dtype)
        tensors[name] = flat.reshape(shape).clone()
    return tensors, dict(metadata)
