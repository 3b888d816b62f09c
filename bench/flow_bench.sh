#!/bin/sh
# RealNVP beside its PyTorch twin (bench/flow_torch.py) on dequantised Fashion-MNIST, the
# same protocol on both sides: K couplings with D-H-2D ReLU conditioners, logit transform
# (alpha 0.05), Adam 1e-3, batch 100, dequantisation afresh each step, EPOCHS epochs. Both
# trained models are scored by `dgm eval` on dgm's dequantisation of the test set (and
# PyTorch's also by itself). One side at a time; one JSON line per side; load average.
# usage: bench/flow_bench.sh BUILD OUT_DIR [EPOCHS] [THREADS] [COUPLINGS] [HIDDEN] [MODEL]
# (MODEL realnvp or maf; for maf, COUPLINGS is the number of autoregressive layers)
# CLIP=NORM in the environment clips the gradient norm on both sides (dgm's --clip and
# torch.nn.utils.clip_grad_norm_); 0, the default, leaves it off. SEED=N seeds both sides
# (dgm's --seed, flow_torch.py's --seed; default 1), for the spread over seeds.
set -e
build=${1:-build}; out=${2:-/tmp/made_bench}; epochs=${3:-5}; threads=${4:-2}
K=${5:-8}; H=${6:-1000}; model=${7:-realnvp}
kopt=--couplings; [ "$model" = maf ] && kopt=--layers
clip=${CLIP:-0}; seed=${SEED:-1}
py=${PYTHON:-/usr/bin/python3}
mkdir -p "$out"
[ -f "$out/train_u8.npy" ] || "$build/bench/bench_vae_data" "$out"
export OMP_WAIT_POLICY=passive
echo "# load $(cut -d' ' -f1-3 /proc/loadavg)"
t0=$(date +%s.%N)
"$build/dgm" train --model "$model" $kopt "$K" --hidden "$H" --epochs "$epochs" \
    --clip "$clip" --seed "$seed" --threads "$threads" -o "$out/dgm_$model.safetensors" --json >"$out/dgm_$model.json"
t1=$(date +%s.%N)
"$build/dgm" eval "$out/dgm_$model.safetensors" --data fashion-mnist:test --threads "$threads" \
    --json >"$out/dgm_$model.eval.json"
echo "{\"side\":\"dgm\",\"train_wall_s\":$(echo "$t1 - $t0" | bc),\"train\":$(cat "$out/dgm_$model.json"),\"eval\":$(cat "$out/dgm_$model.eval.json")}"
echo "# load $(cut -d' ' -f1-3 /proc/loadavg)"
"$py" bench/flow_torch.py --model "$model" --data "$out" --epochs "$epochs" --threads "$threads" \
    --couplings "$K" --hidden "$H" --clip "$clip" --seed "$seed" --save "$out/torch_$model.safetensors" >"$out/torch_$model.json"
"$build/dgm" eval "$out/torch_$model.safetensors" --data fashion-mnist:test --threads "$threads" \
    --json >"$out/torch_$model.eval.json"
echo "{\"side\":\"torch\",\"torch\":$(cat "$out/torch_$model.json"),\"dgm_eval_of_torch\":$(cat "$out/torch_$model.eval.json")}"
echo "# load $(cut -d' ' -f1-3 /proc/loadavg)"
