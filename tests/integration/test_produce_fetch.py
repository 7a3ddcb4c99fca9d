"""Produce and Fetch through real clients: kcat with every codec, keys and headers;
confluent-kafka (librdkafka) with acks=all; kafka-python; Kafka's validation errors."""

import os
import socket
import struct
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from sluiced_process import Sluiced, recv_frame, send_frame  # noqa: E402
from test_idempotence import batch  # noqa: E402  (a hand-made v2 batch with its CRC-32C)

from confluent_kafka import KafkaError, Producer  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402


CORRUPT_MESSAGE = 2


def kcat(*args, input=None, timeout=60):
    return subprocess.run(["kcat", *args], input=input, capture_output=True, text=True,
                          timeout=timeout)


def produce_confluent(port, topic, messages, **conf):
    """Produces (key, value) pairs; returns the delivery reports as (error, partition, offset)."""
    reports = []
    p = Producer({"bootstrap.servers": f"127.0.0.1:{port}", "linger.ms": 5, **conf})
    for key, value in messages:
        p.produce(topic, key=key, value=value,
                  on_delivery=lambda err, msg: reports.append(
                      (err, msg.partition(), msg.offset() if err is None else None)))
    assert p.flush(60) == 0
    return reports


class Kcat(unittest.TestCase):
    def test_every_codec_with_keys_and_headers(self):
        with Sluiced() as b:
            bs = f"127.0.0.1:{b.port}"
            for codec in ("none", "gzip", "snappy", "lz4", "zstd"):
                lines = "".join(f"key{i}:value-{codec}-{i}\n" for i in range(500))
                r = kcat("-b", bs, "-P", "-t", f"c-{codec}", "-z", codec, "-K:", "-H", "h1=v1",
                         "-H", "h2=v2", input=lines)
                self.assertEqual(r.returncode, 0, r.stderr)
                r = kcat("-b", bs, "-C", "-t", f"c-{codec}", "-o", "beginning", "-e", "-f",
                         "%k|%s|%h|%o\n")
                self.assertEqual(r.returncode, 0, r.stderr)
                got = r.stdout.splitlines()
                self.assertEqual(len(got), 500, codec)
                for i, line in enumerate(got):
                    self.assertEqual(line, f"key{i}|value-{codec}-{i}|h1=v1,h2=v2|{i}", codec)

    def test_offsets_end_and_mid_batch(self):
        with Sluiced() as b:
            bs = f"127.0.0.1:{b.port}"
            # One request, so the ten records share batches; reading from offset 5 must start
            # inside a batch and return records 5..9 (the client skips the earlier ones).
            kcat("-b", bs, "-P", "-t", "mid", "-X", "linger.ms=100",
                 input="".join(f"m{i}\n" for i in range(10)))
            r = kcat("-b", bs, "-C", "-t", "mid", "-o", "5", "-e", "-f", "%o:%s\n")
            self.assertEqual(r.stdout.splitlines(), [f"{i}:m{i}" for i in range(5, 10)], r.stderr)
            r = kcat("-b", bs, "-Q", "-t", "mid:0:-1")  # offsets for time: latest
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("mid [0] offset 10", r.stdout)
            r = kcat("-b", bs, "-Q", "-t", "mid:0:-2")
            self.assertIn("mid [0] offset 0", r.stdout)


