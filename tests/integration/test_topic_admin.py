"""Topic administration through real clients: DeleteTopics and CreatePartitions from
confluent-kafka (librdkafka) and kafka-python, kcat -L after adding partitions, a deleted and
re-created topic starting empty, the errors (unknown topics, shrinking), and direct
DescribeLogDirs / OffsetForLeaderEpoch / DescribeCluster / DescribeTopicPartitions /
ElectLeaders requests."""

import os
import struct
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from kafka_wire import Reader, compact_str, uvarint  # noqa: E402
from sluiced_process import Sluiced, recv_frame, send_frame  # noqa: E402

from confluent_kafka import KafkaError, KafkaException  # noqa: E402
from confluent_kafka.admin import AdminClient, NewPartitions, NewTopic  # noqa: E402
from kafka import KafkaAdminClient  # noqa: E402
from kafka.admin import NewPartitions as KpNewPartitions  # noqa: E402
from kafka.admin import NewTopic as KpNewTopic  # noqa: E402
from kafka.errors import InvalidPartitionsError, UnknownTopicOrPartitionError  # noqa: E402
from kafka.protocol.api import Request, Response  # noqa: E402
from kafka.protocol.types import Array, Boolean, Int8, Int16, Int32, Int64, Schema, String  # noqa: E402


def kcat(*args, input=None, timeout=60):
    return subprocess.run(["kcat", *args], input=input, capture_output=True, text=True,
                          timeout=timeout)


def partition_count(bs, topic):
    r = kcat("-b", bs, "-L", "-t", topic)
    for line in r.stdout.splitlines():
        line = line.strip()
        if line.startswith(f'topic "{topic}" with '):
            return int(line.split()[3])
    return None


# Request/response classes kafka-python 2.0.2 lacks (non-flexible versions).
class DescribeLogDirsResponse_v1(Response):
    API_KEY = 35
    API_VERSION = 1
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        ("results", Array(("error_code", Int16), ("log_dir", String("utf-8")),
                          ("topics", Array(("name", String("utf-8")),
                                           ("partitions", Array(("partition_index", Int32),
                                                                ("partition_size", Int64),
                                                                ("offset_lag", Int64),
                                                                ("is_future_key", Boolean))))))))


class DescribeLogDirsRequest_v1(Request):
    API_KEY = 35
    API_VERSION = 1
    RESPONSE_TYPE = DescribeLogDirsResponse_v1
    SCHEMA = Schema(("topics", Array(("topic", String("utf-8")), ("partitions", Array(Int32)))))


class OffsetForLeaderEpochResponse_v3(Response):
    API_KEY = 23
    API_VERSION = 3
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        ("topics", Array(("topic", String("utf-8")),
                         ("partitions", Array(("error_code", Int16), ("partition", Int32),
                                              ("leader_epoch", Int32), ("end_offset", Int64))))))


class OffsetForLeaderEpochRequest_v3(Request):
    API_KEY = 23
    API_VERSION = 3
    RESPONSE_TYPE = OffsetForLeaderEpochResponse_v3
    SCHEMA = Schema(
        ("replica_id", Int32),
        ("topics", Array(("topic", String("utf-8")),
                         ("partitions", Array(("partition", Int32),
                                              ("current_leader_epoch", Int32),
                                              ("leader_epoch", Int32))))))


class ElectLeadersResponse_v1(Response):
    API_KEY = 43
    API_VERSION = 1
    SCHEMA = Schema(
        ("throttle_time_ms", Int32), ("error_code", Int16),
        ("results", Array(("topic", String("utf-8")),
                          ("partitions", Array(("partition_id", Int32), ("error_code", Int16),
                                               ("error_message", String("utf-8")))))))


class ElectLeadersRequest_v1(Request):
    API_KEY = 43
    API_VERSION = 1
    RESPONSE_TYPE = ElectLeadersResponse_v1
    SCHEMA = Schema(
        ("election_type", Int8),
        ("topic_partitions", Array(("topic", String("utf-8")), ("partitions", Array(Int32)))),
        ("timeout_ms", Int32))


def kp_send(admin, request):
    node = admin._client.least_loaded_node()
    fut = admin._send_request_to_node(node, request)
    admin._wait_for_futures([fut])
    return fut.value


# Minimal flexible-version encoding for the APIs that have only flexible versions.
def flexible_request(b, api_key, version, body):
    s = b.connect()
    try:
        header = struct.pack(">hhih", api_key, version, 7, 4) + b"test" + b"\x00"
        send_frame(s, header + body)
        frame = recv_frame(s)
    finally:
        s.close()
    r = Reader(frame)
    assert r.take(">i") == 7
    r.tags()
    return r


