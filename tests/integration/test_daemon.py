"""sluiced as a process: flags, config errors, clean stop, ApiVersions from real clients,
and bad input that must close one connection without harming the process."""

import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from sluiced_process import SLUICED, Sluiced, recv_frame, send_frame  # noqa: E402


def run_sluiced(*args, timeout=30):
    return subprocess.run([SLUICED, *args], capture_output=True, text=True, timeout=timeout)


def api_versions_request(version, correlation_id=7):
    header = struct.pack(">hhi", 18, version, correlation_id) + struct.pack(">h", 4) + b"test"
    if version >= 3:
        header += b"\x00"  # header v2 tagged fields
        body = b"\x05kcat" + b"\x061.7.1" + b"\x00"  # compact strings + tagged fields
    else:
        body = b""
    return header + body


def metadata_request(topics, correlation_id):
    """Metadata v4 for `topics`, without auto-creation."""
    header = struct.pack(">hhi", 3, 4, correlation_id) + struct.pack(">h", 4) + b"test"
    names = b"".join(struct.pack(">h", len(t)) + t.encode() for t in topics)
    return header + struct.pack(">i", len(topics)) + names + b"\x00"


def metadata_topics(resp):
    """(error code, name) of each topic in a Metadata v4 response frame."""
    at = 8  # correlation id, throttle time
    (brokers,) = struct.unpack_from(">i", resp, at)
    at += 4
    for _ in range(brokers):
        (host_len,) = struct.unpack_from(">h", resp, at + 4)
        at += 4 + 2 + host_len + 4
        (rack_len,) = struct.unpack_from(">h", resp, at)
        at += 2 + max(rack_len, 0)
    (cluster_len,) = struct.unpack_from(">h", resp, at)
    at += 2 + max(cluster_len, 0) + 4  # cluster id, controller id
    (count,) = struct.unpack_from(">i", resp, at)
    at += 4
    out = []
    for _ in range(count):
        err, name_len = struct.unpack_from(">hh", resp, at)
        at += 4
        out.append((err, resp[at:at + name_len].decode()))
        at += name_len + 1  # name, is_internal
        (parts,) = struct.unpack_from(">i", resp, at)
        at += 4
        assert parts == 0, parts  # unknown topics have no partitions to skip
    return out


