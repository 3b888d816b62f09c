#!/usr/bin/python3
"""PyTorch reference for dgm's plain sequence VAE (bench/protein.sh): DeepSequence's
architecture (Riesselman et al. 2018) written as one would in PyTorch, with a dense first
layer (nn.Linear over the one-hot input), trained with Adam on minibatches drawn in
proportion to the sequence weights, then used to score a mutational scan. It prints one
JSON object: updates per second, scoring seconds, peak memory, Spearman.

The model matches src/models/seqvae*.c's PLAIN variant: encoder Linear(L*20, H1), ReLU,
Linear(H1, H2), ReLU, Linear(H2, 2Z) -> (mu, log-variance); decoder Linear(Z, 100), ReLU,
Linear(100, 500), Sigmoid, Linear(500, L*20), softmax per position; a gap is an all-zero
one-hot row that adds nothing to log p(x|z); loss = batch mean of (-log p(x|z) + KL) +
(l2 / 2 Neff) * sum of squared decoder weight matrices. Scoring: the encoder once per
sequence, then for each sample one eps shared by all mutants and the wild type (as dgm
does), effect = mean over samples of ELBO(mutant) - ELBO(wild type).
"""
import argparse
import json
import resource
import time

import numpy as np
import torch

AA = "ACDEFGHIKLMNPQRSTVWY"


def read_a2m(path):
    names, rows = [], []
    for line in open(path):
        line = line.strip()
        if line.startswith(">"):
            names.append(line[1:])
            rows.append([])
        elif line:
            rows[-1].append(line)
    rows = ["".join(r) for r in rows]
    focus = rows[0]
    cols = [i for i, c in enumerate(focus) if c.isupper() or c == "-"]
    start = int(names[0].split("/")[1].split("-")[0]) if "/" in names[0] else 1
    pos, k = [], 0
    for i, c in enumerate(focus):
        if i in set(cols):
            pos.append(start + k if c.isalpha() else -1)
        if c.isalpha():
            k += 1
    idx = {a: i for i, a in enumerate(AA)}
    seqs = []
    for r in rows:
        s = [r[c].upper().replace(".", "-") for c in cols]
        if all(ch in idx or ch == "-" for ch in s):
            seqs.append([idx.get(ch, 20) for ch in s])
    return np.array(seqs, dtype=np.int64), pos


def onehot(x):
    n, L = x.shape
    o = np.zeros((n, L, 21), dtype=np.float32)
    o[np.arange(n)[:, None], np.arange(L)[None, :], x] = 1
    return torch.from_numpy(o[:, :, :20].reshape(n, L * 20).copy())


def weights(x, theta):
    oh = onehot(x)
    m = oh @ oh.T                      # identities at non-gap positions
    ng = oh.sum(1)
    return (1.0 / ((m / ng[:, None]) > 1 - theta).sum(1).double()).numpy()


class SeqVAE(torch.nn.Module):
    def __init__(self, L, enc=(1500, 1500), dec=(100, 500), Z=30):
        super().__init__()
        D = L * 20
        self.L, self.Z = L, Z
        self.encoder = torch.nn.Sequential(
            torch.nn.Linear(D, enc[0]), torch.nn.ReLU(), torch.nn.Linear(enc[0], enc[1]),
            torch.nn.ReLU(), torch.nn.Linear(enc[1], 2 * Z))
        self.decoder = torch.nn.Sequential(
            torch.nn.Linear(Z, dec[0]), torch.nn.ReLU(), torch.nn.Linear(dec[0], dec[1]),
            torch.nn.Sigmoid(), torch.nn.Linear(dec[1], D))

    def encode(self, x):
        o = self.encoder(x)
        return o[:, :self.Z], o[:, self.Z:]

    def loglik(self, x, z):
        y = self.decoder(z).view(-1, self.L, 20)
        return (x.view(-1, self.L, 20) * torch.log_softmax(y, -1)).sum((1, 2))

    def l2(self):
        return sum((m.weight ** 2).sum() for m in self.decoder if isinstance(m, torch.nn.Linear))


def kl(mu, lv):
    return 0.5 * (mu ** 2 + lv.exp() - 1 - lv).sum(1)


def spearman(a, b):
    from scipy.stats import spearmanr
    return float(spearmanr(a, b).correlation)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--csv", required=True)
    ap.add_argument("--column", default="2500")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--samples", type=int, default=200)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--l2", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)

    x, pos = read_a2m(a.data)
    t0 = time.perf_counter()
    w = weights(x, 0.2)
    t_weights = time.perf_counter() - t0
    neff = float(w.sum())
    X = onehot(x)
    L = x.shape[1]
    model = SeqVAE(L)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    p = w / w.sum()

    def step():
        idx = torch.from_numpy(rng.choice(len(x), a.batch, p=p))
        xb = X[idx]
        mu, lv = model.encode(xb)
        z = mu + torch.randn_like(mu) * (0.5 * lv).exp()
        loss = (kl(mu, lv) - model.loglik(xb, z)).mean() + a.l2 / (2 * neff) * model.l2()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return float(loss)

    for _ in range(a.warmup):
        step()
    t0 = time.perf_counter()
    for _ in range(a.steps):
        loss = step()
    t_train = time.perf_counter() - t0

    # the mutational scan
    import csv
    rows = list(csv.DictReader(open(a.csv)))
    col = {r: i for i, r in enumerate(pos)}
    wt = x[0]
    muts, vals = [], []
    for r in rows:
        s = wt.copy()
        ok = True
        for sub in r["mutant"].split(":"):
            k = int(sub[1:-1])
            if k not in col:
                ok = False
                break
            s[col[k]] = AA.index(sub[-1])
        if ok:
            muts.append(s)
            vals.append(float(r[a.column]))
    S = onehot(np.vstack([wt[None, :], np.array(muts)]))
    t0 = time.perf_counter()
    with torch.no_grad():
        mu, lv = model.encode(S)
        k = kl(mu, lv)
        sd = (0.5 * lv).exp()
        acc = torch.zeros(len(S), dtype=torch.float64)
        for _ in range(a.samples):
            eps = torch.randn(1, model.Z)
            e = torch.cat([model.loglik(S[i:i + 512], mu[i:i + 512] + sd[i:i + 512] * eps)
                           for i in range(0, len(S), 512)]) - k
            acc += (e - e[0]).double()
        eff = (acc / a.samples)[1:].numpy()
    t_score = time.perf_counter() - t0
    print(json.dumps({
        "torch": torch.__version__, "threads": a.threads, "n": int(len(x)), "L": L,
        "neff": neff, "weights_seconds": t_weights, "steps": a.steps,
        "steps_per_second": a.steps / t_train, "loss": loss, "mutants": len(muts),
        "samples": a.samples, "score_seconds": t_score,
        "spearman": spearman(eff, vals),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


if __name__ == "__main__":
    main()