class DeleteTopics(unittest.TestCase):
    def test_confluent_delete_and_recreate_starts_empty(self):
        with Sluiced() as b:
            bs = f"127.0.0.1:{b.port}"
            admin = AdminClient({"bootstrap.servers": bs})
            admin.create_topics([NewTopic("gone", 3)])["gone"].result(30)
            r = kcat("-b", bs, "-P", "-t", "gone", "-K:", input="".join(
                f"{i}:old-{i}\n" for i in range(30)))
            self.assertEqual(r.returncode, 0, r.stderr)
            r = kcat("-b", bs, "-C", "-t", "gone", "-o", "beginning", "-e", "-f", "%s\n")
            self.assertEqual(len(r.stdout.splitlines()), 30, r.stderr)
            topics_dir = os.path.join(b.data_dir, "topics")
            self.assertIn("gone-0", os.listdir(topics_dir))

            admin.delete_topics(["gone"], operation_timeout=30)["gone"].result(30)
            self.assertNotIn("gone", admin.list_topics(timeout=10).topics)
            deadline = time.time() + 10
            while any(n.startswith("gone-") for n in os.listdir(topics_dir)):
                self.assertLess(time.time(), deadline, os.listdir(topics_dir))
                time.sleep(0.05)

            admin.create_topics([NewTopic("gone", 3)])["gone"].result(30)
            r = kcat("-b", bs, "-C", "-t", "gone", "-o", "beginning", "-e", "-f", "%s\n")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout, "")
            kcat("-b", bs, "-P", "-t", "gone", "-p", "0", input="new\n")
            r = kcat("-b", bs, "-C", "-t", "gone", "-o", "beginning", "-e", "-f", "%p:%o:%s\n")
            self.assertEqual(r.stdout.splitlines(), ["0:0:new"], r.stderr)

    def test_recreate_while_partitions_are_open_on_every_shard(self):
        # Deleted and re-created many times with data in between: never any old record.
        with Sluiced() as b:
            bs = f"127.0.0.1:{b.port}"
            admin = AdminClient({"bootstrap.servers": bs})
            for round_ in range(4):
                admin.create_topics([NewTopic("churn", 4)])["churn"].result(30)
                kcat("-b", bs, "-P", "-t", "churn", "-K:",
                     input="".join(f"{i}:r{round_}-{i}\n" for i in range(20)))
                r = kcat("-b", bs, "-C", "-t", "churn", "-o", "beginning", "-e", "-f", "%s\n")
                self.assertEqual(sorted(r.stdout.split()),
                                 sorted(f"r{round_}-{i}" for i in range(20)), r.stderr)
                admin.delete_topics(["churn"], operation_timeout=30)["churn"].result(30)

    def test_unknown_topic(self):
        with Sluiced() as b:
            admin = AdminClient({"bootstrap.servers": f"127.0.0.1:{b.port}"})
            with self.assertRaises(KafkaException) as cm:
                admin.delete_topics(["nope"], operation_timeout=30)["nope"].result(30)
            self.assertEqual(cm.exception.args[0].code(), KafkaError.UNKNOWN_TOPIC_OR_PART)

    def test_kafka_python_and_restart(self):
        with tempfile.TemporaryDirectory() as data:
            with Sluiced(data_dir=data) as b:
                admin = KafkaAdminClient(bootstrap_servers=f"127.0.0.1:{b.port}")
                admin.create_topics([KpNewTopic("kp-del", 2, 1), KpNewTopic("kp-keep", 1, 1)])
                resp = admin.delete_topics(["kp-del"])
                self.assertEqual([(n, e) for n, e in resp.topic_error_codes], [("kp-del", 0)])
                with self.assertRaises(UnknownTopicOrPartitionError):
                    admin.delete_topics(["kp-del"])
                admin.close()
            # The deletion is durable: gone after a restart. Leftovers of an interrupted
            # removal are cleaned up at start.
            stale = os.path.join(data, "topics", "kp-old-0.0123456789abcdef-delete")
            os.makedirs(stale)
            with Sluiced(data_dir=data) as b:
                r = kcat("-b", f"127.0.0.1:{b.port}", "-L")
                self.assertIn('topic "kp-keep"', r.stdout)
                self.assertNotIn('topic "kp-del"', r.stdout)
                deadline = time.time() + 10
                while os.path.exists(stale):
                    self.assertLess(time.time(), deadline)
                    time.sleep(0.05)


