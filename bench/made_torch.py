"""MADE (Germain et al. 2015) in PyTorch, exactly as dgm builds it (src/models/made/):
MaskedLinear/ReLU stack 784-H-...-784 with Bernoulli logits, masks from an ordering
(natural, or a permutation per mask) and hidden degrees uniform on [lowest degree below,
D - 2] (karpathy/pytorch-made's update_masks), the mask applied to the weight once per
forward (F.linear(x, W * M, b)), connectivity-agnostic training with mask t mod M at step
t, and the ensemble's log p(x) as the mixture log-mean-exp over the M masks. Adam, batch
100, dynamic binarization of the training images every step; the test set is the one
bench_vae_data wrote, binarized as `dgm eval` binarizes it. Prints one JSON object.

--conditional: the class-conditional MADE of `dgm train --model made --conditional`, the
one-hot label into the first hidden layer (cond, Linear(C, H1, bias=False)) and the logits
(cond_out, Linear(C, D, bias=False)); labels from the Fashion-MNIST IDX files (in the order
bench_vae_data wrote the images); the test set is then also classified by Bayes' rule with
p(y) the training label frequencies (accuracy, mean log p(y|x)).

The state dict has dgm's names (net.0.weight, ..., order, degrees_0, ...); --save writes
it as a dgm model file (safetensors with dgm's metadata), so that `dgm eval` can score
PyTorch's weights and the two evaluations can be compared on the same parameters.
Timings: each epoch's loop (permutation, binarization, steps), and the exact test NLL;
neither includes process start, imports or data loading."""
import argparse, gzip, json, math, os, resource, struct, sys, time

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
    def __init__(self, D, hidden, n_masks, order, seed, n_classes=0):
        super().__init__()
        self.C = n_classes
        if n_classes:
            self.cond = nn.Linear(n_classes, hidden[0], bias=False)
            self.cond_out = nn.Linear(n_classes, D, bias=False)
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

    def logits(self, x, y=None):
        if not self.C:
            return self.net(x)
        e = F.one_hot(y, self.C).float()
        h = self.net[0](x) + self.cond(e)   # the label into the first hidden layer
        for m in self.net[1:]:
            h = m(h)
        return h + self.cond_out(e)         # and into every logit

    def log_prob(self, x, y=None):
        return -F.binary_cross_entropy_with_logits(self.logits(x, y), x, reduction="none").sum(1)

    @torch.no_grad()
    def log_prob_ensemble(self, x, y=None, chunk=2000):
        out = []
        for i in range(0, x.shape[0], chunk):
            xb = x[i:i + chunk]
            yb = None if y is None else y[i:i + chunk]
            lk = []
            for k in range(self.M):
                self.use_mask(k)
                lk.append(self.log_prob(xb, yb))
            out.append(torch.logsumexp(torch.stack(lk, 1), 1) - math.log(self.M))
        return torch.cat(out)


def read_labels(name):
    """Fashion-MNIST labels from the IDX file (as dgm's data loader finds it)."""
    d = os.environ.get("DGM_FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")
    with gzip.open(os.path.join(d, name + "-labels-idx1-ubyte.gz"), "rb") as f:
        raw = f.read()
    n = struct.unpack(">I", raw[4:8])[0]
    return torch.from_numpy(np.frombuffer(raw, dtype=np.uint8, offset=8, count=n).astype(np.int64))


def save_dgm(path, model, args, height=28, width=28, log_prior=None):
    """A dgm model file: safetensors, little-endian float32, dgm's metadata."""
    sd = {k: v.detach().contiguous().float().numpy() for k, v in model.state_dict().items()}
    cfg = {"kind": "binary", "variables": model.D, "hidden": model.hidden, "n_masks": model.M,
           "order": args.order, "mask_seed": args.seed, "model": "made", "dim": model.D,
           "n_classes": model.C, "likelihood": "binary", "height": height, "width": width}
    if model.C:
        cfg["log_prior"] = [float(v) for v in log_prior]
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
    ap.add_argument("--conditional", action="store_true", help="p(x | y) from the labels, and Bayes' rule on the test set")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    train = torch.from_numpy(np.load(os.path.join(a.data, "train_x.npy")))
    test = torch.from_numpy(np.load(os.path.join(a.data, "test_bin.npy")))
    ytr = read_labels("train") if a.conditional else None
    yte = read_labels("t10k") if a.conditional else None
    if a.limit:
        train = train[:a.limit]
        ytr = None if ytr is None else ytr[:a.limit]
    if a.eval_limit:
        test = test[:a.eval_limit]
        yte = None if yte is None else yte[:a.eval_limit]
    N, D = train.shape
    C = int(ytr.max()) + 1 if a.conditional else 0
    model = MADE(D, [int(h) for h in a.hidden.split(",")], a.masks, a.order, a.seed, C)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    epoch_secs, losses, t = [], [], 0
    for ep in range(a.epochs):
        t0 = time.perf_counter()
        perm = torch.randperm(N)
        total = 0.0
        for i in range(0, N, a.batch):
            idx = perm[i:i + a.batch]
            x = torch.bernoulli(train[idx])
            model.use_mask(t % a.masks)
            loss = -model.log_prob(x, None if ytr is None else ytr[idx]).mean()
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
    model.log_prob_ensemble(test[:100], None if yte is None else yte[:100])  # warm-up
    t0 = time.perf_counter()
    ll = model.log_prob_ensemble(test, yte)
    res["seconds_eval"] = time.perf_counter() - t0
    res["test_nll_nats"] = float(-ll.mean())
    res["test_nll_stderr"] = float(ll.std() / math.sqrt(ll.shape[0]))
    log_prior = None
    if C:  # Bayes' rule: log p(x|c) + log p(c), normalised over c
        log_prior = torch.log(torch.bincount(ytr, minlength=C).double() / ytr.shape[0])
        t0 = time.perf_counter()
        lj = torch.stack([model.log_prob_ensemble(test, torch.full_like(yte, c)).double()
                          + log_prior[c] for c in range(C)], 1)
        post = lj - torch.logsumexp(lj, 1, keepdim=True)
        res["seconds_classify"] = time.perf_counter() - t0
        res["accuracy"] = float((post.argmax(1) == yte).double().mean())
        res["mean_log_p_y_given_x"] = float(post.gather(1, yte[:, None]).mean())
    res["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    if a.save:
        save_dgm(a.save, model, a, log_prior=log_prior)
        res["saved"] = a.save
    print(json.dumps(res))


if __name__ == "__main__":
    main()
