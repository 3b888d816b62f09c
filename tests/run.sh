#!/bin/sh
# Runs every test binary in $1/tests, the CLI tests (tests/cli.sh), the library's API
# tests (tests/api.sh), the layer check (tests/layers.sh), the size limits (tests/limits.sh)
# and the kill-anywhere test (tests/kill.sh), sums their "N passed,
# N failed" lines and "ok" / "not ok" lines, and exits non-zero if anything failed or a
# binary crashed.
build=${1:-build}
# Spinning OpenMP workers crawl when anything else shares the cores; tests need no spin.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
# Under the sanitizers: fontconfig's caches (cairo's text) live until exit (tests/lsan_fontconfig.supp).
export LSAN_OPTIONS="suppressions=$(pwd)/tests/lsan_fontconfig.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
passed=0; failed=0; skipped=0; crashed=0
for t in "$build"/tests/test_*; do
    [ -x "$t" ] || continue
    out=$("$t" 2>&1); rc=$?
    line=$(printf '%s\n' "$out" | grep -E '^[a-z0-9_]+: [0-9]+ passed, [0-9]+ failed' | tail -n 1)
    if [ $rc -ne 0 ] || [ -z "$line" ]; then printf '%s\n' "$out"; fi
    if [ -z "$line" ]; then
        echo "$(basename "$t"): crashed or printed no summary (exit $rc)"; crashed=$((crashed + 1)); continue
    fi
    echo "$line"
    p=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed.*/\1/')
    f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')
    s=$(echo "$line" | sed -nE 's/.* ([0-9]+) skipped.*/\1/p')
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + ${s:-0}))
    if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then crashed=$((crashed + 1)); fi
done
for script in tests/cli.sh tests/cli_ux.sh tests/cli_potts.sh tests/torch.sh tests/report.sh tests/api.sh tests/layers.sh tests/assess.sh tests/html.sh tests/cli_made.sh tests/limits.sh tests/kill.sh tests/determinism.sh tests/mpi.sh; do
    [ -f "$script" ] || continue
    out=$(sh "$script" "$build" 2>&1); rc=$?
    printf '%s\n' "$out" | grep -vE '^ok ' | grep -v '^skip '
    p=$(printf '%s\n' "$out" | grep -c '^ok ')
    f=$(printf '%s\n' "$out" | grep -c '^not ok ')
    s=$(printf '%s\n' "$out" | grep -c '^skip ')
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
    if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then crashed=$((crashed + 1)); fi
done
failed=$((failed + crashed))
if [ $skipped -gt 0 ]; then
    echo "$passed passed, $failed failed, $skipped skipped"
else
    echo "$passed passed, $failed failed"
fi
[ $failed -eq 0 ]