class CreatePartitions(unittest.TestCase):
    def test_confluent_increase_validate_and_errors(self):
        with Sluiced() as b:
            bs = f"127.0.0.1:{b.port}"
            admin = AdminClient({"bootstrap.servers": bs})
            admin.create_topics([NewTopic("grow", 2)])["grow"].result(30)
            kcat("-b", bs, "-P", "-t", "grow", "-p", "1", input="a\nb\n")

            admin.create_partitions([NewPartitions("grow", 5)],
                                    validate_only=True)["grow"].result(30)
            self.assertEqual(partition_count(bs, "grow"), 2)
            admin.create_partitions([NewPartitions("grow", 5)])["grow"].result(30)
            self.assertEqual(partition_count(bs, "grow"), 5)
            for p in range(2, 5):  # the new partitions start empty and take records
                r = kcat("-b", bs, "-C", "-t", "grow", "-p", str(p), "-o", "beginning", "-e")
                self.assertEqual(r.stdout, "", r.stderr)
            kcat("-b", bs, "-P", "-t", "grow", "-p", "4", input="c\n")
            r = kcat("-b", bs, "-C", "-t", "grow", "-o", "beginning", "-e", "-f", "%p:%o:%s\n")
            self.assertEqual(sorted(r.stdout.splitlines()), ["1:0:a", "1:1:b", "4:0:c"])

            for count, msg in ((3, "The topic grow currently has 5 partition(s); 3 would not be "
                                   "an increase."),
                               (5, "Topic already has 5 partition(s).")):
                with self.assertRaises(KafkaException) as cm:
                    admin.create_partitions([NewPartitions("grow", count)])["grow"].result(30)
                err = cm.exception.args[0]
                self.assertEqual(err.code(), KafkaError.INVALID_PARTITIONS)
                self.assertEqual(err.str(), msg)
            with self.assertRaises(KafkaException) as cm:
                admin.create_partitions([NewPartitions("nope", 3)])["nope"].result(30)
            self.assertEqual(cm.exception.args[0].code(), KafkaError.UNKNOWN_TOPIC_OR_PART)

    def test_kafka_python_and_restart(self):
        with tempfile.TemporaryDirectory() as data:
            with Sluiced(data_dir=data) as b:
                admin = KafkaAdminClient(bootstrap_servers=f"127.0.0.1:{b.port}")
                admin.create_topics([KpNewTopic("kp-grow", 1, 1)])
                resp = admin.create_partitions({"kp-grow": KpNewPartitions(3)})
                self.assertEqual([r[:2] for r in resp.topic_errors], [("kp-grow", 0)])
                with self.assertRaises(InvalidPartitionsError):
                    admin.create_partitions({"kp-grow": KpNewPartitions(2)})
                cluster = admin.describe_cluster()
                self.assertEqual(cluster["controller_id"], cluster["brokers"][0]["node_id"])
                admin.close()
            with Sluiced(data_dir=data) as b:
                self.assertEqual(partition_count(f"127.0.0.1:{b.port}", "kp-grow"), 3)


