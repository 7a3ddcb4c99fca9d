"""Idempotent producers: confluent-kafka (librdkafka) with enable.idempotence=true, and the
broker's rules on the wire: InitProducerId ids that survive restarts and KIP-360 epoch bumps;
duplicates answered with the original offset, sequence gaps and fenced epochs refused, and the
producer state surviving a clean restart and a kill -9 (snapshot plus log replay)."""

import os
import signal
import struct
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from kafka_wire import uvarint  # noqa: E402
from sluiced_process import Sluiced, recv_frame, send_frame  # noqa: E402

from confluent_kafka import Producer  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

NONE, OUT_OF_ORDER, INVALID_EPOCH, INVALID_REQUEST = 0, 45, 47, 42

_CRC_TABLE = []
for _n in range(256):
    _c = _n
    for _ in range(8):
        _c = (_c >> 1) ^ 0x82F63B78 if _c & 1 else _c >> 1
    _CRC_TABLE.append(_c)


def crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _CRC_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def varint(v):
    return uvarint((v << 1) ^ (v >> 63))  # zigzag


def batch(pid, epoch, seq, values, ts=1700000000000):
    """One uncompressed v2 record batch of an idempotent producer."""
    records = b""
    for i, v in enumerate(values):
        body = b"\x00" + varint(0) + varint(i) + varint(-1) + varint(len(v)) + v + varint(0)
        records += varint(len(body)) + body
    after_crc = struct.pack(">hiqqqhii", 0, len(values) - 1, ts, ts, pid, epoch, seq,
                            len(values)) + records
    head = struct.pack(">ib", -1, 2) + struct.pack(">I", crc32c(after_crc))
    body = head + after_crc
    return struct.pack(">qi", 0, len(body)) + body


def _str(s):
    b = s.encode()
    return struct.pack(">h", len(b)) + b


def produce_raw(port, topic, partition, records, acks=-1):
    """Produce v3; returns (error_code, base_offset)."""
    body = struct.pack(">hhi", -1, acks, 30000) + struct.pack(">i", 1) + _str(topic)
    body += struct.pack(">ii", 1, partition) + struct.pack(">i", len(records)) + records
    import socket
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        send_frame(s, struct.pack(">hhi", 0, 3, 1) + _str("raw") + body)
        resp = recv_frame(s)
    pos = 4 + 4  # correlation id, topics count
    (n,) = struct.unpack_from(">h", resp, pos)
    pos += 2 + n + 4  # name, partitions count
    _, err, base, _ = struct.unpack_from(">ihqq", resp, pos)
    return err, base


def init_producer_id(port, producer_id=-1, epoch=-1):
    """InitProducerId v4 (flexible) without a transactional id; returns (error, pid, epoch)."""
    body = b"\x00" + struct.pack(">iqh", 60000, producer_id, epoch) + b"\x00"
    import socket
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        send_frame(s, struct.pack(">hhi", 22, 4, 5) + _str("raw") + b"\x00" + body)
        resp = recv_frame(s)
    # response header v1: correlation id, tagged fields; body: throttle, error, pid, epoch
    _, _, _, err, pid, ep = struct.unpack_from(">ibihqh", resp, 0)
    return err, pid, ep


def create_topic(port, name, partitions=1):
    a = AdminClient({"bootstrap.servers": f"127.0.0.1:{port}"})
    for f in a.create_topics([NewTopic(name, partitions, 1)]).values():
        f.result(30)


