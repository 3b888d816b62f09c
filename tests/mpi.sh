#!/bin/sh
# Data-parallel runs under mpirun give the one-process bytes (issue #15): builds dgm with
# MPI=1 into $1-mpi, trains at mpirun --oversubscribe -np 1, 2 and 3 (one thread each) and
# compares the model files and checkpoints with cmp against the one-process build's (the
# image VAE, the mixtures, the protein VAE on a small alignment); a run resumed at another
# rank count; and the bad inputs (more ranks than micro-shards, a rank
# that cannot read its data, a build without MPI under mpirun). Skipped, saying why, when
# mpirun or mpicc is absent. Prints "ok - name" / "not ok - name" / "skip - name".
build=${1:-build}
dgm="$build/dgm"
mdgm="${build}-mpi/dgm"
if ! command -v mpirun >/dev/null || ! command -v mpicc >/dev/null; then
    echo "skip - mpi: mpirun or mpicc is absent (Debian: openmpi-bin libopenmpi-dev)"; exit 0
fi
if ! make -s MPI=1 BUILD="${build}-mpi" cli >/dev/null 2>&1; then
    echo "not ok - mpi: make MPI=1 BUILD=${build}-mpi cli"; exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass() { echo "ok - mpi: $1"; }
fail() { echo "not ok - mpi: $1"; }
# root in containers and CI; more ranks than cores on small machines
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
# Under the sanitizers, ranks run without LeakSanitizer: Open MPI's plugins (and PMIx's)
# keep allocations past MPI_Finalize and are unloaded before the report, so their frames
# show as "<unknown module>" and no suppression can name them. AddressSanitizer's and
# UBSan's checks stay on, and the same trainings run leak-checked in one process
# (tests/determinism.sh, and the one-process runs below).
noleak="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" # the last setting wins
mpi() { np=$1; shift; ASAN_OPTIONS="$noleak" mpirun --oversubscribe -np "$np" "$@"; }

. "$(dirname "$0")/ref_data.sh"

