#!/bin/sh
# The cost of deterministic reductions (issue #15): dgm train of the reference VAE, one
# epoch of Fashion-MNIST, by a baseline binary A (today's main) and the binary B beside it,
# alternating A B A B ..., at the same --threads. Prints each pair's training seconds (the
# "(N s)" of the summary line, data loading excluded), the median of the pair ratios B/A
# and the load average before and after.
# usage: bench/det_cost.sh A/dgm B/dgm [threads 2] [pairs 3] [extra dgm train options for B]
a=${1:?baseline dgm}; b=${2:?new dgm}; t=${3:-2}; pairs=${4:-3}; shift 4 2>/dev/null
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
# training seconds; the process's user + system CPU seconds (data loading included) in $tmp/cpu
secs() { bin=$1; shift; /usr/bin/time -f "%U %S" -o "$tmp/time" "$bin" train --epochs 1 --threads "$t" \
         -o "$tmp/m.safetensors" "$@" 2>/dev/null | sed -nE 's/.*\(([0-9.]+) s\)$/\1/p' | tail -n 1
         awk '{ printf "%.2f", $1 + $2 }' "$tmp/time" >"$tmp/cpu"; }
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)  threads $t  $(nproc) cores"
ratios=""
i=0
while [ $i -lt "$pairs" ]; do
    sa=$(secs "$a"); ca=$(cat "$tmp/cpu"); sb=$(secs "$b" "$@"); cb=$(cat "$tmp/cpu")
    r=$(echo "$sb $sa" | awk '{ printf "%.4f", $1 / $2 }')
    echo "pair $((i + 1)): A $sa s (cpu $ca s)  B $sb s (cpu $cb s)  B/A $r  cpu B/A $(echo "$cb $ca" | awk '{ printf "%.4f", $1 / $2 }')  (load $(cut -d' ' -f1 /proc/loadavg))"
    ratios="$ratios $r"
    i=$((i + 1))
done
echo "$ratios" | tr ' ' '\n' | grep . | sort -n | awk '{ v[NR] = $1 } END {
    m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "median B/A %.4f\n", m }'
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
