#!/usr/bin/env python3
"""Idempotent vs plain producer throughput against sluiced (issue 6's note).

    flock /tmp/sluice-build.lock bench/e2e/idempotence.py [BIN_DIR] [RUNS] [SECONDS]

1 KiB records, acks=all, linger 5 ms, 1 MiB batches (the produce_1k_all workload of run.py),
1 and 8 partitions; sluice-load with and without --idempotence,
alternating plain/idempotent RUNS times (default 3), each on a freshly started sluiced (fresh
data dir). Prints every run and the medians and the idempotent/plain ratio as JSON."""

import json
import os
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402


def main():
    if len(sys.argv) > 1:
        run.BIN = sys.argv[1]
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    seconds = sys.argv[3] if len(sys.argv) > 3 else "3"
    base = ["--size", "1024", "--acks", "all", *run.BATCH]  # as produce_1k_all
    result = {}
    with tempfile.TemporaryDirectory(prefix="sluice-bench-idem-") as work:
        for parts in (1, 8):
            got = {"plain": [], "idempotent": []}
            for i in range(runs):
                for kind in ("plain", "idempotent"):
                    args = base + (["--idempotence"] if kind == "idempotent" else [])
                    r = run.one_run("sluice", work, parts, args, seconds)
                    if r.get("errors"):
                        raise RuntimeError(f"{kind} run {i} had errors: {r}")
                    got[kind].append({"mb_s": r["mb_per_s"], "msgs_s": r["msgs_per_s"],
                                      "fsyncs_per_s": r.get("fsyncs_per_s")})
                    run.log(f"{parts} partitions, {kind} #{i + 1}: {r['mb_per_s']:.1f} MB/s")
            med = {k: statistics.median(x["mb_s"] for x in v) for k, v in got.items()}
            result[f"{parts}p"] = {"runs": got, "median_mb_s": med,
                                   "ratio": med["idempotent"] / med["plain"]}
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
