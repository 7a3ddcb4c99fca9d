"""Incremental fetch sessions (KIP-227), driven with kafka-python's Fetch v11 codec (Debian
python3-kafka; its consumer does not open sessions itself, nor do librdkafka 2.0.2 or kafkajs).
Data is produced with confluent-kafka. Also Fetch answers that must wait (max_wait) or that
fill the socket (a reader with a tiny receive buffer and pipelined requests)."""

import os
import selectors
import socket
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from sluiced_process import Sluiced  # noqa: E402

from confluent_kafka import Producer  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402
from kafka.conn import BrokerConnection  # noqa: E402
from kafka.protocol.fetch import FetchRequest  # noqa: E402
from kafka.protocol.types import Array, Int8, Int32, Int64, Schema, String  # noqa: E402
from kafka.record import MemoryRecords  # noqa: E402


class FetchV11(FetchRequest[11]):
    """kafka-python's Fetch v11 with its forgotten_topics_data schema fixed: 2.0.2 declares the
    topic as `String` (the class, not an instance), so it cannot encode forgotten topics, a
    path its consumer never takes."""

    SCHEMA = Schema(
        ('replica_id', Int32), ('max_wait_time', Int32), ('min_bytes', Int32),
        ('max_bytes', Int32), ('isolation_level', Int8), ('session_id', Int32),
        ('session_epoch', Int32),
        ('topics', Array(
            ('topic', String('utf-8')),
            ('partitions', Array(
                ('partition', Int32), ('current_leader_epoch', Int32), ('fetch_offset', Int64),
                ('log_start_offset', Int64), ('max_bytes', Int32))))),
        ('forgotten_topics_data', Array(
            ('topic', String('utf-8')),
            ('partitions', Array(Int32)))),
        ('rack_id', String('utf-8')),
    )

SESSION_ID_NOT_FOUND = 70
INVALID_EPOCH = 71
TOPIC = "sessions"


class Fetcher:
    """One connection sending raw Fetch v11 requests."""

    def __init__(self, port, **configs):
        self.conn = BrokerConnection("127.0.0.1", port, socket.AF_INET, api_version=(2, 5, 0),
                                     **configs)
        assert self.conn.connect_blocking(timeout=10)

    def close(self):
        self.conn.close()

    def send(self, session_id, epoch, parts=(), forget=(), max_wait=0, part_max=1 << 20):
        """parts: [(partition, offset)] of TOPIC; forget: [partition]. Returns a future."""
        topics = [(TOPIC, [(p, -1, off, -1, part_max) for p, off in parts])] if parts else []
        forgotten = [(TOPIC, list(forget))] if forget else []
        req = FetchV11(-1, max_wait, 0, 64 << 20, 0, session_id, epoch, topics, forgotten, "")
        return self.conn.send(req)

    def wait(self, *futures):
        sel = selectors.DefaultSelector()
        sel.register(self.conn._sock, selectors.EVENT_READ)
        while not all(f.is_done for f in futures):
            sel.select(1)
            for resp, fut in self.conn.recv():
                fut.success(resp)
        for f in futures:
            assert f.succeeded(), f.exception
        return [f.value for f in futures]

    def fetch(self, session_id, epoch, parts=(), forget=(), max_wait=0):
        """parts: [(partition, offset)] of TOPIC; forget: [partition]. Returns (error, session
        id, {partition: (error, high watermark, record bytes)})."""
        [r] = self.wait(self.send(session_id, epoch, parts, forget, max_wait))
        out = {}
        for _topic, partitions in r.topics:
            for p in partitions:
                out[p[0]] = (p[1], p[2], len(p[-1] or b""))
        return r.error_code, r.session_id, out


def produce(port, partition, n, value=lambda i: b"v%d" % i):
    p = Producer({"bootstrap.servers": f"127.0.0.1:{port}", "acks": "all"})
    for i in range(n):
        p.produce(TOPIC, value=value(i), partition=partition)
    assert p.flush(30) == 0