class ConfigErrors(unittest.TestCase):
    """Bad configuration is one line naming the key, and exit status 2."""

    def check(self, args, expected, tmp=None):
        with tempfile.TemporaryDirectory() as d:
            r = run_sluiced("--data-dir", os.path.join(d, "data"), "--listen", "127.0.0.1:0", *args)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn(expected, r.stderr)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        self.assertNotIn("terminate called", r.stderr)

    def test_unknown_key(self):
        self.check(["--set", "num.partitons=3"], "unknown key 'num.partitons'")

    def test_wrong_type(self):
        self.check(["--set", "num.partitions=many"], "num.partitions: expected an integer, got 'many'")

    def test_out_of_range(self):
        self.check(["--set", "num.partitions=0"], "num.partitions: 0 is out of range")

    def test_bad_yaml_value(self):
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            f.write("auto.create.topics.enable: maybe\n")
        try:
            self.check(["--config", f.name], f"{f.name}:1: auto.create.topics.enable: expected true or false")
        finally:
            os.unlink(f.name)

    def test_data_dir_not_writable(self):
        with tempfile.NamedTemporaryFile() as f:  # a file where a directory is needed
            r = run_sluiced("--data-dir", os.path.join(f.name, "sub"), "--listen", "127.0.0.1:0")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("log.dir: cannot create", r.stderr)

    def test_port_in_use(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        try:
            with tempfile.TemporaryDirectory() as d:
                r = run_sluiced("--data-dir", d, "--listen", f"127.0.0.1:{port}")
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn(f"cannot listen on 127.0.0.1:{port}", r.stderr)
        finally:
            s.close()

    def test_bad_flag(self):
        r = run_sluiced("--no-such-flag")
        self.assertEqual(r.returncode, 2)

    def test_version_and_help(self):
        r = run_sluiced("--version")
        self.assertEqual(r.returncode, 0)
        self.assertTrue(r.stdout.startswith("sluiced "), r.stdout)
        r = run_sluiced("--help")
        self.assertEqual(r.returncode, 0)
        for flag in ["--config", "--listen", "--data-dir", "--log-level", "--set"]:
            self.assertIn(flag, r.stdout)

    def test_shipped_config_starts(self):
        cfg = os.path.join(os.path.dirname(__file__), "../../config/sluice.yaml")
        with Sluiced("--config", cfg) as b:
            self.assertTrue(b.alive())


class Lifecycle(unittest.TestCase):
    def test_sigterm_and_sigint_stop_cleanly(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            with Sluiced() as b:
                b.proc.send_signal(sig)
                self.assertEqual(b.proc.wait(timeout=30), 0)
                out = b.output()
                self.assertIn("sluiced stopped", out)
                # The listener is closed: nothing accepts on the port any more.
                with self.assertRaises(OSError):
                    socket.create_connection(("127.0.0.1", b.port), timeout=2).close()


class ApiVersions(unittest.TestCase):
    def test_raw_v0_and_v3(self):
        with Sluiced() as b, b.connect() as s:
            for version in (0, 3):
                send_frame(s, api_versions_request(version, correlation_id=100 + version))
                resp = recv_frame(s)
                self.assertIsNotNone(resp)
                corr, err = struct.unpack(">ih", resp[:6])
                self.assertEqual((corr, err), (100 + version, 0))
            self.assertIn("client software kcat 1.7.1", b.output())

    def test_above_max_answers_v0_unsupported_version(self):
        with Sluiced() as b, b.connect() as s:
            send_frame(s, api_versions_request(99, correlation_id=5) + b"\x00garbage")
            resp = recv_frame(s)
            corr, err, count = struct.unpack(">ihi", resp[:10])
            self.assertEqual((corr, err), (5, 35))
            keys = [struct.unpack(">hhh", resp[10 + 6 * i: 16 + 6 * i]) for i in range(count)]
            self.assertIn((18, 0, 4), keys)
            # The connection stays usable: the client retries with a version we know.
            send_frame(s, api_versions_request(3, correlation_id=6))
            self.assertEqual(struct.unpack(">ih", recv_frame(s)[:6]), (6, 0))

    def test_pipelined_requests_answered_in_order(self):
        with Sluiced() as b, b.connect() as s:
            s.sendall(b"".join(struct.pack(">i", len(f)) + f for f in
                               (api_versions_request(i % 4, correlation_id=i) for i in range(50))))
            for i in range(50):
                self.assertEqual(struct.unpack(">i", recv_frame(s)[:4])[0], i)

    def test_requests_split_anywhere_are_read_whole(self):
        """Requests arrive in pieces of any size: a split size prefix, split bodies, requests
        larger than the broker's read buffer (16 KiB) between small ones, several in one piece.
        Each is answered once, whole, in order."""
        names = [f"missing-topic-{i:05d}" for i in range(2000)]  # a ~44 KB request
        frames = []
        for i in range(16):
            f = metadata_request(names, i) if i % 5 == 1 else api_versions_request(i % 4, i)
            frames.append(struct.pack(">i", len(f)) + f)
        stream = b"".join(frames)
        pieces = [1, 2, 3, 5, 4093, 7, 16384, 1, 30000, 16379, 9]
        with Sluiced() as b, b.connect() as s:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            pos, k = 0, 0
            while pos < len(stream):
                n = pieces[k % len(pieces)]
                s.sendall(stream[pos:pos + n])
                pos, k = pos + n, k + 1
                time.sleep(0.002)  # lets most pieces reach the broker on their own
            for i in range(16):
                resp = recv_frame(s)
                self.assertIsNotNone(resp, i)
                self.assertEqual(struct.unpack(">i", resp[:4])[0], i)
                if i % 5 == 1:
                    self.assertEqual(metadata_topics(resp), [(3, n) for n in names])

    def test_idle_connections_are_closed(self):
        """connections.max.idle.ms closes a connection that sent nothing, and one whose last
        request is older than the limit."""
        with Sluiced("--set", "connections.max.idle.ms=200") as b:
            with b.connect() as silent, b.connect() as active:
                send_frame(active, api_versions_request(3, correlation_id=1))
                self.assertEqual(struct.unpack(">i", recv_frame(active)[:4])[0], 1)
                silent.settimeout(30)
                active.settimeout(30)
                self.assertIsNone(recv_frame(silent))
                self.assertIsNone(recv_frame(active))
            self.assertTrue(b.alive())

    def test_kafka_python_reads_api_versions(self):
        """kafka-python (Debian python3-kafka) encodes ApiVersions v0-v2 and parses our answers."""
        script = (
            "import selectors, socket, sys\n"
            "from kafka.conn import BrokerConnection\n"
            "from kafka.protocol.admin import ApiVersionRequest\n"
            "c = BrokerConnection('127.0.0.1', int(sys.argv[1]), socket.AF_INET,\n"
            "                     api_version=(2, 5, 0))\n"
            "assert c.connect_blocking(timeout=10)\n"
            "for v in range(len(ApiVersionRequest)):\n"
            "    f = c.send(ApiVersionRequest[v]())\n"
            "    sel = selectors.DefaultSelector()\n"
            "    sel.register(c._sock, selectors.EVENT_READ)\n"
            "    while not f.is_done:\n"
            "        sel.select(1)\n"
            "        for resp, fut in c.recv():\n"
            "            fut.success(resp)\n"
            "    r = f.value\n"
            "    print('V', v, r.error_code, sorted(r.api_versions))\n"
        )
        with Sluiced() as b:
            r = subprocess.run(["/usr/bin/python3", "-c", script, str(b.port)],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            lines = r.stdout.strip().splitlines()
            self.assertEqual(len(lines), 3, r.stdout)
            for v, line in enumerate(lines):
                self.assertTrue(line.startswith(f"V {v} 0 ["), line)
                for served in ("(3, 0, 12)", "(18, 0, 4)", "(19, 2, 7)"):
                    self.assertIn(served, line)


class BadInput(unittest.TestCase):
    """Malformed, truncated or oversized requests close that connection; the process survives."""

    def assert_closed(self, b, payload, raw=False):
        with b.connect() as s:
            if raw:
                s.sendall(payload)
            else:
                send_frame(s, payload)
            self.assertIsNone(recv_frame(s))
        self.assertTrue(b.alive())
        with b.connect() as s:  # a fresh connection still works
            send_frame(s, api_versions_request(0))
            self.assertIsNotNone(recv_frame(s))

    def test_bad_frames(self):
        with Sluiced("--set", "socket.request.max.bytes=1048576") as b:
            self.assert_closed(b, b"\x00\x12")                       # shorter than a header
            self.assert_closed(b, struct.pack(">i", -5), raw=True)    # negative size
            self.assert_closed(b, struct.pack(">i", 1 << 30), raw=True)  # above the limit
            self.assert_closed(b, struct.pack(">hhi", 18, 3, 1) + b"\x7f\xff")  # client id too long
            self.assert_closed(b, struct.pack(">hhih", 18, 3, 1, -1) + b"\x00\xff\xff\xff\xff\xff")
            self.assert_closed(b, struct.pack(">hhih", 9999, 0, 1, -1))  # unknown API
            self.assertIn("127.0.0.1", b.output())


if __name__ == "__main__":
    unittest.main(verbosity=2)
