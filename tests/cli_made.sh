#!/bin/sh
# End-to-end tests of MADE and RealNVP through the dgm command: train (binary MADE on
# Fashion-MNIST rows, categorical MADE on a generated alignment, RealNVP on dequantised
# rows; the VAE with the discretised logistic decoder), --resume repeating the uninterrupted run byte for byte, eval/loglik (exact),
# sample, kl between two models, mutations, info, and one-line errors for bad input;
# each check prints "ok - name" or "not ok - name" (counted by tests/run.sh).
build=${1:-build}
dgm="$build/dgm"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass() { echo "ok - made: $1"; }
fail() { echo "not ok - made: $1"; }
check() { name=$1; shift; if "$@" >"$tmp/out" 2>"$tmp/err"; then pass "$name"; else fail "$name"; cat "$tmp/err"; fi; }
expect_error() {
    name=$1; pat=$2; shift 2
    if "$@" >"$tmp/out" 2>"$tmp/err"; then fail "$name (exit 0)"; return; fi
    if [ "$(wc -l <"$tmp/err")" -ne 1 ] || ! grep -q -- "$pat" "$tmp/err"; then
        fail "$name (message: $(cat "$tmp/err"))"; return; fi
    pass "$name"
}
json_has() { grep -q "$2" "$1"; }
T="--threads 1"
small="--data fashion-mnist --limit 300 --batch 50 --hidden 24"

# ---- binary MADE
check "train binary" "$dgm" train --model made $small --masks 3 --order random --epochs 2 --val 50 -o "$tmp/a.safetensors" --log "$tmp/a.jsonl" $T
check "log has epoch lines" grep -q '"epoch":2' "$tmp/a.jsonl"
check "one epoch" "$dgm" train --model made $small --masks 3 --order random --epochs 1 --val 50 -o "$tmp/b.safetensors" $T
check "resume to two" "$dgm" train --resume "$tmp/b.safetensors" --epochs 2 $T
check "resume is bit for bit" cmp "$tmp/a.safetensors" "$tmp/b.safetensors"
check "eval exact" "$dgm" eval "$tmp/a.safetensors" --data fashion-mnist:test --limit 200 --json $T
if json_has "$tmp/out" '"exact":true' && json_has "$tmp/out" '"nll_stderr"'; then pass "eval says exact, with a standard error"; else fail "eval says exact"; cat "$tmp/out"; fi
check "loglik" "$dgm" loglik "$tmp/a.safetensors" --data fashion-mnist:test --limit 100 --json $T
check "sample grid" "$dgm" sample "$tmp/a.safetensors" -n 16 -o "$tmp/g.png" $T
check "kl between MADEs" "$dgm" kl "$tmp/a.safetensors" "$tmp/b.safetensors" -n 200 --json $T
check "info" "$dgm" info "$tmp/a.safetensors"
expect_error "masks 0" "masks" "$dgm" train --model made $small --masks 0 -o "$tmp/x.safetensors"
expect_error "unknown order" "order" "$dgm" train --model made $small --order sideways -o "$tmp/x.safetensors"
expect_error "unknown binarize" "binarize" "$dgm" train --model made $small --binarize never -o "$tmp/x.safetensors"
printf '0.5,2\n0.1,0.3\n0.2,0.3\n' >"$tmp/bad.csv"
expect_error "values outside [0, 1]" "outside" "$dgm" train --model made --data "$tmp/bad.csv" -o "$tmp/x.safetensors"
printf '0,1,1\n1,0,1\n' >"$tmp/three.csv"
expect_error "wrong dimension" "dimension" "$dgm" eval "$tmp/a.safetensors" --data "$tmp/three.csv"
head -c 3000 "$tmp/a.safetensors" >"$tmp/cut.safetensors"
expect_error "damaged file" "cut.safetensors" "$dgm" eval "$tmp/cut.safetensors" --data fashion-mnist:test
[ ! -e "$tmp/x.safetensors" ] && pass "no partial files" || fail "no partial files"

# ---- class-conditional MADE: train, resume, classify by Bayes' rule, a labelled grid
check "train conditional" "$dgm" train --model made --conditional $small --epochs 15 --lr 3e-3 -o "$tmp/cm.safetensors" $T
check "one epoch conditional" "$dgm" train --model made --conditional $small --epochs 1 --lr 3e-3 -o "$tmp/cm1.safetensors" $T
check "resume conditional" "$dgm" train --resume "$tmp/cm1.safetensors" --epochs 15 $T
check "conditional resume is bit for bit" cmp "$tmp/cm.safetensors" "$tmp/cm1.safetensors"
check "classify" "$dgm" classify "$tmp/cm.safetensors" --limit 200 --json $T
acc=$(/usr/bin/python3 -c "import json; print(json.load(open('$tmp/out'))['accuracy'])" 2>/dev/null)
# 10 classes: chance is 0.1; 90 steps on 300 rows already do far better (0.525 here)
if [ -n "$acc" ] && /usr/bin/python3 -c "import sys; sys.exit(not float('$acc') > 0.3)"; then pass "conditional MADE classifies ($acc)"; else fail "conditional MADE classifies ($acc)"; cat "$tmp/out"; fi
check "conditional eval" "$dgm" eval "$tmp/cm.safetensors" --data fashion-mnist:test --limit 100 --json $T
check "labelled grid" "$dgm" sample "$tmp/cm.safetensors" -n 4 -o "$tmp/cg.png" $T
check "one class" "$dgm" sample "$tmp/cm.safetensors" -n 4 --label 3 -o "$tmp/c3.png" $T
expect_error "conditional without labels" "labels" "$dgm" train --model made --conditional --data "$tmp/three.csv" -o "$tmp/x.safetensors"
expect_error "unconditional MADE cannot classify" "not class-conditional" "$dgm" classify "$tmp/a.safetensors" --limit 10

