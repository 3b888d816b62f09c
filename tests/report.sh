#!/bin/sh
# The training report (issue #17) in a real browser: dgm train --report and dgm report on a
# short Fashion-MNIST run, each page opened in headless Chromium by tests/html_check.py
# (embedded PNGs decode and are not blank, the DOM has the tables, the screenshot shows
# the plots). Recording the report must not change training: the model file is the same
# bytes as a run without it. Prints "ok - ..." / "not ok - ..."; "skip" without chromium
# or the fashion-mnist package.
build=${1:-build}
dgm="$build/dgm"
py=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass() { echo "ok - report: $1"; }
fail() { echo "not ok - report: $1"; }
chromium=$(command -v chromium || true)
if [ -z "$chromium" ] || [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
    echo "skip - report: needs chromium and the fashion-mnist package"; exit 0
fi
run="--data fashion-mnist --limit 3000 --val 300 --epochs 3 --hidden 64 --latent 3 --threads 2"
if "$dgm" train $run -o "$tmp/a.safetensors" --log "$tmp/a.log" --report "$tmp/train.html" >/dev/null 2>"$tmp/err"; then
    pass "dgm train --report writes a page"
else
    fail "dgm train --report writes a page ($(tail -n 2 "$tmp/err"))"
fi
"$dgm" train $run -o "$tmp/b.safetensors" >/dev/null 2>&1
cmp -s "$tmp/a.safetensors" "$tmp/b.safetensors" && cmp -s "$tmp/a.ckpt.safetensors" "$tmp/b.ckpt.safetensors" &&
    pass "recording the report and the log leaves training's bytes alone" || fail "the report changed the trained model"
# the log: one line per step (batch_loss), one per epoch
steps=$(grep -c '"batch_loss"' "$tmp/a.log"); epochs=$(grep -c '"train_loss"' "$tmp/a.log")
[ "$steps" -eq $((3 * 22)) ] && [ "$epochs" -eq 3 ] && pass "--log has every step and every epoch ($steps, $epochs)" ||
    fail "--log has $steps step and $epochs epoch lines (want 66 and 3)"
# images: training curves, samples over epochs, latent codes; tables: epochs (3 rows) and evaluation
if $py tests/html_check.py "$tmp/train.html" --images 3 --rows 3 --chromium "$chromium" --shot "$tmp/shot.png" >"$tmp/chk" 2>&1; then
    pass "the train --report page renders in headless Chromium with its tables and plots"
else
    fail "the train --report page renders ($(cat "$tmp/chk"))"
fi
grep -q '<tr><td class="num">3</td>' "$tmp/train.html" &&
    pass "the epoch table has the third epoch" || fail "the epoch table has the third epoch"
if "$dgm" report "$tmp/a.safetensors" --log "$tmp/a.log" -o "$tmp/after.html" >/dev/null 2>"$tmp/err" &&
   $py tests/html_check.py "$tmp/after.html" --images 3 --rows 3 --chromium "$chromium" >"$tmp/chk" 2>&1; then
    pass "dgm report builds the page from the model and its log, and it renders"
else
    fail "dgm report builds the page ($(cat "$tmp/err" "$tmp/chk" 2>/dev/null | tail -n 3))"
fi
printf 'not json\n' > "$tmp/bad.log"
"$dgm" report "$tmp/a.safetensors" --log "$tmp/bad.log" -o "$tmp/bad.html" 2>"$tmp/err"
rc=$?
[ $rc -eq 1 ] && grep -q 'bad.log: line 1 is not a JSON object' "$tmp/err" && [ ! -e "$tmp/bad.html" ] &&
    pass "a damaged log: one-line error, no page" || fail "a damaged log (exit $rc: $(cat "$tmp/err"))"
[ -n "$DGM_REPORT_SHOT" ] && cp "$tmp/shot.png" "$DGM_REPORT_SHOT"
exit 0
