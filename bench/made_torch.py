"""MADE (Germain et al. 2015) in PyTorch, exactly as dgm builds it (src/models/made/):
MaskedLinear/ReLU stack 784-H-...-784 with Bernoulli logits, masks from an ordering
(natural, or a permutation per mask) and hidden degrees uniform on [lowest degree below,
D - 2] (karpathy/pytorch-made's update_masks), the mask applied to the weight once per
forward (F.linear(x, W * M, b)), connectivity-agnostic training with mask t mod M at step
t, and the ensemble's log p(x) as the mixture log-mean-exp over the M masks. Adam, batch
100, dynamic binarization of the training images every step; the test set is the one
bench_vae_data wrote, binarized as `dgm eval` binarizes it. Prints one JSON object.

The state dict has dgm's names (net.0.weight, ..., order, degrees_0, ...); --save writes
it as a dgm model file (safetensors with dgm's metadata), so that `dgm eval` can score
PyTorch's weights and the two evaluations can be compared on the same parameters.
Timings: each epoch's loop (permutation, binarization, steps), and the exact test NLL;
neither includes process start, imports or data loading."""
import argparse, json, math, os, resource, struct, sys, time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class MaskedLinear(nn.Linear):
    def __init__(self, i, o):
        super().__init__(i, o)
        self.register_buffer("mask", torch.ones(o, i), persistent=False)

    def forward(self, x):
        return F.linear(x, self.weight * self.mask, self.bias)


class MADE(nn.Module):
    def __init__(self, D, hidden, n_masks, order, seed):
        super().__init__()
        layers, dims = [], [D] + hidden + [D]
        for l in range(len(dims) - 1):
            layers.append(MaskedLinear(dims[l], dims[l + 1]))
            if l < len(dims) - 2:
                layers.append(nn.ReLU())
        self.net = nn.Sequential(*layers)
        self.D, self.hidden, self.M = D, hidden, n_masks
        rng = np.random.RandomState(seed)
        ords, degs = [], [[] for _ in hidden]
        for k in range(n_masks):
            o = rng.permutation(D) if order == "random" else np.arange(D)
            ords.append(o)
            lo = 0
            for l, H in enumerate(hidden):
                d = rng.randint(lo, D - 1, size=H)
                degs[l].append(d)
                lo = d.min()
        self.register_buffer("order", torch.tensor(np.array(ords), dtype=torch.float32))
        for l in range(len(hidden)):
            self.register_buffer(f"degrees_{l}", torch.tensor(np.array(degs[l]), dtype=torch.float32))
        self.cur = -1

    def use_mask(self, k):
        if self.cur == k:
            return
        units = [self.order[k]] + [getattr(self, f"degrees_{l}")[k] for l in range(len(self.hidden))]
        lin = [m for m in self.net if isinstance(m, MaskedLinear)]
        for l, m in enumerate(lin):
            din = units[l]
            dout = self.order[k] if l == len(lin) - 1 else units[l + 1]
            keep = dout[:, None] > din[None, :] if l == len(lin) - 1 else dout[:, None] >= din[None, :]
            m.mask.copy_(keep.float())
        self.cur = k

    def log_prob(self, x):
        return -F.binary_cross_entropy_with_logits(self.net(x), x, reduction="none").sum(1)

    @torch.no_grad()
    def log_prob_ensemble(self, x, chunk=2000):
        out = []
        for i in range(0, x.shape[0], chunk):
            xb = x[i:i + chunk]
            lk = []
            for k in range(self.M):
                self.use_mask(k)
                lk.append(self.log_prob(xb))
            out.append(torch.logsumexp(torch.stack(lk, 1), 1) - math.log(self.M))
        return torch.cat(out)


def save_dgm(path, model, args, height=28, width=28):
    """A dgm model file: safetensors, little-endian float32, dgm's metadata."""
    sd = {k: v.detach().contiguous().float().numpy() for k, v in model.state_dict().items()}
    cfg = {"kind": "binary", "variables": model.D, "hidden": model.hidden, "n_masks": model.M,
           "order": args.order, "mask_seed": args.seed, "model": "made", "dim": model.D,
           "n_classes": 0, "likelihood": "binary", "height": height, "width": width}
    header, off, blobs = {}, 0, []
    for k, v in sd.items():
        b = v.astype("<f4").tobytes()
        header[k] = {"dtype": "F32", "shape": list(v.shape), "data_offsets": [off, off + len(b)]}
        off += len(b)
        blobs.append(b)
    header["__metadata__"] = {"format": "pt", "dgm.version": "1.0.0", "dgm.config": json.dumps(cfg)}
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True, help="bench_vae_data's folder")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--hidden", default="500")
    ap.add_argument("--masks", type=int, default=1)
    ap.add_argument("--order", default="natural")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--save", default=None, help="write the trained model as a dgm file")
    ap.add_argument("--limit", type=int, default=0, help="train on the first N images (0: all)")
    ap.add_argument("--eval-limit", type=int, default=0, help="score the first N test images (0: all)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    train = torch.from_numpy(np.load(os.path.join(a.data, "train_x.npy")))
    test = torch.from_numpy(np.load(os.path.join(a.data, "test_bin.npy")))
    if a.limit:
        train = train[:a.limit]
    if a.eval_limit:
        test = test[:a.eval_limit]
    N, D = train.shape
    model = MADE(D, [int(h) for h in a.hidden.split(",")], a.masks, a.order, a.seed)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    epoch_secs, losses, t = [], [], 0
    for ep in range(a.epochs):
        t0 = time.perf_counter()
        perm = torch.randperm(N)
        total = 0.0
        for i in range(0, N, a.batch):
            x = torch.bernoulli(train[perm[i:i + a.batch]])
            model.use_mask(t % a.masks)
            loss = -model.log_prob(x).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item() * x.shape[0]
            t += 1
        epoch_secs.append(time.perf_counter() - t0)
        losses.append(total / N)
        print(f"torch epoch {ep + 1}: nll {losses[-1]:.3f} {epoch_secs[-1]:.2f} s",
              file=sys.stderr, flush=True)
    res = {"threads": a.threads, "torch": torch.__version__, "numpy": np.__version__,
           "epochs": a.epochs, "hidden": a.hidden, "masks": a.masks, "order": a.order,
           "epoch_seconds": epoch_secs, "seconds_per_epoch": float(np.median(epoch_secs)),
           "images_per_s": N / float(np.median(epoch_secs)), "train_nll": losses[-1]}
    model.log_prob_ensemble(test[:100])  # warm-up
    t0 = time.perf_counter()
    ll = model.log_prob_ensemble(test)
    res["seconds_eval"] = time.perf_counter() - t0
    res["test_nll_nats"] = float(-ll.mean())
    res["test_nll_stderr"] = float(ll.std() / math.sqrt(ll.shape[0]))
    res["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    if a.save:
        save_dgm(a.save, model, a)
        res["saved"] = a.save
    print(json.dumps(res))


if __name__ == "__main__":
    main()