# ---- categorical MADE on a generated alignment with a deep mutational scan
/usr/bin/python3 - "$tmp" <<'PY'
import random, sys
random.seed(5)
aa = "ACDEFGHIKLMNPQRSTVWY"
focus = "MKTALIRWQ"
rows = [(">TOY/3-11", focus)]
for s in range(80):
    r = [random.choice(aa) if random.random() < 0.3 else c for c in focus]
    if random.random() < 0.5: r[1], r[6] = "W", "D"
    if random.random() < 0.1: r[7] = "-"
    rows.append((">s%d" % s, "".join(r)))
open(sys.argv[1] + "/toy.a2m", "w").write("".join("%s\n%s\n" % r for r in rows))
open(sys.argv[1] + "/dms.csv", "w").write("mutant,fit\nM3A,1\nK4W:R9D,2\nT5C,0.5\nI8Y,0.1\n")
PY
check "train categorical" "$dgm" train --model made --data "$tmp/toy.a2m" --hidden 16 --epochs 3 --batch 20 --masks 2 -o "$tmp/c.safetensors" $T
check "one epoch categorical" "$dgm" train --model made --data "$tmp/toy.a2m" --hidden 16 --epochs 1 --batch 20 --masks 2 -o "$tmp/d.safetensors" $T
check "resume categorical" "$dgm" train --resume "$tmp/d.safetensors" --epochs 3 $T
check "categorical resume is bit for bit" cmp "$tmp/c.safetensors" "$tmp/d.safetensors"
check "mutations" "$dgm" mutations "$tmp/c.safetensors" --csv "$tmp/dms.csv" --column fit -o "$tmp/m.csv" --json $T
check "loglik of the alignment" "$dgm" loglik "$tmp/c.safetensors" --data "$tmp/toy.a2m" --json $T
if json_has "$tmp/out" '"exact":true'; then pass "alignment loglik exact"; else fail "alignment loglik exact"; cat "$tmp/out"; fi
check "sample sequences" "$dgm" sample "$tmp/c.safetensors" -n 20 -o "$tmp/s.fasta" $T
expect_error "binary MADE on an alignment" "sequence" "$dgm" eval "$tmp/a.safetensors" --data "$tmp/toy.a2m"
expect_error "binary MADE cannot score mutations" "protein-family" "$dgm" mutations "$tmp/a.safetensors" --csv "$tmp/dms.csv"

# ---- RealNVP
fl="--data fashion-mnist --limit 200 --batch 50 --couplings 2 --hidden 16"
check "train realnvp" "$dgm" train --model realnvp $fl --epochs 2 -o "$tmp/f.safetensors" $T
check "one epoch realnvp" "$dgm" train --model realnvp $fl --epochs 1 -o "$tmp/h.safetensors" $T
check "resume realnvp" "$dgm" train --resume "$tmp/h.safetensors" --epochs 2 $T
check "realnvp resume is bit for bit" cmp "$tmp/f.safetensors" "$tmp/h.safetensors"
check "realnvp eval" "$dgm" eval "$tmp/f.safetensors" --data fashion-mnist:test --limit 100 --json $T
if json_has "$tmp/out" '"likelihood":"dequantized"' && json_has "$tmp/out" '"bits_per_dim"'; then pass "realnvp bits/dim of dequantised data"; else fail "realnvp bits/dim"; cat "$tmp/out"; fi
check "realnvp sample" "$dgm" sample "$tmp/f.safetensors" -n 16 -o "$tmp/fg.png" $T
expect_error "realnvp on non-8-bit data" "8-bit" "$dgm" train --model realnvp --data "$tmp/three.csv" -o "$tmp/x.safetensors"
printf '0.5,nan\n0.1,0.3\n' >"$tmp/nan.csv"
expect_error "realnvp on NaN" "NaN" "$dgm" train --model realnvp --alpha 0 --data "$tmp/nan.csv" -o "$tmp/x.safetensors"

