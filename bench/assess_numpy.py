#!/usr/bin/python3
"""A straightforward numpy implementation of dgm assess's sequence metrics, written from
docs/math.md ("Assessing samples") without reading dgm's C: the independent check of its
numbers (tests/assess.sh compares them to 1e-6) and the other side of its benchmark
(bench/run.sh, `make bench`).

    assess_numpy.py REFERENCE [SAMPLES...] [--heldout FILE] [--theta T] [--neighbours K]
                    [-n N] [--weight-samples] [--weights deepseq|none] [--time]

Prints one JSON object with a "rows" array carrying dgm's keys. The reference is read as
DeepSequence does (focus columns of the first sequence, sequences with letters outside
the alphabet dropped); sample and held-out files must have the reference's match columns.
"""
import json
import sys
import time

import numpy as np

AA = "ACDEFGHIKLMNPQRSTVWY-"
Q = 21
IDX = {c: i for i, c in enumerate(AA)}
IDX["."] = 20


def read_fasta(path):
    recs, name, buf = [], None, []
    for line in open(path):
        line = line.strip()
        if line.startswith(">"):
            if name is not None:
                recs.append((name, "".join(buf)))
            name, buf = line[1:], []
        elif line:
            buf.append(line)
    if name is not None:
        recs.append((name, "".join(buf)))
    return recs


def encode(rows):
    out, bad = [], 0
    for r in rows:
        try:
            out.append([IDX[c.upper()] if c not in ".-" else 20 for c in r])
        except KeyError:
            bad += 1
    return np.array(out, dtype=np.int64), bad


def read_reference(path):
    recs = read_fasta(path)
    focus = recs[0][1]
    cols = [k for k, c in enumerate(focus) if c == "-" or c.isupper()]
    rows = ["".join(r[1][k] for k in cols) for r in recs]
    return encode(rows)[0]


def read_columns(path, L):
    rows = []
    for name, s in read_fasta(path):
        m = "".join(c for c in s if not (c.islower() or c == "."))
        if len(m) != L:
            raise SystemExit("%s: sequence %s has %d columns, not %d" % (path, name, len(m), L))
        rows.append(m)
    x, bad = encode(rows)
    return x, bad


def onehot(x, letters=Q):
    n, L = x.shape
    X = np.zeros((n, L * letters), dtype=np.float32)
    for l in range(L):
        ok = x[:, l] < letters
        X[np.nonzero(ok)[0], l * letters + x[ok, l]] = 1
    return X


def weights(x, theta, chunk=2048):
    """DeepSequence: 1 / #{j: identity over i's non-gap columns > 1 - theta}."""
    X = onehot(x, 20)  # gaps all zero: matches of non-gap letters
    nongap = (x != 20).sum(1).astype(np.float64)
    cnt = np.zeros(len(x))
    for a in range(0, len(x), chunk):
        m = X[a:a + chunk] @ X.T
        cnt[a:a + chunk] = (m > (1 - theta) * nongap[a:a + chunk, None] + 1e-9).sum(1)
    # a sequence is its own neighbour even when it has no residues (0 > 0 fails above)
    return 1.0 / (cnt + (nongap == 0))


def stats(x, w):
    X = onehot(x).astype(np.float64)
    W = w.sum()
    f = (w[:, None] * X).sum(0) / W
    F = (X * w[:, None]).T @ X / W
    C = F - np.outer(f, f)
    return f, C


def fit(a, b):
    a = a - a.mean()
    b = b - b.mean()
    return float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum())), float((a * b).sum() / (a * a).sum())


def hamming(a, b, chunk=2048):
    A, B = onehot(a), onehot(b)
    L = a.shape[1]
    out = np.empty((len(a), len(b)), dtype=np.int32)
    for i in range(0, len(a), chunk):
        out[i:i + chunk] = L - np.rint(A[i:i + chunk] @ B.T).astype(np.int32)
    return out


