"""kafkajs (npm, pinned in tests/integration/node/package.json and package-lock.json) against a
real sluiced: admin and produce; the records kafkajs wrote are read back with kcat.

`npm ci` installs the locked kafkajs into build/<preset>/node-kafkajs (outside the source tree)."""

import json
import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from sluiced_process import BIN_DIR, Sluiced  # noqa: E402

NODE_SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "node")
NODE_DIR = os.path.join(os.path.dirname(os.path.abspath(BIN_DIR)), "node-kafkajs")
TOPIC = "kafkajs-topic"


def install():
    os.makedirs(NODE_DIR, exist_ok=True)
    for f in ("package.json", "package-lock.json", "kafkajs_test.js", "kafkajs_idempotent.js"):
        shutil.copy(os.path.join(NODE_SRC, f), NODE_DIR)
    r = subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                       cwd=NODE_DIR, capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        raise RuntimeError("npm ci failed:\n" + r.stdout + r.stderr)


def node(port, *args):
    r = subprocess.run(["node", "kafkajs_test.js", str(port), *args], cwd=NODE_DIR,
                       capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise AssertionError("kafkajs failed:\n" + r.stdout + r.stderr)
    return json.loads(r.stdout.strip().splitlines()[-1])


class KafkaJs(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        install()

    def test_admin_produce_and_group_consume(self):
        with Sluiced() as b:
            out = node(b.port)
            self.assertTrue(out["created"])
            self.assertFalse(out["createdAgain"])  # already exists
            self.assertTrue(out["listed"])
            self.assertEqual(out["partitions"],
                             [{"id": i, "leader": 0, "isr": [0]} for i in range(3)])
            self.assertEqual(out["configs"], {"retention.ms": "3600000", "cleanup.policy": "delete"})
            self.assertEqual(out["altered"]["retention.ms"], "7200000")
            self.assertEqual(len(out["acks"]), 9)  # 3 sends x 3 partitions
            for a in out["acks"]:
                self.assertEqual(a["errorCode"], 0)
            # The kafkajs group consumer read each record once and committed the ends.
            self.assertEqual(out["consumed"],
                             sorted(f"{i % 3}:k{i}=v{i} x{i}" for i in range(30)))
            self.assertEqual(out["committed"], [{"partition": p, "offset": "10"}
                                                for p in range(3)])
            self.assertEqual(out["offsets"], [{"partition": p, "high": "10", "low": "0"}
                                              for p in range(3)])
            # What kafkajs wrote, read back by librdkafka (kcat): order, keys, values, headers.
            for p in range(3):
                r = subprocess.run(["kcat", "-b", f"127.0.0.1:{b.port}", "-C", "-t", TOPIC,
                                    "-p", str(p), "-o", "beginning", "-e", "-q",
                                    "-f", "%k %s %h\\n"], capture_output=True, text=True,
                                   timeout=60)
                self.assertEqual(r.returncode, 0, r.stderr)
                want = [f"k{i} v{i} h=x{i}" for i in range(p, 30, 3)]
                self.assertEqual(r.stdout.strip().splitlines(), want)
            self.assertEqual(node(b.port, "delete"), {"deletedListed": False})


if __name__ == "__main__":
    unittest.main(verbosity=2)
