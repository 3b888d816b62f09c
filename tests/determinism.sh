#!/bin/sh
# The same bits at any thread count (issue #15, docs/design.md "Deterministic reductions"):
# each run below trains or fits at --threads 1, 2 and 3 with one seed and compares the
# model files (and the training checkpoints) byte for byte with cmp. The micro-shard rule
# is exercised where the shard size does not divide the batch. Prints "ok - name" /
# "not ok - name" (counted by tests/run.sh).
build=${1:-build}
dgm="$build/dgm"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass() { echo "ok - $1"; }
fail() { echo "not ok - $1"; }

# Fashion-MNIST's test set when installed (the reference VAE's data), else generated images
. "$(dirname "$0")/ref_data.sh"

# same NAME FILE...: every file in FILE... equals the first (cmp)
same() {
    name=$1; shift; first=$1; shift
    for f in "$@"; do
        if ! cmp -s "$first" "$f"; then fail "$name ($(cmp "$first" "$f" 2>&1))"; return; fi
    done
    pass "$name"
}

# threads NAME OPTIONS...: dgm train OPTIONS at 1, 2 and 3 threads; models and checkpoints agree
threads() {
    name=$1; shift
    rm -f "$tmp"/t[123].safetensors "$tmp"/t[123].ckpt.safetensors # no file of the case before
    for t in 1 2 3; do
        if ! "$dgm" train --data "$data" --seed 5 "$@" --threads $t -o "$tmp/t$t.safetensors" \
             >/dev/null 2>"$tmp/err"; then
            fail "$name: dgm train --threads $t failed: $(cat "$tmp/err")"; return; fi
    done
    if [ -f "$tmp/t1.ckpt.safetensors" ]; then
        for t in 2 3; do
            cmp -s "$tmp/t1.ckpt.safetensors" "$tmp/t$t.ckpt.safetensors" ||
                { fail "$name: the checkpoints at 1 and $t threads differ"; return; }
        done
    fi
    same "$name (model and any checkpoint at 1, 2 and 3 threads)" "$tmp/t1.safetensors" \
        "$tmp/t2.safetensors" "$tmp/t3.safetensors"
}

# the reference VAE (784-400-20, Bernoulli decoder, Adam, batch 128, micro-shards of 32)
threads "the reference VAE, 2 epochs" --limit 1100 --val 100 --epochs 2
threads "a batch of 100 in shards of 32 (32, 32, 32, 4) and a last batch of 44" \
    --limit 1044 --batch 100 --micro-batch 32 --epochs 1
threads "free bits with KL warm-up" --limit 600 --epochs 1 --free-bits 0.5 --kl-warmup 1
threads "IWAE, k = 3, two hidden layers" --limit 600 --epochs 1 --objective iwae --importance-samples 3 --hidden 64,32
threads "CVAE with a Gaussian decoder (learned variance)" --limit 600 --epochs 1 --model cvae --decoder gaussian

# MADE and the flows: the staircase products (nn/masked.h) in fixed row blocks, one shard of
# the whole batch by default, or micro-shards summed in the tree (optim/sharded.c)
threads "binary MADE, 2 masks, one shard per batch" --model made --hidden 96 --masks 2 --limit 600 --val 100 --epochs 1
threads "binary MADE in micro-shards of 32" --model made --hidden 96 --limit 600 --epochs 1 --micro-batch 32
threads "RealNVP, 4 couplings" --model realnvp --couplings 4 --hidden 96 --limit 500 --epochs 1
threads "MAF, 3 layers, micro-shards of 40" --model maf --layers 3 --hidden 96 --limit 500 --epochs 1 --micro-batch 40

# EM and k-means: sums over fixed chunks of rows, products in fixed blocks of rows on one
# thread each (models/mixture/mix_common.c, dgm__mix_gemm)
threads "GMM, diagonal covariances, k-means start" --model gmm --covariance diag --components 5 --limit 1500
threads "GMM, full covariances" --model gmm --covariance full --components 3 --limit 1200
threads "GMM, tied covariance, k-means++ seeds" --model gmm --covariance tied --components 4 --init k-means++ --limit 1200
threads "Bernoulli mixture" --model bernoulli-mixture --components 6 --limit 1500

# the sums of evaluation: dgm loglik's JSON (mean, total, standard error) of the GMM above
"$dgm" train --data "$data" --model gmm --covariance full --components 3 --limit 1200 \
    -o "$tmp/g.safetensors" >/dev/null 2>&1
for t in 1 2 3; do
    "$dgm" loglik "$tmp/g.safetensors" --data "$data" --limit 3000 --threads $t --json \
        >"$tmp/ll$t.json" 2>"$tmp/err" || cat "$tmp/err"
