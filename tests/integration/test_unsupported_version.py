"""Requests for APIs or versions sluiced does not serve: UNSUPPORTED_VERSION where the response
can carry it (as Kafka answers), a closed connection where it cannot; the process and other
connections carry on, and librdkafka still works afterwards."""

import os
import struct
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from sluiced_process import Sluiced, recv_frame, send_frame  # noqa: E402

UNSUPPORTED_VERSION = 35

# APIs whose v0 response has a top-level error_code: (key, name, offset of error_code after the
# correlation id, v0 is flexible). Flexible versions have header tagged fields on both sides.
TOP_LEVEL_ERROR_V0 = [
    (17, "SaslHandshake", 0, False),
    (12, "Heartbeat", 0, False),
    (22, "InitProducerId", 4, False),
    (29, "DescribeAcls", 4, False),
    (48, "DescribeClientQuotas", 4, False),
    (66, "ListTransactions", 5, True),
]


def header_v1(key, version, corr):
    return struct.pack(">hhih", key, version, corr, 4) + b"test"


def served_apis(sock):
    send_frame(sock, header_v1(18, 0, 1))
    resp = recv_frame(sock)
    corr, err, count = struct.unpack(">ihi", resp[:10])
    assert (corr, err) == (1, 0)
    return {struct.unpack(">hhh", resp[10 + 6 * i: 16 + 6 * i])[0]: struct.unpack(
        ">hhh", resp[10 + 6 * i: 16 + 6 * i])[1:] for i in range(count)}


def produce_v2(corr, acks):
    body = struct.pack(">hi", acks, 5000) + struct.pack(">i", 1)
    body += struct.pack(">h", 3) + b"old" + struct.pack(">i", 2)
    for index in (0, 1):
        body += struct.pack(">ii", index, -1)  # null records
    return header_v1(0, 2, corr) + body


class UnsupportedVersion(unittest.TestCase):
    def assert_usable(self, sock, corr):
        send_frame(sock, header_v1(18, 0, corr))
        self.assertEqual(struct.unpack(">ih", recv_frame(sock)[:6]), (corr, 0))

    def test_unserved_api_answers_unsupported_version(self):
        with Sluiced() as b, b.connect() as s:
            served = served_apis(s)
            candidates = [c for c in TOP_LEVEL_ERROR_V0 if c[0] not in served]
            self.assertTrue(candidates, "every candidate API is served: pick others")
            for i, (key, name, at, flexible) in enumerate(candidates):
                with self.subTest(api=name):
                    # The body is not read: the header is enough to answer.
                    send_frame(s, header_v1(key, 0, 40 + i) + (b"\x00" if flexible else b""))
                    resp = recv_frame(s)
                    self.assertIsNotNone(resp, f"{name}: connection closed")
                    (corr,) = struct.unpack(">i", resp[:4])
                    (err,) = struct.unpack(">h", resp[4 + at: 6 + at])
                    self.assertEqual((corr, err), (40 + i, UNSUPPORTED_VERSION))
            self.assert_usable(s, 99)
            self.assertIn("unsupported request", b.output())

    def test_produce_v2_refused_per_partition(self):
        with Sluiced() as b, b.connect() as s:
            self.assertEqual(served_apis(s)[0][0], 0)  # advertised from v0, as Kafka 4 does
            send_frame(s, produce_v2(7, acks=1))
            resp = recv_frame(s)
            self.assertIsNotNone(resp)
            corr, topics, name_len = struct.unpack(">iih", resp[:10])
            self.assertEqual((corr, topics, resp[10:10 + name_len]), (7, 1, b"old"))
            at = 10 + name_len
            (parts,) = struct.unpack(">i", resp[at:at + 4])
            self.assertEqual(parts, 2)
            for i in range(2):
                index, err, base, append_time = struct.unpack(
                    ">ihqq", resp[at + 4 + 22 * i: at + 26 + 22 * i])
                self.assertEqual((index, err, base, append_time), (i, UNSUPPORTED_VERSION, -1, -1))
            self.assertEqual(len(resp), at + 4 + 44 + 4)  # then throttle_time_ms
            self.assert_usable(s, 8)
            # Nothing was written: the topic was not even auto-created.
            self.assertFalse(os.path.exists(os.path.join(b.data_dir, "topics", "old-0")))

    def test_produce_v2_acks0_closes(self):
        with Sluiced() as b:
            with b.connect() as s:
                send_frame(s, produce_v2(7, acks=0))
                self.assertIsNone(recv_frame(s))
            with b.connect() as s:
                self.assert_usable(s, 1)

    def test_unparseable_versions_close_the_connection(self):
        cases = [
            ("Fetch v3, errors only per partition", header_v1(1, 3, 3)),
            ("Metadata v13, beyond the schema", header_v1(3, 13, 3)),
            ("unknown API key 9999", header_v1(9999, 0, 3)),
            ("negative version", header_v1(3, -1, 3)),
        ]
        with Sluiced() as b:
            for what, frame in cases:
                with self.subTest(what):
                    with b.connect() as s:
                        send_frame(s, frame)
                        self.assertIsNone(recv_frame(s))
                    self.assertTrue(b.alive())
            with b.connect() as s:
                self.assert_usable(s, 2)

    def test_librdkafka_unaffected(self):
        """kcat (librdkafka) negotiates versions and produces/consumes after the refusals."""
        with Sluiced() as b:
            with b.connect() as s:
                send_frame(s, header_v1(17, 0, 1))
                recv_frame(s)
            broker = f"127.0.0.1:{b.port}"
            p = subprocess.run(["kcat", "-b", broker, "-P", "-t", "uv", "-p", "0"],
                               input=b"one\ntwo\n", capture_output=True, timeout=60)
            self.assertEqual(p.returncode, 0, p.stderr)
            c = subprocess.run(["kcat", "-b", broker, "-C", "-t", "uv", "-p", "0", "-o",
                                "beginning", "-e", "-q"], capture_output=True, timeout=60)
            self.assertEqual(c.returncode, 0, c.stderr)
            self.assertEqual(c.stdout.split(), [b"one", b"two"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
