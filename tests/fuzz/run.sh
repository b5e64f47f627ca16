#!/usr/bin/env bash
# run.sh SECONDS [TARGET...]: builds every fuzz target (clang, libFuzzer,
# ASan+UBSan) in build-fuzz/ and runs each for SECONDS seconds, one after
# the other (FUZZ_PARALLEL=1: all at once, for long runs), each on its own
# corpus under build-fuzz/corpus/<target> (kept between runs), seeded from
# tests/fuzz/seeds, tests/fuzz/regress and ../shared (copied at run time).
# Crash inputs land in build-fuzz/artifacts/<target>/; copy a fixed one to
# tests/fuzz/regress/<target>/ so fuzz_regress_<target> replays it.
# FUZZ_SEED and FUZZ_RUNS fix libFuzzer's seed and input count, so a CI run
# explores the same inputs every time (SECONDS stays as a safety cap).
# Prints each target's executions and final coverage; exits 1 if any
# target found a crash, leak or timeout.
set -euo pipefail
secs=${1:?usage: run.sh SECONDS [TARGET...]}
shift
root=$(cd "$(dirname "$0")/../.." && pwd)
shared=${CHORD_SHARED:-$root/../shared}
build=${FUZZ_BUILD:-$root/build-fuzz}
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(gguf tmpl tok json hist)

if [ ! -d "$shared/ref" ]; then
    [ -n "${CI:-}" ] && { echo "FAIL: $shared/ref missing and CI is set" >&2; exit 1; }
    echo "SKIP: no ../shared fixtures" >&2
    exit 77
fi
CC=clang cmake -S "$root" -B "$build" -DCHORD_FUZZ=ON -DCHORD_SANITIZE=address \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCHORD_SHARED_DIR="$shared" >/dev/null
cmake --build "$build" -j"${FUZZ_JOBS:-2}" --target "${targets[@]/#/fuzz_}" >/dev/null

seeds=$build/seeds
rm -rf "$seeds"
python3 "$root/tests/fuzz/make_seeds.py" "$seeds" "$shared"

run_one() {
    local t=$1 corpus=$build/corpus/$1 art=$build/artifacts/$1/
    mkdir -p "$corpus" "$art"
    # the template and tokenizer inputs are text; bigger inputs only slow them
    ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    CHORD_SHARED="$shared" "$build/tests/fuzz/fuzz_$t" \
        -max_total_time="$secs" -timeout=120 -rss_limit_mb=2560 -max_len=8192 \
        ${FUZZ_SEED:+-seed="$FUZZ_SEED"} ${FUZZ_RUNS:+-runs="$FUZZ_RUNS"} \
        -print_final_stats=1 -artifact_prefix="$art" \
        "$corpus" "$seeds/$t" "$root/tests/fuzz/seeds/$t" "$root/tests/fuzz/regress/$t" \
        >"$build/$t.log" 2>&1
}

declare -A rc
if [ -n "${FUZZ_PARALLEL:-}" ]; then
    declare -A pid
    for t in "${targets[@]}"; do run_one "$t" & pid[$t]=$!; done
    for t in "${targets[@]}"; do rc[$t]=0; wait "${pid[$t]}" || rc[$t]=$?; done
else
    for t in "${targets[@]}"; do rc[$t]=0; run_one "$t" || rc[$t]=$?; done
fi

bad=0
for t in "${targets[@]}"; do
    log=$build/$t.log
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
    last=$(grep -E '^#[0-9]+' "$log" | tail -1 | grep -oE 'cov: [0-9]+ ft: [0-9]+' || echo 'cov: ? ft: ?')
    printf 'fuzz_%-5s %s execs, %s, exit %s\n' "$t" "$execs" "$last" "${rc[$t]}"
    if [ "${rc[$t]}" -ne 0 ]; then
        bad=1
        grep -E 'ERROR|SUMMARY|Test unit written' "$log" | head -5 | sed 's/^/    /'
    fi
done
exit $bad
