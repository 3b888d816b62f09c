#!/bin/sh
# The main job: train the reference VAE on Fashion-MNIST, evaluate it on the test set,
# and write samples and figures to out/ (or $1).
set -eu
build=${BUILD:-build}
out=${1:-out}
dgm="$build/dgm"
mkdir -p "$out"
"$dgm" train --data fashion-mnist --epochs "${EPOCHS:-10}" --val 1000 -o "$out/vae.safetensors" --log "$out/train_log.jsonl"
"$dgm" eval "$out/vae.safetensors" --data fashion-mnist:test --limit "${EVAL_LIMIT:-2000}" --importance-samples 1000 | tee "$out/eval.txt"
"$dgm" sample "$out/vae.safetensors" -n 100 -o "$out/samples.png"
"$dgm" sample "$out/vae.safetensors" -n 100 --mean -o "$out/sample_means.png"
"$dgm" reconstruct "$out/vae.safetensors" --data fashion-mnist:test -n 32 -o "$out/reconstructions.png"
"$dgm" interpolate "$out/vae.safetensors" --data fashion-mnist:test --pairs 8 --steps 12 -o "$out/interpolations.png"
"$dgm" encode "$out/vae.safetensors" --data fashion-mnist:test -o "$out/test_latents.npy"
echo "figures and model in $out/: samples.png sample_means.png reconstructions.png interpolations.png"