# ranks "NP..." NAME OPTIONS...: one process of the plain build, then mpirun -np NP of the
# MPI build for each NP, each rank with one thread; the model files (and checkpoints) agree
# byte for byte
ranks() {
    nps=$1; name=$2; shift 2
    rm -f "$tmp"/*.safetensors
    if ! "$dgm" train --data "$data" "$@" --threads 1 -o "$tmp/p.safetensors" >/dev/null 2>"$tmp/err"; then
        fail "$name: one process failed: $(cat "$tmp/err")"; return; fi
    for np in $nps; do
        if ! mpi $np "$mdgm" train --data "$data" "$@" --threads 1 -o "$tmp/r$np.safetensors" \
             >"$tmp/out" 2>"$tmp/err"; then
            fail "$name: mpirun -np $np failed: $(cat "$tmp/err")"; return; fi
        if ! cmp -s "$tmp/p.safetensors" "$tmp/r$np.safetensors"; then
            fail "$name: -np $np: $(cmp "$tmp/p.safetensors" "$tmp/r$np.safetensors" 2>&1)"; return; fi
        if [ -f "$tmp/p.ckpt.safetensors" ] && ! cmp -s "$tmp/p.ckpt.safetensors" "$tmp/r$np.ckpt.safetensors"; then
            fail "$name: -np $np: the checkpoints differ"; return; fi
    done
    pass "$name (the one-process file at -np $(echo $nps | sed 's/ /, /g'))"
}

# the reference VAE: its batch of 128 is 2 shards of the default 64, or 4 of 32
ranks "1 2" "the reference VAE" --limit 1100 --val 100 --epochs 2
# ranks on one machine share memory unless told not to (par/shm.c): here they must
export DGM_MPI_SHM=1
ranks "2 3" "the reference VAE with shared memory required (DGM_MPI_SHM=1)" --limit 600 --epochs 1 --micro-batch 32
unset DGM_MPI_SHM
ranks "1 2 3 4" "the reference VAE in micro-shards of 32" --limit 1100 --val 100 --epochs 2 --micro-batch 32
ranks "2 3" "a batch of 100 in shards of 32 and a last batch of 44" --limit 1044 --batch 100 --micro-batch 32 --epochs 1
ranks "2 3" "free bits with KL warm-up" --limit 600 --epochs 1 --free-bits 0.5 --kl-warmup 1 --micro-batch 32
ranks "3" "CVAE trained on the IWAE bound, k = 3" --model cvae --objective iwae --importance-samples 3 --limit 600 --epochs 1 --micro-batch 32
# MADE and the flows: one shard of the whole batch unless --micro-batch cuts it (optim/sharded.c)
ranks "2 3" "binary MADE, 2 masks, a batch of 100 in shards of 32 (32, 32, 32, 4)" --model made --hidden 64 --masks 2 --limit 700 --val 100 --epochs 2 --micro-batch 32
ranks "2 3" "RealNVP, 4 couplings, shards of 32" --model realnvp --couplings 4 --hidden 64 --limit 700 --val 100 --epochs 1 --micro-batch 32
ranks "2" "MAF, 3 layers, shards of 50" --model maf --layers 3 --hidden 64 --limit 700 --epochs 1 --micro-batch 50
ranks "2" "class-conditional MADE, shards of 32 (the labels travel with the rows)" --model made --conditional --hidden 64 --limit 700 --val 100 --epochs 1 --micro-batch 32
ranks "2" "class-conditional MAF, 2 layers, shards of 50" --model maf --conditional --layers 2 --hidden 32 --limit 700 --epochs 1 --micro-batch 50

# EM: the E-steps' rows split over the ranks, the rest alike on every rank
ranks "1 2 3" "GMM, diagonal covariances" --model gmm --covariance diag --components 5 --limit 1500
ranks "2 3" "GMM, full covariances" --model gmm --covariance full --components 3 --limit 1200
ranks "2 3" "Bernoulli mixture, per class" --model bernoulli-mixture --components 3 --per-class --limit 1500

# the protein VAE on a small alignment: pranks "NP..." NAME OPTIONS..., as ranks above
aln=tests/data/protein/BLAT_ECOLX_test.a2m
small="--encoder-hidden 32,16 --decoder-hidden 8,16 --latent 4 --dict 6 --patterns 2 --steps 30"
pranks() {
    nps=$1; name=$2; shift 2
    rm -f "$tmp"/*.safetensors
    if ! "$dgm" train --data "$aln" $small "$@" --threads 1 -o "$tmp/p.safetensors" >/dev/null 2>"$tmp/err"; then
        fail "$name: one process failed: $(cat "$tmp/err")"; return; fi
    for np in $nps; do
        if ! mpi $np "$mdgm" train --data "$aln" $small "$@" --threads 1 -o "$tmp/r$np.safetensors" \
             >"$tmp/out" 2>"$tmp/err"; then
            fail "$name: mpirun -np $np failed: $(cat "$tmp/err")"; return; fi
        if ! cmp -s "$tmp/p.safetensors" "$tmp/r$np.safetensors"; then
            fail "$name: -np $np: $(cmp "$tmp/p.safetensors" "$tmp/r$np.safetensors" 2>&1)"; return; fi
    done
    pass "$name (the one-process file at -np $(echo $nps | sed 's/ /, /g'))"
}
pranks "1 2 3" "protein VAE, Bayesian decoder, a batch of 20 in shards of 6 (6, 6, 6, 2)" --batch 20 --micro-batch 6
pranks "2" "protein VAE, plain decoder, a batch of 100 in the default shards (64, 36)" --variant plain --batch 100
# (the protein VAE saves no training state, so it has no resume to test at another count)
# (ranks' --data is the images; the alignment's comes after it, and the last one counts)
ranks "2 3" "categorical MADE on the alignment, weighted, a batch of 20 in shards of 8 (8, 8, 4)" --model made --data "$aln" --hidden 16 --epochs 2 --batch 20 --micro-batch 8

# the Potts model: each rank runs its blocks of sites (and its share of the sequence weights'
# pairs and of the chain search); every rank takes the same L-BFGS steps. The file records
# the fit's seconds, so the tensors and the rest of the header are compared without them.
same_potts() {
    python3 - "$1" "$2" <<'PY'
import json, struct, sys
def parts(p):
    b = open(p, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    c = json.loads(h["__metadata__"]["dgm.config"])
    c.pop("fit_seconds")
    h["__metadata__"]["dgm.config"] = c
    return h, b[8 + n:]
a, b = parts(sys.argv[1]), parts(sys.argv[2])
sys.exit(0 if a == b and len(a[1]) > 0 else 1)
PY
}
qranks() {
    nps=$1; name=$2; shift 2
    if ! "$dgm" train --model potts --data "$aln" --max-iter 3 "$@" --threads 1 \
         -o "$tmp/q.safetensors" >/dev/null 2>"$tmp/err"; then
        fail "$name: one process failed: $(cat "$tmp/err")"; return; fi
    for np in $nps; do
        if ! mpi $np "$mdgm" train --model potts --data "$aln" --max-iter 3 "$@" --threads 1 \
             -o "$tmp/qr$np.safetensors" >"$tmp/out" 2>"$tmp/err"; then
            fail "$name: mpirun -np $np failed: $(cat "$tmp/err")"; return; fi
        if ! same_potts "$tmp/q.safetensors" "$tmp/qr$np.safetensors"; then
            fail "$name: -np $np: the tensors or the header differ"; return; fi
    done
    pass "$name (the one-process tensors and header at -np $(echo $nps | sed 's/ /, /g'))"
}
qranks "2 3" "Potts model, 3 L-BFGS iterations, plmc weights, gaps ignored"
qranks "2" "Potts model, gaps as a state, DeepSequence weights" --gaps state --weights deepseq

# same A B NAME: NAME passes when the files A and B agree byte for byte
same() {
    if cmp -s "$1" "$2"; then pass "$3"; else fail "$3: $(cmp "$1" "$2" 2>&1) $(cat "$tmp/err")"; fi
}
# resume at another rank count: 1 epoch at -np 1, then the second at -np 2, equals 2 at once
opts="--data $data --limit 700 --threads 1"
"$dgm" train $opts --epochs 2 -o "$tmp/whole.safetensors" >/dev/null 2>&1
mpi 1 "$mdgm" train $opts --epochs 1 -o "$tmp/half.safetensors" >/dev/null 2>&1
mpi 2 "$mdgm" train --resume "$tmp/half.safetensors" --epochs 2 --threads 1 >/dev/null 2>"$tmp/err"
same "$tmp/whole.safetensors" "$tmp/half.safetensors" "1 epoch at -np 1 resumed at -np 2 gives the 2-epoch one-process file"
# the other way: at -np 2 each rank updates its segment of Adam's moments, which the
# checkpoint must hold whole for a resume in one process
mpi 2 "$mdgm" train $opts --epochs 1 -o "$tmp/half2.safetensors" >/dev/null 2>&1
"$dgm" train --resume "$tmp/half2.safetensors" --epochs 2 --threads 1 >/dev/null 2>"$tmp/err"
same "$tmp/whole.safetensors" "$tmp/half2.safetensors" "1 epoch at -np 2 resumed in one process gives the 2-epoch one-process file"
# MADE: 1 epoch at -np 2 in shards of 32, resumed in one process (the state keeps the size)
"$dgm" train $opts --model made --hidden 64 --micro-batch 32 --epochs 2 -o "$tmp/mw.safetensors" >/dev/null 2>&1
mpi 2 "$mdgm" train $opts --model made --hidden 64 --micro-batch 32 --epochs 1 -o "$tmp/mh.safetensors" >/dev/null 2>&1
"$dgm" train --resume "$tmp/mh.safetensors" --epochs 2 --threads 1 >/dev/null 2>"$tmp/err"
same "$tmp/mw.safetensors" "$tmp/mh.safetensors" "MADE: 1 epoch at -np 2 resumed in one process gives the 2-epoch one-process file"
# gradient clipping needs the whole gradient's norm before any rank scales its part
"$dgm" train $opts --epochs 1 --clip 0.5 -o "$tmp/clip1.safetensors" >/dev/null 2>&1
mpi 2 "$mdgm" train $opts --epochs 1 --clip 0.5 -o "$tmp/clip2.safetensors" >/dev/null 2>"$tmp/err"
same "$tmp/clip1.safetensors" "$tmp/clip2.safetensors" "the reference VAE with --clip 0.5 (the one-process file at -np 2)"
# Ranks on one machine share the parameters and the shards' buffers (par/shm.c); between
# machines they send messages (the segmented sum, whose moments stay partial until a
# checkpoint gathers them). DGM_MPI_SHM=0 takes the messages here, so that both roads are
# checked against the one-process bytes.
export DGM_MPI_SHM=0
mpi 2 "$mdgm" train $opts --epochs 1 --clip 0.5 -o "$tmp/clip3.safetensors" >/dev/null 2>"$tmp/err"
same "$tmp/clip1.safetensors" "$tmp/clip3.safetensors" "by messages: the reference VAE with --clip 0.5 (the one-process file at -np 2)"
mpi 2 "$mdgm" train $opts --epochs 1 -o "$tmp/half3.safetensors" >/dev/null 2>&1
"$dgm" train --resume "$tmp/half3.safetensors" --epochs 2 --threads 1 >/dev/null 2>"$tmp/err"
same "$tmp/whole.safetensors" "$tmp/half3.safetensors" "by messages: 1 epoch at -np 2 resumed in one process gives the 2-epoch one-process file"
mpi 2 "$mdgm" train $opts --model made --hidden 64 --micro-batch 32 --epochs 1 -o "$tmp/mh3.safetensors" >/dev/null 2>&1
"$dgm" train --resume "$tmp/mh3.safetensors" --epochs 2 --threads 1 >/dev/null 2>"$tmp/err"
same "$tmp/mw.safetensors" "$tmp/mh3.safetensors" "by messages: MADE, 1 epoch at -np 2 resumed in one process gives the 2-epoch one-process file"
ranks "2 3" "by messages: the reference VAE in micro-shards of 32" --limit 1100 --val 100 --epochs 2 --micro-batch 32
unset DGM_MPI_SHM

# evaluation: each rank scores its batches, the numbers are the one-process ones.
# same_eval NAME NPS CMD ARGS...: the JSON of one process and of mpirun -np NP, less the
# times, are equal
same_eval() {
    name=$1; nps=$2; shift 2
    if ! "$dgm" "$@" --threads 1 --json 2>"$tmp/err" | sed 's/"seconds_[a-z]*":[^,}]*//g' >"$tmp/e1"; then
        fail "$name: one process failed: $(cat "$tmp/err")"; return; fi
    for np in $nps; do
        if ! mpi $np "$mdgm" "$@" --threads 1 --json 2>"$tmp/err" | sed 's/"seconds_[a-z]*":[^,}]*//g' >"$tmp/e$np"; then
            fail "$name: mpirun -np $np failed: $(cat "$tmp/err")"; return; fi
        if ! cmp -s "$tmp/e1" "$tmp/e$np" || ! grep -q '"n":350' "$tmp/e1"; then
            fail "$name: -np $np: $(cat "$tmp/e1") against $(cat "$tmp/e$np")"; return; fi
    done
    pass "$name (the one-process numbers at -np $(echo $nps | sed 's/ /, /g'))"
}
"$dgm" train --data "$data" --limit 600 --epochs 1 --threads 1 -o "$tmp/ev.safetensors" >/dev/null 2>&1
"$dgm" train --data "$data" --model gmm --components 3 --limit 600 --threads 1 -o "$tmp/evg.safetensors" >/dev/null 2>&1
same_eval "dgm eval of a VAE, 350 examples in batches of 100 (the last 50)" "2 3 5" \
    eval "$tmp/ev.safetensors" --data "$data" --limit 350 --importance-samples 5
