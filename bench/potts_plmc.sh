#!/bin/sh
# dgm's Potts model beside plmc (debbiemarkslab/plmc, built by the user with
# `make all-openmp32`): for each setting, time and peak RSS of both fits (/usr/bin/time -v),
# run in pairs alternating plmc, dgm, plmc, dgm, ...; the final objective of each, evaluated
# by one exact function (bench_potts --model) at both sides' parameters, beside the value
# plmc prints (which it sums in float); the Spearman of E(mutant) - E(wt) against the BLAT
# scan's column 2500 for both sides' parameters (plmc's converted by bench/plmc_to_dgm.py and
# scored by dgm mutations); the top-100 coupling pairs' overlap on DHFR.
#
# usage: PLMC=/path/to/plmc sh bench/potts_plmc.sh [BUILD]    (or PLMC as $2)
#   PAIRS=N     timing pairs per setting (1)
#   SETTINGS="dhfr blat_readme blat_evc"   which fits
#   THREADS=2   threads on both sides
#   OUT=dir     where the fits go (a new temporary folder)
# Fetches nothing; without a plmc binary it says so and exits 0. The machine is shared:
# /proc/loadavg is printed beside each run, and timings on a loaded machine are noisy.
build=${1:-build}
plmc=${PLMC:-$2}
if [ -z "$plmc" ] || [ ! -x "$plmc" ]; then
    echo "skip - potts_plmc: no plmc binary (give PLMC=/path/to/plmc)"; exit 0
fi
data=${DGM_SHARED_DATA:-../shared/data}/protein
if [ ! -f "$data/plmc/DHFR.a2m" ]; then
    echo "skip - potts_plmc: $data/plmc/DHFR.a2m not found (set DGM_SHARED_DATA)"; exit 0
fi
pairs=${PAIRS:-1}; threads=${THREADS:-2}
settings=${SETTINGS:-"dhfr blat_readme blat_evc"}
out=${OUT:-$(mktemp -d /tmp/potts-bench.XXXXXX)}
mkdir -p "$out"
dgm="$build/dgm"; bp="$build/bench/bench_potts"
here=$(dirname "$0")
blat="$data/BLAT_ECOLX_hmmerbit_plmc_n5_m30_f50_t0.2_r24-286_id100_b105.a2m"
scan="$data/BLAT_ECOLX_Ranganathan2015.csv"
echo "potts beside plmc: $(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(nproc) cores, $threads threads, plmc $plmc, results in $out"

