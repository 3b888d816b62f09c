#!/bin/sh
# The VAE with the discretised logistic decoder beside its PyTorch twin
# (bench/vae_dlogistic_torch.py) on Fashion-MNIST's 8-bit images, the same protocol on both
# sides: 784-400-20 ReLU, predicted per-pixel log-scales, ELBO, Adam 1e-3, batch 128, EPOCHS
# epochs. Both trained models are scored by `dgm eval` on the test set with K importance
# samples (PyTorch's also by its own estimator). One side at a time; one JSON line per side;
# load average between them.
# usage: bench/vae_dlogistic_bench.sh BUILD OUT_DIR [EPOCHS] [THREADS] [K]
set -e
build=${1:-build}; out=${2:-/tmp/dlogistic_bench}; epochs=${3:-10}; threads=${4:-2}; K=${5:-100}
py=${PYTHON:-/usr/bin/python3}
mkdir -p "$out"
[ -f "$out/train_u8.npy" ] || "$build/bench/bench_vae_data" "$out"
export OMP_WAIT_POLICY=passive
echo "# load $(cut -d' ' -f1-3 /proc/loadavg)"
t0=$(date +%s.%N)
"$build/dgm" train --decoder logistic --sigma predicted --epochs "$epochs" --threads "$threads" \
    -o "$out/dgm_vae.safetensors" --json >"$out/dgm_vae.json"
t1=$(date +%s.%N)
"$build/dgm" eval "$out/dgm_vae.safetensors" --importance-samples "$K" --threads "$threads" \
    --json >"$out/dgm_vae.eval.json"
echo "{\"side\":\"dgm\",\"train_wall_s\":$(echo "$t1 - $t0" | bc),\"train\":$(cat "$out/dgm_vae.json"),\"eval\":$(cat "$out/dgm_vae.eval.json")}"
echo "# load $(cut -d' ' -f1-3 /proc/loadavg)"
"$py" bench/vae_dlogistic_torch.py --data "$out" --epochs "$epochs" --threads "$threads" --k "$K" \
    --save "$out/torch_vae.safetensors" >"$out/torch_vae.json"
"$build/dgm" eval "$out/torch_vae.safetensors" --importance-samples "$K" --threads "$threads" \
    --json >"$out/torch_vae.eval.json"
echo "{\"side\":\"torch\",\"torch\":$(cat "$out/torch_vae.json"),\"dgm_eval_of_torch\":$(cat "$out/torch_vae.eval.json")}"
echo "# load $(cut -d' ' -f1-3 /proc/loadavg)"
