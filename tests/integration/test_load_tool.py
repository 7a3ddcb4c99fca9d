"""Smoke test of the benchmark tools, so they cannot rot: sluice-load in each mode against
sluice-mock-broker (librdkafka's mock cluster) and against a real sluiced, with tiny counts.
Checks counts, errors and the report's shape only (no timed assertions)."""

import json
import os
import re
import signal
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from sluiced_process import BIN_DIR, Sluiced  # noqa: E402

LOAD = os.path.join(BIN_DIR, "sluice-load")
MOCK = os.path.join(BIN_DIR, "sluice-mock-broker")


def load(*args):
    r = subprocess.run([LOAD, *args], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, f"sluice-load {args} exited {r.returncode}: {r.stderr}"
    return json.loads(r.stdout)


class LoadToolTest(unittest.TestCase):
    def check(self, report, mode, msgs, size):
        self.assertEqual(report["mode"], mode)
        self.assertEqual(report["errors"], 0, report["first_error"])
        self.assertEqual(report["msgs"], msgs)
        self.assertEqual(report["bytes"], msgs * size)
        lat = report["latency_us"]
        self.assertLessEqual(lat["p50"], lat["p99"])
        self.assertLessEqual(lat["p99"], lat["max"])

    def test_mock_broker_all_modes(self):
        mock = subprocess.Popen([MOCK, "--topic", "smoke:3"], stdout=subprocess.PIPE, text=True)
        try:
            bootstrap = mock.stdout.readline().strip()
            self.assertRegex(bootstrap, r"^127\.0\.0\.1:\d+")
            common = ["--bootstrap", bootstrap, "--topic", "smoke", "--size", "64"]
            r = load("produce", *common, "--count", "300", "--broker-pid", str(mock.pid))
            self.check(r, "produce", 300, 64)
            self.assertEqual(r["partitions"], 3)
            self.assertEqual(r["latency_us"]["n"], 300)
            self.assertGreater(r["broker"]["peak_rss_bytes"], 0)
            self.check(load("consume", *common), "consume", 300, 64)
            r = load("e2e", *common, "--count", "200", "--rate", "2000", "--linger-ms", "0",
                     "--producers", "2", "--consumers", "2", "--idempotence",
                     "--acks", "all")
            self.check(r, "e2e", 200, 64)
            self.assertEqual(r["latency_us"]["n"], 200)
        finally:
            mock.send_signal(signal.SIGTERM)
            self.assertEqual(mock.wait(timeout=30), 0)

    def test_sluiced_creates_topic_and_reports_broker_cost(self):
        with Sluiced() as s:
            common = ["--bootstrap", f"127.0.0.1:{s.port}", "--topic", "smoke", "--size", "100"]
            r = load("produce", *common, "--partitions", "2", "--count", "500", "--acks", "all",
                     "--broker-pid", str(s.proc.pid))
            self.check(r, "produce", 500, 100)
            self.assertEqual(r["partitions"], 2)
            self.assertGreater(r["broker"]["peak_rss_bytes"], 0)
            self.assertGreaterEqual(r["broker"]["cpu_s"], 0)
            self.check(load("consume", *common, "--consumers", "2"), "consume", 500, 100)
            self.check(load("e2e", *common, "--count", "100"), "e2e", 100, 100)
            s.proc.send_signal(signal.SIGTERM)
            self.assertEqual(s.proc.wait(timeout=30), 0)
            m = re.search(r"storage io: (\d+) fdatasyncs, (\d+) bytes written", s.output())
            self.assertIsNotNone(m, "sluiced logs its I/O counters at shutdown")
            self.assertGreater(int(m.group(1)), 0)  # acks=all synced
            self.assertGreaterEqual(int(m.group(2)), 600 * 100)


if __name__ == "__main__":
    unittest.main()