def prnn(R, S, k):
    m = len(R)
    DRR, DSS, DRS = hamming(R, R), hamming(S, S), hamming(R, S)
    big = np.iinfo(np.int32).max
    np.fill_diagonal(DRR, big)
    np.fill_diagonal(DSS, big)
    radR = np.partition(DRR, k - 1, axis=1)[:, k - 1]
    radS = np.partition(DSS, k - 1, axis=1)[:, k - 1]
    precision = float((DRS <= radR[:, None]).any(0).mean())
    recall = float((DRS <= radS[None, :]).any(1).mean())

    def credit(Down, Dother):
        dO, dX = Down.min(1), Dother.min(1)
        cO, cX = (Down == dO[:, None]).sum(1), (Dother == dX[:, None]).sum(1)
        return np.where(dO < dX, 1.0, np.where(dO > dX, 0.0, cO / (cO + cX)))

    cr, cs = credit(DRR, DRS), credit(DSS, DRS.T)
    return precision, recall, float((cr.sum() + cs.sum()) / (2 * m)), float(cr.mean()), float(cs.mean())


def assess(ref, rw, name, kind, x, weighted, theta, k, cap):
    n, L = x.shape
    fr, Cr = ref["f"], ref["C"]
    ws = weights(x, theta)
    f, C = stats(x, ws if weighted else np.ones(n))
    iu = np.triu_indices(L, 1)
    # C_ij(a,b) over i < j: the (i, j) blocks of the 21L x 21L matrix
    def upper(M):
        B = M.reshape(L, Q, L, Q).transpose(0, 2, 1, 3)
        return B[iu].ravel()
    site_r, site_slope = fit(fr, f)
    pair_r, pair_slope = fit(upper(Cr), upper(C))
    D = hamming(x, ref["x"])
    ident = (L - D.min(1)) / L
    eq = onehot(x)
    # mean pairwise identity within the set, brute force over pairs i < j
    tot = 0.0
    for a in range(0, n, 2048):
        mm = eq[a:a + 2048] @ eq.T
        tot += mm.sum(dtype=np.float64) - np.trace(mm[:, a:a + 2048], dtype=np.float64)
    within = tot / (n * (n - 1) * L) if n > 1 else float("nan")
    m = min(n, len(ref["x"]))
    if cap:
        m = min(m, cap)
    R = ref["x"][(np.arange(m) * len(ref["x"])) // m]
    S = x[(np.arange(m) * n) // m]
    p, r, a, ar, as_ = prnn(R, S, k)
    return {"name": name, "kind": kind, "n": n, "n_compared": m,
            "site_r": site_r, "site_slope": site_slope, "pair_r": pair_r, "pair_slope": pair_slope,
            "nearest_identity_mean": float(ident.mean()),
            "nearest_identity_q1": float(np.percentile(ident, 25)),
            "nearest_identity_median": float(np.percentile(ident, 50)),
            "nearest_identity_q3": float(np.percentile(ident, 75)),
            "copy_fraction": float((D.min(1) == 0).mean()),
            "near_copy_fraction": float((L - D.min(1) >= 0.95 * L - 1e-9).mean()),
            "identity_mean": float(within), "neff": float(ws.sum()), "neff_ratio": float(ws.sum() / n),
            "precision": p, "recall": r, "nn1_accuracy": a,
            "nn1_accuracy_reference": ar, "nn1_accuracy_samples": as_}


def main(argv):
    args, opts, i = [], {"--theta": 0.2, "--neighbours": 3, "-n": 0, "--heldout": None,
                         "--weights": "deepseq"}, 0
    flags = set()
    while i < len(argv):
        a = argv[i]
        if a in ("--weight-samples", "--time"):
            flags.add(a)
        elif a in opts:
            opts[a] = argv[i + 1]
            i += 1
        else:
            args.append(a)
        i += 1
    theta, k, cap = float(opts["--theta"]), int(opts["--neighbours"]), int(opts["-n"])
    t0 = time.perf_counter()
    x = read_reference(args[0])
    w = weights(x, theta) if opts["--weights"] != "none" else np.ones(len(x))
    f, C = stats(x, w)
    ref = {"x": x, "f": f, "C": C}
    sets = ([(opts["--heldout"], "heldout")] if opts["--heldout"] else []) + [(p, "samples") for p in args[1:]]
    rows = []
    for path, kind in sets:
        s, bad = read_columns(path, x.shape[1])
        weighted = kind == "heldout" and opts["--weights"] != "none" or "--weight-samples" in flags
        r = assess(ref, w, path.rsplit("/", 1)[-1], kind, s, weighted, theta, k, cap)
        r["n_dropped"] = bad
        rows.append(r)
    out = {"reference": args[0], "reference_n": len(x), "reference_neff": float(w.sum()),
           "columns": x.shape[1], "rows": rows}
    if "--time" in flags:
        out["seconds"] = time.perf_counter() - t0
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1:])