def create_topic(port):
    a = AdminClient({"bootstrap.servers": f"127.0.0.1:{port}"})
    a.create_topics([NewTopic(TOPIC, 2, 1)])[TOPIC].result(30)


def big_value(partition, i):
    return (b"%d:%d:" % (partition, i)).ljust(1024, b"x")


class FetchAnswers(unittest.TestCase):
    def test_a_fetch_with_nothing_to_return_is_answered_when_max_wait_passes(self):
        with Sluiced() as b:
            create_topic(b.port)
            produce(b.port, 0, 3)
            f = Fetcher(b.port)
            try:
                # Nothing past offset 3 (min_bytes 0 still waits for one byte): the answer
                # comes when max_wait has passed, empty (never, if the wait were not timed).
                err, sid, parts = f.fetch(0, -1, [(0, 3), (1, 0)], max_wait=300)
                self.assertEqual((err, sid), (0, 0))
                self.assertEqual(parts, {0: (0, 3, 0), 1: (0, 0, 0)})
                # The connection still serves: the same fetch from offset 0 has the data.
                err, _, parts = f.fetch(0, -1, [(0, 0)], max_wait=300)
                self.assertEqual(err, 0)
                self.assertGreater(parts[0][2], 0)
            finally:
                f.close()

    def test_pipelined_large_answers_to_a_slow_reader_arrive_intact(self):
        n = 3000  # ~3 MB of 1 KiB records per partition
        with Sluiced() as b:
            create_topic(b.port)
            for p in (0, 1):
                produce(b.port, p, n, lambda i, p=p: big_value(p, i))
            # A 4 KiB receive buffer keeps the broker's socket full, so each answer goes out
            # in many partial sendfile/sendmsg calls, with the next answer queued behind it.
            f = Fetcher(b.port, receive_buffer_bytes=4096)
            try:
                futures = [f.send(0, -1, [(0, 0), (1, 0)], part_max=8 << 20) for _ in range(3)]
                responses = f.wait(*futures)
            finally:
                f.close()
            for r in responses:
                self.assertEqual(r.error_code, 0)
                [(topic, partitions)] = r.topics
                self.assertEqual(topic, TOPIC)
                self.assertEqual(sorted(p[0] for p in partitions), [0, 1])
                for p in partitions:
                    self.assertEqual((p[1], p[2]), (0, n))  # no error, high watermark
                    records = MemoryRecords(p[-1])
                    got = []
                    while records.has_next():
                        batch = records.next_batch()
                        self.assertTrue(batch.validate_crc())
                        got.extend((rec.offset, rec.value) for rec in batch)
                    self.assertEqual(got, [(i, big_value(p[0], i)) for i in range(n)])


