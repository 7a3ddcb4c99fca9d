#!/usr/bin/env python3
"""acks=all latency of sluiced against the disk's floor (sluice-sync-floor), alternating.

    flock /tmp/sluice-build.lock bench/e2e/sync_floor.py [--bin build/release/bin] [--pairs 3]
        [--partitions 1,8] [--seconds 4] [--settle 5] [--sluiced NAME=BIN_DIR ...]

For each partition count and each round: `sync; sleep SETTLE`, then sluice-sync-floor (an ideal
group-commit broker with no network: 1 KiB appends at 5,000/s, fdatasync loop, --files =
partitions, 4 sync threads as sluiced has when there is more than one file), then for each
sluiced arm `sync; sleep SETTLE` and the latency_all workload of run.py (`sluice-load produce
--size 1024 --acks all --linger-ms 0 --rate 5000`) against a freshly started sluiced with a fresh
data dir. The floor reports its latency per record and with answers delivered in write order
(as one Kafka connection must answer; the two differ only with several partitions). Everything writes to the same file system (TMPDIR, default /var/tmp). The settle
matters: I/O still being flushed from earlier work lengthens fdatasyncs (docs/performance.md,
change 8). Default arm: `sluice` = the sluiced in --bin. Prints one line per run and, at the end,
every run as JSON. Holds no lock itself: run it under /tmp/sluice-build.lock."""

import argparse
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402

SYNC_THREADS = 4  # storage::sync_worker threads in sluiced (src/broker/broker.h kSyncThreads)


def settle(seconds):
    subprocess.run(["sync"], check=True)
    subprocess.run(["sleep", str(seconds)], check=True)


def floor_run(bin_dir, work, parts, seconds):
    threads = 1 if parts == 1 else SYNC_THREADS
    r = subprocess.run([f"{bin_dir}/sluice-sync-floor", "--dir", work, "--files", str(parts),
                        "--sync-threads", str(threads), "--duration", str(seconds)],
                       capture_output=True, text=True, check=True, timeout=120)
    return json.loads(r.stdout)


def sluice_run(load_bin, sluiced_bin, work, parts, seconds):
    run.BIN = sluiced_bin
    b = run.Broker("sluice", work, "bench", parts)
    try:
        run.BIN = load_bin
        res = run.load("produce", b, "bench", parts,
                       ["--size", "1024", "--acks", "all", "--linger-ms", "0", "--rate", "5000",
                        "--duration", str(seconds)])
    finally:
        io = b.stop()
        subprocess.run(["rm", "-rf", b.data], check=True)
    if io:
        res["io"] = io
        res["fsyncs_per_s"] = io["fdatasyncs"] / res["seconds"] if res["seconds"] else 0
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="build/release/bin")
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--partitions", default="1,8")
    ap.add_argument("--seconds", type=float, default=4)
    ap.add_argument("--settle", type=float, default=5)
    ap.add_argument("--sluiced", action="append", default=[], help="NAME=BIN_DIR holding sluiced")
    a = ap.parse_args()
    arms = [tuple(s.split("=", 1)) for s in a.sluiced] or [("sluice", a.bin)]
    runs = []
    with tempfile.TemporaryDirectory(prefix="sluice-floor-",
                                     dir=os.environ.get("TMPDIR", "/var/tmp")) as work:
        for parts in (int(p) for p in a.partitions.split(",")):
            for i in range(a.pairs):
                settle(a.settle)
                f = floor_run(a.bin, work, parts, a.seconds)
                lat, ino = f["latency_us"], f["in_order_latency_us"]
                run.log(f"{parts}p #{i + 1} floor: p50/p99/p999/max {lat['p50']} / {lat['p99']} / "
                        f"{lat['p999']} / {lat['max']} us (answered in order: {ino['p50']} / "
                        f"{ino['p99']} / {ino['p999']} / {ino['max']}), "
                        f"{f['fsyncs_per_s']:.0f} fsyncs/s, "
                        f"{f['syncs_over_5ms']} syncs > 5 ms ({f['ms_in_syncs_over_5ms']} ms), "
                        f"sync p50/p99/max {f['sync_us']['p50']} / {f['sync_us']['p99']} / "
                        f"{f['sync_us']['max']} us")
                runs.append({"partitions": parts, "round": i + 1, "arm": "floor", "result": f})
                for name, sluiced_bin in arms:
                    settle(a.settle)
                    s = sluice_run(a.bin, sluiced_bin, work, parts, a.seconds)
                    lat = s["latency_us"]
                    run.log(f"{parts}p #{i + 1} {name}: p50/p99/p999/max {lat['p50']} / "
                            f"{lat['p99']} / {lat['p999']} / {lat['max']} us, "
                            f"{s.get('fsyncs_per_s', 0):.0f} fsyncs/s, errors {s['errors']}")
                    runs.append({"partitions": parts, "round": i + 1, "arm": name, "result": s})
    print(json.dumps(runs, indent=1))


if __name__ == "__main__":
    main()
