#!/usr/bin/env python3
"""End-to-end benchmark: the standard workloads against librdkafka's mock broker and sluiced.

    bench/e2e/run.py BIN_DIR OUT_JSON        (`./dev bench e2e` runs it)

Every workload runs against the mock (A) and sluiced (B) alternately, A B A B, PAIRS times, each
run on a freshly started broker; figures are medians. fio's 1 MiB write+fdatasync rate on the
same disk, measured in the same run, is the durable-write limit for acks=all. Prints a markdown
table (Sluice/mock ratios, targets from issue 8) and writes OUT_JSON with every run.

Holds /tmp/sluice-build.lock (flock) for the whole run so other builds on this shared machine do
not distort it; SLUICE_BENCH_NO_LOCK=1 skips that (when the caller already holds it).

Environment (defaults are the standard run, about 10 minutes on 2 cores):
    SLUICE_BENCH_PAIRS=5        A/B pairs per workload
    SLUICE_BENCH_SECONDS=3      seconds each throughput run sends for
    SLUICE_BENCH_LAT_SECONDS=4  seconds each 5,000 msgs/s latency run sends for
    SLUICE_BENCH_CONSUME_MB=2000  log size the consume workload reads from the beginning
    SLUICE_BENCH_ONLY=name,...  run only these workloads (produce_1k, produce_100b,
                                produce_1k_all, consume_1k, latency_acks1, latency_all)
"""

import fcntl
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

# Imported by idempotence.py, which sets BIN itself.
BIN, OUT = (sys.argv[1], sys.argv[2]) if __name__ == "__main__" else ("build/bin", None)
PAIRS = int(os.environ.get("SLUICE_BENCH_PAIRS", "5"))
SECONDS = float(os.environ.get("SLUICE_BENCH_SECONDS", "3"))
LAT_SECONDS = float(os.environ.get("SLUICE_BENCH_LAT_SECONDS", "4"))
CONSUME_MB = int(os.environ.get("SLUICE_BENCH_CONSUME_MB", "2000"))
ONLY = set(filter(None, os.environ.get("SLUICE_BENCH_ONLY", "").split(",")))
PARTITIONS = (1, 8)
KIB = 1024
BATCH = ["--linger-ms", "5", "--batch-size", str(1 << 20)]

WORKLOADS = [
    # name, description, sluice-load arguments
    ("produce_1k", "produce 1 KiB, acks=1", ["--size", "1024", "--acks", "1", *BATCH]),
    ("produce_100b", "produce 100 B, acks=1", ["--size", "100", "--acks", "1", *BATCH]),
    ("produce_1k_all", "produce 1 KiB, acks=all", ["--size", "1024", "--acks", "all", *BATCH]),
    ("latency_acks1", "latency 1 KiB @ 5,000/s, acks=1",
     ["--size", "1024", "--acks", "1", "--linger-ms", "0", "--rate", "5000"]),
    ("latency_all", "latency 1 KiB @ 5,000/s, acks=all",
     ["--size", "1024", "--acks", "all", "--linger-ms", "0", "--rate", "5000"]),
]


def log(msg):
    print(f"==> {msg}", file=sys.stderr, flush=True)


class Broker:
    """A freshly started broker; stop() returns its storage counters (sluiced) or {}."""

    def __init__(self, kind, work, topic, partitions):
        self.kind = kind
        self.data = os.path.join(work, f"{kind}-data")
        shutil.rmtree(self.data, ignore_errors=True)
        self.log_path = os.path.join(work, f"{kind}.log")
        out = open(self.log_path, "w+")
        if kind == "mock":
            args = [f"{BIN}/sluice-mock-broker", "--topic", f"{topic}:{partitions}"]
            self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=out, text=True)
            self.bootstrap = self.proc.stdout.readline().strip()
            if not self.bootstrap:
                raise RuntimeError("sluice-mock-broker did not start")
        else:
            args = [f"{BIN}/sluiced", "--listen", "127.0.0.1:0", "--data-dir", self.data,
                    "--log-level", "info"]
            self.proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
            deadline = time.monotonic() + 30
            while True:
                m = re.search(r"listening on 127\.0\.0\.1:(\d+)", self.output())
                if m:
                    self.bootstrap = f"127.0.0.1:{m.group(1)}"
                    break
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("sluiced did not start:\n" + self.output())
                time.sleep(0.02)
        self.out = out

    def output(self):
        with open(self.log_path) as f:
            return f.read()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=60)
        self.out.close()
        m = re.search(r"storage io: (\d+) fdatasyncs, (\d+) bytes written", self.output())
        return {"fdatasyncs": int(m.group(1)), "bytes_written": int(m.group(2))} if m else {}