class Timestamps(unittest.TestCase):
    def test_offsets_by_time_and_log_append_time(self):
        import time
        with Sluiced() as b:
            bs = f"127.0.0.1:{b.port}"
            base = 1_700_000_000_000
            # CreateTime records with explicit timestamps 0, 10, 20 ... seconds after base.
            reports = produce_confluent(b.port, "times", [], acks="all")
            p = Producer({"bootstrap.servers": bs})
            for i in range(10):
                p.produce("times", value=b"t%d" % i, timestamp=base + i * 10_000)
                p.flush(10)
            for ts, want in ((base, 0), (base + 1, 1), (base + 45_000, 5), (base + 90_000, 9),
                             (base + 90_001, -1)):
                r = kcat("-b", bs, "-Q", "-t", f"times:0:{ts}")
                self.assertIn(f"times [0] offset {want}", r.stdout, (ts, r.stdout, r.stderr))
            self.assertEqual(reports, [])
            # LogAppendTime: the broker's clock replaces the producer's timestamps.
            admin = AdminClient({"bootstrap.servers": bs})
            admin.create_topics([NewTopic("lat", 1, 1, config={
                "message.timestamp.type": "LogAppendTime"})])["lat"].result(10)
            before = int(time.time() * 1000)
            p.produce("lat", value=b"x", timestamp=base)
            p.flush(10)
            after = int(time.time() * 1000)
            r = kcat("-b", bs, "-C", "-t", "lat", "-o", "beginning", "-e", "-f", "%T\n")
            ts = int(r.stdout.split()[0])
            self.assertTrue(before <= ts <= after, (before, ts, after))


class Confluent(unittest.TestCase):
    def test_acks_all_across_partitions(self):
        with Sluiced() as b:
            admin = AdminClient({"bootstrap.servers": f"127.0.0.1:{b.port}"})
            admin.create_topics([NewTopic("p4", 4, 1)])["p4"].result(10)
            msgs = [(f"k{i}".encode(), f"v{i}".encode()) for i in range(20000)]
            reports = produce_confluent(b.port, "p4", msgs, acks="all")
            self.assertEqual(len(reports), len(msgs))
            self.assertEqual([r for r in reports if r[0] is not None], [])
            per_part = {}
            for _, part, off in reports:
                per_part.setdefault(part, []).append(off)
            self.assertEqual(sorted(per_part), [0, 1, 2, 3])
            for offs in per_part.values():
                self.assertEqual(sorted(offs), list(range(len(offs))))
            total = 0
            for part in range(4):
                r = kcat("-b", f"127.0.0.1:{b.port}", "-C", "-t", "p4", "-p", str(part),
                         "-o", "beginning", "-e", "-f", "%k=%s\n")
                for line in r.stdout.splitlines():
                    k, v = line.split("=")
                    self.assertEqual(k[1:], v[1:])
                    total += 1
            self.assertEqual(total, len(msgs))

    def test_max_message_bytes_and_compacted_keyless(self):
        with Sluiced() as b:
            admin = AdminClient({"bootstrap.servers": f"127.0.0.1:{b.port}"})
            fs = admin.create_topics([
                NewTopic("small", 1, 1, config={"max.message.bytes": "1000"}),
                NewTopic("compacted", 1, 1, config={"cleanup.policy": "compact"}),
            ])
            for f in fs.values():
                f.result(10)
            # librdkafka checks message.max.bytes itself: raise it so the broker decides.
            reports = produce_confluent(b.port, "small", [(None, b"x" * 5000)],
                                        **{"message.max.bytes": 100000})
            self.assertEqual(reports[0][0].code(), KafkaError.MSG_SIZE_TOO_LARGE)
            reports = produce_confluent(b.port, "compacted", [(None, b"no key")])
            self.assertEqual(reports[0][0].code(), KafkaError.INVALID_RECORD)
            reports = produce_confluent(b.port, "compacted", [(b"k", b"keyed")])
            self.assertIsNone(reports[0][0])


def produce_frame(correlation_id, acks, parts):
    """A Produce v3 request to topic "raw": parts is [(partition, records bytes)]."""
    body = struct.pack(">hhi", -1, acks, 30000) + struct.pack(">ih", 1, 3) + b"raw"
    body += struct.pack(">i", len(parts))
    for index, records in parts:
        body += struct.pack(">ii", index, len(records)) + records
    return struct.pack(">hhih", 0, 3, correlation_id, 3) + b"raw" + body


def produce_results(resp):
    """(partition, error_code, base_offset) per partition of a Produce v3 response."""
    pos = 4 + 4  # correlation id, topics count
    (n,) = struct.unpack_from(">h", resp, pos)
    pos += 2 + n
    (count,) = struct.unpack_from(">i", resp, pos)
    pos += 4
    out = []
    for _ in range(count):
        index, err, base, _ = struct.unpack_from(">ihqq", resp, pos)
        out.append((index, err, base))
        pos += 22
    return out


