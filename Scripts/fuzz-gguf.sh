#!/usr/bin/env bash
# Fuzz the GGUF reader with libFuzzer (coverage-guided, with AddressSanitizer).
#
#   Scripts/fuzz-gguf.sh [SECONDS] [extra libFuzzer flags]
#
# Builds .build-fuzz/fuzz-gguf from Sources/GGUF plus Scripts/fuzz/GGUFFuzzEntry.swift,
# seeds the corpus with the committed fixtures and regression inputs, and runs for SECONDS
# (default 300) on all cores. Crashes, leaks and timeouts land in .build-fuzz/findings/; copy
# each one into Tests/GGUFTests/Regressions/ once it is fixed, so `swift test` keeps checking it.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-300}
shift || true
out=.build-fuzz
mkdir -p "$out/corpus" "$out/findings"
swiftc -O -sanitize=fuzzer,address -parse-as-library -module-name GGUF \
    Sources/GGUF/*.swift Scripts/fuzz/GGUFFuzzEntry.swift -o "$out/fuzz-gguf"
find Tests -name '*.gguf' -size -2M -exec cp {} "$out/corpus/" \;
cp Tests/GGUFTests/Regressions/* "$out/corpus/" 2>/dev/null || true
rm -f "$out/corpus/README.md"
jobs=${FUZZ_JOBS:-$(nproc)}
# libFuzzer writes one fuzz-N.log per job into the working directory.
cd "$out"
./fuzz-gguf corpus -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix=findings/ -jobs="$jobs" -workers="$jobs" -print_final_stats=1 "$@"
echo "Findings (empty when none): $(ls findings | wc -l) in $out/findings"
