"""Transactions, the partition's side: transactional batches, COMMIT/ABORT markers written with
WriteTxnMarkers, the last stable offset and the aborted-transactions list, read by librdkafka
(kcat) with isolation.level=read_committed and read_uncommitted, before and after kill -9.

The transaction coordinator (InitProducerId with a transactional id, AddPartitionsToTxn, EndTxn)
is not there yet, so the test plays the coordinator on the wire."""

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
from test_idempotence import (NONE, INVALID_EPOCH, batch, create_topic,  # noqa: E402
                              init_producer_id, produce_raw)

import socket  # noqa: E402


def read_uvarint(buf, pos):
    shift = value = 0
    while True:
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, pos
        shift += 7


def write_markers(port, markers):
    """WriteTxnMarkers v1. markers: [(pid, epoch, commit, topic, [partitions])]; returns the
    error codes in request order."""
    body = uvarint(len(markers) + 1)
    for pid, epoch, commit, topic, parts in markers:
        body += struct.pack(">qh?", pid, epoch, commit) + uvarint(2)
        body += uvarint(len(topic) + 1) + topic.encode() + uvarint(len(parts) + 1)
        body += b"".join(struct.pack(">i", p) for p in parts) + b"\x00"
        body += struct.pack(">i", 0) + b"\x00"
    body += b"\x00"
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        send_frame(s, struct.pack(">hhi", 27, 1, 3) + struct.pack(">h", 3) + b"raw\x00" + body)
        resp = recv_frame(s)
    pos = 5  # correlation id, tagged fields
    errors = []
    n, pos = read_uvarint(resp, pos)
    for _ in range(n - 1):
        pos += 8
        nt, pos = read_uvarint(resp, pos)
        for _ in range(nt - 1):
            ln, pos = read_uvarint(resp, pos)
            pos += ln - 1
            np_, pos = read_uvarint(resp, pos)
            for _ in range(np_ - 1):
                _, err = struct.unpack_from(">ih", resp, pos)
                errors.append(err)
                pos += 6 + 1
            pos += 1
        pos += 1
    return errors


def txn_batch(pid, epoch, seq, values, attributes=0x10):
    """A transactional batch: batch() with the transactional attribute bit (0x10) set."""
    from test_idempotence import crc32c
    b = bytearray(batch(pid, epoch, seq, values))
    b[21:23] = struct.pack(">h", attributes)
    b[17:21] = struct.pack(">I", crc32c(bytes(b[21:])))
    return bytes(b)


def describe_producers(port, topic, partitions):
    """DescribeProducers v0; returns {partition: (error, [(pid, epoch, last_seq, txn_start)])}."""
    body = uvarint(2) + uvarint(len(topic) + 1) + topic.encode() + uvarint(len(partitions) + 1)
    body += b"".join(struct.pack(">i", p) for p in partitions) + b"\x00\x00"
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        send_frame(s, struct.pack(">hhi", 61, 0, 4) + struct.pack(">h", 3) + b"raw\x00" + body)
        resp = recv_frame(s)
    pos = 5 + 4  # correlation id, tagged fields, throttle
    out = {}
    nt, pos = read_uvarint(resp, pos)
    for _ in range(nt - 1):
        ln, pos = read_uvarint(resp, pos)
        pos += ln - 1
        np_, pos = read_uvarint(resp, pos)
        for _ in range(np_ - 1):
            index, err = struct.unpack_from(">ih", resp, pos)
            pos += 6
            ln, pos = read_uvarint(resp, pos)
            pos += max(ln - 1, 0)
            na, pos = read_uvarint(resp, pos)
            producers = []
            for _ in range(na - 1):
                pid, epoch, seq, _, _, start = struct.unpack_from(">qiiqiq", resp, pos)
                pos += 36 + 1
                producers.append((pid, epoch, seq, start))
            pos += 1
            out[index] = (err, producers)
        pos += 1
    return out


def kcat(port, topic, committed):
    iso = "read_committed" if committed else "read_uncommitted"
    r = subprocess.run(["kcat", "-b", f"127.0.0.1:{port}", "-C", "-t", topic, "-p", "0", "-o",
                        "beginning", "-e", "-X", f"isolation.level={iso}", "-f", "%s\n"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout.split()


class ReadCommitted(unittest.TestCase):
    def test_markers_lso_and_aborted_transactions(self):
        with tempfile.TemporaryDirectory() as data:
            with Sluiced(data_dir=data) as b:
                create_topic(b.port, "tx")
                _, a, _ = init_producer_id(b.port)
                _, c, _ = init_producer_id(b.port)
                self.assertEqual(produce_raw(b.port, "tx", 0, txn_batch(a, 0, 0, [b"a1", b"a2"])),
                                 (NONE, 0))
                self.assertEqual(write_markers(b.port, [(a, 0, True, "tx", [0])]), [NONE])
                self.assertEqual(produce_raw(b.port, "tx", 0, txn_batch(c, 0, 0, [b"c1"])),
                                 (NONE, 3))
                self.assertEqual(write_markers(b.port, [(c, 0, False, "tx", [0])]), [NONE])
                self.assertEqual(produce_raw(b.port, "tx", 0, batch(-1, -1, -1, [b"p1"])),
                                 (NONE, 5))
                self.assertEqual(produce_raw(b.port, "tx", 0, txn_batch(a, 0, 2, [b"a3"])),
                                 (NONE, 6))  # left open
                self.assertEqual(produce_raw(b.port, "tx", 0, batch(-1, -1, -1, [b"p2"])),
                                 (NONE, 7))
                self.assertEqual(kcat(b.port, "tx", True), ["a1", "a2", "p1"])
                self.assertEqual(kcat(b.port, "tx", False), ["a1", "a2", "c1", "p1", "a3", "p2"])
                # Operators see the open transaction; unknown partitions are refused.
                self.assertEqual(describe_producers(b.port, "tx", [0, 9]),
                                 {0: (NONE, sorted([(a, 0, 2, 6), (c, 0, 0, -1)])), 9: (3, [])})
                # Clients may not write markers themselves (INVALID_RECORD).
                self.assertEqual(
                    produce_raw(b.port, "tx", 0, txn_batch(c, 0, 1, [b"m"], attributes=0x30))[0],
                    87)
                # A marker from an older epoch is fenced.
                _, a1, e1 = init_producer_id(b.port, a, 0)
                self.assertEqual(produce_raw(b.port, "tx", 0, txn_batch(a, 1, 0, [b"x"]))[0],
                                 NONE)
                self.assertEqual(write_markers(b.port, [(a, 0, True, "tx", [0])]),
                                 [INVALID_EPOCH])
                b.proc.send_signal(signal.SIGKILL)
                b.proc.wait()
            with Sluiced(data_dir=data) as b:  # replayed from the log after kill -9
                self.assertEqual(kcat(b.port, "tx", True), ["a1", "a2", "p1"])
                self.assertEqual(write_markers(b.port, [(a, 1, False, "tx", [0])]), [NONE])
                self.assertEqual(kcat(b.port, "tx", True), ["a1", "a2", "p1", "p2"])
                self.assertEqual(write_markers(b.port, [(a, 1, True, "tx", [0, 5]),
                                                        (a, 1, True, "nope", [0])]),
                                 [NONE, 3, 3])


if __name__ == "__main__":
    unittest.main()
