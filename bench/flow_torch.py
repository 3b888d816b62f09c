"""RealNVP and MAF in PyTorch, exactly as dgm builds them (src/models/flow/realnvp.c,
maf.c). MAF (--model maf): K layers z = (u - m) exp(-tanh(r)) with (m, r) from a MADE
D-H-2D (ReLU; hidden degrees j mod (D - 1), orderings natural in even layers and reversed
in odd ones, the mask applied to the weights once per forward), log det = -sum tanh(r).
RealNVP: uniform
dequantisation (k + u) / 256 of the 8-bit training images afresh every step, the logit
transform y = logit(a + (1 - 2a) x) with a = 0.05 and its log-determinant, K affine
couplings y' = b.y + (1-b).(y exp(s) + t) with (raw, t) = MLP(b.y) (D-H-2D, ReLU),
s = (1-b).tanh(raw), checkerboard masks alternating with k, a standard normal base; Adam,
batch 100. The test set is Fashion-MNIST's, dequantised here with torch's generator; --save
writes the trained weights as a dgm model file so that `dgm eval` scores them on dgm's own
dequantisation (the same parameters, two evaluators). Prints one JSON object; bits/dim is
of the 8-bit data: nll / (D log 2) + 8.

--conditional: the class-conditional flows of `dgm train --conditional`: the one-hot label
into each conditioner's first hidden layer (cond, Linear(C, H1, bias=False)) and, in MAF,
each layer's outputs (cond_out, Linear(C, 2D, bias=False)); labels from the Fashion-MNIST
IDX files; the test set is also classified by Bayes' rule with p(y) the training label
frequencies."""
import argparse, gzip, json, math, os, resource, struct, sys, time

import numpy as np
import torch
import torch.nn as nn


def run_net(net, x, cond=None, e=None):
    """net(x), with cond(e) added to the first layer's pre-activations when conditional."""
    if cond is None:
        return net(x)
    h = net[0](x) + cond(e)
    for m in net[1:]:
        h = m(h)
    return h


class Coupling(nn.Module):
    def __init__(self, D, hidden, mask, C=0):
        super().__init__()
        dims, layers = [D] + hidden + [2 * D], []
        for l in range(len(dims) - 1):
            layers.append(nn.Linear(dims[l], dims[l + 1]))
            if l < len(dims) - 2:
                layers.append(nn.ReLU())
        self.net = nn.Sequential(*layers)
        self.cond = nn.Linear(C, hidden[0], bias=False) if C else None
        self.register_buffer("b", mask, persistent=False)

    def forward(self, y, e=None):
        st = run_net(self.net, y * self.b, self.cond, e)
        raw, t = st.chunk(2, dim=1)
        s = torch.tanh(raw) * (1 - self.b)
        out = self.b * y + (1 - self.b) * (y * torch.exp(s) + t)
        return out, s.sum(1)


def logit_in(x, a):
    """y = logit(a + (1 - 2a) x) and its log-determinant; a = 0: the identity (data on R^D)."""
    if a == 0:
        return x, torch.zeros(x.shape[0], dtype=x.dtype)
    u = a + (1 - 2 * a) * x
    y = torch.log(u) - torch.log1p(-u)
    return y, (math.log(1 - 2 * a) - torch.log(u) - torch.log1p(-u)).sum(1)


class RealNVP(nn.Module):
    def __init__(self, D, K, hidden, alpha, H=28, W=28, C=0):
        super().__init__()
        d = torch.arange(D)
        par = d // W + d % W if H * W == D else d
        self.couplings = nn.ModuleList(
            [Coupling(D, hidden, ((par + k) % 2).float(), C) for k in range(K)])
        self.D, self.K, self.hidden, self.alpha, self.C = D, K, hidden, alpha, C

    def log_prob(self, x, lab=None):
        e = nn.functional.one_hot(lab, self.C).float() if self.C else None
        y, ld = logit_in(x, self.alpha)
        for c in self.couplings:
            y, l = c(y, e)
            ld = ld + l
        return -0.5 * (y * y).sum(1) - 0.5 * self.D * math.log(2 * math.pi) + ld


