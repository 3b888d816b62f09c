#!/bin/sh
# End-to-end tests of the Potts model through the dgm command (train --model potts,
# couplings, mutations, loglik, sample, info) on a generated alignment; each check prints
# "ok - name" or "not ok - name" (counted by tests/run.sh).
build=${1:-build}
dgm="$build/dgm"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass() { echo "ok - potts: $1"; }
fail() { echo "not ok - potts: $1"; }
check() { name=$1; shift; if "$@" >"$tmp/out" 2>"$tmp/err"; then pass "$name"; else fail "$name"; cat "$tmp/err"; fi; }
expect_error() {
    name=$1; pat=$2; shift 2
    if "$@" >"$tmp/out" 2>"$tmp/err"; then fail "$name (exit 0)"; return; fi
    if [ "$(wc -l <"$tmp/err")" -ne 1 ] || ! grep -q -- "$pat" "$tmp/err"; then
        fail "$name (message: $(cat "$tmp/err"))"; return; fi
    pass "$name"
}
py=/usr/bin/python3

# A focus TOY/3-10 over 9 alignment columns: one insert column (lower case in the focus)
# and one focus gap column, which the Potts model leaves out (7 model columns); columns
# 2 and 5 co-vary.
$py - "$tmp" <<'PY'
import random, sys
random.seed(3)
aa = "ACDEFGHIKLMNPQRSTVWY"
focus = "MKt-LIRWQ"   # t: insert column, -: focus gap
rows = [(">TOY/3-10", focus)]
for s in range(60):
    r = [random.choice(aa) if random.random() < 0.3 else c.upper() for c in "MKtALIRWQ"]
    r[2] = r[2].lower(); r[3] = random.choice(aa + "-")
    if random.random() < 0.5: r[1], r[6] = "W", "D"
    if random.random() < 0.1: r[7] = "-"
    rows.append((">s%d" % s, "".join(r)))
open(sys.argv[1] + "/toy.a2m", "w").write("".join("%s\n%s\n" % r for r in rows))
open(sys.argv[1] + "/dms.csv", "w").write("mutant,fit\nM3A,1\nK4W:R8D,2\nT5C,0.5\nI7Y,0.1\n")
PY
a="$tmp/toy.a2m"
check "train" "$dgm" train --model potts --data "$a" -o "$tmp/p.st" --lambda-j 0.5 --max-iter 30 --log "$tmp/log.jsonl" --json --threads 1
cp "$tmp/out" "$tmp/train.json"; cp "$tmp/err" "$tmp/train.err"
it=$($py -c "import json; print(json.load(open('$tmp/train.json'))['iterations'])" 2>/dev/null)
L=$($py -c "import json; print(json.load(open('$tmp/train.json'))['L'])" 2>/dev/null)
[ "$L" = 7 ] && pass "model columns: the focus residues in focus columns" || fail "model columns ($L)"
[ -n "$it" ] && [ "$it" -ge 1 ] && [ "$(grep -c '^iter ' "$tmp/train.err")" -eq "$it" ] && pass "one progress line per iteration" || fail "one progress line per iteration"
[ "$(wc -l <"$tmp/log.jsonl")" = "$it" ] && $py -c "
import json
rows = [json.loads(l) for l in open('$tmp/log.jsonl')]
assert all(set(r) >= {'iter', 'objective', 'grad_norm', 'seconds'} for r in rows)
assert all(b['objective'] <= a['objective'] for a, b in zip(rows, rows[1:]))
assert abs(rows[-1]['objective'] - json.load(open('$tmp/train.json'))['objective']) < 1e-9" && pass "--log: JSON lines, objective falls" || fail "--log: JSON lines, objective falls"
"$dgm" train --model potts --data "$a" -o "$tmp/p2.st" --lambda-j 0.5 --max-iter 30 --threads 2 --quiet >/dev/null 2>&1
$py - "$tmp/p.st" "$tmp/p2.st" <<'PY' && pass "same parameters and objective at 1 and 2 threads" || fail "same parameters and objective at 1 and 2 threads"
import json, struct, sys
def read(path):
    b = open(path, "rb").read(); n = struct.unpack("<Q", b[:8])[0]
    cfg = json.loads(json.loads(b[8:8 + n])["__metadata__"]["dgm.config"])
    return b[8 + n:], cfg["objective"], cfg["iterations"]
assert read(sys.argv[1]) == read(sys.argv[2])
PY
check "info" "$dgm" info "$tmp/p.st" --json
grep -q '"model":"potts"' "$tmp/out" && grep -q '"lambda_j":0.5' "$tmp/out" && pass "info: type and options" || fail "info: type and options"

