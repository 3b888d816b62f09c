#!/bin/sh
# Protein-family benchmark (issue 7): BLAT_ECOLX Spearman against column 2500 for the
# site-independent model, the plain and the Bayesian sequence VAE (one model and an
# ensemble of seeds), training and scoring time, and the PyTorch plain model
# (bench/seqvae_torch.py) run on the same machine for the speed ratios. Not part of
# `make test`: the full run takes hours on 2 cores. Prints a Markdown table on stdout and
# keeps every model, log and JSON under $OUT.
#
#   sh bench/protein.sh [BUILD]          (BUILD defaults to build; run `make` first)
#
# Knobs (environment): DATA (../shared/data/protein), OUT ($BUILD/bench-protein),
#   THREADS (2), PLAIN_STEPS (2000), BAYES_MINUTES (30), SEEDS ("1 2 3 4 5"),
#   SAMPLES (200 ELBO samples per mutant when scoring), EVAL_EVERY (1000),
#   TORCH_STEPS (300), SKIP_TORCH (unset), SKIP_ENSEMBLE (unset), SPEED_ONLY (unset: set it
#   to run only the dgm/PyTorch speed rows, a few minutes), PAIRS (3 alternating
#   PyTorch/dgm speed pairs; the ratios quoted are their medians).
# Quick smoke run: PLAIN_STEPS=200 BAYES_MINUTES=2 SEEDS=1 SAMPLES=20 sh bench/protein.sh
set -e
BUILD=${1:-build}
DGM=$BUILD/dgm
DATA=${DATA:-../shared/data/protein}
OUT=${OUT:-$BUILD/bench-protein}
THREADS=${THREADS:-2}
PLAIN_STEPS=${PLAIN_STEPS:-2000}
BAYES_MINUTES=${BAYES_MINUTES:-30}
SEEDS=${SEEDS:-"1 2 3 4 5"}
SAMPLES=${SAMPLES:-200}
EVAL_EVERY=${EVAL_EVERY:-1000}
TORCH_STEPS=${TORCH_STEPS:-300}
ALN=$DATA/BLAT_ECOLX_hmmerbit_plmc_n5_m30_f50_t0.2_r24-286_id100_b105.a2m
CSV=$DATA/BLAT_ECOLX_Ranganathan2015.csv
[ -x "$DGM" ] || { echo "protein.sh: $DGM not built (run make)" >&2; exit 1; }
[ -r "$ALN" ] && [ -r "$CSV" ] || { echo "protein.sh: $ALN or $CSV missing" >&2; exit 1; }
mkdir -p "$OUT"
# OpenBLAS 0.3.21 may pick its AVX2 (Haswell) kernels on AVX-512 AMD cores (Zen 4), or the
# environment may ask for them; its SkylakeX kernels can double sgemm there. dgm's fp32
# products run on oneDNN, which picks AVX-512 itself; PyTorch (Debian's, on the system
# OpenBLAS) is tried with the environment's kernel and with OPENBLAS_CORETYPE=SkylakeX in
# its own process only, where that gives the same loss and Spearman (CORE_TOL). Passive
# waiting keeps idle OpenMP threads from spinning against busy neighbours.
SKX=""
grep -q avx512f /proc/cpuinfo 2>/dev/null && SKX=SkylakeX
PAIRS=${PAIRS:-3}
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
load1() { cut -d' ' -f1 /proc/loadavg 2>/dev/null; }
# A JSON number out of a one-line object (no jq on the machine).
field() { sed -n "s/.*\"$2\":\([^,}]*\).*/\1/p" "$1"; }
T="--threads $THREADS"

if [ -z "$SPEED_ONLY" ]; then
echo "protein.sh: site-independent model" >&2
"$DGM" train --model independent --data "$ALN" -o "$OUT/indep.safetensors" $T --json > "$OUT/indep_train.json"
"$DGM" mutations "$OUT/indep.safetensors" --csv "$CSV" --column 2500 -o "$OUT/indep_scores.csv" $T --json > "$OUT/indep_mut.json"

echo "protein.sh: plain VAE, $PLAIN_STEPS steps" >&2
"$DGM" train --data "$ALN" --variant plain --steps "$PLAIN_STEPS" --eval-every "$EVAL_EVERY" \
    --eval-csv "$CSV" --log "$OUT/plain.log" -o "$OUT/plain.safetensors" $T --seed 1 --json > "$OUT/plain_train.json"
