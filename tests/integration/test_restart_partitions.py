"""partition.metadata (the topic id in every partition directory, as Kafka writes it) and a
clean restart of a broker with 1,000 partitions. The restart time is printed, not asserted."""

import base64
import os
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from sluiced_process import Sluiced  # noqa: E402

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

WIDE = 1000


def create(port, topic, partitions):
    a = AdminClient({"bootstrap.servers": f"127.0.0.1:{port}"})
    a.create_topics([NewTopic(topic, partitions, 1)])[topic].result(60)


def delete(port, topic):
    a = AdminClient({"bootstrap.servers": f"127.0.0.1:{port}"})
    a.delete_topics([topic])[topic].result(60)


def produce_each(port, topic, partitions, value):
    """Errors are reported at once (no retries), so a refused partition fails fast."""
    errors = []
    p = Producer({"bootstrap.servers": f"127.0.0.1:{port}", "acks": "all", "linger.ms": 20,
                  "retries": 0})
    for i in range(partitions):
        p.produce(topic, value=b"%s-%d" % (value, i), partition=i,
                  on_delivery=lambda err, msg: err and errors.append(err))
    assert p.flush(120) == 0
    return errors


def read_each(port, topic, partitions):
    """The first record of every partition, as {partition: value}."""
    c = Consumer({"bootstrap.servers": f"127.0.0.1:{port}", "group.id": "restart",
                  "enable.auto.commit": False, "enable.partition.eof": False})
    c.assign([TopicPartition(topic, i, 0) for i in range(partitions)])
    got, deadline = {}, time.monotonic() + 120
    while len(got) < partitions and time.monotonic() < deadline:
        m = c.poll(0.5)
        if m is None:
            continue
        if m.error():
            raise AssertionError(m.error())
        got.setdefault(m.partition(), m.value())
    c.close()
    return got


def metadata_ids(data_dir, topic, partitions):
    ids = set()
    for i in range(partitions):
        with open(os.path.join(data_dir, "topics", f"{topic}-{i}", "partition.metadata")) as f:
            lines = f.read().splitlines()
        assert lines[0] == "version: 0", lines
        assert lines[1].startswith("topic_id: "), lines
        ids.add(lines[1][len("topic_id: "):])
    return ids


class PartitionMetadata(unittest.TestCase):
    def test_topic_id_written_and_checked(self):
        with tempfile.TemporaryDirectory() as d:
            data = os.path.join(d, "data")
            with Sluiced(data_dir=data) as b:
                create(b.port, "marked", 2)
                self.assertEqual(produce_each(b.port, "marked", 2, b"a"), [])
                (first,) = metadata_ids(data, "marked", 2)  # both partitions, one id
                self.assertEqual(len(first), 22)
                raw = base64.urlsafe_b64decode(first + "==")
                self.assertEqual(len(raw), 16)
                self.assertNotEqual(raw, bytes(16))
                # Deleted and re-created: a new incarnation, a new id.
                delete(b.port, "marked")
                create(b.port, "marked", 2)
                self.assertEqual(produce_each(b.port, "marked", 2, b"b"), [])
                (second,) = metadata_ids(data, "marked", 2)
                self.assertNotEqual(first, second)
            # A directory naming another topic id is refused, never served; the rest works.
            other = base64.urlsafe_b64encode(bytes(range(16))).rstrip(b"=").decode()
            with open(os.path.join(data, "topics", "marked-1", "partition.metadata"), "w") as f:
                f.write(f"version: 0\ntopic_id: {other}\n")
            with Sluiced(data_dir=data) as b:
                self.assertEqual(read_each(b.port, "marked", 1), {0: b"b-0"})
                errors = produce_each(b.port, "marked", 2, b"c")
                self.assertEqual(len(errors), 1)
                self.assertEqual(errors[0].code(), KafkaError.KAFKA_STORAGE_ERROR)
                self.assertIn("partition.metadata does not name topic id", b.output())


class WideRestart(unittest.TestCase):
    def test_clean_restart_of_1000_partitions(self):
        with tempfile.TemporaryDirectory() as d:
            data = os.path.join(d, "data")
            with Sluiced(data_dir=data) as b:
                create(b.port, "wide", WIDE)
                self.assertEqual(produce_each(b.port, "wide", WIDE, b"w"), [])
            # Clean stop above (SIGTERM); every partition directory carries the topic id.
            self.assertEqual(len(metadata_ids(data, "wide", WIDE)), 1)
            start = time.monotonic()
            with Sluiced(data_dir=data) as b:
                listening = time.monotonic() - start
                got = read_each(b.port, "wide", WIDE)
                all_read = time.monotonic() - start
                self.assertEqual(got, {i: b"w-%d" % i for i in range(WIDE)})
            print(f"\nclean restart with {WIDE} partitions: listening after {listening:.3f} s, "
                  f"first record of every partition read after {all_read:.3f} s",
                  file=sys.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
