#!/usr/bin/env bash
# bench/storage/write_patterns.sh BIN [MIB] [ROUNDS]  (BIN: build/bin/sluice-write-patterns)
# Run it under /tmp/sluice-build.lock. WP_VARIANTS="aligned batch ..." picks the variants.
# Page-cache write patterns for the log's appends (sluice-write-patterns, see its header): ROUNDS
# rounds with the variant order rotated each round, then dd of each variant's file, then the
# page-cache folio orders each variant leaves (tracepoint filemap:mm_filemap_add_to_page_cache,
# 64 MiB, no priming write). docs/performance.md, storage section, has the figures.
set -euo pipefail
bin=$1 mib=${2:-512} rounds=${3:-3}
variants=(${WP_VARIANTS:-aligned batch zeroahead fallocate fallockeep readahead popread mmap mmaphuge coalesce})
dir=$(mktemp -d "${TMPDIR:-/var/tmp}/sluice-wp.XXXXXX")
trap 'rm -rf "$dir"' EXIT
n=${#variants[@]}
for ((r = 0; r < rounds; r++)); do
  order=("${variants[@]:r % n}" "${variants[@]:0:r % n}")
  echo "# round $r"
  "$bin" --dir "$dir" --mib "$mib" "${order[@]}"
done
echo "# dd bs=1M of each variant's file (best of 3, fully cached)"
for v in "${variants[@]}"; do
  "$bin" --dir "$dir" --mib "$mib" --keep "$v" >/dev/null
  best=$(for _ in 1 2 3; do dd if="$dir/$v.dat" of=/dev/null bs=1M 2>&1 | tail -1; done |
    python3 -c "import re,sys; print(round(max(int(l.split()[0]) / float(re.search(r', ([0-9.]+) s,', l).group(1)) for l in sys.stdin) / 1e6))")
  echo "{\"variant\": \"$v\", \"dd_read_mb_s\": $best}"
  rm -f "$dir/$v.dat"
done
echo "# folio orders added to the page cache (count per order), 64 MiB"
for v in "${variants[@]}"; do
  perf record -q -e filemap:mm_filemap_add_to_page_cache -o "$dir/perf.data" -- \
    "$bin" --dir "$dir" --mib 64 --no-prime "$v" >/dev/null 2>&1
  hist=$(perf script -i "$dir/perf.data" 2>/dev/null | grep -o 'order=[0-9]*' | sort | uniq -c |
    sort -k2 -t= -n | awk '{printf "%s:%s ", $2, $1}')
  echo "$v: $hist"
done
