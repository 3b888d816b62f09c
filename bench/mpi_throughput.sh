#!/bin/sh
# One process with 2 threads against mpirun -np 2 with 1 thread each, on the same cores
# (issue #15): dgm train of the reference VAE, one epoch of Fashion-MNIST, alternating
# A (1 x 2 threads) and B (2 ranks x 1 thread) for PAIRS pairs. Prints each run's training
# seconds (rank 0's "seconds" of --json, data loading and MPI start-up excluded), images
# per second,
# the median of the pair ratios B/A, the load average, and checks that both wrote the same
# model file (cmp). Needs a build with MPI=1 (it runs one process of it too).
# With MESSAGES=1, each pair also runs C, the 2 ranks sending messages (DGM_MPI_SHM=0, as
# between machines) rather than sharing memory, and prints C/A and its median too.
# usage: bench/mpi_throughput.sh BUILD-mpi/dgm [pairs 3] [extra dgm train options]
#   e.g. ... 3 --model made --masks 1 --limit 20000 --micro-batch 50 (MADE and the flows need
#   --micro-batch at 2 ranks, and then write the same file as one process with it)
d=${1:?a dgm built with MPI=1}; pairs=${2:-3}; shift 2 2>/dev/null
n=60000; prev=""; for a in "$@"; do [ "$prev" = "--limit" ] && n=$a; prev=$a; done
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# shared-memory messages by copy-in/copy-out: the single-copy (CMA) default ran 2.6 MB
# broadcasts 10-30x slower in this container (docs/scaling.md)
export OMPI_MCA_btl_vader_single_copy_mechanism=${OMPI_MCA_btl_vader_single_copy_mechanism:-none}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
secs() { sed -nE 's/.*"seconds":([0-9.]+).*/\1/p' | tail -n 1; }
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)  $(nproc) cores  $(mpirun --version | head -n 1)"
ratios=""; cratios=""; i=0
while [ $i -lt "$pairs" ]; do
    sa=$("$d" train --epochs 1 --threads 2 -o "$tmp/a.safetensors" --json "$@" 2>/dev/null | secs)
    sb=$(mpirun --oversubscribe -np 2 "$d" train --epochs 1 --threads 1 -o "$tmp/b.safetensors" --json "$@" 2>/dev/null | secs)
    same=$(cmp -s "$tmp/a.safetensors" "$tmp/b.safetensors" && echo same || echo DIFFERENT)
    r=$(echo "$sb $sa" | awk '{ printf "%.4f", $1 / $2 }')
    c=""
    if [ "${MESSAGES:-0}" = 1 ]; then
        sc=$(DGM_MPI_SHM=0 mpirun --oversubscribe -np 2 "$d" train --epochs 1 --threads 1 -o "$tmp/c.safetensors" --json "$@" 2>/dev/null | secs)
        cmp -s "$tmp/a.safetensors" "$tmp/c.safetensors" || same="$same, C DIFFERENT"
        rc=$(echo "$sc $sa" | awk '{ printf "%.4f", $1 / $2 }'); cratios="$cratios $rc"
        c="  messages $(printf %.3f "$sc") s C/A $rc"
    fi
    sa=$(printf %.3f "$sa"); sb=$(printf %.3f "$sb")
    echo "pair $((i + 1)): 1x2 threads $sa s ($(echo "$sa" | awk -v n=$n '{ printf "%.0f", n / $1 }') img/s)  2 ranks x 1 $sb s ($(echo "$sb" | awk -v n=$n '{ printf "%.0f", n / $1 }') img/s)  B/A $r$c  files $same  (load $(cut -d' ' -f1 /proc/loadavg))"
    ratios="$ratios $r"; i=$((i + 1))
done
median() { tr ' ' '\n' | grep . | sort -n | awk -v what="$1" '{ v[NR] = $1 } END {
    m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "median %s %.4f\n", what, m }'; }
echo "$ratios" | median B/A
[ -n "$cratios" ] && echo "$cratios" | median C/A
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
