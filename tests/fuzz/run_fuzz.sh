#!/usr/bin/env bash
# run_fuzz.sh FUZZER CORPUS_DIR SEED_DIR SECONDS
# Runs a libFuzzer target for SECONDS from a corpus seeded with captured real-client bytes.
# Any crash, leak or sanitizer report fails the test (libFuzzer exits non-zero).
set -euo pipefail
fuzzer=$1 corpus=$2 seeds=$3 seconds=$4
mkdir -p "$corpus"
if [ -d "$seeds" ]; then
  find "$seeds" -name '*.bin' -exec cp -n {} "$corpus"/ \; 2>/dev/null || true
fi
artifacts=$(dirname "$corpus")/artifacts/$(basename "$fuzzer")
mkdir -p "$artifacts"
exec "$fuzzer" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 -timeout=10 \
  -print_final_stats=1 -artifact_prefix="$artifacts/" "$corpus"