class DescribeAndEpochs(unittest.TestCase):
    def test_describe_log_dirs_sizes(self):
        with Sluiced() as b:
            bs = f"127.0.0.1:{b.port}"
            kcat("-b", bs, "-P", "-t", "sized", "-p", "0", input="x" * 1000 + "\n")
            admin = KafkaAdminClient(bootstrap_servers=bs)
            resp = kp_send(admin, DescribeLogDirsRequest_v1(topics=None))
            self.assertEqual(len(resp.results), 1)
            err, log_dir, topics = resp.results[0]
            self.assertEqual(err, 0)
            self.assertEqual(log_dir, os.path.abspath(b.data_dir))
            parts = {p[0]: p[1:] for p in dict(topics)["sized"]}
            size = sum(os.path.getsize(os.path.join(b.data_dir, "topics", "sized-0", f))
                       for f in os.listdir(os.path.join(b.data_dir, "topics", "sized-0"))
                       if f.endswith(".log"))
            self.assertGreater(size, 1000)
            self.assertEqual(parts[0][0], size)
            resp = kp_send(admin, DescribeLogDirsRequest_v1(topics=[("sized", [0, 99]),
                                                                    ("nope", [0])]))
            self.assertEqual(resp.results[0][2], [("sized", [(0, size, 0, False)])])
            admin.close()

    def test_offset_for_leader_epoch(self):
        with Sluiced() as b:
            bs = f"127.0.0.1:{b.port}"
            kcat("-b", bs, "-P", "-t", "epochs", "-p", "0", input="a\nb\nc\n")
            admin = KafkaAdminClient(bootstrap_servers=bs)
            resp = kp_send(admin, OffsetForLeaderEpochRequest_v3(
                replica_id=-1, topics=[("epochs", [(0, 0, 0), (0, -1, 5), (99, -1, 0)]),
                                       ("nope", [(0, -1, 0)])]))
            self.assertEqual(resp.topics, [
                ("epochs", [(0, 0, 0, 3), (0, 0, 0, 3), (3, 99, -1, -1)]),
                ("nope", [(3, 0, -1, -1)])])
            admin.close()
            # librdkafka validates positions with OffsetForLeaderEpoch once Metadata has a
            # leader epoch: consuming still works.
            r = kcat("-b", bs, "-C", "-t", "epochs", "-o", "beginning", "-e", "-f", "%o:%s\n")
            self.assertEqual(r.stdout.splitlines(), ["0:a", "1:b", "2:c"], r.stderr)

    def test_elect_leaders(self):
        with Sluiced() as b:
            bs = f"127.0.0.1:{b.port}"
            ca = AdminClient({"bootstrap.servers": bs})
            ca.create_topics([NewTopic("elect", 2)])["elect"].result(30)
            admin = KafkaAdminClient(bootstrap_servers=bs)
            resp = kp_send(admin, ElectLeadersRequest_v1(
                election_type=0, topic_partitions=[("elect", [0, 5])], timeout_ms=1000))
            self.assertEqual(resp.error_code, 0)
            self.assertEqual(resp.results, [("elect", [
                (0, 84, "Leader election not needed for topic partition."),
                (5, 3, "This server does not host this topic-partition.")])])
            admin.close()

    def test_describe_cluster(self):
        with Sluiced() as b:
            r = flexible_request(b, 60, 0, b"\x00\x00")
            self.assertEqual(r.take(">i"), 0)  # throttle
            self.assertEqual(r.take(">h"), 0)  # error
            self.assertIsNone(r.cstr())
            self.assertTrue(r.cstr())  # cluster id
            controller = r.take(">i")
            brokers = []
            for _ in range(r.uvarint() - 1):
                brokers.append((r.take(">i"), r.cstr(), r.take(">i"), r.cstr()))
                r.tags()
            self.assertEqual(brokers, [(controller, "127.0.0.1", b.port, None)])

    def test_describe_topic_partitions_paging(self):
        with Sluiced() as b:
            bs = f"127.0.0.1:{b.port}"
            ca = AdminClient({"bootstrap.servers": bs})
            for f in ca.create_topics([NewTopic("dtp-a", 3), NewTopic("dtp-b", 2)]).values():
                f.result(30)

            def ask(limit, cursor):
                body = uvarint(1)  # all topics
                body += struct.pack(">i", limit)
                if cursor is None:
                    body += struct.pack(">b", -1)
                else:
                    body += b"\x01" + compact_str(cursor[0]) + struct.pack(">i", cursor[1]) + b"\0"
                body += b"\x00"
                r = flexible_request(b, 75, 0, body)
                r.take(">i")
                topics = []
                for _ in range(r.uvarint() - 1):
                    err = r.take(">h")
                    name = r.cstr()
                    r.i += 16 + 1  # id, is_internal
                    parts = []
                    for _ in range(r.uvarint() - 1):
                        perr, idx, leader, epoch = (r.take(">h"), r.take(">i"), r.take(">i"),
                                                    r.take(">i"))
                        replicas, isr = r.int32s(), r.int32s()
                        r.int32s(), r.int32s(), r.int32s()
                        r.tags()
                        parts.append((perr, idx, leader, epoch, replicas == isr == [leader]))
                    r.take(">i")
                    r.tags()
                    topics.append((err, name, [p[1] for p in parts]))
                    self.assertTrue(all(p[0] == 0 and p[3] == 0 and p[4] for p in parts))
                nxt = None
                if r.take(">b") != -1:
                    nxt = (r.cstr(), r.take(">i"))
                return topics, nxt

            self.assertEqual(ask(2, None), ([(0, "dtp-a", [0, 1])], ("dtp-a", 2)))
            self.assertEqual(ask(2, ("dtp-a", 2)), ([(0, "dtp-a", [2]), (0, "dtp-b", [0])],
                                                    ("dtp-b", 1)))
            self.assertEqual(ask(2, ("dtp-b", 1)), ([(0, "dtp-b", [1])], None))
            self.assertEqual(ask(100, None), ([(0, "dtp-a", [0, 1, 2]), (0, "dtp-b", [0, 1])],
                                              None))


if __name__ == "__main__":
    unittest.main()