# ---- the VAE with the discretised logistic decoder (exact masses given z; log p(x) by
# importance sampling), on the same 8-bit data as the flows
vl="--decoder logistic --data fashion-mnist --limit 300 --batch 50 --hidden 24 --latent 4"
check "train logistic vae" "$dgm" train $vl --epochs 2 -o "$tmp/v.safetensors" $T
check "one epoch logistic vae" "$dgm" train $vl --epochs 1 -o "$tmp/v1.safetensors" $T
check "resume logistic vae" "$dgm" train --resume "$tmp/v1.safetensors" --epochs 2 $T
check "logistic vae resume is bit for bit" cmp "$tmp/v.safetensors" "$tmp/v1.safetensors"
check "logistic vae eval" "$dgm" eval "$tmp/v.safetensors" --data fashion-mnist:test --limit 100 --k 20 --json $T
bpd=$(/usr/bin/python3 -c "import json; d=json.load(open('$tmp/out')); print(d['bits_per_dim'] if d['likelihood'] == 'dequantized' else 99)" 2>/dev/null)
# 8 bits/dim is the uniform distribution over the 256 levels: a trained model is below it
if [ -n "$bpd" ] && /usr/bin/python3 -c "import sys; sys.exit(not float('$bpd') < 8)"; then pass "logistic vae below 8 bits/dim ($bpd)"; else fail "logistic vae bits/dim ($bpd)"; cat "$tmp/out"; fi
check "logistic vae info says logistic" sh -c "'$dgm' info '$tmp/v.safetensors' | grep -q logistic"
check "logistic vae sample" "$dgm" sample "$tmp/v.safetensors" -n 16 -o "$tmp/vg.png" $T
expect_error "logistic decoder on non-8-bit data" "8-bit" "$dgm" train --decoder logistic --data "$tmp/three.csv" -o "$tmp/x.safetensors"
/usr/bin/python3 -c "print(','.join(['0.5'] * 784))" >"$tmp/grey.csv"
expect_error "logistic model on non-8-bit data" "8-bit\|k/255" "$dgm" eval "$tmp/v.safetensors" --data "$tmp/grey.csv"
expect_error "unknown decoder" "logistic" "$dgm" train --decoder laplace -o "$tmp/x.safetensors"

# ---- MAF
ml="--data fashion-mnist --limit 200 --batch 50 --layers 2 --hidden 16"
check "train maf" "$dgm" train --model maf $ml --epochs 2 -o "$tmp/q.safetensors" $T
check "one epoch maf" "$dgm" train --model maf $ml --epochs 1 -o "$tmp/w.safetensors" $T
check "resume maf" "$dgm" train --resume "$tmp/w.safetensors" --epochs 2 $T
check "maf resume is bit for bit" cmp "$tmp/q.safetensors" "$tmp/w.safetensors"
check "maf eval" "$dgm" eval "$tmp/q.safetensors" --data fashion-mnist:test --limit 100 --json $T
check "maf sample" "$dgm" sample "$tmp/q.safetensors" -n 8 -o "$tmp/qg.png" $T
check "kl between flows" "$dgm" kl "$tmp/q.safetensors" "$tmp/f.safetensors" -n 100 --json $T

# ---- class-conditional flows: resume bit for bit, classify, one row per class
for fm in realnvp maf; do
    # 90 steps on 300 rows: 0.64 (maf) and 0.405 (realnvp) on these 200 test rows here
    k=$([ $fm = maf ] && echo "--layers 2 --hidden 16" || echo "--couplings 4 --hidden 32")
    cf="--data fashion-mnist --limit 300 --batch 50 $k --lr 3e-3 --conditional"
    check "train conditional $fm" "$dgm" train --model $fm $cf --epochs 15 -o "$tmp/c$fm.safetensors" $T
    check "one epoch conditional $fm" "$dgm" train --model $fm $cf --epochs 1 -o "$tmp/c1$fm.safetensors" $T
    check "resume conditional $fm" "$dgm" train --resume "$tmp/c1$fm.safetensors" --epochs 15 $T
    check "conditional $fm resume is bit for bit" cmp "$tmp/c$fm.safetensors" "$tmp/c1$fm.safetensors"
    check "classify with $fm" "$dgm" classify "$tmp/c$fm.safetensors" --limit 200 --json $T
    acc=$(/usr/bin/python3 -c "import json; print(json.load(open('$tmp/out'))['accuracy'])" 2>/dev/null)
    if [ -n "$acc" ] && /usr/bin/python3 -c "import sys; sys.exit(not float('$acc') > 0.3)"; then pass "conditional $fm classifies ($acc)"; else fail "conditional $fm classifies ($acc)"; cat "$tmp/out"; fi
    check "labelled $fm grid" "$dgm" sample "$tmp/c$fm.safetensors" -n 3 -o "$tmp/c$fm.png" $T
done
expect_error "conditional flow without labels" "labels" "$dgm" train --model realnvp --conditional --alpha 0 --data "$tmp/three.csv" -o "$tmp/x.safetensors"
