#!/bin/sh
# Timing of the discretised-logistic VAE beside its PyTorch twin (bench/vae_dlogistic_torch.py),
# side by side in pairs: each pair runs dgm (THREADS threads) and then PyTorch at 1 and at 2
# threads with the default OpenBLAS kernel and with OPENBLAS_CORETYPE=SkylakeX set in its
# process alone. Each side trains one epoch of the 60000 training images (784-400-20,
# batch 128, Adam 1e-3) and scores the first EVAL test images with K = 100 importance
# samples. Prints one line per pair with the seconds of every side and the ratios
# PyTorch / dgm, then the median of the pair ratios for each PyTorch setting, against its
# best setting too, and the load average.
# usage: bench/vae_dlogistic_time.sh BUILD OUT_DIR [PAIRS 3] [THREADS 2] [EVAL 1000]
set -e
build=${1:-build}; out=${2:-/tmp/dlogistic_time}; pairs=${3:-3}; threads=${4:-2}; ne=${5:-1000}
py=${PYTHON:-/usr/bin/python3}
mkdir -p "$out"
[ -f "$out/train_u8.npy" ] || "$build/bench/bench_vae_data" "$out"
export OMP_WAIT_POLICY=passive
field() { sed -n "s/.*\"$1\": *\([0-9.e+-]*\).*/\1/p" "$2" | head -n 1; }
echo "# load $(cut -d' ' -f1-3 /proc/loadavg); dgm at $threads threads; eval: $ne test images, K = 100"
i=0
: >"$out/pairs.txt"
while [ $i -lt "$pairs" ]; do
    "$build/dgm" train --decoder logistic --sigma predicted --epochs 1 --threads "$threads" \
        -o "$out/t.safetensors" --json >"$out/dt.json" 2>/dev/null
    "$build/dgm" eval "$out/t.safetensors" --limit "$ne" --importance-samples 100 \
        --threads "$threads" --json >"$out/de.json"
    line="$(field seconds "$out/dt.json") $(field seconds_nll "$out/de.json")"
    for side in 1 2 1s 2s; do
        t=${side%s}; core=""
        [ "$side" != "$t" ] && core="OPENBLAS_CORETYPE=SkylakeX"
        env $core "$py" bench/vae_dlogistic_torch.py --data "$out" --epochs 1 --threads "$t" \
            --k 100 --eval-limit "$ne" >"$out/pt.json" 2>/dev/null
        line="$line $(field seconds_per_epoch "$out/pt.json") $(field seconds_eval "$out/pt.json")"
    done
    echo "$line" >>"$out/pairs.txt"
    i=$((i + 1))
    echo "$line" | awk -v p=$i '{ printf "pair %d: dgm train %.2f s eval %.2f s | torch train/eval 1t %.2f/%.2f 2t %.2f/%.2f 1t-SkylakeX %.2f/%.2f 2t-SkylakeX %.2f/%.2f | train ratios %.2f %.2f %.2f %.2f  eval ratios %.2f %.2f %.2f %.2f (load %s)\n", p, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $3/$1, $5/$1, $7/$1, $9/$1, $4/$2, $6/$2, $8/$2, $10/$2, "'"$(cut -d' ' -f1 /proc/loadavg)"'" }'
done
# the medians of the pair ratios, and of each pair's best PyTorch setting over dgm
awk '{ for (s = 0; s < 4; s++) { tr[s, NR] = $(3 + 2 * s) / $1; ev[s, NR] = $(4 + 2 * s) / $2 }
       bt = $3; be = $4; for (s = 1; s < 4; s++) { if ($(3 + 2 * s) < bt) bt = $(3 + 2 * s); if ($(4 + 2 * s) < be) be = $(4 + 2 * s) }
       tr[4, NR] = bt / $1; ev[4, NR] = be / $2 }
     function med(a, s, n,   i, j, t, v) { for (i = 1; i <= n; i++) v[i] = a[s, i]
         for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
         return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2 }
     END { split("torch-1t torch-2t torch-1t-SkylakeX torch-2t-SkylakeX torch-best", nm, " ")
           for (s = 0; s < 5; s++) printf "median PyTorch/dgm over %d pairs, %-18s train %.2fx  eval %.2fx\n", NR, nm[s + 1], med(tr, s, NR), med(ev, s, NR) }' "$out/pairs.txt"
echo "# load $(cut -d' ' -f1-3 /proc/loadavg)"