"$DGM" mutations "$OUT/plain.safetensors" --csv "$CSV" --column 2500 --elbo-samples "$SAMPLES" \
    -o "$OUT/plain_scores.csv" $T --json > "$OUT/plain_mut.json"

ens=""
for s in $SEEDS; do
    echo "protein.sh: Bayesian VAE seed $s, $BAYES_MINUTES min" >&2
    "$DGM" train --data "$ALN" --variant bayesian --steps 100000000 \
        --time-limit "$((BAYES_MINUTES * 60))" --eval-every "$EVAL_EVERY" --eval-csv "$CSV" \
        --log "$OUT/bayes$s.log" -o "$OUT/bayes$s.safetensors" $T --seed "$s" --json > "$OUT/bayes${s}_train.json"
    "$DGM" mutations "$OUT/bayes$s.safetensors" --csv "$CSV" --column 2500 --elbo-samples "$SAMPLES" \
        -o "$OUT/bayes${s}_scores.csv" $T --json > "$OUT/bayes${s}_mut.json"
    ens="$ens${ens:+,}$OUT/bayes$s.safetensors"
    [ -n "$SKIP_ENSEMBLE" ] && break
done
first=$(echo $SEEDS | cut -d' ' -f1)
if [ -z "$SKIP_ENSEMBLE" ] && [ "$(echo $SEEDS | wc -w)" -gt 1 ]; then
    echo "protein.sh: ensemble of $(echo $SEEDS | wc -w)" >&2
    "$DGM" mutations --ensemble "$ens" --csv "$CSV" --column 2500 --elbo-samples "$SAMPLES" \
        -o "$OUT/ensemble_scores.csv" $T --json > "$OUT/ensemble_mut.json"
fi

fi