class MaskedLinear(nn.Linear):
    def __init__(self, i, o, mask):
        super().__init__(i, o)
        self.register_buffer("mask", mask, persistent=False)

    def forward(self, x):
        return nn.functional.linear(x, self.weight * self.mask, self.bias)


class MAFLayer(nn.Module):
    def __init__(self, D, hidden, reverse, C=0):
        super().__init__()
        self.cond = nn.Linear(C, hidden[0], bias=False) if C else None
        self.cond_out = nn.Linear(C, 2 * D, bias=False) if C else None
        order = torch.arange(D - 1, -1, -1) if reverse else torch.arange(D)
        degs = [order] + [torch.arange(H) % (D - 1) for H in hidden] + [torch.cat([order, order])]
        dims, layers = [D] + hidden + [2 * D], []
        for l in range(len(dims) - 1):
            last = l == len(dims) - 2
            m = (degs[l + 1][:, None] > degs[l][None, :]) if last else (degs[l + 1][:, None] >= degs[l][None, :])
            layers.append(MaskedLinear(dims[l], dims[l + 1], m.float()))
            if not last:
                layers.append(nn.ReLU())
        self.net = nn.Sequential(*layers)

    def forward(self, u, e=None):
        o = run_net(self.net, u, self.cond, e)
        if e is not None:
            o = o + self.cond_out(e)  # the first coordinate sees no hidden unit
        m, r = o.chunk(2, dim=1)
        a = torch.tanh(r)
        return (u - m) * torch.exp(-a), -a.sum(1)


class MAF(nn.Module):
    def __init__(self, D, K, hidden, alpha, C=0):
        super().__init__()
        self.layers = nn.ModuleList([MAFLayer(D, hidden, k % 2 == 1, C) for k in range(K)])
        self.D, self.K, self.hidden, self.alpha, self.C = D, K, hidden, alpha, C

    def log_prob(self, x, lab=None):
        e = nn.functional.one_hot(lab, self.C).float() if self.C else None
        y, ld = logit_in(x, self.alpha)
        for layer in self.layers:
            y, l = layer(y, e)
            ld = ld + l
        return -0.5 * (y * y).sum(1) - 0.5 * self.D * math.log(2 * math.pi) + ld


def read_idx_images(path):
    with gzip.open(path, "rb") as f:
        _, n, h, w = struct.unpack(">IIII", f.read(16))
        return np.frombuffer(f.read(n * h * w), dtype=np.uint8).reshape(n, h * w)


def read_idx_labels(path):
    with gzip.open(path, "rb") as f:
        _, n = struct.unpack(">II", f.read(8))
        return torch.from_numpy(np.frombuffer(f.read(n), dtype=np.uint8).astype(np.int64))


def save_dgm(path, model, log_prior=None, height=28, width=28):
    maf = isinstance(model, MAF)
    cfg = {"n_layers" if maf else "n_couplings": model.K, "hidden": model.hidden,
           "alpha": model.alpha, "log_scale": "tanh", "model": "maf" if maf else "realnvp",
           "dim": model.D, "n_classes": model.C,
           "likelihood": "dequantized" if model.alpha > 0 else "continuous",
           "height": height, "width": width}
    if model.C:
        cfg["log_prior"] = [float(v) for v in log_prior]
    write_dgm(path, model, cfg)