# couplings: every pair once, plmc's columns; the co-varying pair (4, 8) on top
check "couplings" "$dgm" couplings "$tmp/p.st" -o "$tmp/c.csv" --sort
[ "$(wc -l <"$tmp/c.csv")" -eq 22 ] && pass "couplings: 21 pairs and a header" || fail "couplings: 21 pairs and a header"
[ "$(sed -n 2p "$tmp/c.csv" | cut -d, -f1-4)" = "4,K,8,R" ] && pass "couplings: the co-varying pair first" || fail "couplings: top pair $(sed -n 2p "$tmp/c.csv")"
check "couplings --plmc" "$dgm" couplings "$tmp/p.st" -o "$tmp/c.txt" --plmc
head -n 1 "$tmp/c.txt" | grep -Eq '^3 M 4 K 0 -?[0-9.]+$' && pass "couplings --plmc: plmc's lines" || fail "couplings --plmc: $(head -n 1 "$tmp/c.txt")"

# mutation effects = E(mutant) - E(wt), the energies from dgm loglik
printf '>wt\nMKLIRWQ\n>m1\nAKLIRWQ\n>m2\nMWLIDWQ\n' >"$tmp/seqs.fa"
check "loglik -o" "$dgm" loglik "$tmp/p.st" --data "$tmp/seqs.fa" -o "$tmp/ll.csv" --json
grep -q '"exact":false' "$tmp/out" && grep -q pseudo_loglik_mean "$tmp/out" && ! grep -q loglik_mean_nats "$tmp/out" && pass "loglik: energies and pseudo-log-likelihoods, no log p" || fail "loglik: labels"
check "mutations" "$dgm" mutations "$tmp/p.st" --csv "$tmp/dms.csv" --column fit -o "$tmp/eff.csv"
$py -c "
import csv
E = {r['name']: float(r['energy']) for r in csv.DictReader(open('$tmp/ll.csv'))}
eff = {r['mutant']: r['effect'] for r in csv.DictReader(open('$tmp/eff.csv'))}
assert abs(float(eff['M3A']) - (E['m1'] - E['wt'])) < 1e-4, (eff, E)
assert abs(float(eff['K4W:R8D']) - (E['m2'] - E['wt'])) < 1e-4, (eff, E)
assert eff['T5C'] == '' and eff['I7Y'] != ''  # residue 5 is the insert column" && pass "mutations: E(mutant) - E(wt), insert columns unscored" || fail "mutations: E(mutant) - E(wt)"

# sampling: reproducible, any thread count, FASTA of the model's width
check "sample" "$dgm" sample "$tmp/p.st" -n 40 -o "$tmp/s1.fasta" --burn-in 20 --thin 2 --chains 4 --threads 1
grep -q "autocorrelation time" "$tmp/err" && pass "sample: mixing on stderr" || fail "sample: mixing on stderr"
"$dgm" sample "$tmp/p.st" -n 40 -o "$tmp/s2.fasta" --burn-in 20 --thin 2 --chains 4 --threads 2 >/dev/null 2>&1
cmp -s "$tmp/s1.fasta" "$tmp/s2.fasta" && pass "sample: same seed, same sequences at 1 and 2 threads" || fail "sample: same bits"
[ "$(grep -c '>' "$tmp/s1.fasta")" -eq 40 ] && pass "sample: -n sequences" || fail "sample: -n sequences"

