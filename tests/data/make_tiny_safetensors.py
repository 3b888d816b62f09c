#!/usr/bin/env python3
"""Writes tests/data/tiny.safetensors with nothing but json and struct, following the
safetensors format description (https://huggingface.co/docs/safetensors): an 8-byte
little-endian header length, a JSON header padded with spaces to a multiple of 8, then
the little-endian data. It is an independent writer for tests/test_io.c, which checks
that dgm's reader gets exactly these values:

  layer.weight  F32 [2, 3]  0.25 * i - 0.5 for i = 0..5
  layer.bias    F32 [3]     1.0, -2.0, 3.5
  scalar        F32 []      42.0
  empty         F32 [0, 4]  (no data)
  __metadata__  {"format": "pt", "note": "tiny fixture"}

The data section is laid out in a different order (bias, scalar, weight) from the header's
key order, so that the reader must tile offsets by position, not by header order.

Run from the repository root:  /usr/bin/python3 tests/data/make_tiny_safetensors.py
"""
import json
import os
import struct

weight = [0.25 * i - 0.5 for i in range(6)]
bias = [1.0, -2.0, 3.5]
scalar = [42.0]

data_order = [("layer.bias", bias), ("scalar", scalar), ("layer.weight", weight)]
shapes = {"layer.weight": [2, 3], "layer.bias": [3], "scalar": [], "empty": [0, 4]}

offsets = {}
blob = b""
for name, values in data_order:
    begin = len(blob)
    blob += struct.pack("<%df" % len(values), *values)
    offsets[name] = [begin, len(blob)]
offsets["empty"] = [len(blob), len(blob)]

header = {"__metadata__": {"format": "pt", "note": "tiny fixture"}}
for name in ["layer.weight", "layer.bias", "scalar", "empty"]:
    header[name] = {"dtype": "F32", "shape": shapes[name], "data_offsets": offsets[name]}
text = json.dumps(header, separators=(",", ":")).encode()
text += b" " * ((8 - len(text) % 8) % 8)

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tiny.safetensors")
with open(out, "wb") as f:
    f.write(struct.pack("<Q", len(text)))
    f.write(text)
    f.write(blob)
print("wrote", out, 8 + len(text) + len(blob), "bytes")