same_eval "dgm loglik of a VAE, importance-sampled" "2 3" \
    loglik "$tmp/ev.safetensors" --data "$data" --limit 350 --importance-samples 5
same_eval "dgm eval of a GMM" "3" eval "$tmp/evg.safetensors" --data "$data" --limit 350 --batch 64
same_eval "dgm loglik of a GMM" "2" loglik "$tmp/evg.safetensors" --data "$data" --limit 350

# mutation effects: each rank scores its blocks of mutants (the protein VAE's blocks of 512
# rows, MADE's chunks of 256); rank 0 writes the same CSV (6 decimals) and Spearman as one
# process. Every single mutant of the focus: 253 columns x 19 letters = 4807, with the wild
# type 10 blocks of the protein VAE's rows.
awk 'NR == 1 { split($0, h, "/"); split(h[2], p, "-"); pos = p[1]; next }
     /^>/ { exit } { seq = seq $0 }
     END { aa = "ACDEFGHIKLMNPQRSTVWY"; print "mutant,fit"
           for (i = 1; i <= length(seq); i++) { c = substr(seq, i, 1)
               if (c ~ /[A-Z]/) for (j = 1; j <= 20; j++) { b = substr(aa, j, 1)
                   if (b != c) printf "%s%d%s,%d\n", c, pos, b, (i * j) % 7 }
               pos++ } }' "$aln" >"$tmp/dms.csv"