def load(mode, broker, topic, partitions, args):
    cmd = [f"{BIN}/sluice-load", mode, "--bootstrap", broker.bootstrap, "--topic", topic,
           "--broker-pid", str(broker.proc.pid), *args]
    if broker.kind == "sluice" and partitions:
        cmd += ["--partitions", str(partitions)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if r.returncode not in (0, 1) or not r.stdout.strip():
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{r.stderr}")
    return json.loads(r.stdout)


def one_run(kind, work, partitions, args, seconds):
    topic = "bench"
    b = Broker(kind, work, topic, partitions)
    try:
        res = load("produce", b, topic, partitions, [*args, "--duration", str(seconds)])
    finally:
        io = b.stop()
        shutil.rmtree(b.data, ignore_errors=True)
    if io:
        res["io"] = io
        res["fsyncs_per_s"] = io["fdatasyncs"] / res["seconds"] if res["seconds"] else 0
        res["bytes_per_fsync"] = io["bytes_written"] / io["fdatasyncs"] if io["fdatasyncs"] else 0
    return res


def fio_limit(work):
    """fio: 1 MiB sequential writes, fdatasync after each, 5 s: MB/s and fsyncs/s."""
    path = os.path.join(work, "fio.dat")
    r = subprocess.run(["fio", "--name=durable", "--rw=write", "--bs=1M", "--fdatasync=1",
                        "--size=1g", "--runtime=5", "--time_based", "--ioengine=psync",
                        "--fallocate=none", f"--filename={path}", "--output-format=json"],
                       capture_output=True, text=True, check=True)
    os.unlink(path)
    j = json.loads(r.stdout)["jobs"][0]
    secs = j["job_runtime"] / 1e3
    return {"mb_per_s": j["write"]["bw_bytes"] / 1e6,
            "fsyncs_per_s": j.get("sync", {}).get("lat_ns", {}).get("N", 0) / secs}


def med(runs, *path):
    vals = []
    for r in runs:
        v = r
        for p in path:
            v = v.get(p, {}) if isinstance(v, dict) else {}
        if isinstance(v, (int, float)):
            vals.append(v)
    return statistics.median(vals) if vals else None


def main():
    lock = None
    if os.environ.get("SLUICE_BENCH_NO_LOCK") != "1":
        lock = open("/tmp/sluice-build.lock", "a")
        log("waiting for /tmp/sluice-build.lock")
        fcntl.flock(lock, fcntl.LOCK_EX)
    started = time.time()
    work = tempfile.mkdtemp(prefix="sluice-e2e-", dir=os.environ.get("TMPDIR", "/var/tmp"))
    result = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.release()}",
              "pairs": PAIRS, "seconds": SECONDS, "latency_seconds": LAT_SECONDS,
              "workloads": {}, "fio": []}
    try:
        result["fio"].append(fio_limit(work))
        for name, desc, args in WORKLOADS:
            if ONLY and name not in ONLY:
                continue
            secs = LAT_SECONDS if name.startswith("latency") else SECONDS
            for parts in PARTITIONS:
                log(f"{desc}, {parts} partition(s): {PAIRS} pairs")
                # Unmeasured warm-up of each broker (page cache, allocator, client).
                one_run("mock", work, parts, args, 1)
                one_run("sluice", work, parts, args, 1)
                runs = {"mock": [], "sluice": []}
                for _ in range(PAIRS):
                    for kind in ("mock", "sluice"):
                        runs[kind].append(one_run(kind, work, parts, args, secs))
                result["workloads"][f"{name}/{parts}"] = {"desc": desc, "partitions": parts,
                                                          **runs}
            if name == "produce_1k_all":
                result["fio"].append(fio_limit(work))
        if not ONLY or "consume_1k" in ONLY:
            for parts in PARTITIONS:
                log(f"consume 1 KiB from the beginning of {CONSUME_MB} MB, {parts} partition(s)")
                b = Broker("sluice", work, "bench", parts)
                try:
                    count = CONSUME_MB * 1000000 // KIB
                    fill = load("produce", b, "bench", parts,
                                ["--size", "1024", "--acks", "1", *BATCH, "--count", str(count)])
                    runs = [load("consume", b, "bench", 0, []) for _ in range(PAIRS)]
                finally:
                    b.stop()
                    shutil.rmtree(b.data, ignore_errors=True)
                result["workloads"][f"consume_1k/{parts}"] = {
                    "desc": f"consume 1 KiB from the beginning of {CONSUME_MB} MB",
                    "partitions": parts, "fill": fill, "sluice": runs}
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if lock:
            lock.close()
    result["elapsed_s"] = round(time.time() - started)
    result["summary"] = summarize(result)
    os.makedirs(os.path.dirname(os.path.abspath(OUT)), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(result, f, indent=1)
    print_table(result)
    log(f"wrote {OUT} ({result['elapsed_s']} s)")


def summarize(result):
    fio_mb = statistics.median(f["mb_per_s"] for f in result["fio"])
    fio_fs = statistics.median(f["fsyncs_per_s"] for f in result["fio"])
    rows = []
    for key, w in result["workloads"].items():
        name = key.split("/")[0]
        s = w["sluice"]
        row = {"workload": w["desc"], "key": key, "partitions": w["partitions"],
               "sluice_mb_s": med(s, "mb_per_s"), "sluice_msgs_s": med(s, "msgs_per_s"),
               "sluice_cpu_s_per_gb": med(s, "broker", "cpu_s_per_gb"),
               "sluice_peak_rss_mb": (med(s, "broker", "peak_rss_bytes") or 0) / 1e6,
               "client_cpu_s_per_gb": None,
               "sluice_p50_us": med(s, "latency_us", "p50"),
               "sluice_p99_us": med(s, "latency_us", "p99"),
               "sluice_p999_us": med(s, "latency_us", "p999"),
               "fsyncs_per_s": med(s, "fsyncs_per_s"), "bytes_per_fsync": med(s, "bytes_per_fsync"),
               "errors": sum(r["errors"] for r in s)}
        gb = [r["bytes"] / 1e9 for r in s if r["bytes"]]
        if gb:
            row["client_cpu_s_per_gb"] = statistics.median(
                r["client_cpu_s"] / (r["bytes"] / 1e9) for r in s if r["bytes"])
        m = w.get("mock")
        if m:
            row.update({"mock_mb_s": med(m, "mb_per_s"), "mock_msgs_s": med(m, "msgs_per_s"),
                        "mock_cpu_s_per_gb": med(m, "broker", "cpu_s_per_gb"),
                        "mock_peak_rss_mb": (med(m, "broker", "peak_rss_bytes") or 0) / 1e6,
                        "mock_p50_us": med(m, "latency_us", "p50"),
                        "mock_p99_us": med(m, "latency_us", "p99"),
                        "mock_p999_us": med(m, "latency_us", "p999"),
                        "errors": row["errors"] + sum(r["errors"] for r in m)})
            row["ratio"] = row["sluice_mb_s"] / row["mock_mb_s"] if row["mock_mb_s"] else None
        target, met = "", None
        if name == "produce_1k":
            target = "ratio >= 0.95, <= 0.35 CPU-s/GB"
            met = row["ratio"] >= 0.95 and row["sluice_cpu_s_per_gb"] <= 0.35
        elif name == "produce_1k_all":
            row["vs_fio"] = row["sluice_mb_s"] / fio_mb
            target = f">= 0.9 x fio {fio_mb:.0f} MB/s"
            met = row["vs_fio"] >= 0.9
        elif name == "consume_1k":
            target = "<= 0.15 CPU-s/GB"
            met = row["sluice_cpu_s_per_gb"] <= 0.15
        elif name == "latency_all":
            target = "p99 <= mock p99 + 1 ms"
            met = row["sluice_p99_us"] <= row["mock_p99_us"] + 1000
        elif name == "latency_acks1":
            target = "p99 <= 1.1 x mock p99"
            met = row["sluice_p99_us"] <= 1.1 * row["mock_p99_us"]
        row["target"], row["met"] = target, met
        rows.append(row)
    return {"fio_durable_mb_s": fio_mb, "fio_fsyncs_per_s": fio_fs, "rows": rows}


def fmt(v, digits=0):
    if v is None:
        return ""
    return f"{v:,.{digits}f}"


def print_table(result):
    s = result["summary"]
    print(f"\nSluice vs librdkafka mock, {result['date']}, {result['machine']}; medians of "
          f"{result['pairs']} A/B pairs, {result['seconds']:g} s throughput / "
          f"{result['latency_seconds']:g} s latency runs.")
    print(f"fio durable limit (1 MiB write + fdatasync): {s['fio_durable_mb_s']:.1f} MB/s, "
          f"{s['fio_fsyncs_per_s']:.0f} fsyncs/s\n")
    print("| workload | parts | mock MB/s | Sluice MB/s | Sluice/mock | Sluice CPU-s/GB | "
          "mock CPU-s/GB | fsyncs/s | KiB/fsync | Sluice RSS MB | target | met |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in s["rows"]:
        if r["key"].startswith("latency"):
            continue
        extra = f" ({r['vs_fio']:.2f} x fio)" if "vs_fio" in r else ""
        print(f"| {r['workload']} | {r['partitions']} | {fmt(r.get('mock_mb_s'), 1)} | "
              f"{fmt(r['sluice_mb_s'], 1)} | {fmt(r.get('ratio'), 2)}{extra} | "
              f"{fmt(r['sluice_cpu_s_per_gb'], 2)} | {fmt(r.get('mock_cpu_s_per_gb'), 2)} | "
              f"{fmt(r['fsyncs_per_s'])} | "
              f"{fmt(r['bytes_per_fsync'] / KIB if r['bytes_per_fsync'] else None, 1)} | "
              f"{fmt(r['sluice_peak_rss_mb'])} | {r['target']} | {yes(r['met'])} |")
    print("\n| latency workload | parts | mock p50/p99/p999 µs | Sluice p50/p99/p999 µs | "
          "p99 Sluice/mock | fsyncs/s | target | met |")
    print("|---|---|---|---|---|---|---|---|")
    for r in s["rows"]:
        if not r["key"].startswith("latency"):
            continue
        ratio = r["sluice_p99_us"] / r["mock_p99_us"] if r["mock_p99_us"] else None
        print(f"| {r['workload']} | {r['partitions']} | "
              f"{fmt(r['mock_p50_us'])} / {fmt(r['mock_p99_us'])} / {fmt(r['mock_p999_us'])} | "
              f"{fmt(r['sluice_p50_us'])} / {fmt(r['sluice_p99_us'])} / "
              f"{fmt(r['sluice_p999_us'])} | {fmt(ratio, 2)} | {fmt(r['fsyncs_per_s'])} | "
              f"{r['target']} | {yes(r['met'])} |")
    errs = sum(r["errors"] for r in s["rows"])
    if errs:
        print(f"\n{errs} messages failed (see the JSON)")


def yes(met):
    return "" if met is None else ("yes" if met else "**no**")


if __name__ == "__main__":
    main()
