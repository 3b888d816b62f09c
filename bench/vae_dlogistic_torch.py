"""The VAE with the discretised logistic decoder in PyTorch, exactly as dgm builds it
(src/models/vae/, src/distributions/logistic.h): encoder 784-H-2Z (mu and log-variance),
decoder Z-H-2D (each pixel's location and log-scale, the log-scale clamped below at -9),
ReLU; level k of 256 gets sigma((k+1)/256 - mu)/s) - sigma((k/256 - mu)/s), the end levels
the tails; the ELBO with the analytic KL, Adam 1e-3, batch 128. The 8-bit training images
are used as their levels (the likelihood is over levels, so dequantisation noise would not
change it). --save writes the weights as a dgm model file so that `dgm eval` scores them
with dgm's own estimator; the script's own importance-sampled estimate (K samples) is
printed beside it. bits/dim of the 8-bit data: -log P / (D log 2), i.e. for the density
P 256^D on [0,1)^D, nll / (D log 2) + 8. Prints one JSON object."""
import argparse, json, math, os, resource, sys, time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from flow_torch import read_idx_images, write_dgm  # noqa: E402

LS_MIN = -9.0


def dlogistic_logmass(k, mu, ls):
    """log P(k) per pixel, k integer levels (float tensor), stable forms as in logistic.h."""
    ls = torch.clamp(ls, min=LS_MIN)
    inv = torch.exp(-ls)
    a = ((k + 1) / 256.0 - mu) * inv
    b = (k / 256.0 - mu) * inv
    w = inv / 256.0
    # log(sigma(a) - sigma(b)) = -b + log(1 - e^-w) - softplus(-a) - softplus(-b)
    mid = -b + torch.log(-torch.expm1(-w)) - F.softplus(-a) - F.softplus(-b)
    first = -F.softplus(-a)
    last = -F.softplus(b)
    return torch.where(k == 0, first, torch.where(k == 255, last, mid))


class VAE(nn.Module):
    def __init__(self, D=784, H=400, Z=20):
        super().__init__()
        self.D, self.H, self.Z = D, H, Z
        self.encoder = nn.Sequential(nn.Linear(D, H), nn.ReLU(), nn.Linear(H, 2 * Z))
        self.decoder = nn.Sequential(nn.Linear(Z, H), nn.ReLU(), nn.Linear(H, 2 * D))

    def recon(self, k, z):
        mu, ls = self.decoder(z).chunk(2, dim=-1)
        return dlogistic_logmass(k, mu, ls).sum(-1) + self.D * math.log(256.0)

    def loss(self, k):
        x = (k + torch.rand_like(k)) / 256.0  # the encoder sees dequantised data, as dgm's
        mu, lv = self.encoder(x).chunk(2, dim=1)
        z = mu + torch.exp(0.5 * lv) * torch.randn_like(mu)
        rec = -self.recon(k, z)
        kl = 0.5 * (mu * mu + lv.exp() - 1 - lv).sum(1)
        return (rec + kl).mean()

    @torch.no_grad()
    def iw_loglik(self, k, K, chunk=4096):
        out, per = [], max(1, chunk // K)
        for i in range(0, k.shape[0], per):
            kb = k[i:i + per]
            x = (kb + torch.rand_like(kb)) / 256.0
            mu, lv = self.encoder(x).chunk(2, dim=1)
            B = kb.shape[0]
            eps = torch.randn(B, K, self.Z)
            z = mu[:, None] + torch.exp(0.5 * lv)[:, None] * eps
            ll = self.recon(kb[:, None].expand(B, K, self.D), z)
            lw = ll - 0.5 * (z * z).sum(2) + 0.5 * lv.sum(1)[:, None] + 0.5 * (eps * eps).sum(2)
            out.append(torch.logsumexp(lw, 1) - math.log(K))
        return torch.cat(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True, help="bench_vae_data's folder (train_u8.npy)")
    ap.add_argument("--test", default="/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--k", type=int, default=100)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--save", default=None)
    ap.add_argument("--limit", type=int, default=0, help="train on the first N images (0: all)")
    ap.add_argument("--eval-limit", type=int, default=0, help="score the first N test images (0: all)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    train = torch.from_numpy(np.load(os.path.join(a.data, "train_u8.npy")))
    if a.limit:
        train = train[:a.limit]
    test = torch.from_numpy(read_idx_images(a.test).copy()).float()
    if a.eval_limit:
        test = test[:a.eval_limit]
    model = VAE()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    N, B = train.shape[0], 128
    epoch_secs, losses = [], []
    for ep in range(a.epochs):
        t0 = time.perf_counter()
        perm = torch.randperm(N)
        total = 0.0
        for i in range(0, N, B):
            k = train[perm[i:i + B]].float()
            loss = model.loss(k)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item() * k.shape[0]
        epoch_secs.append(time.perf_counter() - t0)
        losses.append(total / N)
        print(f"torch epoch {ep + 1}: loss {losses[-1]:.3f} {epoch_secs[-1]:.2f} s",
              file=sys.stderr, flush=True)
    res = {"threads": a.threads, "torch": torch.__version__, "numpy": np.__version__,
           "epochs": a.epochs, "epoch_seconds": epoch_secs}
    if epoch_secs:  # --epochs 0 scores the initial model (a check of the two evaluators)
        res.update({"seconds_per_epoch": float(np.median(epoch_secs)), "train_loss": losses[-1]})
    t0 = time.perf_counter()
    ll = model.iw_loglik(test, a.k).double()
    res["seconds_eval"] = time.perf_counter() - t0
    res["k"] = a.k
    res["test_nll_nats"] = float(-ll.mean())
    res["test_nll_stderr"] = float(ll.std() / math.sqrt(ll.shape[0]))
    res["bits_per_dim"] = res["test_nll_nats"] / (784 * math.log(2)) + 8
    res["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    if a.save:
        cfg = {"latent": model.Z, "hidden": [model.H], "activation": "relu", "decoder": "logistic",
               "sigma": "predicted", "model": "vae", "dim": model.D, "n_classes": 0,
               "likelihood": "dequantized", "height": 28, "width": 28}
        write_dgm(a.save, model, cfg)
        res["saved"] = a.save
    print(json.dumps(res))


if __name__ == "__main__":
    main()