"$dgm" train --data "$aln" $small --threads 1 -o "$tmp/pv.safetensors" >/dev/null 2>&1
"$dgm" train --model made --data "$aln" --hidden 16 --epochs 1 --threads 1 -o "$tmp/pm.safetensors" >/dev/null 2>&1
same_mutations() {
    name=$1; nps=$2; shift 2
    if ! "$dgm" mutations "$@" --csv "$tmp/dms.csv" --column fit --threads 1 --json -o "$tmp/m1.csv" \
         2>"$tmp/err" | sed 's/"seconds[a-z_]*":[^,}]*//g; s/"out":"[^"]*"//' >"$tmp/j1"; then
        fail "$name: one process failed: $(cat "$tmp/err")"; return; fi
    for np in $nps; do
        if ! mpi $np "$mdgm" mutations "$@" --csv "$tmp/dms.csv" --column fit --threads 1 --json \
             -o "$tmp/m$np.csv" 2>"$tmp/err" | sed 's/"seconds[a-z_]*":[^,}]*//g; s/"out":"[^"]*"//' >"$tmp/j$np"; then
            fail "$name: mpirun -np $np failed: $(cat "$tmp/err")"; return; fi
        if ! cmp -s "$tmp/m1.csv" "$tmp/m$np.csv" || ! cmp -s "$tmp/j1" "$tmp/j$np" ||
           [ "$(wc -l <"$tmp/m1.csv")" -ne 4808 ]; then
            fail "$name: -np $np: $(cmp "$tmp/m1.csv" "$tmp/m$np.csv" 2>&1) $(cat "$tmp/j1") against $(cat "$tmp/j$np")"; return; fi
    done
    pass "$name (the one-process CSV and Spearman at -np $(echo $nps | sed 's/ /, /g'))"
}
same_mutations "dgm mutations with the protein VAE, 4807 single mutants" "2 3" "$tmp/pv.safetensors" --elbo-samples 3
same_mutations "dgm mutations with a categorical MADE" "3" "$tmp/pm.safetensors"

