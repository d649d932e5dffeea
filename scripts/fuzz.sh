#!/usr/bin/env bash
# Runs every fuzz target of fuzz/ for a bounded time (default 60 s each).
#
#   scripts/fuzz.sh [seconds]
#
# With cargo-fuzz and a nightly toolchain (or stable with RUSTC_BOOTSTRAP=1), runs libFuzzer
# (`cargo fuzz run`) on a scratch copy of the committed corpus (fuzz/corpus-run/, ignored by git);
# crashes land in fuzz/artifacts/<target>/. Otherwise runs the stable harness: the same properties
# (fuzz/props.rs) on the committed corpus plus random mutations, time-bounded
# (HURAH_FUZZ_SECONDS), crashes written to fuzz/artifacts/.
# Commit an input that found a bug to fuzz/corpus/<target>/ so `cargo test` replays it forever.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
targets=(task_doc names file_names dispatch_payload)

toolchain=""
if cargo fuzz --version >/dev/null 2>&1; then
    if rustup run nightly rustc --version >/dev/null 2>&1; then
        toolchain="+nightly"
    else
        export RUSTC_BOOTSTRAP=1
    fi
    mode=libfuzzer
else
    echo "fuzz.sh: cargo-fuzz not installed (cargo install cargo-fuzz); using the stable harness" >&2
    mode=stable
fi

status=0
if [ "$mode" = stable ]; then
    # One test per target, each running for $secs seconds.
    HURAH_FUZZ_SECONDS="$secs" HURAH_FUZZ_CRASH_DIR="$PWD/fuzz/artifacts" \
        cargo test --release -p hurah --test torture fuzz_ -- --nocapture --test-threads=1 || status=1
    exit $status
fi
mkdir -p target/fuzz-logs
for t in "${targets[@]}"; do
    echo "== $t (libFuzzer, ${secs}s)"
    mkdir -p "fuzz/corpus-run/$t"
    log="target/fuzz-logs/$t.log"
    if (cd fuzz && cargo $toolchain fuzz run -O "$t" "corpus-run/$t" "corpus/$t" -- \
            -max_total_time="$secs" -rss_limit_mb=2048 -print_final_stats=1) >"$log" 2>&1; then
        grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss_mb)' "$log" || true
    else
        grep -E 'panicked|SUMMARY|Test unit written|Base64' -A2 "$log" | head -20 || true
        echo "fuzz.sh: $t FAILED (log: $log, crash input: fuzz/artifacts/$t/)"
        status=1
    fi
done
exit $status
