#!/bin/sh
# Kill anywhere (issue #16): `dgm train` on a tiny synthetic IDX set (a 16-8-2 VAE, 60
# epochs, under a second) is killed with SIGKILL at 20 moments drawn from a seeded
# generator (uniform over the first ~12% of a straight run's time after each start, so
# kills land during steps, during the per-epoch checkpoint writes, which DGM_TEST_COMMIT_PAUSE_MS holds open
# a few ms, and at start-up), and
# resumed with `dgm train --resume DIR/m.safetensors` (started afresh while no model file
# exists yet) until it finishes. After each kill the model file, when there is one, must
# load (`dgm info`); at the end every file the run left in DIR, temporaries of the atomic
# writer (*.tmp.*) aside, must equal byte for byte those of a run never interrupted. A run
# that finishes before the 20th kill is compared and the next round starts afresh.
# Prints "ok - ..." / "not ok - ..." lines (tests/run.sh) and "#" lines with the counts.
build=${1:-build}
dgm="$build/dgm"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export OMP_NUM_THREADS=1
# every checkpoint write pauses 3 ms with its temporary file half written (src/io/atomic.c),
# so that some kills land inside a write; the bytes written are the same
export DGM_TEST_COMMIT_PAUSE_MS=3
/usr/bin/python3 - "$tmp" <<'PY'
import struct, sys
n = 1000
open(sys.argv[1] + "/kt-images-idx3-ubyte", "wb").write(struct.pack(">IIII", 0x803, n, 4, 4) +
    bytes(((i * 7 + j * 13) % 5) * 60 for i in range(n) for j in range(16)))
PY
opts="--data $tmp/kt-images-idx3-ubyte --hidden 8 --latent 2 --epochs 60 --batch 50 --threads 1"
now_ms() { date +%s%3N; }
mkdir "$tmp/ref"
t0=$(now_ms)
"$dgm" train $opts -o "$tmp/ref/m.safetensors" >/dev/null 2>"$tmp/ref.err" || {
    echo "not ok - kill: the uninterrupted run ($(cat "$tmp/ref.err"))"; exit 0; }
span=$(( $(now_ms) - t0 ))
# a seeded sequence of delays in ms (awk's rand with a fixed seed), 1..span/8+20
awk -v s="$span" 'BEGIN { srand(16); for (i = 0; i < 400; i++) printf "%d\n", 1 + int(rand() * (s / 8 + 20)) }' >"$tmp/delays"

# same_files A B: every non-temporary file of A equals B's, and B has no other
same_files() {
    (cd "$1" && ls | grep -v '\.tmp\.' | sort) >"$tmp/la"
    (cd "$2" && ls | grep -v '\.tmp\.' | sort) >"$tmp/lb"
    cmp -s "$tmp/la" "$tmp/lb" || return 1
    while read -r f; do cmp -s "$1/$f" "$2/$f" || return 1; done <"$tmp/la"
}
kills=0 midwrite=0 loads=0 bad_load=0 rounds=0 rounds_ok=0 attempts=0
dir="$tmp/run0"; mkdir "$dir"
while read -r d; do
    [ $kills -ge 20 ] && break
    attempts=$((attempts + 1))
    if [ -f "$dir/m.safetensors" ]; then
        "$dgm" train --resume "$dir/m.safetensors" --threads 1 >/dev/null 2>>"$tmp/runs.err" &
    else
        "$dgm" train $opts -o "$dir/m.safetensors" >/dev/null 2>>"$tmp/runs.err" &
    fi
    pid=$!
    sleep "$(awk -v d="$d" 'BEGIN { printf "%.3f", d / 1000 }')"
    kill -9 $pid 2>/dev/null
    { wait $pid; } 2>/dev/null; rc=$?
    if [ $rc -eq 137 ]; then
        kills=$((kills + 1))
        ls "$dir" | grep -q '\.tmp\.' && midwrite=$((midwrite + 1))
        rm -f "$dir"/*.tmp.*
        if [ -f "$dir/m.safetensors" ]; then
            loads=$((loads + 1))
            "$dgm" info "$dir/m.safetensors" >/dev/null 2>>"$tmp/info.err" || bad_load=$((bad_load + 1))
        fi
    elif [ $rc -eq 0 ]; then
        rounds=$((rounds + 1))
        same_files "$tmp/ref" "$dir" && rounds_ok=$((rounds_ok + 1))
        dir="$tmp/run$rounds"; mkdir "$dir"
    else
        [ $bad_load -lt 3 ] && echo "# kill: dgm train exited $rc: $(tail -n 1 "$tmp/runs.err")"
        bad_load=$((bad_load + 1))
    fi
done <"$tmp/delays"
# finish the last round
for i in 1 2 3; do
    if [ -f "$dir/m.safetensors" ]; then
        "$dgm" train --resume "$dir/m.safetensors" --threads 1 >/dev/null 2>>"$tmp/runs.err" && break
    else
        "$dgm" train $opts -o "$dir/m.safetensors" >/dev/null 2>>"$tmp/runs.err" && break
    fi
done
rounds=$((rounds + 1))
same_files "$tmp/ref" "$dir" && rounds_ok=$((rounds_ok + 1))
echo "# kill: $kills kills in $attempts starts ($midwrite during a checkpoint write, $loads with a model file to load), $rounds rounds, straight run ${span} ms"
[ $kills -ge 20 ] && echo "ok - kill: 20 SIGKILLs" || echo "not ok - kill: 20 SIGKILLs (only $kills)"
[ $bad_load -eq 0 ] && echo "ok - kill: the model file loads after every kill" ||
    { echo "not ok - kill: the model file loads after every kill ($bad_load failures)"; head -n 3 "$tmp/info.err"; }
[ $rounds_ok -eq $rounds ] && echo "ok - kill: resumed runs end with the uninterrupted run's bytes ($rounds rounds)" ||
    echo "not ok - kill: resumed runs end with the uninterrupted run's bytes ($rounds_ok of $rounds rounds)"
# The one moment the random kills reach only now and then (1 CI run in many): killed while
# the last epoch's model file is written, the checkpoint holds every epoch and the model
# file the one before. Made exactly: a 3-epoch run's checkpoint beside a 2-epoch run's model
# file (the same steps up to there); --resume must end with the 3-epoch run's bytes.
o3="--data $tmp/kt-images-idx3-ubyte --hidden 8 --latent 2 --batch 50 --threads 1"
mkdir "$tmp/e3" "$tmp/e2" "$tmp/last"
"$dgm" train $o3 --epochs 3 -o "$tmp/e3/m.safetensors" >/dev/null 2>&1
"$dgm" train $o3 --epochs 2 -o "$tmp/e2/m.safetensors" >/dev/null 2>&1
cp "$tmp/e3/m.ckpt.safetensors" "$tmp/e2/m.safetensors" "$tmp/last/"
if ! cmp -s "$tmp/e2/m.safetensors" "$tmp/e3/m.safetensors" &&
   "$dgm" train --resume "$tmp/last/m.safetensors" --threads 1 >/dev/null 2>&1 &&
   same_files "$tmp/e3" "$tmp/last"; then
    echo "ok - kill: killed in the last epoch's model write, --resume ends with the uninterrupted bytes"
else
    echo "not ok - kill: killed in the last epoch's model write, --resume ends with the uninterrupted bytes"
fi
exit 0