# settings: name alignment focus plmc-options dgm-options bench_potts-options
args() {
    case $1 in
    dhfr) echo "$data/plmc/DHFR.a2m|DYR_ECOLI|-le 16.0 -lh 0.01 -m 100 -g|--lambda-j 16 --lambda-h 0.01 --max-iter 100 --gaps ignore|--lambda-j 16" ;;
    blat_readme) echo "$blat|BLAT_ECOLX|-le 16.0 -lh 0.01 -m 100 -t 0.2 -g|--lambda-j 16 --lambda-h 0.01 --max-iter 100 --theta 0.2 --gaps ignore|--lambda-j 16" ;;
    blat_evc) echo "$blat|BLAT_ECOLX|-le 50.4 -lh 0.01 -m 200 -t 0.2|--lambda-j 50.4 --lambda-h 0.01 --max-iter 200 --theta 0.2 --gaps state|--lambda-j 50.4 --gaps state" ;;
    esac
}
field() { echo "$1" | cut -d'|' -f"$2"; }
rss() { sed -n 's/.*Maximum resident set size (kbytes): //p' "$1"; }
wall() { /usr/bin/python3 -c "
import sys
t = [l for l in open('$1') if 'Elapsed (wall clock)' in l][0].split()[-1].split(':')
s = 0.0
for x in t: s = s * 60 + float(x)
print(s)"; }

printf '\n| setting | side | pair | seconds | peak RSS MiB | load before | objective (exact) | objective printed | Spearman 2500 |\n|---|---|---|---|---|---|---|---|---|\n'
for s in $settings; do
    a=$(args "$s"); aln=$(field "$a" 1); foc=$(field "$a" 2)
    po=$(field "$a" 3); do_=$(field "$a" 4); bo=$(field "$a" 5)
    for p in $(seq 1 "$pairs"); do
        lp=$(cut -d' ' -f1 /proc/loadavg)
        /usr/bin/time -v "$plmc" -o "$out/$s.$p.params" -c "$out/$s.$p.ec" $po -f "$foc" -n "$threads" "$aln" \
            >/dev/null 2>"$out/$s.$p.plmc.err" || { echo "plmc failed: $out/$s.$p.plmc.err"; exit 1; }
        ld=$(cut -d' ' -f1 /proc/loadavg)
        /usr/bin/time -v "$dgm" train --model potts --data "$aln" --focus "$foc" $do_ --threads "$threads" --quiet \
            -o "$out/$s.$p.dgm.st" --json >"$out/$s.$p.dgm.json" 2>"$out/$s.$p.dgm.err" || { echo "dgm failed: $out/$s.$p.dgm.err"; exit 1; }
        /usr/bin/python3 "$here/plmc_to_dgm.py" "$out/$s.$p.params" "$out/$s.$p.dgm.st" "$out/$s.$p.plmc.st" || exit 1
        for side in plmc dgm; do
            model="$out/$s.$p.$side.st"; t="$out/$s.$p.$side.err"
            if [ $side = plmc ]; then
                printed=$(grep -E '^[0-9]+\s' "$t" | tail -n 1 | cut -f4); load=$lp
            else
                printed=$(/usr/bin/python3 -c "import json; print('%.1f' % json.load(open('$out/$s.$p.dgm.json'))['objective'])"); load=$ld
            fi
            exact=$("$bp" "$aln" --model "$model" $bo --threads "$threads" | sed -n 's/^objective at [^:]*: \([0-9.]*\).*/\1/p')
            rho=-
            case $s in blat*) rho=$("$dgm" mutations "$model" --csv "$scan" --column 2500 --json 2>/dev/null |
                /usr/bin/python3 -c "import json,sys; print('%.4f' % json.load(sys.stdin)['spearman'])") ;; esac
            printf '| %s | %s | %s | %.1f | %.0f | %s | %s | %s | %s |\n' "$s" "$side" "$p" "$(wall "$t")" \
                "$(echo "$(rss "$t") / 1024" | bc -l)" "$load" "$exact" "$printed" "$rho"
            echo "$s $side $p $(wall "$t")" >>"$out/times"
        done
    done
    if [ "$s" = dhfr ]; then
        "$dgm" couplings "$out/dhfr.1.dgm.st" -o "$out/dhfr.dgm.ec" --plmc >/dev/null
        /usr/bin/python3 - "$out/dhfr.1.ec" "$out/dhfr.dgm.ec" <<'PY'
import sys
def top(path, n=100):
    rows = [l.split() for l in open(path)]
    pos = sorted({int(r[0]) for r in rows} | {int(r[2]) for r in rows})
    rank = {p: k for k, p in enumerate(pos)}   # plmc numbers by alignment column, dgm by residue
    rows.sort(key=lambda r: -float(r[5]))
    return {(rank[int(r[0])], rank[int(r[2])]) for r in rows[:n]}
print("\nDHFR top-100 coupling pairs shared by plmc and dgm (by model column): %d"
      % len(top(sys.argv[1]) & top(sys.argv[2])))
PY
    fi
done
/usr/bin/python3 - "$out/times" <<'PY'
import sys, statistics
t = {}
for l in open(sys.argv[1]):
    s, side, p, sec = l.split(); t.setdefault(s, {}).setdefault(p, {})[side] = float(sec)
print()
for s, ps in t.items():
    r = [v["plmc"] / v["dgm"] for v in ps.values() if "plmc" in v and "dgm" in v]
    print("%s: plmc / dgm time, median over %d pair(s): %.2f" % (s, len(r), statistics.median(r)))
PY
echo "load average now: $(cut -d' ' -f1-3 /proc/loadavg)"