# PyTorch at 1 and at $THREADS threads (its intra-op threads and OpenBLAS's oversubscribe
# 2 cores, so either can win), each with the environment's OpenBLAS kernel and SkylakeX;
# the fastest that computes correctly is PyTorch's best. Then PAIRS alternating pairs,
# PyTorch's best then dgm, with the load average before each run; the ratios quoted are
# the medians of the pairs' ratios.
if [ -z "$SKIP_TORCH" ]; then
    for th in 1 $THREADS; do
        for core in env $SKX; do
            echo "protein.sh: PyTorch plain model, $TORCH_STEPS steps, $th threads, OpenBLAS kernel $core (load $(load1))" >&2
            if [ "$core" = env ]; then
                /usr/bin/python3 bench/seqvae_torch.py --data "$ALN" --csv "$CSV" --steps "$TORCH_STEPS" \
                    --samples "$SAMPLES" --threads "$th" > "$OUT/torch_${th}_$core.json"
            else
                OPENBLAS_CORETYPE=$core /usr/bin/python3 bench/seqvae_torch.py --data "$ALN" --csv "$CSV" \
                    --steps "$TORCH_STEPS" --samples "$SAMPLES" --threads "$th" > "$OUT/torch_${th}_$core.json"
            fi
        done
    done
    # the best setting: fastest training step rate among the kernels that pass the check
    best=$(/usr/bin/python3 - "$OUT" $THREADS $SKX <<'PY'
import json, sys
out, threads, cores = sys.argv[1], sys.argv[2], ["env"] + sys.argv[3:]
# another kernel sums in another order: after the same steps the loss and the Spearman
# move a little; a wrong kernel moves them far more
LOSS_TOL, RHO_TOL = 0.02, 0.02
r = {(t, c): json.load(open(f"{out}/torch_{t}_{c}.json")) for t in ("1", threads) for c in cores}
ok = {"env": True}
for c in cores[1:]:
    ok[c] = all(abs(r[(t, c)]["loss"] - r[(t, "env")]["loss"]) <= LOSS_TOL * abs(r[(t, "env")]["loss"])
                and abs(r[(t, c)]["spearman"] - r[(t, "env")]["spearman"]) <= RHO_TOL for t in ("1", threads))
    print(f"protein.sh: OPENBLAS_CORETYPE={c}: " + ("kept" if ok[c] else "DROPPED") + " (loss "
          + ", ".join(f"{r[(t, c)]['loss']:.4f} vs {r[(t, 'env')]['loss']:.4f}" for t in ("1", threads))
          + "; Spearman " + ", ".join(f"{r[(t, c)]['spearman']:.4f} vs {r[(t, 'env')]['spearman']:.4f}"
                                     for t in ("1", threads)) + ")", file=sys.stderr)
best = max((k for k in r if ok[k[1]]), key=lambda k: r[k]["steps_per_second"])
print(f"{best[0]} {best[1]}")
PY
)
    set -- $best
    BEST_TH=$1; BEST_CORE=$2
    cp "$OUT/torch_1_env.json" "$OUT/torch1.json"
    cp "$OUT/torch_${BEST_TH}_$BEST_CORE.json" "$OUT/torch.json"
    rm -f "$OUT/pairs.txt"
    i=1
    while [ $i -le "$PAIRS" ]; do
        lt=$(load1)
        if [ "$BEST_CORE" = env ]; then
            /usr/bin/python3 bench/seqvae_torch.py --data "$ALN" --csv "$CSV" --steps "$TORCH_STEPS" \
                --samples "$SAMPLES" --threads "$BEST_TH" > "$OUT/pair_torch.json"
        else
            OPENBLAS_CORETYPE=$BEST_CORE /usr/bin/python3 bench/seqvae_torch.py --data "$ALN" --csv "$CSV" \
                --steps "$TORCH_STEPS" --samples "$SAMPLES" --threads "$BEST_TH" > "$OUT/pair_torch.json"
        fi
        ld=$(load1)
        "$DGM" train --data "$ALN" --variant plain --steps "$TORCH_STEPS" --eval-every "$TORCH_STEPS" \
            -o "$OUT/speed.safetensors" $T --seed 1 --json > "$OUT/speed_train.json"
        "$DGM" mutations "$OUT/speed.safetensors" --csv "$CSV" --column 2500 --elbo-samples "$SAMPLES" \
            $T --json > "$OUT/speed_mut.json"
        # bf16 output products (oneDNN), where the build has them
        "$DGM" mutations "$OUT/speed.safetensors" --csv "$CSV" --column 2500 --elbo-samples "$SAMPLES" \
            --precision bf16 $T --json > "$OUT/speed_mut_bf16.json" 2>/dev/null || rm -f "$OUT/speed_mut_bf16.json"
        b16=$( [ -f "$OUT/speed_mut_bf16.json" ] && field "$OUT/speed_mut_bf16.json" seconds || echo nan)
        echo "$(field "$OUT/pair_torch.json" steps_per_second) $(field "$OUT/pair_torch.json" score_seconds) $lt $(field "$OUT/speed_train.json" steps_per_second) $(field "$OUT/speed_mut.json" seconds) $b16 $ld" >> "$OUT/pairs.txt"
        echo "protein.sh: pair $i: PyTorch $(field "$OUT/pair_torch.json" steps_per_second) steps/s, scoring $(field "$OUT/pair_torch.json" score_seconds) s (load $lt); dgm $(field "$OUT/speed_train.json" steps_per_second) steps/s, scoring $(field "$OUT/speed_mut.json" seconds) s, bf16 $b16 s (load $ld)" >&2
        i=$((i + 1))
    done
fi

