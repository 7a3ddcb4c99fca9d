"""Start and stop a real sluiced for integration tests (port 0, temp data dir)."""

import os
import re
import signal
import socket
import struct
import subprocess
import tempfile
import time

BIN_DIR = os.environ.get("SLUICE_BIN_DIR", os.path.join(os.path.dirname(__file__), "../../build/bin"))
SLUICED = os.path.join(BIN_DIR, "sluiced")


class Sluiced:
    """A sluiced on 127.0.0.1 with an ephemeral port and a temporary data dir."""

    def __init__(self, *extra_args, data_dir=None, preexec_fn=None):
        """data_dir: reuse a data directory (restart tests); default: a fresh one, removed on exit.
        preexec_fn: run in the child before exec (e.g. to lower a resource limit).

        The admin HTTP listener also gets port 0 (unless extra_args set http.listen); its port is
        `http_port` (None when disabled with http.listen="")."""
        self.tmp = tempfile.TemporaryDirectory(prefix="sluiced-it-")
        self.data_dir = data_dir or os.path.join(self.tmp.name, "data")
        self.log_path = os.path.join(self.tmp.name, "sluiced.log")
        http_sets = [a for a in extra_args if str(a).startswith("http.listen=")]
        http = [] if http_sets else ["--set", "http.listen=127.0.0.1:0"]
        self.http_enabled = not http_sets or http_sets[-1] != "http.listen="
        self.args = [SLUICED, "--listen", "127.0.0.1:0", "--data-dir", self.data_dir,
                     "--log-level", "debug", *http, *extra_args]
        self.proc = None
        self.port = None
        self.preexec_fn = preexec_fn
        self.http_port = None

    def __enter__(self):
        self.log = open(self.log_path, "w+")
        self.proc = subprocess.Popen(self.args, stdout=self.log, stderr=subprocess.STDOUT,
                                     preexec_fn=self.preexec_fn)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            out = self.output()
            m = re.search(r"sluiced \S+ listening on 127\.0\.0\.1:(\d+)", out)
            # The HTTP line follows the Kafka one when HTTP is enabled.
            h = re.search(r"http listening on [^\s:]+:(\d+)", out)
            if m and (h or not self.http_enabled):
                self.port = int(m.group(1))
                self.http_port = int(h.group(1)) if h else None
                return self
            if self.proc.poll() is not None:
                raise RuntimeError("sluiced exited early:\n" + self.output())
            time.sleep(0.05)
        raise RuntimeError("sluiced did not start:\n" + self.output())

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        self.tmp.cleanup()

    def output(self):
        with open(self.log_path) as f:
            return f.read()

    def alive(self):
        return self.proc.poll() is None

    def http_url(self, path):
        return f"http://127.0.0.1:{self.http_port}{path}"

    def connect(self):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        return s


def send_frame(sock, payload):
    sock.sendall(struct.pack(">i", len(payload)) + payload)


def recv_frame(sock):
    """Returns one response frame (without size), or None if the broker closed the connection."""
    head = recv_exact(sock, 4)
    if head is None:
        return None
    (size,) = struct.unpack(">i", head)
    return recv_exact(sock, size)


def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        try:
            chunk = sock.recv(n - len(buf))
        except ConnectionResetError:
            return None
        if not chunk:
            return None
        buf += chunk
    return buf
