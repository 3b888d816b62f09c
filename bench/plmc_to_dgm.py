#!/usr/bin/env python3
"""Converts plmc's binary parameter file (plmc -o FILE; the layout of plmc src/plm.c,
OutputParametersFull, float32 build) into a dgm Potts model file, so that plmc's fitted
parameters can be scored by dgm itself: dgm mutations (E(mutant) - E(wt)), dgm couplings,
and bench_potts --model (dgm's objective at plmc's parameters).

usage: plmc_to_dgm.py PLMC_PARAMS DGM_MODEL OUT
DGM_MODEL is a dgm Potts model of the same alignment and options (its focus, numbering and
options are copied; its h and J are replaced). plmc's alphabet is "-ACDEFGHIKLMNPQRSTVWY"
(20 letters without the gap under -g); dgm's is "ACDEFGHIKLMNPQRSTVWY-". Python stdlib only.
"""
import json
import struct
import sys


def read_plmc(path):
    b = open(path, "rb").read()
    o = 0
    L, q, nseq, nskip, _ = struct.unpack_from("<5i", b, o); o += 20
    o += 5 * 4  # theta, lh, le, lg, neff
    alphabet = b[o:o + q].decode(); o += q
    o += 4 * (nseq + nskip)  # neighbour counts
    o += L  # focus letters
    o += 4 * L  # offsets
    o += 4 * L * q  # fi
    h = struct.unpack_from("<%df" % (L * q), b, o); o += 4 * L * q
    P = L * (L - 1) // 2
    o += 4 * P * q * q  # fij
    J = struct.unpack_from("<%df" % (P * q * q), b, o); o += 4 * P * q * q
    if o != len(b):
        sys.exit("plmc_to_dgm: %s: %d bytes left over: not plmc's layout" % (path, len(b) - o))
    return L, q, alphabet, h, J


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    L, q, alphabet, h, J = read_plmc(sys.argv[1])
    raw = open(sys.argv[2], "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    meta = header["__metadata__"]
    cfg = json.loads(meta["dgm.config"])
    if cfg["model"] != "potts" or cfg["L"] != L:
        sys.exit("plmc_to_dgm: %s is not a Potts model of %d columns" % (sys.argv[2], L))
    ours = "ACDEFGHIKLMNPQRSTVWY-"
    idx = [ours.index(c) for c in alphabet]
    Q = 21
    H = [0.0] * (L * Q)
    for i in range(L):
        for a in range(q):
            H[i * Q + idx[a]] = h[i * q + a]
    P = L * (L - 1) // 2
    JJ = [0.0] * (P * Q * Q)
    for p in range(P):
        for a in range(q):
            base = p * q * q + a * q
            row = p * Q * Q + idx[a] * Q
            for c in range(q):
                JJ[row + idx[c]] = J[base + c]
    cfg["lbfgs_status"] = "parameters converted from plmc's %s" % sys.argv[1]
    meta = dict(meta)
    meta["dgm.config"] = json.dumps(cfg)
    hb = struct.pack("<%df" % len(H), *H)
    jb = struct.pack("<%df" % len(JJ), *JJ)
    hdr = {"__metadata__": meta,
           "h": {"dtype": "F32", "shape": [L, Q], "data_offsets": [0, len(hb)]},
           "J": {"dtype": "F32", "shape": [P, Q, Q], "data_offsets": [len(hb), len(hb) + len(jb)]}}
    hj = json.dumps(hdr).encode()
    hj += b" " * ((8 - len(hj) % 8) % 8)
    with open(sys.argv[3], "wb") as f:
        f.write(struct.pack("<Q", len(hj)) + hj + hb + jb)


if __name__ == "__main__":
    main()
