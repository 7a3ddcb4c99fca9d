"""Transactions with python3-confluent-kafka (librdkafka): commit and abort as read_committed
and read_uncommitted consumers see them; DescribeTransactions and ListTransactions on the wire
(no Debian client has them, so their bytes are written here from Kafka's message specs); the
coordinator's state surviving a clean restart and a kill -9 with a transaction open (the next
producer with that transactional.id aborts it)."""

import os
import signal
import socket
import struct
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from kafka_wire import Reader, compact_str, uvarint  # noqa: E402
from sluiced_process import Sluiced, recv_frame, send_frame  # noqa: E402

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition  # noqa: E402

TIMEOUT = 30


def producer(port, txn_id, **extra):
    conf = {"bootstrap.servers": f"127.0.0.1:{port}", "transactional.id": txn_id,
            "linger.ms": 1}
    conf.update(extra)
    return Producer(conf)


def read_all(port, topic, partition, isolation):
    """Every value of one partition up to its end as `isolation` sees it."""
    c = Consumer({"bootstrap.servers": f"127.0.0.1:{port}", "group.id": "reader-" + isolation,
                  "enable.auto.commit": False, "enable.partition.eof": True,
                  "isolation.level": isolation})
    c.assign([TopicPartition(topic, partition, 0)])
    out = []
    while True:
        m = c.poll(1.0)
        if m is None:
            continue
        if m.error():
            if m.error().code() == KafkaError._PARTITION_EOF:
                break
            raise AssertionError(m.error())
        out.append(m.value().decode())
    c.close()
    return out


# ---- the wire: flexible (compact) encodings, request header v2, response header v1 ----

def call(port, api_key, version, body):
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as s:
        client = b"txn-test"
        header = struct.pack(">hhih", api_key, version, 7, len(client)) + client + b"\x00"
        send_frame(s, header + body)
        r = Reader(recv_frame(s))
        assert r.take(">i") == 7
        r.tags()
        return r


def describe_transactions(port, ids):
    body = uvarint(len(ids) + 1) + b"".join(compact_str(i) for i in ids) + b"\x00"
    r = call(port, 65, 0, body)
    r.take(">i")  # throttle

    def state():
        s = {"error": r.take(">h"), "id": r.string(), "state": r.string(),
             "timeout_ms": r.take(">i"), "start_ms": r.take(">q"),
             "producer_id": r.take(">q"), "epoch": r.take(">h")}

        def topic():
            t = (r.string(), r.array(lambda: r.take(">i")))
            r.tags()
            return t
        s["topics"] = dict(r.array(topic))
        r.tags()
        return s
    return {s["id"]: s for s in r.array(state)}


def list_transactions(port, states=(), pids=(), duration=-1):
    body = (uvarint(len(states) + 1) + b"".join(compact_str(s) for s in states) +
            uvarint(len(pids) + 1) + b"".join(struct.pack(">q", p) for p in pids) +
            struct.pack(">q", duration) + b"\x00")
    r = call(port, 66, 1, body)
    r.take(">i")
    error = r.take(">h")
    unknown = r.array(r.string)

    def state():
        s = (r.string(), r.take(">q"), r.string())
        r.tags()
        return s
    return error, unknown, sorted(r.array(state))