def write_dgm(path, model, cfg):
    """model's state_dict as a dgm model file (safetensors, float32) with config cfg."""
    sd = {k: v.detach().contiguous().float().numpy() for k, v in model.state_dict().items()}
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
    ap.add_argument("--data", required=True, help="bench_vae_data's folder (train_u8.npy)")
    ap.add_argument("--test", default="/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--model", default="realnvp", help="realnvp or maf")
    ap.add_argument("--couplings", type=int, default=8, help="couplings, or MAF layers")
    ap.add_argument("--hidden", default="1000")
    ap.add_argument("--alpha", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--clip", type=float, default=0.0, help="clip the gradient norm (0: off), as dgm's --clip")
    ap.add_argument("--save", default=None)
    ap.add_argument("--limit", type=int, default=0, help="train on the first N images (0: all)")
    ap.add_argument("--eval-limit", type=int, default=0, help="score the first N test images (0: all)")
    ap.add_argument("--conditional", action="store_true", help="p(x | y) from the labels, and Bayes' rule on the test set")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    train = torch.from_numpy(np.load(os.path.join(a.data, "train_u8.npy")))
    test = torch.from_numpy(read_idx_images(a.test).copy())
    ytr = yte = None
    if a.conditional:
        ytr = read_idx_labels(os.path.join(os.path.dirname(a.test), "train-labels-idx1-ubyte.gz"))
        yte = read_idx_labels(a.test.replace("images-idx3", "labels-idx1"))
    if a.limit:
        train = train[:a.limit]
        ytr = None if ytr is None else ytr[:a.limit]
    if a.eval_limit:
        test = test[:a.eval_limit]
        yte = None if yte is None else yte[:a.eval_limit]
    N, D = train.shape
    C = int(ytr.max()) + 1 if a.conditional else 0
    hid = [int(h) for h in a.hidden.split(",")]
    model = (MAF(D, a.couplings, hid, a.alpha, C) if a.model == "maf"
             else RealNVP(D, a.couplings, hid, a.alpha, C=C))
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    epoch_secs, losses = [], []
    for ep in range(a.epochs):
        t0 = time.perf_counter()
        perm = torch.randperm(N)
        total = 0.0
        for i in range(0, N, a.batch):
            idx = perm[i:i + a.batch]
            xb = train[idx].float()
            x = (xb + torch.rand_like(xb)) / 256.0
            loss = -model.log_prob(x, None if ytr is None else ytr[idx]).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if a.clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), a.clip)
            opt.step()
            total += loss.item() * x.shape[0]
        epoch_secs.append(time.perf_counter() - t0)
        losses.append(total / N)
        print(f"torch epoch {ep + 1}: nll {losses[-1]:.3f} {epoch_secs[-1]:.2f} s",
              file=sys.stderr, flush=True)
    res = {"model": a.model, "threads": a.threads, "torch": torch.__version__,
           "numpy": np.__version__, "epochs": a.epochs, "couplings": a.couplings, "hidden": a.hidden,
           "epoch_seconds": epoch_secs, "seconds_per_epoch": float(np.median(epoch_secs)),
           "images_per_s": N / float(np.median(epoch_secs)), "train_nll": losses[-1]}
    with torch.no_grad():
        xt = (test.float() + torch.rand(test.shape)) / 256.0
        lab = (lambda i, c=None: None if yte is None else
               yte[i:i + 1000] if c is None else torch.full_like(yte[i:i + 1000], c))
        model.log_prob(xt[:100], None if yte is None else yte[:100])
        t0 = time.perf_counter()
        ll = torch.cat([model.log_prob(xt[i:i + 1000], lab(i)) for i in range(0, xt.shape[0], 1000)])
        res["seconds_eval"] = time.perf_counter() - t0
        log_prior = None
        if C:  # Bayes' rule: log p(x|c) + log p(c), normalised over c
            log_prior = torch.log(torch.bincount(ytr, minlength=C).double() / ytr.shape[0])
            t0 = time.perf_counter()
            lj = torch.stack([torch.cat([model.log_prob(xt[i:i + 1000], lab(i, c))
                                         for i in range(0, xt.shape[0], 1000)]).double()
                              + log_prior[c] for c in range(C)], 1)
            post = lj - torch.logsumexp(lj, 1, keepdim=True)
            res["seconds_classify"] = time.perf_counter() - t0
            res["accuracy"] = float((post.argmax(1) == yte).double().mean())
            res["mean_log_p_y_given_x"] = float(post.gather(1, yte[:, None]).mean())
    nll = float(-ll.double().mean())
    res["test_nll_nats"] = nll
    res["test_nll_stderr"] = float(ll.double().std() / math.sqrt(ll.shape[0]))
    res["bits_per_dim"] = nll / (D * math.log(2)) + 8
    res["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    if a.save:
        save_dgm(a.save, model, log_prior)
        res["saved"] = a.save
    print(json.dumps(res))


if __name__ == "__main__":
    main()
