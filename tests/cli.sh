#!/bin/sh
# End-to-end tests of the dgm command: each check prints "ok - name" or "not ok - name"
# (counted by tests/run.sh). Uses a small training run on Fashion-MNIST when the Debian
# package is installed, else on a generated IDX file.
build=${1:-build}
dgm="$build/dgm"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass() { echo "ok - $1"; }  # "skip - name" lines are counted as skipped
fail() { echo "not ok - $1"; }
check() { name=$1; shift; if "$@" >"$tmp/out" 2>"$tmp/err"; then pass "$name"; else fail "$name"; cat "$tmp/err"; fi; }
# expect_error NAME PATTERN CMD...: non-zero exit, a one-line message on stderr matching PATTERN
expect_error() {
    name=$1; pat=$2; shift 2
    if "$@" >"$tmp/out" 2>"$tmp/err"; then fail "$name (exit 0)"; return; fi
    if [ "$(wc -l <"$tmp/err")" -ne 1 ] || ! grep -q -- "$pat" "$tmp/err"; then
        fail "$name (message: $(cat "$tmp/err"))"; return; fi
    pass "$name"
}
json_key() { /usr/bin/python3 -c "import json,sys; d=json.load(open('$1')); print(d['$2'])"; }

data=fashion-mnist
[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || data=""
if [ -z "$data" ]; then
    /usr/bin/python3 - "$tmp" <<'PY'
import struct, sys, random
random.seed(0)
d = sys.argv[1]
n = 600
with open(d + "/toy-images-idx3-ubyte", "wb") as f:
    f.write(struct.pack(">IIII", 0x803, n, 28, 28))
    for i in range(n):
        f.write(bytes(255 if (j % 28 < 14) == (i % 2 == 0) else 0 for j in range(784)))
with open(d + "/toy-labels-idx1-ubyte", "wb") as f:
    f.write(struct.pack(">II", 0x801, n)); f.write(bytes(i % 2 for i in range(n)))
PY
    data="$tmp/toy-images-idx3-ubyte"
fi
test_data="$data"; [ "$data" = fashion-mnist ] && test_data=fashion-mnist:test

# --- training, the files it writes, and the inference commands
check "train a small vae" "$dgm" train --data "$data" --limit 2000 --val 200 --epochs 2 --hidden 64 --latent 4 -o "$tmp/m.safetensors" --log "$tmp/log.jsonl" --json --threads 1
[ -f "$tmp/m.safetensors" ] && pass "model file written" || fail "model file written"
[ "$(grep -c "\"train_loss\"" "$tmp/log.jsonl")" -eq 2 ] && [ "$(grep -c "\"batch_loss\"" "$tmp/log.jsonl")" -eq $((2 * 15)) ] && pass "one log line per epoch and one per step" || fail "one log line per epoch and one per step"
"$dgm" train --data "$data" --limit 2000 --val 200 --epochs 2 --hidden 64 --latent 4 -o "$tmp/m2.safetensors" --threads 1 >/dev/null 2>&1
cmp -s "$tmp/m.safetensors" "$tmp/m2.safetensors" && pass "same seed, same bits" || fail "same seed, same bits"
check "eval --json" "$dgm" eval "$tmp/m.safetensors" --data "$test_data" --limit 50 --importance-samples 20 --json
cp "$tmp/out" "$tmp/eval.json"
for key in nll_nats nll_stderr bits_per_dim elbo_nats k n; do
    json_key "$tmp/eval.json" $key >/dev/null 2>&1 && pass "eval json has $key" || fail "eval json has $key"
done
[ "$(json_key "$tmp/eval.json" n)" = 50 ] && pass "eval --limit" || fail "eval --limit"
/usr/bin/python3 -c "
import json; d=json.load(open('$tmp/eval.json'))
assert d['nll_nats'] <= -d['elbo_nats'] + 1e-9, d
assert abs(d['bits_per_dim'] - d['nll_nats']/784/0.6931471805599453) < 1e-9, d" && pass "eval: NLL <= -ELBO, bits/dim" || fail "eval: NLL <= -ELBO, bits/dim"
# bf16 decoder products: the NLL within 0.05 nats of fp32's (same noise), or, in a build
# without oneDNN, a one-line error that says so
if "$dgm" eval "$tmp/m.safetensors" --data "$test_data" --limit 50 --importance-samples 20 --precision bf16 --json >"$tmp/bf16.json" 2>"$tmp/err"; then
    /usr/bin/python3 -c "
import json; a=json.load(open('$tmp/eval.json')); b=json.load(open('$tmp/bf16.json'))
assert b['precision'] == 'bf16' and abs(a['nll_nats'] - b['nll_nats']) < 0.05, (a['nll_nats'], b['nll_nats'])" &&
        pass "eval --precision bf16 close to fp32" || fail "eval --precision bf16 close to fp32"
else
    [ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -q "oneDNN" "$tmp/err" && pass "eval --precision bf16 without oneDNN: clear error" || fail "eval --precision bf16 ($(cat "$tmp/err"))"
fi
expect_error "unknown precision" "not fp32 or bf16" "$dgm" eval "$tmp/m.safetensors" --data "$test_data" --limit 5 --precision fp8
check "sample png" "$dgm" sample "$tmp/m.safetensors" -n 16 -o "$tmp/s.png"
head -c 8 "$tmp/s.png" | od -An -c | grep -q "P   N   G" && pass "sample writes a PNG" || fail "sample writes a PNG"
check "sample npy" "$dgm" sample "$tmp/m.safetensors" -n 5 -o "$tmp/s.npy"
check "sample csv --mean" "$dgm" sample "$tmp/m.safetensors" -n 5 --mean -o "$tmp/s.csv"
[ "$(wc -l <"$tmp/s.csv")" -eq 5 ] && pass "sample csv rows" || fail "sample csv rows"
check "encode" "$dgm" encode "$tmp/m.safetensors" --data "$test_data" --limit 7 -o "$tmp/z.csv"
[ "$(wc -l <"$tmp/z.csv")" -eq 7 ] && [ "$(head -1 "$tmp/z.csv" | tr ',' '\n' | wc -l)" -eq 4 ] && pass "encode shape" || fail "encode shape"
check "reconstruct" "$dgm" reconstruct "$tmp/m.safetensors" --data "$test_data" -n 8 -o "$tmp/r.png"
check "interpolate" "$dgm" interpolate "$tmp/m.safetensors" --data "$test_data" --pairs 2 --steps 5 -o "$tmp/i.png"
check "info" "$dgm" info "$tmp/m.safetensors" --json
check "help lists defaults" sh -c "'$dgm' train --help | grep -q 'default: 128'"

# --- resume: 1 epoch, then --resume to 2 epochs, equals 2 epochs straight
"$dgm" train --data "$data" --limit 2000 --val 200 --epochs 1 --hidden 64 --latent 4 -o "$tmp/r1.safetensors" --threads 1 >/dev/null 2>&1
"$dgm" train --resume "$tmp/r1.safetensors" --epochs 2 --threads 1 >/dev/null 2>&1
/usr/bin/python3 - "$tmp/r1.safetensors" "$tmp/m.safetensors" <<'PY' && pass "resumed run ends with the same weights" || fail "resumed run ends with the same weights"
import json, struct, sys
def tensors(p):
    b = open(p, 'rb').read(); n = struct.unpack('<Q', b[:8])[0]; h = json.loads(b[8:8+n])
    h.pop('__metadata__', None)
    return {k: b[8+n+v['data_offsets'][0]:8+n+v['data_offsets'][1]] for k, v in h.items()}
a, b = tensors(sys.argv[1]), tensors(sys.argv[2])
assert a.keys() == b.keys() and all(a[k] == b[k] for k in a), "weights differ"
PY

# --- Ctrl-C in the middle of an epoch saves the position; --resume ends where an
# uninterrupted run ends
"$dgm" train --data "$data" --limit 12000 --epochs 8 --hidden 64 --latent 4 -o "$tmp/full.safetensors" --threads 1 >/dev/null 2>&1
"$dgm" train --data "$data" --limit 12000 --epochs 8 --hidden 64 --latent 4 -o "$tmp/int.safetensors" --threads 1 >/dev/null 2>"$tmp/int.err" &
pid=$!
# interrupt as soon as the first epoch has finished, so the stop falls inside a later one
for _ in $(seq 1 600); do grep -q "^epoch 1/" "$tmp/int.err" 2>/dev/null && break; sleep 0.05; done
kill -INT $pid 2>/dev/null
wait $pid
rc=$?
if [ $rc -eq 130 ]; then
    grep -q "resume" "$tmp/int.err" && pass "interrupt says how to resume" || fail "interrupt says how to resume"
    "$dgm" train --resume "$tmp/int.safetensors" --threads 1 >/dev/null 2>&1 && pass "resume after interrupt" || fail "resume after interrupt"
else
    echo "# the run finished (exit $rc) before the interrupt arrived; comparing anyway"
fi
/usr/bin/python3 - "$tmp/full.safetensors" "$tmp/int.safetensors" <<'PY' && pass "interrupted and resumed run equals an uninterrupted one" || fail "interrupted and resumed run equals an uninterrupted one"
import json, struct, sys
def tensors(p):
    b = open(p, 'rb').read(); n = struct.unpack('<Q', b[:8])[0]; h = json.loads(b[8:8+n])
    h.pop('__metadata__', None)
    return {k: b[8+n+v['data_offsets'][0]:8+n+v['data_offsets'][1]] for k, v in h.items()}
a, b = tensors(sys.argv[1]), tensors(sys.argv[2])
assert a.keys() == b.keys() and all(a[k] == b[k] for k in a), "weights differ"
PY

# --- a non-finite loss stops training with a clear message and keeps the last good checkpoint
"$dgm" train --data "$data" --limit 2000 --epochs 1 --hidden 32 --latent 2 -o "$tmp/good.safetensors" --threads 1 >/dev/null 2>&1
cp "$tmp/good.safetensors" "$tmp/good.copy"
if "$dgm" train --resume "$tmp/good.safetensors" --epochs 3 --lr 10 --threads 1 >/dev/null 2>"$tmp/nan.err"; then
    fail "non-finite loss stops training (exit 0)"
elif grep -q "not finite.*last good checkpoint" "$tmp/nan.err"; then
    pass "non-finite loss stops training"
else
    fail "non-finite loss stops training ($(cat "$tmp/nan.err"))"
fi
cmp -s "$tmp/good.safetensors" "$tmp/good.copy" && pass "last good checkpoint kept" || fail "last good checkpoint kept"

# --- bad input: one line naming the file, non-zero exit, no output left behind
printf 'not an idx file at all' > "$tmp/bad-images-idx3-ubyte"
expect_error "wrong magic" "bad-images-idx3-ubyte" "$dgm" train --data "$tmp/bad-images-idx3-ubyte" -o "$tmp/x.safetensors"
printf '\001\002\010\003\000\000\000\001\000\000\000\002\000\000\000\002abcd' > "$tmp/magic-images-idx3-ubyte"
expect_error "binary file with a wrong magic" "magic-images-idx3-ubyte: not a data file dgm knows: its first bytes 01 02 08 03" "$dgm" train --data "$tmp/magic-images-idx3-ubyte" -o "$tmp/x.safetensors"
head -c 1000 /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz 2>/dev/null > "$tmp/trunc-images-idx3-ubyte.gz" || true
[ -s "$tmp/trunc-images-idx3-ubyte.gz" ] && expect_error "truncated images" "trunc-images" "$dgm" train --data "$tmp/trunc-images-idx3-ubyte.gz" -o "$tmp/x.safetensors"
[ -e "$tmp/x.safetensors" ] && fail "no output after a failed run" || pass "no output after a failed run"
/usr/bin/python3 - "$tmp" <<'PY'
import struct, sys
d = sys.argv[1]
open(d + "/zero-images-idx3-ubyte", "wb").write(struct.pack(">IIII", 0x803, 0, 28, 28))
with open(d + "/few-images-idx3-ubyte", "wb") as f:
    f.write(struct.pack(">IIII", 0x803, 3, 28, 28)); f.write(bytes(3 * 784))
with open(d + "/few-labels-idx1-ubyte", "wb") as f:
    f.write(struct.pack(">II", 0x801, 5)); f.write(bytes(5))
PY
expect_error "zero images" "zero-images" "$dgm" train --data "$tmp/zero-images-idx3-ubyte" -o "$tmp/x.safetensors"
expect_error "images and labels that do not match" "few-" "$dgm" train --model cvae --data "$tmp/few-images-idx3-ubyte" -o "$tmp/x.safetensors"
printf 'garbage' > "$tmp/notmodel.safetensors"
expect_error "not a model" "notmodel.safetensors" "$dgm" eval "$tmp/notmodel.safetensors" --data "$test_data" --limit 5
head -c 5000 "$tmp/m.safetensors" > "$tmp/damaged.safetensors"
expect_error "damaged model" "damaged.safetensors" "$dgm" sample "$tmp/damaged.safetensors" -o "$tmp/y.png"
[ -e "$tmp/y.png" ] && fail "no sample file from a damaged model" || pass "no sample file from a damaged model"
expect_error "unknown flag" "unknown option" "$dgm" train --bogus 3
expect_error "out-of-range value" "out of range" "$dgm" train --batch 0
expect_error "non-numeric value" "not a number" "$dgm" eval "$tmp/m.safetensors" --importance-samples abc
printf '1,2,3\n4,5,6\n' > "$tmp/small.csv"
expect_error "image size that does not fit the model" "model" "$dgm" eval "$tmp/m.safetensors" --data "$tmp/small.csv"
expect_error "unknown command" "unknown command" "$dgm" frobnicate
# an empty or header-less alignment is reported as such, naming the file, before any
# trainer's options are parsed (it used to fall into the image VAE's: "unknown option '--steps'")
: >"$tmp/empty.a2m"; printf 'MKVLA\nMKVLA\n' >"$tmp/nohdr.a2m"
expect_error "empty .a2m named as such" "empty.a2m: empty file: no alignment" "$dgm" train --data "$tmp/empty.a2m" --model vae --steps 5 -o "$tmp/x.safetensors"
expect_error "header-less .a2m named as such" "nohdr.a2m:1:1: not an alignment" "$dgm" train --data "$tmp/nohdr.a2m" --model vae --steps 5 -o "$tmp/x.safetensors"
expect_error "empty .a2m, image options" "empty.a2m: empty file" "$dgm" train --data "$tmp/empty.a2m" --epochs 2 --hidden 8
printf '# STOCKHOLM 1.0\nF MKV\nr MKV\n\nF LA\nr LA\n' >"$tmp/open.sto"
expect_error "Stockholm without '//'" "open.sto:6:1: truncated Stockholm alignment: no closing '//' line; the last line read is 'r LA'" "$dgm" train --data "$tmp/open.sto" --model vae --steps 5 -o "$tmp/x.safetensors"
# --- plmc's reweighting, end to end: Neff must be the sum of plmc's own DHFR weights
plmc="${DGM_SHARED_DATA:-../shared/data}/protein/plmc"
if [ -f "$plmc/DHFR.a2m" ] && [ -f "$plmc/DHFR_weights_raw.txt" ]; then
    check "train independent --weights plmc" "$dgm" train --data "$plmc/DHFR.a2m" --model independent --weights plmc -o "$tmp/dhfr.safetensors" --json
    ref=$(awk '{s += $1} END {printf "%.9f", s}' "$plmc/DHFR_weights_raw.txt")
    got=$(json_key "$tmp/out" neff)
    awk -v a="$got" -v b="$ref" 'BEGIN {d = a - b; if (d < 0) d = -d; exit !(d <= 1e-6 * b)}' &&
        pass "--weights plmc: Neff $got is plmc's $ref" || fail "--weights plmc: Neff $got, plmc's $ref"
else
    echo "skip - plmc weights: $plmc is absent"
fi
exit 0
