"""Topics through real clients: Metadata (kcat, kafka-python, confluent-kafka), auto-creation,
CreateTopics with configs and Kafka's validation errors, and topics surviving a restart."""

import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from sluiced_process import Sluiced  # noqa: E402

from confluent_kafka.admin import AdminClient, NewTopic as CkNewTopic  # noqa: E402
from kafka.admin import KafkaAdminClient, NewTopic  # noqa: E402
from kafka.errors import InvalidReplicationFactorError, InvalidTopicError, TopicAlreadyExistsError  # noqa: E402


def kcat(*args, timeout=30):
    return subprocess.run(["kcat", *args], capture_output=True, text=True, timeout=timeout)


class Metadata(unittest.TestCase):
    def test_kcat_lists_broker_and_auto_creates(self):
        with Sluiced() as b:
            r = kcat("-b", f"127.0.0.1:{b.port}", "-L", "-J")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn(f'"name":"127.0.0.1:{b.port}"', r.stdout)
            r = kcat("-b", f"127.0.0.1:{b.port}", "-L", "-t", "auto-created")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn('topic "auto-created" with 1 partitions', r.stdout)
            self.assertIn("partition 0, leader 0, replicas: 0, isrs: 0", r.stdout)

    def test_auto_create_disabled(self):
        with Sluiced("--set", "auto.create.topics.enable=false") as b:
            r = kcat("-b", f"127.0.0.1:{b.port}", "-L", "-t", "nope")
            self.assertIn("Broker: Unknown topic or partition", r.stdout + r.stderr)

    def test_num_partitions_for_auto_created(self):
        with Sluiced("--set", "num.partitions=4") as b:
            r = kcat("-b", f"127.0.0.1:{b.port}", "-L", "-t", "four")
            self.assertIn('topic "four" with 4 partitions', r.stdout, r.stderr)


class CreateTopics(unittest.TestCase):
    def test_kafka_python_admin(self):
        with Sluiced() as b:
            a = KafkaAdminClient(bootstrap_servers=f"127.0.0.1:{b.port}", request_timeout_ms=10000)
            a.create_topics([NewTopic("orders", 3, 1, topic_configs={"retention.ms": "60000"})])
            self.assertIn("orders", a.list_topics())
            with self.assertRaises(TopicAlreadyExistsError):
                a.create_topics([NewTopic("orders", 3, 1)])
            with self.assertRaises(InvalidTopicError):
                a.create_topics([NewTopic("bad/name", 1, 1)])
            with self.assertRaises(InvalidReplicationFactorError):
                a.create_topics([NewTopic("rf3", 1, 3)])
            a.close()

    def test_confluent_admin_with_configs_and_validation(self):
        with Sluiced() as b:
            admin = AdminClient({"bootstrap.servers": f"127.0.0.1:{b.port}"})
            futures = admin.create_topics([
                CkNewTopic("events", num_partitions=6, replication_factor=1,
                           config={"cleanup.policy": "compact", "segment.bytes": "1048576"}),
                CkNewTopic("badconfig", num_partitions=1, replication_factor=1,
                           config={"cleanup.policy": "sometimes"}),
                CkNewTopic("x" * 250, num_partitions=1, replication_factor=1),
                CkNewTopic("zero", num_partitions=0, replication_factor=1),
            ], request_timeout=10)
            futures["events"].result(timeout=10)
            errors = {}
            for name in ("badconfig", "x" * 250, "zero"):
                with self.assertRaises(Exception) as ctx:
                    futures[name].result(timeout=10)
                errors[name] = ctx.exception.args[0]
            self.assertEqual(errors["badconfig"].name(), "INVALID_CONFIG")
            self.assertIn("cleanup.policy", errors["badconfig"].str())
            self.assertEqual(errors["x" * 250].code(), 17)  # INVALID_TOPIC_EXCEPTION
            self.assertEqual(errors["zero"].name(), "INVALID_PARTITIONS")
            # validate_only creates nothing.
            f = admin.create_topics([CkNewTopic("dry", 1, 1)], validate_only=True, request_timeout=10)
            f["dry"].result(timeout=10)
            md = admin.list_topics(timeout=10)
            self.assertIn("events", md.topics)
            self.assertEqual(len(md.topics["events"].partitions), 6)
            self.assertNotIn("dry", md.topics)


class Restart(unittest.TestCase):
    def test_topics_survive_restart(self):
        with tempfile.TemporaryDirectory() as data:
            with Sluiced(data_dir=data) as b:
                a = KafkaAdminClient(bootstrap_servers=f"127.0.0.1:{b.port}",
                                     request_timeout_ms=10000)
                a.create_topics([NewTopic("durable", 5, 1)])
                a.close()
                before = AdminClient({"bootstrap.servers": f"127.0.0.1:{b.port}"}).list_topics(
                    timeout=10).cluster_id
            with Sluiced(data_dir=data) as b:
                r = kcat("-b", f"127.0.0.1:{b.port}", "-L", "-t", "durable")
                self.assertIn('topic "durable" with 5 partitions', r.stdout, r.stderr)
                after = AdminClient({"bootstrap.servers": f"127.0.0.1:{b.port}"}).list_topics(
                    timeout=10).cluster_id
            self.assertEqual(before, after)
            self.assertEqual(len(before), 22)


if __name__ == "__main__":
    unittest.main(verbosity=2)