# bad input: one line, non-zero exit, no output file
expect_error "negative lambda-j" "lambda-j" "$dgm" train --model potts --data "$a" -o "$tmp/bad.st" --lambda-j -1
expect_error "NaN lambda-h" "lambda-h" "$dgm" train --model potts --data "$a" -o "$tmp/bad.st" --lambda-h nan
expect_error "max-iter 0" "max-iter" "$dgm" train --model potts --data "$a" -o "$tmp/bad.st" --max-iter 0
expect_error "unknown --gaps" "gaps" "$dgm" train --model potts --data "$a" -o "$tmp/bad.st" --gaps maybe
expect_error "wrong --focus" "first sequence is TOY" "$dgm" train --model potts --data "$a" -o "$tmp/bad.st" --focus DYR_ECOLI
expect_error "bm-iter with gaps ignored" "gaps state" "$dgm" train --model potts --data "$a" -o "$tmp/bad.st" --bm-iter 5
expect_error "bm-rate 0" "bm-rate" "$dgm" train --model potts --data "$a" -o "$tmp/bad.st" --gaps state --bm-iter 5 --bm-rate 0
# Boltzmann-machine steps after the fit: one progress line and one log line each, recorded
# in the file, the same file at 1 and 2 threads
check "train --bm-iter" "$dgm" train --model potts --data "$a" -o "$tmp/bm.st" --gaps state --max-iter 10 --bm-iter 4 --bm-chains 50 --log "$tmp/bm.jsonl" --threads 1
if [ "$(grep -c '^bm ' "$tmp/err")" = 4 ] && [ "$(grep -c '"bm_iter"' "$tmp/bm.jsonl")" = 4 ]; then pass "bm progress and log lines"; else fail "bm progress and log lines"; cat "$tmp/err"; fi
"$dgm" train --model potts --data "$a" -o "$tmp/bm2.st" --gaps state --max-iter 10 --bm-iter 4 --bm-chains 50 --threads 2 --quiet >/dev/null 2>&1
tensors() { $py -c "import struct,sys; b=open(sys.argv[1],'rb').read(); n=struct.unpack('<Q',b[:8])[0]; sys.stdout.buffer.write(b[8+n:])" "$1"; }
tensors "$tmp/bm.st" >"$tmp/bm.bin"; tensors "$tmp/bm2.st" >"$tmp/bm2.bin" # the header holds the fit's seconds
if [ -s "$tmp/bm.bin" ] && cmp -s "$tmp/bm.bin" "$tmp/bm2.bin"; then pass "bm: same h and J at 1 and 2 threads"; else fail "bm: same h and J at 1 and 2 threads"; fi
if "$dgm" info "$tmp/bm.st" --json 2>/dev/null | grep -q '"bm_iter": *4'; then pass "bm recorded in the file"; else fail "bm recorded in the file"; "$dgm" info "$tmp/bm.st" --json; fi
check "train --init" "$dgm" train --model potts --data "$a" -o "$tmp/init.st" --gaps state --init "$tmp/bm.st" --max-iter 1 --json --threads 1
if grep -q '"iterations": *1' "$tmp/out"; then pass "--init: one more iteration from the saved fit"; else fail "--init"; cat "$tmp/out"; fi
expect_error "--init of another family" "not a Potts model" sh -c "'$dgm' train --model independent --data '$a' -o '$tmp/i0.st' >/dev/null 2>&1; '$dgm' train --model potts --data '$a' -o '$tmp/bad.st' --init '$tmp/i0.st'"
expect_error "ragged alignment" "toy2.a2m" sh -c "printf '>A/1-3\nMKL\n>b\nMK\n' >'$tmp/toy2.a2m'; '$dgm' train --model potts --data '$tmp/toy2.a2m' -o '$tmp/bad.st'"
[ ! -e "$tmp/bad.st" ] && pass "no model file after a refused run" || fail "no model file after a refused run"
$py - "$tmp/p.st" "$tmp/badJ.st" <<'PY'
import json, struct, sys
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
hdr = json.loads(b[8:8 + n]); data = b[8 + n:]
j = hdr["J"]; s, e = j["data_offsets"]
j["shape"] = [20, 21, 21]; j["data_offsets"] = [s, s + 20 * 441 * 4]
data = data[:s + 20 * 441 * 4]
h = json.dumps(hdr).encode()
open(sys.argv[2], "wb").write(struct.pack("<Q", len(h)) + h + data)
PY
expect_error "J that does not fit L and q" "J is 20 x 21 x 21" "$dgm" info "$tmp/badJ.st"
expect_error "mutation outside the focus" "outside the focus" "$dgm" mutations "$tmp/p.st" --csv "$tmp/dms2.csv" -o "$tmp/eff2.csv" \
    $(printf 'mutant\nQ99A\n' >"$tmp/dms2.csv")
[ ! -e "$tmp/eff2.csv" ] && pass "no scores after a refused scan" || fail "no scores after a refused scan"
expect_error "sample to an image" "fasta" "$dgm" sample "$tmp/p.st" -n 4 -o "$tmp/s.png"
printf '>A/1-3\nMKL\n>b\nMKA\n' >"$tmp/toy3.a2m"
expect_error "loglik on another width" "model has 7" "$dgm" loglik "$tmp/p.st" --data "$tmp/toy3.a2m" -o "$tmp/ll2.csv"
[ ! -e "$tmp/ll2.csv" ] && pass "no energies after a refused loglik" || fail "no energies after a refused loglik"
expect_error "couplings of another model" "not a fitted Potts" sh -c "'$dgm' train --model independent --data '$a' -o '$tmp/i.st' >/dev/null 2>&1; '$dgm' couplings '$tmp/i.st' -o '$tmp/c2.csv'"
