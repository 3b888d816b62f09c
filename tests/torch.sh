#!/bin/sh
# dgm model files in PyTorch and back (tests/py/torch_interop.py), where Debian's
# python3-torch is installed (CI installs it; tests/deps.sh).
build=${1:-build}
dgm="$build/dgm"
if ! /usr/bin/python3 -c "import torch, numpy" 2>/dev/null; then
    echo "skip - PyTorch interop: python3-torch is not installed"; exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
data=fashion-mnist
[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || {
    /usr/bin/python3 -c "
import numpy as np; np.save('$tmp/toy.npy', (np.random.default_rng(0).random((600, 784)) < 0.3).astype(np.float32))"
    data="$tmp/toy.npy"; }
if ! "$dgm" train --data "$data" --limit 2000 --epochs 1 --hidden 32 --latent 3 -o "$tmp/m.safetensors" \
        --threads 1 >/dev/null 2>"$tmp/err"; then
    echo "not ok - train a VAE for the PyTorch test: $(cat "$tmp/err")"; exit 0
fi
OMP_NUM_THREADS=1 /usr/bin/python3 "$(dirname "$0")/py/torch_interop.py" "$dgm" "$tmp/m.safetensors" "$tmp"

# Class-conditional RealNVP and MAF both ways, exactly, on data on R^D (no Fashion-MNIST)
OMP_NUM_THREADS=1 /usr/bin/python3 "$(dirname "$0")/py/flow_interop.py" "$dgm" "$tmp"

# A class-conditional MADE trained by its PyTorch twin (bench/made_torch.py), classified by
# dgm from the file: the same accuracy and mean log p(y|x) as PyTorch's own Bayes' rule
# (two independent evaluations of the same weights, cond.weight and cond_out.weight named
# as the twin's modules).
if [ "$data" != fashion-mnist ]; then
    echo "skip - conditional MADE from PyTorch: needs Fashion-MNIST"; exit 0
fi
mkdir -p "$tmp/fm"
if "$build/bench/bench_vae_data" "$tmp/fm" >/dev/null 2>"$tmp/err" && OMP_NUM_THREADS=1 /usr/bin/python3 bench/made_torch.py --data "$tmp/fm" --epochs 1 --limit 2000 \
        --eval-limit 300 --hidden 64 --conditional --save "$tmp/cm.safetensors" >"$tmp/t.json" 2>"$tmp/err" &&
    "$dgm" classify "$tmp/cm.safetensors" --limit 300 --json --threads 1 >"$tmp/d.json" 2>>"$tmp/err"; then
    /usr/bin/python3 - "$tmp/t.json" "$tmp/d.json" <<'PY'
import json, sys
t, d = (json.load(open(p)) for p in sys.argv[1:3])
# float sums in two orders: an example whose two best classes tie to 1e-4 nats may flip
ok = abs(t["accuracy"] - d["accuracy"]) <= 1.0 / d["n"] + 1e-12 and abs(t["mean_log_p_y_given_x"] - d["mean_log_p_y_given_x"]) <= 1e-4 * abs(t["mean_log_p_y_given_x"])
print(("ok - " if ok else "not ok - ") + "conditional MADE from PyTorch: dgm classify agrees "
      "(accuracy %.4f / %.4f, mean log p(y|x) %.6f / %.6f)" % (t["accuracy"], d["accuracy"],
      t["mean_log_p_y_given_x"], d["mean_log_p_y_given_x"]))
PY
else
    echo "not ok - conditional MADE from PyTorch: $(tail -1 "$tmp/err")"
fi
exit 0
