#!/bin/sh
# Runs every harness in $1 (default build-fuzz/fuzz) for $2 seconds (default 20) over its
# checked-in corpus (fuzz/corpus/<name>, read only: new inputs go to a scratch folder) with
# its dictionary, one after the other, niced. Fails if any harness reports a crash, a leak,
# a sanitizer finding, a timeout (10 s an input) or an allocation over 256 MB (an absurd
# size from a small input); the reproducer is kept in $FUZZ_ARTIFACTS (default
# fuzz-artifacts/). Prints one line per harness with libFuzzer's final counts.
dir=${1:-build-fuzz/fuzz}
secs=${2:-20}
art=${FUZZ_ARTIFACTS:-fuzz-artifacts}
mkdir -p "$art"
failed=0
for bin in "$dir"/fuzz_*; do
    [ -x "$bin" ] || continue
    h=$(basename "$bin"); h=${h#fuzz_}
    work=$(mktemp -d)
    dict=""; [ -f "fuzz/$h.dict" ] && dict="-dict=fuzz/$h.dict"
    nice -n 19 "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=256 \
        -print_final_stats=1 -artifact_prefix="$art/$h-" $dict "$work" "fuzz/corpus/$h" \
        >"$work.log" 2>&1
    rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work.log")
    cov=$(grep -E '^#[0-9]+' "$work.log" | tail -n 1 | sed -E 's/.*(cov: [0-9]+ ft: [0-9]+).*/\1/')
    if [ $rc -eq 0 ]; then
        echo "ok - fuzz_$h: ${runs:-?} runs in ${secs}s, $cov"
    else
        echo "not ok - fuzz_$h: exit $rc"; grep -E 'ERROR|SUMMARY|invariant|==[0-9]+==|Test unit written' "$work.log" | head -n 20
        failed=1
    fi
    rm -rf "$work" "$work.log"
done
exit $failed
