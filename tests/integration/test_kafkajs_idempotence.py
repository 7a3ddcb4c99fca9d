"""kafkajs (pinned in tests/integration/node) as an idempotent producer against a real sluiced:
kafkajs sends InitProducerId to the controller that Metadata names, then sequenced batches.
Two producers in turn write to several partitions; every record is read back once and in order
with kcat (librdkafka), and the batches on disk carry each producer's id with sequences that
continue from batch to batch."""

import glob
import json
import os
import struct
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from sluiced_process import Sluiced  # noqa: E402
from test_kafkajs import NODE_DIR, install  # noqa: E402

TOPIC = "kafkajs-idem"
PARTITIONS = 4
PER_PARTITION = 50  # records per partition per producer


def node_idempotent(port):
    r = subprocess.run(["node", "kafkajs_idempotent.js", str(port), TOPIC, str(PARTITIONS),
                        str(PER_PARTITION)], cwd=NODE_DIR, capture_output=True, text=True,
                       timeout=120)
    if r.returncode != 0:
        raise AssertionError("kafkajs failed:\n" + r.stdout + r.stderr)
    return json.loads(r.stdout.strip().splitlines()[-1])


def batch_headers(path):
    """(baseOffset, lastOffsetDelta, producerId, producerEpoch, baseSequence, recordsCount) of
    every batch in a segment file (docs/formats/record_batch.md)."""
    with open(path, "rb") as f:
        data = f.read()
    pos, out = 0, []
    while pos + 61 <= len(data):
        base, length = struct.unpack_from(">qi", data, pos)
        delta, = struct.unpack_from(">i", data, pos + 23)
        pid, epoch, seq, count = struct.unpack_from(">qhii", data, pos + 43)
        out.append((base, delta, pid, epoch, seq, count))
        pos += 12 + length
    return out


class KafkaJsIdempotence(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        install()

    def test_idempotent_producer_every_record_once_in_order(self):
        with Sluiced() as b:
            out = node_idempotent(b.port)
            self.assertEqual(out["controller"], 0)
            for name, rounds in (("a", 5), ("b", 2)):
                self.assertEqual(len(out[name]), rounds * PARTITIONS)
                self.assertTrue(all(a["errorCode"] == 0 for a in out[name]), out[name])
            for p in range(PARTITIONS):
                r = subprocess.run(["kcat", "-b", f"127.0.0.1:{b.port}", "-C", "-t", TOPIC,
                                    "-p", str(p), "-o", "beginning", "-e", "-q",
                                    "-f", "%o %k %s\\n"], capture_output=True, text=True,
                                   timeout=60)
                self.assertEqual(r.returncode, 0, r.stderr)
                want = [f"{i} a-{p} a:{p}:{i}" for i in range(PER_PARTITION)]
                want += [f"{PER_PARTITION + i} b-{p} b:{p}:{i}" for i in range(PER_PARTITION)]
                self.assertEqual(r.stdout.strip().splitlines(), want)
                # Each producer's batches carry its id (from InitProducerId) and sequences that
                # start at 0 and continue without gaps, as kafkajs numbered them.
                files = sorted(glob.glob(os.path.join(b.data_dir, "topics", f"{TOPIC}-{p}",
                                                      "*.log")))
                headers = [h for f in files for h in batch_headers(f)]
                pids = []
                for base, delta, pid, epoch, seq, count in headers:
                    self.assertGreaterEqual(pid, 0)
                    self.assertEqual(epoch, 0)
                    if not pids or pids[-1][0] != pid:
                        pids.append((pid, 0))
                    self.assertEqual(seq, pids[-1][1], headers)
                    pids[-1] = (pid, seq + count)
                self.assertEqual(len(pids), 2, headers)  # one id per producer
                self.assertNotEqual(pids[0][0], pids[1][0])
                self.assertEqual([n for _, n in pids], [PER_PARTITION, PER_PARTITION])
            self.assertNotIn("duplicate batch", b.output())


if __name__ == "__main__":
    unittest.main(verbosity=2)