# dgm assess of sequences: the neighbour searches' rows split over the ranks (blocks of 64:
# a reference of 400 and samples of 300 give every rank rows); the one-process JSON, and
# the figures written once, by rank 0
"$dgm" sample "$tmp/pv.safetensors" -n 400 --seed 1 -o "$tmp/as1.fa" >/dev/null 2>&1
"$dgm" sample "$tmp/pv.safetensors" -n 300 --seed 2 -o "$tmp/as2.fa" >/dev/null 2>&1
if ! "$dgm" assess "$tmp/as1.fa" "$tmp/as2.fa" --heldout "$aln" --json --threads 1 >"$tmp/a1.json" 2>"$tmp/err"; then
    fail "dgm assess: one process failed: $(cat "$tmp/err")"
else
    ok=1
    for np in 2 3; do
        if ! mpi $np "$mdgm" assess "$tmp/as1.fa" "$tmp/as2.fa" --heldout "$aln" --json --threads 1 \
             --figures "$tmp/af$np" 2>"$tmp/err" | sed 's/,"figures":\[[^]]*\]//' >"$tmp/a$np.json" ||
           ! cmp -s "$tmp/a1.json" "$tmp/a$np.json" || ! grep -q '"precision"' "$tmp/a1.json" ||
           [ "$(ls "$tmp/af$np" | grep -c '\.png$')" -lt 1 ]; then
            fail "dgm assess of sequences at -np $np: $(cat "$tmp/err") $(cmp "$tmp/a1.json" "$tmp/a$np.json" 2>&1)"
            ok=0; break
        fi
    done
    [ $ok = 1 ] && pass "dgm assess of sequences, 400 reference and 300 samples (the one-process JSON at -np 2, 3; figures by rank 0)"
fi

