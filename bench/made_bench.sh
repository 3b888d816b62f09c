#!/bin/sh
# MADE beside its PyTorch twin (bench/made_torch.py) on binarized Fashion-MNIST, the same
# protocol on both sides: 784-500-784 ReLU, Adam 1e-3, batch 100, dynamic binarization,
# EPOCHS epochs, natural ordering, 1 mask and then 32 masks (connectivity-agnostic, mask
# t mod 32 at step t; the test NLL is the mixture over the 32). The test set is
# bench_vae_data's test_bin.npy, binarized as `dgm eval` binarizes it, and PyTorch's
# trained weights are also scored by `dgm eval` (the same parameters, two evaluators).
# Runs one side at a time; prints one JSON line per run and the load average.
# usage: bench/made_bench.sh BUILD OUT_DIR [EPOCHS] [THREADS] [MASKS...]
set -e
build=${1:-build}; out=${2:-/tmp/made_bench}; epochs=${3:-10}; threads=${4:-2}
shift 4 2>/dev/null || shift $#
masks=${*:-1 32}
py=${PYTHON:-/usr/bin/python3}
mkdir -p "$out"
[ -f "$out/test_bin.npy" ] || "$build/bench/bench_vae_data" "$out"
export OMP_WAIT_POLICY=passive
for m in $masks; do
    echo "# load $(cut -d' ' -f1-3 /proc/loadavg)"
    t0=$(date +%s.%N)
    "$build/dgm" train --model made --masks "$m" --epochs "$epochs" --threads "$threads" \
        -o "$out/dgm_m$m.safetensors" --log "$out/dgm_m$m.jsonl" --json >"$out/dgm_m$m.json"
    t1=$(date +%s.%N)
    "$build/dgm" eval "$out/dgm_m$m.safetensors" --data fashion-mnist:test --threads "$threads" \
        --json >"$out/dgm_m$m.eval.json"
    echo "{\"side\":\"dgm\",\"masks\":$m,\"train_wall_s\":$(echo "$t1 - $t0" | bc),\"train\":$(cat "$out/dgm_m$m.json"),\"eval\":$(cat "$out/dgm_m$m.eval.json")}"
    echo "# load $(cut -d' ' -f1-3 /proc/loadavg)"
    "$py" bench/made_torch.py --data "$out" --epochs "$epochs" --threads "$threads" --masks "$m" \
        --save "$out/torch_m$m.safetensors" >"$out/torch_m$m.json"
    "$build/dgm" eval "$out/torch_m$m.safetensors" --data fashion-mnist:test --threads "$threads" \
        --json >"$out/torch_m$m.eval.json"
    echo "{\"side\":\"torch\",\"masks\":$m,\"torch\":$(cat "$out/torch_m$m.json"),\"dgm_eval_of_torch\":$(cat "$out/torch_m$m.eval.json")}"
done
echo "# load $(cut -d' ' -f1-3 /proc/loadavg)"