def kcat_values(port, topic, partition):
    r = subprocess.run(["kcat", "-b", f"127.0.0.1:{port}", "-C", "-t", topic, "-p",
                        str(partition), "-o", "beginning", "-e", "-f", "%o %s\n"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return [tuple(line.split(" ", 1)) for line in r.stdout.splitlines()]


class InitProducerId(unittest.TestCase):
    def test_ids_are_unique_across_restarts_and_epochs_bump(self):
        with tempfile.TemporaryDirectory() as data:
            with Sluiced(data_dir=data) as b:
                err, first, ep = init_producer_id(b.port)
                self.assertEqual((err, ep), (NONE, 0))
                err, second, _ = init_producer_id(b.port)
                self.assertEqual(err, NONE)
                self.assertGreater(second, first)
                # KIP-360: the producer presents its id and epoch and keeps the id, one epoch up.
                self.assertEqual(init_producer_id(b.port, first, 0), (NONE, first, 1))
                self.assertEqual(init_producer_id(b.port, first, 1), (NONE, first, 2))
                # Exhausted epoch: a fresh id at epoch 0.
                err, pid, ep = init_producer_id(b.port, first, 32766)
                self.assertEqual((err, ep), (NONE, 0))
                self.assertNotIn(pid, (first, second))
                # An id this broker never handed out is not bumped.
                err, pid, ep = init_producer_id(b.port, 10 ** 12, 3)
                self.assertEqual((err, ep), (NONE, 0))
                self.assertNotEqual(pid, 10 ** 12)
                self.assertEqual(init_producer_id(b.port, first, -1)[0], INVALID_REQUEST)
                before = pid
            with Sluiced(data_dir=data) as b:
                err, after, _ = init_producer_id(b.port)
                self.assertEqual(err, NONE)
                self.assertGreater(after, before, "an id handed out before the restart")
                self.assertEqual(init_producer_id(b.port, first, 2), (NONE, first, 3))


class ProducerState(unittest.TestCase):
    def test_duplicates_gaps_epochs_and_restarts(self):
        with tempfile.TemporaryDirectory() as data:
            with Sluiced(data_dir=data) as b:
                create_topic(b.port, "t")
                _, pid, _ = init_producer_id(b.port)
                first = batch(pid, 0, 0, [b"a", b"b", b"c"])
                self.assertEqual(produce_raw(b.port, "t", 0, first), (NONE, 0))
                self.assertEqual(produce_raw(b.port, "t", 0, first), (NONE, 0), "a retry")
                self.assertEqual(produce_raw(b.port, "t", 0, batch(pid, 0, 3, [b"d", b"e"])),
                                 (NONE, 3))
                self.assertEqual(produce_raw(b.port, "t", 0, batch(pid, 0, 9, [b"x"]))[0],
                                 OUT_OF_ORDER)
                self.assertEqual(produce_raw(b.port, "t", 0, batch(pid, 1, 5, [b"x"]))[0],
                                 OUT_OF_ORDER, "a new epoch starts at sequence 0")
                self.assertEqual(produce_raw(b.port, "t", 0, batch(pid, 1, 0, [b"f"])), (NONE, 5))
                self.assertEqual(produce_raw(b.port, "t", 0, batch(pid, 0, 5, [b"x"]))[0],
                                 INVALID_EPOCH)
                # acks=0/1 follow the same rules; a plain batch is not tracked.
                self.assertEqual(produce_raw(b.port, "t", 0, batch(-1, -1, -1, [b"g"]), acks=1),
                                 (NONE, 6))
            with Sluiced(data_dir=data) as b:  # clean restart: from the snapshot
                self.assertEqual(produce_raw(b.port, "t", 0, batch(pid, 1, 0, [b"f"])), (NONE, 5))
                self.assertEqual(produce_raw(b.port, "t", 0, batch(pid, 1, 1, [b"h"])), (NONE, 7))
                b.proc.send_signal(signal.SIGKILL)
                b.proc.wait()
            with Sluiced(data_dir=data) as b:  # after kill -9: snapshot + log replay
                self.assertEqual(produce_raw(b.port, "t", 0, batch(pid, 1, 1, [b"h"])), (NONE, 7))
                self.assertEqual(produce_raw(b.port, "t", 0, batch(pid, 1, 3, [b"x"]))[0],
                                 OUT_OF_ORDER)
                self.assertIn("batches replayed", b.output())
                got = [v for _, v in kcat_values(b.port, "t", 0)]
                self.assertEqual(got, ["a", "b", "c", "d", "e", "f", "g", "h"])


class ConfluentKafka(unittest.TestCase):
    def test_idempotent_producer_delivers_each_message_once_in_order(self):
        with Sluiced() as b:
            create_topic(b.port, "idem", partitions=3)
            reports = []
            p = Producer({"bootstrap.servers": f"127.0.0.1:{b.port}", "enable.idempotence": True,
                          "linger.ms": 5, "batch.num.messages": 100})
            for i in range(3000):
                p.produce("idem", partition=i % 3, value=f"{i % 3}:{i // 3}".encode(),
                          on_delivery=lambda err, msg: reports.append((err, msg.partition(),
                                                                       msg.offset())))
                p.poll(0)
            self.assertEqual(p.flush(60), 0)
            self.assertEqual(len(reports), 3000)
            self.assertTrue(all(err is None for err, _, _ in reports), reports[:5])
            for part in range(3):
                offsets = sorted(o for _, p_, o in reports if p_ == part)
                self.assertEqual(offsets, list(range(1000)))
                values = kcat_values(b.port, "idem", part)
                self.assertEqual(values, [(str(i), f"{part}:{i}") for i in range(1000)])
            # librdkafka asked for an id with InitProducerId and sent sequenced batches.
            self.assertNotIn("duplicate batch", b.output())


if __name__ == "__main__":
    unittest.main()