# bad input: one line from dgm (rank 0), a non-zero exit, no file written
# refused NAME PATTERN OUT CMD...
refused() {
    name=$1; pat=$2; out=$3; shift 3
    if "$@" >"$tmp/out" 2>"$tmp/err"; then fail "$name (exit 0)"; return; fi
    n=$(grep -c '^dgm ' "$tmp/err")
    if [ "$n" -ne 1 ] || ! grep -q -- "$pat" "$tmp/err"; then
        fail "$name ($n lines from dgm: $(grep '^dgm ' "$tmp/err"))"; return; fi
    if [ -e "$out" ] || [ -e "${out%.safetensors}.ckpt.safetensors" ]; then
        fail "$name (a file was written)"; return; fi
    pass "$name"
}
refused "3 ranks for the 2 micro-shards of a batch" "at most 2 ranks" "$tmp/b3.safetensors" \
    mpi 3 "$mdgm" train $opts --epochs 1 -o "$tmp/b3.safetensors"
refused "the protein VAE at 3 ranks for the 2 micro-shards of a batch" "at most 2 ranks" \
    "$tmp/pb3.safetensors" mpi 3 "$mdgm" train --data "$aln" $small --batch 20 --micro-batch 10 \
    --threads 1 -o "$tmp/pb3.safetensors"
refused "rank 1 cannot read its data: every rank stops with its message" "/nonexistent" \
    "$tmp/b1.safetensors" env ASAN_OPTIONS="$noleak" mpirun --oversubscribe -np 1 "$mdgm" train $opts --epochs 1 \
    -o "$tmp/b1.safetensors" : -np 1 "$mdgm" train $opts --data /nonexistent/d.idx \
    --epochs 1 -o "$tmp/b1.safetensors"
refused "a build without MPI under mpirun -np 2" "built without MPI" "$tmp/b2.safetensors" \
    mpi 2 "$dgm" train $opts --epochs 1 -o "$tmp/b2.safetensors"
refused "a MADE at -np 2 without --micro-batch (one shard of the whole batch)" "give --micro-batch 50 or less" \
    "$tmp/m2.safetensors" mpi 2 "$mdgm" train --model made --data "$aln" --hidden 16 --epochs 1 \
    -o "$tmp/m2.safetensors"
refused "dgm sample under mpirun -np 2" "only dgm train, eval, loglik, mutations and assess" "$tmp/s2.png" \
    mpi 2 "$mdgm" sample "$tmp/p.safetensors" -n 4 -o "$tmp/s2.png"
refused "dgm eval where rank 1 cannot read the model: every rank stops with its message" \
    "/nonexistent/m.safetensors" "$tmp/none" env ASAN_OPTIONS="$noleak" mpirun --oversubscribe \
    -np 1 "$mdgm" eval "$tmp/ev.safetensors" --data "$data" --limit 50 : \
    -np 1 "$mdgm" eval /nonexistent/m.safetensors --data "$data" --limit 50
"$dgm" train --model potts --data "$aln" --max-iter 2 -o "$tmp/q1.safetensors" >/dev/null 2>&1
# a Potts model's energies and pseudo-log-likelihoods: blocks of 64 sequences per rank, the
# one-process CSV and JSON (less the output's path) at -np 2 and 3, on 400 sampled sequences
"$dgm" loglik "$tmp/q1.safetensors" --data "$tmp/as1.fa" --json --threads 1 -o "$tmp/qe1.csv" 2>"$tmp/err" |
    sed 's/"out":"[^"]*"//' >"$tmp/ql1"
ok=1
for np in 2 3; do
    mpi $np "$mdgm" loglik "$tmp/q1.safetensors" --data "$tmp/as1.fa" --json --threads 1 \
        -o "$tmp/qe$np.csv" 2>>"$tmp/err" | sed 's/"out":"[^"]*"//' >"$tmp/ql$np"
    if ! grep -q '"n":400' "$tmp/ql1" || ! cmp -s "$tmp/ql1" "$tmp/ql$np" ||
       ! cmp -s "$tmp/qe1.csv" "$tmp/qe$np.csv"; then
        fail "dgm loglik of a Potts model at -np $np: $(cat "$tmp/err") $(cat "$tmp/ql1") against $(cat "$tmp/ql$np")"
        ok=0; break
    fi
done
[ $ok = 1 ] && pass "dgm loglik of a Potts model, 400 sequences (the one-process CSV and JSON at -np 2, 3)"
