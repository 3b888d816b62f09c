#!/bin/sh
# The command line as users meet it (issue #17): help that shows each real default once,
# one exit code for usage errors, "did you mean", deprecated spellings with a note, the
# progress bar on a terminal, pandas CSVs, `dgm info`. Prints "ok - ..." / "not ok - ...".
build=${1:-build}
dgm="$build/dgm"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass() { echo "ok - $1"; }
fail() { echo "not ok - $1"; }
# exits NAME CODE CMD...: the command exits with CODE
exits() { name=$1; code=$2; shift 2; "$@" >"$tmp/out" 2>"$tmp/err"; rc=$?
    [ "$rc" -eq "$code" ] && pass "$name" || fail "$name (exit $rc, want $code: $(head -c 300 "$tmp/err"))"; }
# has NAME FILE PATTERN / lacks NAME FILE PATTERN (grep -E)
has() { grep -qE -- "$3" "$2" && pass "$1" || fail "$1 ($(head -c 300 "$2"))"; }
lacks() { grep -qE -- "$3" "$2" && fail "$1 ($(grep -E -- "$3" "$2" | head -2))" || pass "$1"; }

# --- help
"$dgm" train --help >"$tmp/h" 2>&1
lacks "no option shows two defaults" "$tmp/h" '\(default[^)]*\).*\(default'
lacks "--data says required once, with no made-up default" "$tmp/h" 'required.*default: none'
has "--batch shows its real default" "$tmp/h" '^  --batch .*\(default: 128\)$'
"$dgm" train --epochs 5 --batch 7 --help >"$tmp/h5" 2>&1
has "--help after options shows the default, not what was typed" "$tmp/h5" '^  --batch .*\(default: 128\)$'
"$dgm" train --model independent --data x.a2m --help >"$tmp/hp" 2>&1
has "protein trainer's --model default is the VAE" "$tmp/hp" '^  --model .*\(default: vae\)$'
"$dgm" help eval >"$tmp/he" 2>&1
has "dgm help CMD prints the command's options" "$tmp/he" '^usage: dgm eval '
for cmd in train sample eval loglik kl classify mutations encode reconstruct interpolate info; do
    "$dgm" $cmd --help >"$tmp/hc" 2>&1 || { fail "dgm $cmd --help exits 0"; continue; }
    if grep -qE '\(default[^)]*\).*\(default|required.*\(default' "$tmp/hc"; then
        fail "dgm $cmd --help: an option with two defaults"; else pass "dgm $cmd --help: one default each"; fi
done

# --- usage errors: one exit code (2); failures of the work: 1
exits "missing MODEL exits 2" 2 "$dgm" eval
exits "unknown option exits 2" 2 "$dgm" eval m.safetensors --bogus
exits "bad option value exits 2" 2 "$dgm" train --objective nope --data "$tmp/none.csv"
exits "missing file exits 1" 1 "$dgm" eval "$tmp/absent.safetensors"
"$dgm" train --epoch 3 2>"$tmp/dym"
has "did you mean --epochs" "$tmp/dym" "unknown option '--epoch' \(did you mean --epochs\?\)"
"$dgm" evl 2>"$tmp/dyc"
has "did you mean eval" "$tmp/dyc" "unknown command 'evl' \(did you mean eval\?\)"

