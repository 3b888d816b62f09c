#!/bin/sh
# Timing of one model beside its PyTorch twin, side by side in pairs (the machine's speed
# drifts by 1.5x within minutes, so single runs mislead): each pair runs dgm (THREADS
# threads) and then PyTorch at 1 and at 2 threads with the environment's OpenBLAS kernel,
# and, on AVX-512 processors, with OPENBLAS_CORETYPE=SkylakeX set in its process alone.
# Each side trains one epoch of the first LIMIT training images (0: all 60,000) and then
# scores the first EVAL test images. Both sides' figure is the epoch's steps: dgm's comes
# from its --log epoch line, which leaves out the model file and checkpoint (parameters
# and optimizer moments) that dgm train writes after every epoch and PyTorch's loop does
# not (about 0.25 s after a 2.8 s RealNVP epoch of 5,000 images); its JSON "seconds"
# counts them. Prints one line per pair with every side's seconds and the ratios
# PyTorch / dgm, then the median of the pair ratios for each PyTorch setting and
# against each pair's best setting, and the load average.
#
# MODEL, with the same architecture and protocol on both sides:
#   vae-logistic  784-400-20 VAE, discretised logistic decoder, batch 128; eval K = 100
#                 (bench/vae_dlogistic_torch.py)
#   made, made32  784-500-784 MADE, 1 or 32 masks, binarized data, batch 100
#                 (bench/made_torch.py; the 32-mask score is the mixture)
#   realnvp       6 couplings, 784-500-1568 conditioners, batch 100 (bench/flow_torch.py)
#   maf           5 layers of 784-500-1568 MADEs, batch 100 (bench/flow_torch.py)
# usage: bench/pair_time.sh MODEL BUILD OUT_DIR [PAIRS 3] [THREADS 2] [LIMIT 0] [EVAL 1000]
set -e
model=$1; build=${2:-build}; out=${3:-/tmp/pair_time}; pairs=${4:-3}; threads=${5:-2}
limit=${6:-0}; ne=${7:-1000}
py=${PYTHON:-/usr/bin/python3}
case "$model" in
vae-logistic) dt="--decoder logistic --sigma predicted"; de="--importance-samples 100"
    pt="bench/vae_dlogistic_torch.py --k 100" ;;
made) dt="--model made --masks 1"; de=""; pt="bench/made_torch.py --masks 1" ;;
made32) dt="--model made --masks 32"; de=""; pt="bench/made_torch.py --masks 32" ;;
realnvp) dt="--model realnvp --couplings 6 --hidden 500"; de=""
    pt="bench/flow_torch.py --model realnvp --couplings 6 --hidden 500" ;;
maf) dt="--model maf --layers 5 --hidden 500"; de=""
    pt="bench/flow_torch.py --model maf --couplings 5 --hidden 500" ;;
*) echo "pair_time.sh: unknown model '$model' (vae-logistic, made, made32, realnvp, maf)" >&2
   exit 2 ;;
esac
mkdir -p "$out"
[ -f "$out/train_u8.npy" ] || "$build/bench/bench_vae_data" "$out"
export OMP_WAIT_POLICY=passive
# SkylakeX kernels execute AVX-512 instructions: elsewhere they stop on SIGILL
settings="1 2"
grep -q avx512f /proc/cpuinfo 2>/dev/null && settings="1 2 1s 2s"
field() { sed -n "s/.*\"$1\": *\([0-9.e+-]*\).*/\1/p" "$2" | head -n 1; }
echo "# $model: load $(cut -d' ' -f1-3 /proc/loadavg); dgm at $threads threads; training images: ${limit} (0: all); eval: $ne test images; PyTorch settings: $settings (s: SkylakeX)"
: >"$out/pairs.txt"
i=0
while [ $i -lt "$pairs" ]; do
    rm -f "$out/dt.jsonl"
    # shellcheck disable=SC2086
    "$build/dgm" train $dt --epochs 1 --limit "$limit" --threads "$threads" \
        -o "$out/t.safetensors" --log "$out/dt.jsonl" >/dev/null 2>&1
    # shellcheck disable=SC2086
    "$build/dgm" eval "$out/t.safetensors" --data fashion-mnist:test --limit "$ne" $de \
        --threads "$threads" --json >"$out/de.json"
    line="$(field seconds "$out/dt.jsonl") $(field seconds_nll "$out/de.json")"
    for side in $settings; do
        t=${side%s}; core=""
        [ "$side" != "$t" ] && core="OPENBLAS_CORETYPE=SkylakeX"
        # shellcheck disable=SC2086
        env $core "$py" $pt --data "$out" --epochs 1 --threads "$t" --limit "$limit" \
            --eval-limit "$ne" >"$out/pt.json" 2>/dev/null
        line="$line $(field seconds_per_epoch "$out/pt.json") $(field seconds_eval "$out/pt.json")"
    done
    echo "$line" >>"$out/pairs.txt"
    i=$((i + 1))
    echo "$line" | awk -v p=$i -v names="$settings" -v load="$(cut -d' ' -f1 /proc/loadavg)" '
        { n = split(names, nm, " "); s = sprintf("pair %d: dgm train %.2f s eval %.2f s |", p, $1, $2)
          for (k = 1; k <= n; k++) s = s sprintf(" torch-%st %.2f/%.2f (%.2fx/%.2fx)", nm[k],
              $(1 + 2 * k), $(2 + 2 * k), $(1 + 2 * k) / $1, $(2 + 2 * k) / $2)
          print s " (load " load ")" }'
done
# the medians of the pair ratios, and of each pair's best PyTorch setting over dgm
awk -v names="$settings" '
     { n = split(names, nm, " ")
       bt = $3; be = $4
       for (k = 1; k <= n; k++) { tr[k, NR] = $(1 + 2 * k) / $1; ev[k, NR] = $(2 + 2 * k) / $2
           if ($(1 + 2 * k) < bt) bt = $(1 + 2 * k); if ($(2 + 2 * k) < be) be = $(2 + 2 * k) }
       tr[n + 1, NR] = bt / $1; ev[n + 1, NR] = be / $2 }
     function med(a, s, m,   i, j, t, v) { for (i = 1; i <= m; i++) v[i] = a[s, i]
         for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
         return m % 2 ? v[(m + 1) / 2] : (v[m / 2] + v[m / 2 + 1]) / 2 }
     END { for (k = 1; k <= n + 1; k++)
               printf "median PyTorch/dgm over %d pairs, %-12s train %.2fx  eval %.2fx\n", NR,
                   k <= n ? "torch-" nm[k] "t" : "torch-best", med(tr, k, NR), med(ev, k, NR) }' "$out/pairs.txt"
echo "# load $(cut -d' ' -f1-3 /proc/loadavg)"