class Transactions(unittest.TestCase):
    def test_commit_and_abort_by_isolation_level(self):
        with Sluiced("--set", "num.partitions=1") as s:
            p = producer(s.port, "py-tx")
            p.init_transactions(TIMEOUT)
            for prefix, commit in (("c1-", True), ("a1-", False), ("c2-", True)):
                p.begin_transaction()
                for i in range(5):
                    p.produce("pt", value=f"{prefix}{i}", partition=0)
                if commit:
                    p.commit_transaction(TIMEOUT)
                else:
                    p.flush(TIMEOUT)  # abort_transaction drops what was not sent yet
                    p.abort_transaction(TIMEOUT)
            committed = [f"c1-{i}" for i in range(5)] + [f"c2-{i}" for i in range(5)]
            self.assertEqual(read_all(s.port, "pt", 0, "read_committed"), committed)
            everything = read_all(s.port, "pt", 0, "read_uncommitted")
            self.assertEqual(sorted(everything), sorted(committed + [f"a1-{i}" for i in range(5)]))

            # Operators' view: the id, its producer, its last state.
            d = describe_transactions(s.port, ["py-tx", "nobody"])
            self.assertEqual(d["nobody"]["error"], 105)  # TRANSACTIONAL_ID_NOT_FOUND
            self.assertEqual(d["py-tx"]["error"], 0)
            self.assertEqual(d["py-tx"]["state"], "CompleteCommit")
            self.assertEqual(d["py-tx"]["start_ms"], -1)
            self.assertEqual(d["py-tx"]["topics"], {})
            pid = d["py-tx"]["producer_id"]
            self.assertGreaterEqual(pid, 0)

            # One open transaction, seen by describe and by list's filters.
            p.begin_transaction()
            p.produce("pt", value="open", partition=0)
            p.flush(TIMEOUT)
            d = describe_transactions(s.port, ["py-tx"])["py-tx"]
            self.assertEqual(d["state"], "Ongoing")
            self.assertEqual(d["topics"], {"pt": [0]})
            self.assertGreater(d["start_ms"], 0)
            self.assertEqual(list_transactions(s.port), (0, [], [("py-tx", pid, "Ongoing")]))
            self.assertEqual(list_transactions(s.port, states=["Ongoing", "Bogus"]),
                             (0, ["Bogus"], [("py-tx", pid, "Ongoing")]))
            self.assertEqual(list_transactions(s.port, states=["Empty"]), (0, [], []))
            self.assertEqual(list_transactions(s.port, pids=[pid + 1]), (0, [], []))
            self.assertEqual(list_transactions(s.port, duration=10**9), (0, [], []))
            p.abort_transaction(TIMEOUT)
            self.assertEqual(describe_transactions(s.port, ["py-tx"])["py-tx"]["state"],
                             "CompleteAbort")

    def test_state_survives_restart_and_kill(self):
        with tempfile.TemporaryDirectory(prefix="sluiced-txn-") as tmp:
            data = os.path.join(tmp, "data")
            with Sluiced("--set", "num.partitions=1", data_dir=data) as first:
                p = producer(first.port, "py-restart")
                p.init_transactions(TIMEOUT)
                p.begin_transaction()
                p.produce("rt", value="kept", partition=0)
                p.commit_transaction(TIMEOUT)
                before = describe_transactions(first.port, ["py-restart"])["py-restart"]
                del p
            # Clean restart: the same producer id; the next producer bumps the epoch.
            with Sluiced("--set", "num.partitions=1", data_dir=data) as second:
                after = describe_transactions(second.port, ["py-restart"])["py-restart"]
                self.assertEqual((after["state"], after["producer_id"], after["epoch"]),
                                 ("CompleteCommit", before["producer_id"], before["epoch"]))
                p = producer(second.port, "py-restart")
                p.init_transactions(TIMEOUT)
                d = describe_transactions(second.port, ["py-restart"])["py-restart"]
                self.assertEqual((d["producer_id"], d["epoch"]),
                                 (before["producer_id"], before["epoch"] + 1))
                # kill -9 with a transaction open.
                p.begin_transaction()
                p.produce("rt", value="lost", partition=0)
                p.flush(TIMEOUT)
                self.assertEqual(
                    describe_transactions(second.port, ["py-restart"])["py-restart"]["state"],
                    "Ongoing")
                second.proc.send_signal(signal.SIGKILL)
                second.proc.wait()
                del p
            with Sluiced("--set", "num.partitions=1", data_dir=data) as third:
                d = describe_transactions(third.port, ["py-restart"])["py-restart"]
                self.assertEqual(d["state"], "Ongoing")
                self.assertEqual(d["topics"], {"rt": [0]})
                # The next instance aborts it first, then gets the next epoch (Empty).
                p = producer(third.port, "py-restart")
                p.init_transactions(TIMEOUT)
                d = describe_transactions(third.port, ["py-restart"])["py-restart"]
                self.assertEqual((d["state"], d["epoch"]), ("Empty", before["epoch"] + 3))
                self.assertEqual(read_all(third.port, "rt", 0, "read_committed"), ["kept"])
                p.begin_transaction()
                p.produce("rt", value="after", partition=0)
                p.commit_transaction(TIMEOUT)
                self.assertEqual(read_all(third.port, "rt", 0, "read_committed"),
                                 ["kept", "after"])
                del p


if __name__ == "__main__":
    unittest.main()
