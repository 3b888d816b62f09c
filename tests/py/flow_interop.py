"""Class-conditional flows between dgm and PyTorch (bench/flow_torch.py's twins), exactly:
on data on R^D (--alpha 0: no dequantisation noise on either side),
- a PyTorch RealNVP and MAF with three classes, written as dgm files: `dgm eval` (log p(x|y)
  with the data's labels) and `dgm classify` (Bayes' rule) give PyTorch's figures;
- a dgm-trained conditional MAF loads into the twin with load_state_dict(strict=True)
  (every name and shape, cond.weight and cond_out.weight included) and gives dgm's figure.
Prints "ok - ..." / "not ok - ..." lines."""
import json, math, os, subprocess, sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "bench"))
from flow_torch import MAF, RealNVP, save_dgm  # noqa: E402
from safetensors_io import load_file  # noqa: E402

dgm, tmp = sys.argv[1], sys.argv[2]
D, C, N = 12, 3, 300
prior = torch.tensor([0.2, 0.3, 0.5], dtype=torch.float64).log()


def ok(cond, name):
    print(("ok - " if cond else "not ok - ") + name)


def run(*args):
    r = subprocess.run([dgm, *args, "--json", "--threads", "1"], capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError(r.stderr.strip())
    return json.loads(r.stdout)


def torch_figures(model, x, y):
    with torch.no_grad():
        ll = model.log_prob(x, y).double()
        lj = torch.stack([model.log_prob(x, torch.full_like(y, c)).double() + prior[c]
                          for c in range(C)], 1)
    post = lj - torch.logsumexp(lj, 1, keepdim=True)
    return float(-ll.mean()), float(post.gather(1, y[:, None]).mean())


torch.manual_seed(3)
rng = np.random.default_rng(4)
y = torch.from_numpy(rng.integers(0, C, N).astype(np.int64))
x = torch.from_numpy((rng.standard_normal((N, D)) + 0.5 * y.numpy()[:, None]).astype(np.float32))
np.save(os.path.join(tmp, "fx.npy"), x.numpy())
np.save(os.path.join(tmp, "fy.npy"), y.numpy().astype(np.int32))
fx, fy = os.path.join(tmp, "fx.npy"), os.path.join(tmp, "fy.npy")

for name, model in (("realnvp", RealNVP(D, 3, [16], 0.0, C=C)), ("maf", MAF(D, 3, [16], 0.0, C))):
    with torch.no_grad():  # labels that matter: larger label weights than the init's
        for k, p in model.named_parameters():
            if "cond" in k:
                p.mul_(2.0)
    path = os.path.join(tmp, "t%s.safetensors" % name)
    save_dgm(path, model, prior.tolist(), height=0, width=0)
    nll, mlp = torch_figures(model, x, y)
    try:
        e = run("eval", path, "--data", fx, "--labels", fy)
        c = run("classify", path, "--data", fx, "--labels", fy)
    except RuntimeError as err:
        ok(False, "conditional %s from PyTorch: %s" % (name, err))
        continue
    ok(abs(e["nll_nats"] - nll) <= 1e-5 * abs(nll) + 1e-4,
       "conditional %s from PyTorch: dgm eval gives PyTorch's -log p(x|y) (%.6f / %.6f)"
       % (name, e["nll_nats"], nll))
    ok(abs(c["mean_log_p_y_given_x"] - mlp) <= 1e-4 and abs(mlp) > 1e-3,
       "conditional %s from PyTorch: dgm classify gives PyTorch's mean log p(y|x) (%.6f / %.6f)"
       % (name, c["mean_log_p_y_given_x"], mlp))

# the other way: dgm's conditional MAF in the twin, strict
path = os.path.join(tmp, "dmaf.safetensors")
r = subprocess.run([dgm, "train", "--model", "maf", "--conditional", "--alpha", "0", "--layers",
                    "2", "--hidden", "16", "--data", fx, "--labels", fy, "--epochs", "2",
                    "--batch", "50", "--threads", "1", "-o", path], capture_output=True, text=True)
if r.returncode:
    ok(False, "train a conditional MAF for PyTorch: " + r.stderr.strip())
    sys.exit(0)
sd, meta = load_file(path)
cfg = json.loads(meta["dgm.config"])
twin = MAF(D, cfg["n_layers"], cfg["hidden"], cfg["alpha"], cfg["n_classes"])
try:
    twin.load_state_dict(sd, strict=True)
    loaded = True
except RuntimeError as err:
    loaded = False
    ok(False, "dgm's conditional MAF into PyTorch: %s" % str(err).splitlines()[0])
if loaded:
    prior = torch.tensor(cfg["log_prior"], dtype=torch.float64)
    nll, mlp = torch_figures(twin, x, y)
    e = run("eval", path, "--data", fx, "--labels", fy)
    c = run("classify", path, "--data", fx, "--labels", fy)
    ok(abs(e["nll_nats"] - nll) <= 1e-5 * abs(nll) + 1e-4 and
       abs(c["mean_log_p_y_given_x"] - mlp) <= 1e-4,
       "dgm's conditional MAF in PyTorch (strict names): the same -log p(x|y) and mean "
       "log p(y|x) (%.6f / %.6f, %.6f / %.6f)" % (e["nll_nats"], nll, c["mean_log_p_y_given_x"], mlp))