class RawProduce(unittest.TestCase):
    """What no client sends on purpose: a corrupt batch among pipelined multi-partition requests
    (the broker verifies each CRC once and writes the batches from the request frame itself)."""

    def test_corrupt_batch_is_refused_and_pipelined_batches_land_intact(self):
        with Sluiced() as b:
            admin = AdminClient({"bootstrap.servers": f"127.0.0.1:{b.port}"})
            admin.create_topics([NewTopic("raw", 2, 1)])["raw"].result(10)
            a, bb = batch(-1, -1, -1, [b"a0", b"a1"]), batch(-1, -1, -1, [b"b0"])
            c, d = batch(-1, -1, -1, [b"c0" * 3000]), batch(-1, -1, -1, [b"d0", b"d1", b"d2"])
            bad = bytearray(batch(-1, -1, -1, [b"bad"]))
            bad[-3] ^= 0x20  # inside the value: only the CRC can tell
            with socket.create_connection(("127.0.0.1", b.port), timeout=30) as s:
                # Sent back to back before any response is read: frames stay alive while queued.
                send_frame(s, produce_frame(1, 1, [(0, a), (1, bb)]))
                send_frame(s, produce_frame(2, -1, [(0, bytes(bad))]))
                send_frame(s, produce_frame(3, -1, [(0, c), (1, d)]))
                send_frame(s, produce_frame(4, 1, [(1, bytes(bad) + d)]))
                got = [produce_results(recv_frame(s)) for _ in range(4)]
            self.assertEqual(got, [[(0, 0, 0), (1, 0, 0)], [(0, CORRUPT_MESSAGE, -1)],
                                   [(0, 0, 2), (1, 0, 1)], [(1, CORRUPT_MESSAGE, -1)]])
            for part, want in ((0, ["a0", "a1", "c0" * 3000]), (1, ["b0", "d0", "d1", "d2"])):
                r = kcat("-b", f"127.0.0.1:{b.port}", "-C", "-t", "raw", "-p", str(part),
                         "-o", "beginning", "-e", "-f", "%o %s\n")
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(r.stdout.splitlines(), [f"{i} {v}" for i, v in enumerate(want)])


class KafkaPython(unittest.TestCase):
    def test_produce_and_consume(self):
        from kafka import KafkaConsumer, KafkaProducer, TopicPartition
        with Sluiced() as b:
            bs = f"127.0.0.1:{b.port}"
            p = KafkaProducer(bootstrap_servers=bs, acks="all", compression_type="gzip")
            futures = [p.send("kp", key=b"k%d" % i, value=b"v%d" % i) for i in range(1000)]
            p.flush()
            offsets = [f.get(timeout=10).offset for f in futures]
            self.assertEqual(offsets, list(range(1000)))
            p.close()
            c = KafkaConsumer(bootstrap_servers=bs, enable_auto_commit=False,
                              consumer_timeout_ms=5000)
            tp = TopicPartition("kp", 0)
            c.assign([tp])
            c.seek_to_beginning(tp)
            got = [(m.offset, m.key, m.value) for m in c]
            c.close()
            self.assertEqual(got, [(i, b"k%d" % i, b"v%d" % i) for i in range(1000)])


class Restart(unittest.TestCase):
    def test_data_survives_restart(self):
        import tempfile
        with tempfile.TemporaryDirectory() as data:
            with Sluiced(data_dir=data) as b:
                reports = produce_confluent(b.port, "keep", [(None, b"m%d" % i) for i in range(100)],
                                            acks="all")
                self.assertTrue(all(r[0] is None for r in reports))
            with Sluiced(data_dir=data) as b:
                r = kcat("-b", f"127.0.0.1:{b.port}", "-C", "-t", "keep", "-o", "beginning", "-e",
                         "-f", "%s\n")
                self.assertEqual(r.stdout.splitlines(), [f"m{i}" for i in range(100)])


if __name__ == "__main__":
    unittest.main(verbosity=2)
