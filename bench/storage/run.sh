#!/usr/bin/env bash
# bench/storage/run.sh BIN_DIR OUT_JSON [MIB]
# Runs sluice-bench-storage and fio on the same disk, in the same run, and prints the ratios the
# storage issue targets: append_mb_s >= 0.8 x fio sequential 16 KiB buffered writes,
# read_mb_s >= 0.8 x page-cache reads (dd), recovery_s_per_gib < 1; and fsyncs_per_s (8 durable
# writers, group commit) against fio's 16 KiB write+fdatasync rate, the disk's durable-write limit.
set -euo pipefail
bin=$1 out=$2 mib=${3:-512}
dir=$(mktemp -d "${TMPDIR:-/var/tmp}/sluice-bench.XXXXXX")
trap 'rm -rf "$dir"' EXIT

fio_json() {  # fio_json NAME RW BS SIZE [extra args...] -> fio's JSON report
  local name=$1 rw=$2 bs=$3 size=$4
  shift 4
  fio --name="$name" --rw="$rw" --bs="$bs" --size="$size" --ioengine=psync --fallocate=none \
    --filename="$dir/fio.dat" --output-format=json "$@" 2>/dev/null
}
fio_bw() {  # fio_bw NAME RW BS [extra args...] -> bytes/s
  local name=$1 rw=$2 bs=$3
  shift 3
  fio_json "$name" "$rw" "$bs" "${mib}m" "$@" |
    python3 -c "import json,sys; print(json.load(sys.stdin)['jobs'][0][sys.argv[1]]['bw_bytes'])" "$rw"
}

# Same page-cache regime for both measured writes: each starts right after $mib MiB were written
# and deleted (fresh memory vs just-freed pages; on this VM it made little difference, but the
# order no longer favours either side).
prime() {
  fio_json prime write 1m "${mib}m" >/dev/null
  rm -f "$dir/fio.dat"
}
prime
sluice=$("$bin/sluice-bench-storage" --dir "$dir/sluice" --mib "$mib" --json)
# dd of the log's own segment file, still cached: the same bytes in the same page-cache folios as
# the bench read, so this ratio isolates the read loop's own cost from how the file was written.
dd_best() {
  for _ in 1 2 3; do dd if="$1" of=/dev/null bs=1M 2>&1 | tail -1; done |
    python3 -c "import re,sys; print(max(int(l.split()[0]) / float(re.search(r', ([0-9.]+) s,', l).group(1)) for l in sys.stdin))"
}
dd_segment=$(dd_best "$(ls -S "$dir"/sluice/p0/*.log | head -1)")
rm -rf "$dir/sluice"
prime
fio_write=$(fio_bw seqwrite write 16k)
# The issue's reference is 16 KiB writes, which are page-aligned; a batch of 16 x 1 KiB records is
# a little larger, so the log's appends start and end inside pages (partial-page writes cost the
# kernel more). fio with exactly the batch's size is the like-for-like figure.
batch=$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['batch_bytes'])" "$sluice")
rm -f "$dir/fio.dat"
prime
fio_write_batch=$(fio_bw seqwrite_batch write "$batch")
# Page-cache read speed: dd with 1 MiB read(2)s of the file just written (fully cached). fio's
# psync reads of the same cached file reported only ~1.5 GB/s on this VM against dd's ~8.6 GB/s,
# so fio is kept in the JSON but not used as the reference.
fio_read=$(fio_bw cachedread read 1m --invalidate=0 --loops=3)
dd_read=$(dd_best "$dir/fio.dat")
rm -f "$dir/fio.dat"
# Durable-write limit: 16 KiB writes, each followed by fdatasync, for 5 s (fsync IOPS = write IOPS).
fio_sync=$(fio_json syncwrite write 16k "${mib}m" --fdatasync=1 --runtime=5 --time_based |
  python3 -c "import json,sys; j=json.load(sys.stdin)['jobs'][0]; n=j.get('sync', {}).get('lat_ns', {}).get('N', 0); print(j['write']['bw_bytes'], n / (j['job_runtime'] / 1e3) if n else j['write']['iops'])")

python3 - "$sluice" "$fio_write" "$fio_read" "$fio_sync" "$out" "$fio_write_batch" "$dd_read" "$dd_segment" <<'PY'
import json, sys
s = json.loads(sys.argv[1])
fio_w, fio_r = float(sys.argv[2]) / 1e6, float(sys.argv[3]) / 1e6
fio_sync_bw, fio_fsync_s = (float(x) for x in sys.argv[4].split())
fio_wb, dd_r = float(sys.argv[6]) / 1e6, float(sys.argv[7]) / 1e6
s["fio_write_mb_s"] = round(fio_w, 1)
s["fio_write_batch_size_mb_s"] = round(fio_wb, 1)
s["append_vs_fio_batch_size"] = round(s["append_mb_s"] / fio_wb, 2)
s["fio_cached_read_mb_s"] = round(fio_r, 1)
s["dd_cached_read_mb_s"] = round(dd_r, 1)
s["fio_durable_write_mb_s"] = round(fio_sync_bw / 1e6, 1)
s["fio_fsyncs_per_s"] = round(fio_fsync_s)
s["append_vs_fio"] = round(s["append_mb_s"] / fio_w, 2)
s["read_vs_cache"] = round(s["read_mb_s"] / dd_r, 2)
s["dd_segment_read_mb_s"] = round(float(sys.argv[8]) / 1e6, 1)
s["read_vs_segment_dd"] = round(s["read_mb_s"] / s["dd_segment_read_mb_s"], 2)
s["fsyncs_vs_fio"] = round(s["fsyncs_per_s"] / fio_fsync_s, 2)
s["append_durable_vs_fio"] = round(s["append_durable_mb_s"] / s["fio_durable_write_mb_s"], 2)
with open(sys.argv[5], "w") as f:
    json.dump(s, f, indent=2)
print("| figure | sluice | fio | ratio | target |")
print("|---|---|---|---|---|")
print(f"| append MB/s (16 KiB batches, no fsync) | {s['append_mb_s']} | {s['fio_write_mb_s']} | {s['append_vs_fio']} | >= 0.8 |")
print(f"| append MB/s vs fio writes of the batch's size ({s['batch_bytes']} B) | {s['append_mb_s']} | {s['fio_write_batch_size_mb_s']} | {s['append_vs_fio_batch_size']} | |")
print(f"| read MB/s (cached; reference: dd 1 MiB reads) | {s['read_mb_s']} | {s['dd_cached_read_mb_s']} | {s['read_vs_cache']} | >= 0.8 |")
print(f"| read MB/s vs dd 1 MiB reads of the log's own segment file | {s['read_mb_s']} | {s['dd_segment_read_mb_s']} | {s['read_vs_segment_dd']} | |")
print(f"| durable append MB/s (8 writers x 16 KiB, acks=all) | {s['append_durable_mb_s']} | {s['fio_durable_write_mb_s']} | {s['append_durable_vs_fio']} | |")
print(f"| fdatasyncs/s (sluice: {s['acks_per_fsync']} acks per fsync) | {s['fsyncs_per_s']} | {s['fio_fsyncs_per_s']} | {s['fsyncs_vs_fio']} | |")
print(f"| recovery s/GiB (unclean restart) | {s['recovery_s_per_gib']} | | | < 1 |")
print(f"| recovery s/GiB (unclean restart, data already written back) | {s['recovery_settled_s_per_gib']} | | | < 1 |")
PY