class FetchSessions(unittest.TestCase):
    def test_incremental_session(self):
        with Sluiced() as b:
            create_topic(b.port)
            produce(b.port, 0, 3)
            f = Fetcher(b.port)
            try:
                # Full fetch creating a session: every partition, with data.
                err, sid, parts = f.fetch(0, 0, [(0, 0), (1, 0)])
                self.assertEqual(err, 0)
                self.assertNotEqual(sid, 0)
                self.assertEqual(sorted(parts), [0, 1])
                self.assertEqual(parts[0][:2], (0, 3))
                self.assertGreater(parts[0][2], 0)
                # Incremental, p0 moved to its end: nothing changed, nothing sent.
                err, sid2, parts = f.fetch(sid, 1, [(0, 3)])
                self.assertEqual((err, sid2, parts), (0, sid, {}))
                # New data on p1 only: p1 alone comes back (the session remembers offset 0).
                produce(b.port, 1, 2)
                err, _, parts = f.fetch(sid, 2)
                self.assertEqual(err, 0)
                self.assertEqual(list(parts), [1])
                self.assertEqual(parts[1][:2], (0, 2))
                self.assertGreater(parts[1][2], 0)
                # Replaying an epoch, or an unknown session: the session errors.
                self.assertEqual(f.fetch(sid, 2)[:2], (INVALID_EPOCH, 0))
                self.assertEqual(f.fetch(sid + 1, 3)[:2], (SESSION_ID_NOT_FOUND, 0))
                # Forget p1 and move it on: more data on p1 is no longer reported; p0's is.
                err, _, parts = f.fetch(sid, 3, [], forget=[1])
                self.assertEqual(err, 0)
                produce(b.port, 1, 1)
                produce(b.port, 0, 1)
                err, _, parts = f.fetch(sid, 4, max_wait=2000)
                self.assertEqual(err, 0)
                self.assertEqual(list(parts), [0])
                self.assertEqual(parts[0][1], 4)
                # A full fetch naming the session with epoch -1 closes it.
                err, sid3, parts = f.fetch(sid, -1, [(0, 0)])
                self.assertEqual((err, sid3), (0, 0))
                self.assertEqual(parts[0][1], 4)
                self.assertEqual(f.fetch(sid, 5)[:2], (SESSION_ID_NOT_FOUND, 0))
                # Sessionless full fetches never create one.
                self.assertEqual(f.fetch(0, -1, [(0, 0)])[1], 0)
            finally:
                f.close()

    def test_cache_slots(self):
        with Sluiced("--set", "sluice.shards=1",
                     "--set", "max.incremental.fetch.session.cache.slots=1") as b:
            create_topic(b.port)
            first, second = Fetcher(b.port), Fetcher(b.port)
            try:
                err, sid, _ = first.fetch(0, 0, [(0, 0)])
                self.assertEqual(err, 0)
                self.assertNotEqual(sid, 0)
                # The only slot is taken (and not idle for 2 minutes): declined, still answered.
                err, sid2, parts = second.fetch(0, 0, [(0, 0)])
                self.assertEqual((err, sid2, list(parts)), (0, 0, [0]))
                # Closing the first session frees the slot.
                first.fetch(sid, -1, [(0, 0)])
                err, sid3, _ = second.fetch(0, 0, [(0, 0)])
                self.assertNotEqual(sid3, 0)
            finally:
                first.close()
                second.close()
        with Sluiced("--set", "max.incremental.fetch.session.cache.slots=0") as b:
            create_topic(b.port)
            f = Fetcher(b.port)
            try:
                self.assertEqual(f.fetch(0, 0, [(0, 0)])[:2], (0, 0))
            finally:
                f.close()


class DeleteDuringFetch(unittest.TestCase):
    def test_long_poll_across_a_delete_reports_unknown_topic(self):
        """A fetch waiting at the log end when its topic is deleted answers
        UNKNOWN_TOPIC_OR_PARTITION (the topic is gone), not KAFKA_STORAGE_ERROR."""
        with Sluiced() as b:
            create_topic(b.port)
            produce(b.port, 0, 1)
            f = Fetcher(b.port)
            try:
                f.conn.send(FetchV11(-1, 3000, 1, 1 << 20, 0, 0, -1,
                                             [(TOPIC, [(0, -1, 1, -1, 1 << 20)])], [], ""))
                a = AdminClient({"bootstrap.servers": f"127.0.0.1:{b.port}"})
                a.delete_topics([TOPIC])[TOPIC].result(30)
                sel = selectors.DefaultSelector()
                sel.register(f.conn._sock, selectors.EVENT_READ)
                responses = []
                while not responses:
                    self.assertTrue(sel.select(10), "no answer to the waiting fetch")
                    responses = f.conn.recv()
                (resp, _fut), = responses
                self.assertEqual(resp.error_code, 0)
                (_topic, partitions), = resp.topics
                self.assertEqual(partitions[0][1], 3)  # UNKNOWN_TOPIC_OR_PARTITION
            finally:
                f.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