done
same "dgm loglik of a full-covariance GMM (JSON at 1, 2 and 3 threads)" "$tmp/ll1.json" \
    "$tmp/ll2.json" "$tmp/ll3.json"

# a VAE's evaluation: fixed chunks of examples, each on one thread (vae_infer.c), so every
# per-example value and every sum has the same bits at any --threads: dgm eval's JSON (the
# ELBO, its terms and log p(x) with K = 50, then K = 1500 in passes of 1024 samples), less
# the times, and dgm loglik's; with the default products and with OpenBLAS's (which split
# a product's sums by thread count; ignored where OpenBLAS is not built in)
"$dgm" train --data "$data" --limit 1000 --epochs 1 -o "$tmp/v.safetensors" >/dev/null 2>&1
for g in default openblas; do
    : >"$tmp/err"
    for t in 1 2 3; do
        DGM_GEMM=${g#default} "$dgm" eval "$tmp/v.safetensors" --data "$data" --limit 2100 \
            --importance-samples 50 --threads $t --json 2>>"$tmp/err" |
            sed 's/"seconds_[a-z]*":[^,}]*//g' >"$tmp/ev$t.json"
        DGM_GEMM=${g#default} "$dgm" eval "$tmp/v.safetensors" --data "$data" --limit 7 \
            --importance-samples 1500 --threads $t --json 2>>"$tmp/err" |
            sed 's/"seconds_[a-z]*":[^,}]*//g' >>"$tmp/ev$t.json"
        DGM_GEMM=${g#default} "$dgm" loglik "$tmp/v.safetensors" --data "$data" --limit 350 \
            --importance-samples 20 --threads $t --json >"$tmp/vl$t.json" 2>>"$tmp/err"
    done
    if [ "$(grep -c '"nll_nats"' "$tmp/ev1.json")" -ne 2 ] || ! grep -q '"n":350' "$tmp/vl1.json"; then
        fail "dgm eval and loglik of a VAE ($g products): $(cat "$tmp/ev1.json" "$tmp/err")"
        continue
    fi
    same "dgm eval of a VAE ($g products; JSON at 1, 2 and 3 threads)" "$tmp/ev1.json" \
        "$tmp/ev2.json" "$tmp/ev3.json"
    same "dgm loglik of a VAE ($g products; JSON at 1, 2 and 3 threads)" "$tmp/vl1.json" \
        "$tmp/vl2.json" "$tmp/vl3.json"
done

# the protein VAE on a small alignment (46 sequences x 253 columns): micro-shards of its
# weighted minibatches, the latent noise per row, the regulariser once (seqvae_shard.c)
aln=tests/data/protein/BLAT_ECOLX_test.a2m
small="--encoder-hidden 32,16 --decoder-hidden 8,16 --latent 4 --dict 6 --patterns 2 --steps 30"
# protein NAME OPTIONS...: dgm train --data $aln $small OPTIONS at 1, 2 and 3 threads
protein() {
    name=$1; shift
    for t in 1 2 3; do
        if ! "$dgm" train --data "$aln" --seed 5 $small "$@" --threads $t -o "$tmp/s$t.safetensors" \
             >/dev/null 2>"$tmp/err"; then
            fail "$name: dgm train --threads $t failed: $(cat "$tmp/err")"; return; fi
    done
    same "$name (model at 1, 2 and 3 threads)" "$tmp/s1.safetensors" "$tmp/s2.safetensors" \
        "$tmp/s3.safetensors"
}
protein "protein VAE, Bayesian decoder, a batch of 20 in shards of 6 (6, 6, 6, 2)" \
    --batch 20 --micro-batch 6
protein "protein VAE, plain decoder (L2), a batch of 100 in the default shards (64, 36)" \
    --variant plain --batch 100

# the Potts model's pseudo-likelihood gradient (models/potts/, already in a fixed order):
# the same tensors at 1 and 2 threads (the file also records the fit's seconds)
for t in 1 2; do
    "$dgm" train --model potts --data "$aln" --max-iter 3 --threads $t -o "$tmp/q$t.safetensors" \
        >/dev/null 2>"$tmp/err" || cat "$tmp/err"
done
if /usr/bin/python3 - "$tmp/q1.safetensors" "$tmp/q2.safetensors" <<'PY'
import struct, sys
def tensors(p):
    b = open(p, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    return b[8 + n:]
sys.exit(0 if tensors(sys.argv[1]) == tensors(sys.argv[2]) else 1)
PY
then pass "Potts model: the same tensor bytes at 1 and 2 threads"
else fail "Potts model: the tensors at 1 and 2 threads differ"; fi