# ---- the table
echo "| model | Spearman (col 2500) | mutants | training | steps/s | scoring ($SAMPLES samples) |"
echo "|---|---|---|---|---|---|"
[ -f "$OUT/indep_mut.json" ] && [ -z "$SPEED_ONLY" ] && echo "| site-independent (pc 0.5) | $(field $OUT/indep_mut.json spearman) | $(field $OUT/indep_mut.json n) | $(field $OUT/indep_train.json train_seconds) s | - | $(field $OUT/indep_mut.json seconds) s |"
[ -z "$SPEED_ONLY" ] && echo "| dgm plain VAE | $(field $OUT/plain_mut.json spearman) | $(field $OUT/plain_mut.json n) | $(field $OUT/plain_train.json train_seconds) s, $(field $OUT/plain_train.json steps) steps | $(field $OUT/plain_train.json steps_per_second) | $(field $OUT/plain_mut.json seconds) s |"
[ -z "$SPEED_ONLY" ] && echo "| dgm Bayesian VAE (seed $first) | $(field $OUT/bayes${first}_mut.json spearman) | $(field $OUT/bayes${first}_mut.json n) | $(field $OUT/bayes${first}_train.json train_seconds) s, $(field $OUT/bayes${first}_train.json steps) steps | $(field $OUT/bayes${first}_train.json steps_per_second) | $(field $OUT/bayes${first}_mut.json seconds) s |"
[ -f "$OUT/ensemble_mut.json" ] && [ -z "$SPEED_ONLY" ] && echo "| dgm Bayesian ensemble ($(echo $SEEDS | wc -w)) | $(field $OUT/ensemble_mut.json spearman) | $(field $OUT/ensemble_mut.json n) | - | - | $(field $OUT/ensemble_mut.json seconds) s |"
if [ -f "$OUT/torch.json" ]; then
    echo "| dgm plain VAE ($TORCH_STEPS steps, speed run) | $(field $OUT/speed_mut.json spearman) | $(field $OUT/speed_mut.json n) | $(field $OUT/speed_train.json train_seconds) s | $(field $OUT/speed_train.json steps_per_second) | $(field $OUT/speed_mut.json seconds) s |"
    [ -f "$OUT/speed_mut_bf16.json" ] && echo "| dgm plain VAE, scoring with --precision bf16 | $(field $OUT/speed_mut_bf16.json spearman) | $(field $OUT/speed_mut_bf16.json n) | - | - | $(field $OUT/speed_mut_bf16.json seconds) s |"
    echo "| PyTorch plain VAE, 1 thread ($TORCH_STEPS steps, speed run) | $(field $OUT/torch1.json spearman) | $(field $OUT/torch1.json mutants) | - | $(field $OUT/torch1.json steps_per_second) | $(field $OUT/torch1.json score_seconds) s |"
    echo "| PyTorch plain VAE, best: $BEST_TH threads, OpenBLAS kernel $BEST_CORE ($TORCH_STEPS steps, speed run) | $(field $OUT/torch.json spearman) | $(field $OUT/torch.json mutants) | - | $(field $OUT/torch.json steps_per_second) | $(field $OUT/torch.json score_seconds) s |"
    echo
    /usr/bin/python3 - "$OUT/pairs.txt" <<'PY'
import statistics, sys
rows = [list(map(float, l.split())) for l in open(sys.argv[1]) if l.strip()]
for i, (ts, tsc, lt, ds, dsc, b16, ld) in enumerate(rows, 1):
    print(f"pair {i}: update {ds / ts:.2f}x (PyTorch {ts:.2f} steps/s at load {lt:.2f}, dgm {ds:.2f} at load {ld:.2f}); "
          f"scoring fp32 {tsc / dsc:.2f}x" + (f", bf16 {tsc / b16:.2f}x" if b16 == b16 else ""))
med = lambda f: statistics.median(f(r) for r in rows)
print(f"median of {len(rows)} pairs (PyTorch's best / dgm): plain update {med(lambda r: r[3] / r[0]):.2f}x "
      f"(issue 18 target 3x), scoring fp32 {med(lambda r: r[1] / r[4]):.2f}x (target 2x)"
      + (f", bf16 {med(lambda r: r[1] / r[5]):.2f}x" if all(r[5] == r[5] for r in rows) else ""))
PY
fi
echo
W=$OUT/indep_train.json; [ -f "$W" ] || W=$OUT/speed_train.json
echo "Weights (Neff $(field $W neff)): dgm $(field $W weights_seconds) s$( [ -f $OUT/torch.json ] && echo ", PyTorch matrix product $(field $OUT/torch.json weights_seconds) s")."
echo "Spearman against training seconds: $OUT/plain.log, $OUT/bayes*.log (JSON lines: step, seconds, train_loss, spearman with 20 samples)."
echo "Machine: $(nproc) cores, $THREADS threads, OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-auto} (PyTorch's best: ${BEST_CORE:-env}), load $(cut -d' ' -f1-3 /proc/loadavg), OMP_WAIT_POLICY=$OMP_WAIT_POLICY; $("$DGM" --help 2>&1 | tail -1)"