# --- deprecated spellings: accepted, with a note naming the new one
printf '0.5,0.5\n0.25,0.75\n' > "$tmp/pq.csv"
"$dgm" kl "$tmp/pq.csv" --method discrete --json >"$tmp/new.json" 2>/dev/null
printf '1\n2\n3\n4\n5\n6\n' > "$tmp/x.csv"; printf '2\n3\n4\n5\n6\n7\n' > "$tmp/y.csv"
"$dgm" kl "$tmp/x.csv" "$tmp/y.csv" --method knn --k 2 --json >"$tmp/old.json" 2>"$tmp/note"
"$dgm" kl "$tmp/x.csv" "$tmp/y.csv" --method knn --neighbours 2 --json >"$tmp/new.json" 2>/dev/null
cmp -s "$tmp/old.json" "$tmp/new.json" && [ -s "$tmp/new.json" ] && pass "kl --k still means --neighbours" || fail "kl --k still means --neighbours"
has "deprecation note names the new spelling" "$tmp/note" 'note: --k is deprecated, use --neighbours'
"$dgm" kl --help >"$tmp/hk" 2>&1
has "help lists the deprecated spellings" "$tmp/hk" '^  --k +now --neighbours$'
# --- the progress bar on a real terminal (tmux), at 60 and 200 columns: captured while
# training, every bar line is whole (it ends in "]" or the loss, so nothing wrapped), fits
# the width, and shows n/total; the epoch lines survive intact.
if command -v tmux >/dev/null && [ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
    for cols in 60 200; do
        sock="dgm-ux-$$-$cols"; : > "$tmp/screens$cols"
        tmux -L "$sock" -f /dev/null new-session -d -x "$cols" -y 30 \
            "OMP_WAIT_POLICY=passive '$dgm' train --data fashion-mnist --limit 20000 --hidden 200 --epochs 3 --threads 2 -o '$tmp/tty$cols.safetensors'; echo TRAIN-DONE; sleep 60"
        i=0
        while [ $i -lt 3000 ]; do
            tmux -L "$sock" capture-pane -p >>"$tmp/screens$cols" 2>/dev/null
            grep -q TRAIN-DONE "$tmp/screens$cols" && break
            sleep 0.1; i=$((i + 1))
        done
        tmux -L "$sock" capture-pane -p >"$tmp/final$cols" 2>/dev/null
        tmux -L "$sock" kill-server 2>/dev/null
        grep -E '^epoch [0-9]+/3: +[0-9]+%' "$tmp/screens$cols" | sort -u >"$tmp/bars$cols"
        [ -s "$tmp/bars$cols" ] && pass "$cols columns: the bar was drawn" || fail "$cols columns: no bar captured"
        long=$(awk -v c="$cols" 'length($0) > c - 1' "$tmp/bars$cols" | head -1)
        [ -z "$long" ] && pass "$cols columns: every bar fits in $((cols - 1))" || fail "$cols columns: a bar is too wide: $long"
        bad=$(grep -vE '^epoch [0-9]+/3: +[0-9]+%(\|[# ]+\|)? [0-9]+/[0-9]+ \[[0-9:]+<([0-9:]+|\?), .*loss=[0-9.]+\]$' "$tmp/bars$cols" | head -1)
        [ -z "$bad" ] && pass "$cols columns: every bar is whole (n/total, elapsed<remaining, loss)" || fail "$cols columns: a broken bar: '$bad'"
        lacks "$cols columns: no negative or overflowing numbers" "$tmp/screens$cols" 'ETA|-[0-9]{4,}|/[0-9]*[^0-9]20000\]'
        n=$(grep -cE '^epoch [123]/3  loss [0-9.]+  recon' "$tmp/final$cols")
        [ "$n" -eq 3 ] && pass "$cols columns: the three epoch lines are intact" || fail "$cols columns: $n intact epoch lines: $(cat "$tmp/final$cols")"
        if [ "$cols" = 200 ]; then
            has "200 columns: the wide bar shows the rate" "$tmp/bars$cols" '\|#+ *\| [0-9]+/[0-9]+ \[[0-9:]+<[0-9:?]+, [0-9.e+]+ img/s, loss='
        fi
    done
else
    echo "skip - progress bar in a terminal: needs tmux and the fashion-mnist package"
fi
# --- dgm info: plain text (not JSON) with the tensor list; --json has the tensors too
python3 - "$tmp" <<'PY'
import random, sys
random.seed(1)
aa = "ACDEFGHIKLMNPQRSTVWY"
base = "".join(random.choice(aa) for _ in range(12))
with open(sys.argv[1] + "/tiny.a2m", "w") as f:
    for i in range(12):
        s = "".join(c if random.random() > 0.2 else random.choice(aa) for c in base)
        f.write(">seq%d/1-12\n%s\n" % (i, s))
PY
"$dgm" train --model independent --data "$tmp/tiny.a2m" -o "$tmp/ind.safetensors" >/dev/null 2>&1
"$dgm" info "$tmp/ind.safetensors" >"$tmp/info" 2>&1
lacks "info prints text, not tab-indented JSON" "$tmp/info" '^[{}]|	'
has "info lists the tensors with shapes" "$tmp/info" '^  log_freq +12 x 20$'
"$dgm" info "$tmp/ind.safetensors" --json >"$tmp/info.json" 2>/dev/null
/usr/bin/python3 -c "import json; d = json.load(open('$tmp/info.json')); assert d['tensors'] == [{'name': 'log_freq', 'shape': [12, 20]}]" 2>/dev/null &&
    pass "info --json has the tensors" || fail "info --json has the tensors ($(head -c 200 "$tmp/info.json"))"

# --- protein training: --log is JSON lines; the default run says how long it is
"$dgm" train --data "$tmp/tiny.a2m" --steps 4 --eval-every 2 --encoder-hidden 8 --decoder-hidden 8 --latent 2 \
    --log "$tmp/p.log" -o "$tmp/p.safetensors" >/dev/null 2>"$tmp/perr"
/usr/bin/python3 -c "
import json
rows = [json.loads(l) for l in open('$tmp/p.log')]
assert [r['step'] for r in rows] == [2, 4], rows
assert all('train_loss' in r and 'seconds' in r and 'lr' in r for r in rows), rows" 2>/dev/null &&
    pass "protein --log writes JSON lines (step, seconds, train_loss, lr)" || fail "protein --log writes JSON lines ($(head -c 200 "$tmp/p.log"))"
has "protein training states its size" "$tmp/perr" '^dgm train: seqvae \(bayesian\) on .*, 4 steps of batch 100, [0-9]+ threads, [0-9]+ parameters$'
lacks "no note when --steps is given" "$tmp/perr" 'note: the default run'
timeout 3 "$dgm" train --data "$tmp/tiny.a2m" --encoder-hidden 8 --decoder-hidden 8 --latent 2 -o "$tmp/p2.safetensors" >/dev/null 2>"$tmp/perr2"
has "the default protein run says it takes minutes" "$tmp/perr2" 'note: the default run .*10000 steps.*--steps or --time-limit'
# usage errors of the commands that came with the Potts model and dgm assess exit 2 too
exits "train --model potts --max-iter 0 exits 2" 2 "$dgm" train --model potts --data "$tmp/tiny.a2m" --max-iter 0
exits "assess --split 1.5 exits 2" 2 "$dgm" assess "$tmp/tiny.a2m" "$tmp/tiny.a2m" --split 1.5
exit 0
