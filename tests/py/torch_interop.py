"""dgm model files and PyTorch (issue #17): a dgm VAE loads into bench/vae_torch.py's
module with load_state_dict(strict=True) and gives the same ELBO as `dgm eval --noise` on
fixed inputs and noise; a file written from a PyTorch module's state_dict loads in dgm and
agrees the same way. Prints "ok - ..." / "not ok - ..." lines. Safetensors is read and
written here directly (the format is 8 bytes of header length, a JSON header, raw data):
Debian has no python3-safetensors."""
import json, os, struct, subprocess, sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "bench"))
from vae_torch import VAE  # noqa: E402
from safetensors_io import load_file, save_file  # noqa: E402

dgm, model, tmp = sys.argv[1], sys.argv[2], sys.argv[3]


def ok(cond, name):
    print(("ok - " if cond else "not ok - ") + name)


def torch_elbo(net, x, eps):
    with torch.no_grad():
        mu, lv = net.encoder(x).chunk(2, dim=1)
        z = mu + torch.exp(0.5 * lv) * eps
        rec = F.binary_cross_entropy_with_logits(net.decoder(z), x, reduction="none").sum(1)
        kl = 0.5 * (mu * mu + lv.exp() - 1 - lv).sum(1)
    return float((rec + kl).double().mean()), float(rec.double().mean()), float(kl.double().mean())


def dgm_elbo(path, xf, ef):
    r = subprocess.run([dgm, "eval", path, "--data", xf, "--noise", ef, "--importance-samples", "2",
                        "--json"], capture_output=True, text=True)
    if r.returncode != 0:
        print("# " + r.stderr.strip())
        return None
    j = json.loads(r.stdout)
    return j["neg_elbo_nats"], j["recon_nats"], j["kl_nats"]


state, meta = load_file(model)
cfg = json.loads(meta["dgm.config"])
D, H, Z = cfg["dim"], cfg["hidden"][0], cfg["latent"]
net = VAE(D, H, Z)
try:
    res = net.load_state_dict(state, strict=True)
    ok(not res.missing_keys and not res.unexpected_keys, "load_state_dict(strict=True) takes the dgm file")
except RuntimeError as e:
    ok(False, "load_state_dict(strict=True) takes the dgm file: " + str(e).splitlines()[0])

# strictness is real: the checkpoint beside the model (optimizer moments) is refused
ck, _ = load_file(model.replace(".safetensors", ".ckpt.safetensors"))
try:
    VAE(D, H, Z).load_state_dict(ck, strict=True)
    ok(False, "strict loading refuses the training checkpoint")
except RuntimeError as e:
    ok("optimizer.exp_avg" in str(e), "strict loading refuses the training checkpoint (unexpected optimizer.*)")

rng = np.random.default_rng(7)
n = 64
x = (rng.random((n, D)) < 0.3).astype(np.float32)
eps = rng.standard_normal((n, Z)).astype(np.float32)
xf, ef = os.path.join(tmp, "x.npy"), os.path.join(tmp, "eps.npy")
np.save(xf, x)
np.save(ef, eps)
def agree(module, path, what, name):
    """dgm eval --noise on path against PyTorch's module, on x and eps as saved."""
    t = torch_elbo(module, torch.from_numpy(x), torch.from_numpy(eps))
    d = dgm_elbo(path, xf, ef)
    print(f"# {what}: dgm {d}, PyTorch {t}")
    ok(d is not None and all(abs(a - b) <= 1e-4 * max(1.0, abs(b)) for a, b in zip(d, t)), name)
    return d


d = agree(net, model, f"-ELBO on {n} fixed inputs and noise",
          "dgm eval --noise and PyTorch agree on -ELBO, reconstruction and KL (1e-4)")
# the noise matters: other draws give another figure (so the agreement is not by accident)
np.save(ef, -eps)
d2 = dgm_elbo(model, xf, ef)
ok(d2 is not None and d is not None and abs(d2[1] - d[1]) > 1e-3, "other noise, other reconstruction term")

# the other way: a PyTorch module's own weights, written from its state_dict
torch.manual_seed(3)
mine = VAE(D, H, Z)
pt = os.path.join(tmp, "from_torch.safetensors")
save_file(mine.state_dict(), pt, {"format": "pt", "dgm.config": json.dumps(
    {"model": "vae", "dim": D, "latent": Z, "hidden": [H], "activation": "relu", "decoder": "bernoulli",
     "n_classes": 0, "likelihood": "binary", "height": 28, "width": 28})})
np.save(ef, eps)
agree(mine, pt, "PyTorch-written file", "a PyTorch-written file loads in dgm and gives PyTorch's -ELBO")
