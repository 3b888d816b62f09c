"""The reference VAE of issue 3 in PyTorch, exactly as dgm builds it: encoder 784-400-40
(mu and log-variance as the two halves), decoder 20-400-784 with Bernoulli logits, ReLU,
Adam 1e-3, batch 128, dynamic binarization, 10 epochs. Reads the data bench_vae_data
wrote, prints one JSON object. Thread settings come from the command line (torch) and
the environment (OPENBLAS_NUM_THREADS). --train-u8 holds the training images as their
8-bit levels (as dgm does) and divides each batch by 255, for a memory figure with the
data held alike; the default is the float32 array a PyTorch script would usually keep.
OPENBLAS_CORETYPE in the environment picks OpenBLAS's kernel (vae_bench.py tries SkylakeX).
--epochs 0 skips training (the evaluation and sampling timings of the initial model).
Timings: each epoch's loop (permutation, binarization, steps); the K-sample estimate over
the prepared test tensor; sampling (latents, decoder, sigmoid, Bernoulli draws) after a
warm-up, the median of 3. None includes process start, imports or data loading."""
import argparse, json, math, os, resource, sys, time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class VAE(nn.Module):
    def __init__(self, D=784, H=400, Z=20):
        super().__init__()
        self.Z = Z
        self.encoder = nn.Sequential(nn.Linear(D, H), nn.ReLU(), nn.Linear(H, 2 * Z))
        self.decoder = nn.Sequential(nn.Linear(Z, H), nn.ReLU(), nn.Linear(H, D))

    def loss(self, x):
        mu, lv = self.encoder(x).chunk(2, dim=1)
        z = mu + torch.exp(0.5 * lv) * torch.randn_like(mu)
        logits = self.decoder(z)
        rec = F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(1)
        kl = 0.5 * (mu * mu + lv.exp() - 1 - lv).sum(1)
        return (rec + kl).mean(), rec, kl

    @torch.no_grad()
    def iw_loglik(self, x, K, chunk=4096):
        """log p(x) ~ logsumexp_k log w_k - log K, per example."""
        out = []
        per = max(1, chunk // K)
        for i in range(0, x.shape[0], per):
            xb = x[i:i + per]
            mu, lv = self.encoder(xb).chunk(2, dim=1)
            B = xb.shape[0]
            eps = torch.randn(B, K, self.Z)
            z = mu[:, None] + torch.exp(0.5 * lv)[:, None] * eps
            logits = self.decoder(z.reshape(B * K, self.Z)).reshape(B, K, -1)
            ll = -F.binary_cross_entropy_with_logits(
                logits, xb[:, None].expand_as(logits), reduction="none").sum(2)
            lw = ll - 0.5 * (z * z).sum(2) + 0.5 * lv.sum(1)[:, None] + 0.5 * (eps * eps).sum(2)
            out.append(torch.logsumexp(lw, 1) - math.log(K))
        return torch.cat(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--k", type=int, default=1000)
    ap.add_argument("--eval", type=int, default=1, help="0: training speed only")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--train-u8", action="store_true", help="hold the training set as uint8")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    train = torch.from_numpy(np.load(os.path.join(a.data, "train_u8.npy" if a.train_u8
                                              else "train_x.npy")))
    test = torch.from_numpy(np.load(os.path.join(a.data, "test_bin.npy")))
    model = VAE()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    N, B = train.shape[0], 128
    epoch_secs, losses = [], []
    for ep in range(a.epochs):
        t0 = time.perf_counter()
        perm = torch.randperm(N)
        total = 0.0
        for i in range(0, N, B):
            xb = train[perm[i:i + B]]
            # k / 255 in float32: the same probabilities as the float file (checked bit for bit)
            x = torch.bernoulli(xb.float().div_(255) if a.train_u8 else xb)
            loss, _, _ = model.loss(x)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item() * x.shape[0]
        epoch_secs.append(time.perf_counter() - t0)
        losses.append(total / N)
        print(f"torch epoch {ep + 1}: loss {losses[-1]:.3f} {epoch_secs[-1]:.2f} s",
              file=sys.stderr, flush=True)
    res = {"threads": a.threads, "openblas_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
           "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE"),
           "torch": torch.__version__, "numpy": np.__version__, "epochs": a.epochs,
           "train_u8": a.train_u8, "epoch_seconds": epoch_secs}
    if epoch_secs:  # --epochs 0 times the evaluation and sampling of the initial model
        res.update({"seconds_per_epoch": float(np.median(epoch_secs)),
                    "images_per_s": N / float(np.median(epoch_secs)), "train_loss": losses[-1]})
    if a.eval:
        with torch.no_grad():
            _, rec, kl = model.loss(test)
            res["neg_elbo_nats"] = float((rec + kl).mean())
            t0 = time.perf_counter()
            ll = model.iw_loglik(test, a.k)
            res["seconds_eval"] = time.perf_counter() - t0
            res["nll_nats"] = float(-ll.mean())
            res["nll_stderr"] = float(ll.std() / math.sqrt(ll.shape[0]))
            model.decoder(torch.randn(100, 20))  # warm-up
            reps = []
            for _ in range(3):
                t0 = time.perf_counter()
                z = torch.randn(10000, 20)
                torch.bernoulli(torch.sigmoid(model.decoder(z)))
                reps.append(time.perf_counter() - t0)
            res["seconds_sample_10k"] = float(np.median(reps))
            res["seconds_sample_10k_reps"] = reps
    res["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps(res))


if __name__ == "__main__":
    main()
