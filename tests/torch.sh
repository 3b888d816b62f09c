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
exit 0
