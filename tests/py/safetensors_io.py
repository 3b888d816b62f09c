"""Safetensors read and written directly for the PyTorch interop tests (the format is 8
bytes of header length, a JSON header, raw data): Debian has no python3-safetensors."""
import json, struct

import numpy as np
import torch


def load_file(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    head = json.loads(b[8:8 + n])
    meta = head.pop("__metadata__", {})
    out = {}
    for k, v in head.items():
        assert v["dtype"] == "F32", v["dtype"]
        a, e = v["data_offsets"]
        out[k] = torch.from_numpy(np.frombuffer(b[8 + n + a:8 + n + e], dtype="<f4").reshape(v["shape"]).copy())
    return out, meta


def save_file(tensors, path, meta):
    head, blobs, off = {"__metadata__": meta}, [], 0
    for k, t in tensors.items():
        raw = t.detach().contiguous().numpy().astype("<f4").tobytes()
        head[k] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(head).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
