"""Thousands of concurrent connections: 3000 clients connected at once, each answered.

sluiced is started with its soft RLIMIT_NOFILE lowered to 1024 (hard limit unchanged), so the
test also shows that sluiced raises its soft limit to the hard one at start: with 1024
descriptors it could not hold 3000 sockets."""

import os
import resource
import selectors
import socket
import struct
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from sluiced_process import Sluiced, recv_frame, send_frame  # noqa: E402

CONNECTIONS = 3000


def api_versions_v0(correlation_id):
    return struct.pack(">hhih", 18, 0, correlation_id, 4) + b"many"


def low_soft_limit():
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))


class ManyConnections(unittest.TestCase):
    def test_three_thousand_concurrent_clients(self):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        need = CONNECTIONS + 200
        self.assertGreaterEqual(hard, need, "the hard RLIMIT_NOFILE is too low for this test")
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, need), hard))
        with Sluiced(preexec_fn=low_soft_limit) as b:
            self.assertIn(f"open files limit {hard}", b.output())
            socks = []
            try:
                for i in range(CONNECTIONS):
                    socks.append(socket.create_connection(("127.0.0.1", b.port), timeout=30))
                # Every connection is open at once; now each sends a request...
                for i, s in enumerate(socks):
                    send_frame(s, api_versions_v0(i))
                # ...and each gets its own answer.
                answered = 0
                for i, s in enumerate(socks):
                    resp = recv_frame(s)
                    self.assertIsNotNone(resp, f"connection {i} was closed")
                    self.assertEqual(struct.unpack(">ih", resp[:6]), (i, 0))
                    answered += 1
                self.assertEqual(answered, CONNECTIONS)
                # A second round on the same connections, read as they become ready.
                sel = selectors.DefaultSelector()
                for i, s in enumerate(socks):
                    send_frame(s, api_versions_v0(CONNECTIONS + i))
                    sel.register(s, selectors.EVENT_READ, i)
                pending = set(range(CONNECTIONS))
                while pending:
                    events = sel.select(timeout=30)
                    self.assertTrue(events, f"{len(pending)} connections got no answer")
                    for key, _ in events:
                        resp = recv_frame(key.fileobj)
                        self.assertEqual(struct.unpack(">i", resp[:4])[0], CONNECTIONS + key.data)
                        sel.unregister(key.fileobj)
                        pending.discard(key.data)
            finally:
                for s in socks:
                    s.close()
            self.assertTrue(b.alive())
            self.assertNotIn("accept failed", b.output())


if __name__ == "__main__":
    unittest.main(verbosity=2)
