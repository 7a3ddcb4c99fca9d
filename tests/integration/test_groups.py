"""Consumer groups with real clients: confluent-kafka (librdkafka) group consumers with manual
commits, a member killed with SIGKILL, resume from committed offsets, committed offsets across a
broker restart, list_groups (ListGroups + DescribeGroups); kafka-python group consumer with manual
commits and its admin client (describe, list, delete groups, list offsets); kcat -G."""

import os
import signal
import subprocess
import sys
import textwrap
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from sluiced_process import Sluiced  # noqa: E402

from confluent_kafka import (Consumer, KafkaError, KafkaException, Producer,  # noqa: E402
                             TopicPartition)
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

# Short delays keep the tests quick; Kafka's defaults are used otherwise.
FAST = ("--set", "group.initial.rebalance.delay.ms=200", "--set",
        "group.min.session.timeout.ms=1000")


def create_topic(port, name, partitions):
    admin = AdminClient({"bootstrap.servers": f"127.0.0.1:{port}"})
    futures = admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])
    futures[name].result(30)


def produce(port, topic, n, partitions):
    p = Producer({"bootstrap.servers": f"127.0.0.1:{port}", "linger.ms": 5})
    for i in range(n):
        p.produce(topic, value=f"m{i}".encode(), partition=i % partitions)
    assert p.flush(60) == 0


def kafka_admin(port):
    from kafka.admin import KafkaAdminClient
    return KafkaAdminClient(bootstrap_servers=f"127.0.0.1:{port}")


def consumer(port, group, **conf):
    return Consumer({"bootstrap.servers": f"127.0.0.1:{port}", "group.id": group,
                     "auto.offset.reset": "earliest", "enable.auto.commit": False,
                     "session.timeout.ms": 6000, "heartbeat.interval.ms": 300, **conf})


def drain(consumers, want, seen, timeout=120, on_progress=None):
    """Polls the consumers round-robin, committing each message synchronously, until `seen`
    holds `want` distinct (partition, offset) pairs. Returns the duplicates."""
    dups = []
    deadline = time.monotonic() + timeout
    while len(seen) < want and time.monotonic() < deadline:
        for c in list(consumers):
            m = c.poll(0.1)
            if m is None:
                continue
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    continue
                raise KafkaException(m.error())
            key = (m.partition(), m.offset())
            if key in seen:
                dups.append(key)
            seen.add(key)
            c.commit(message=m, asynchronous=False)
            if on_progress:
                on_progress(len(seen))
    return dups


class ConfluentGroups(unittest.TestCase):
    def test_three_members_join_leave_and_every_message_once(self):
        with Sluiced(*FAST) as b:
            create_topic(b.port, "g3", 6)
            produce(b.port, "g3", 600, 6)
            cs = [consumer(b.port, "grp3") for _ in range(3)]
            for c in cs:
                c.subscribe(["g3"])
            seen = set()
            left = []

            def progress(n):
                if n >= 200 and not left:
                    left.append(cs.pop(1))
                    left[0].close()  # LeaveGroup: the others take its partitions over

            dups = drain(cs, 600, seen, on_progress=progress)
            self.assertEqual(len(seen), 600)
            self.assertEqual(dups, [])
            # Committed offsets are the ends of every partition.
            committed = cs[0].committed([TopicPartition("g3", p) for p in range(6)], timeout=10)
            self.assertEqual([tp.offset for tp in committed], [100] * 6)

            # ListGroups + DescribeGroups through librdkafka (confluent-kafka's list_groups).
            admin = AdminClient({"bootstrap.servers": f"127.0.0.1:{b.port}"})
            [g] = admin.list_groups("grp3", timeout=30)
            self.assertEqual((g.state, g.protocol_type, g.protocol), ("Stable", "consumer", "range"))
            self.assertEqual(len(g.members), 2)
            self.assertTrue(all(m.client_host == "/127.0.0.1" for m in g.members))
            # The same through kafka-python's admin client, then DeleteGroups.
            ka = kafka_admin(b.port)
            [info] = ka.describe_consumer_groups(["grp3"])
            self.assertEqual(info.state, "Stable")
            assigned = sorted(p for m in info.members
                              for _, parts in m.member_assignment.assignment for p in parts)
            self.assertEqual(assigned, list(range(6)))
            self.assertIn(("grp3", "consumer"), ka.list_consumer_groups())
            self.assertEqual(ka.delete_consumer_groups(["grp3"])[0][1].errno, 68)  # NON_EMPTY_GROUP
            for c in cs:
                c.close()
            self.assertEqual(ka.delete_consumer_groups(["grp3"])[0][1].errno, 0)
            self.assertNotIn("grp3", [g for g, _ in ka.list_consumer_groups()])
            self.assertEqual(ka.delete_consumer_groups(["grp3"])[0][1].errno, 69)  # not found
            ka.close()

    def test_killed_member_expires_and_its_partitions_move(self):
        with Sluiced(*FAST) as b:
            create_topic(b.port, "gk", 4)
            produce(b.port, "gk", 400, 4)
            # A member in another process that joins, gets partitions, then dies without leaving.
            script = textwrap.dedent(f"""
                import sys
                from confluent_kafka import Consumer
                c = Consumer({{"bootstrap.servers": "127.0.0.1:{b.port}", "group.id": "grpk",
                              "enable.auto.commit": False, "auto.offset.reset": "earliest",
                              "session.timeout.ms": 2000, "heartbeat.interval.ms": 200}})
                c.subscribe(["gk"])
                while not c.assignment():
                    c.poll(0.1)
                print("assigned", len(c.assignment()), flush=True)
                while True:
                    c.poll(0.1)
            """)
            victim = subprocess.Popen(["/usr/bin/python3", "-c", script], stdout=subprocess.PIPE,
                                      text=True)
            survivor = consumer(b.port, "grpk")
            survivor.subscribe(["gk"])
            line = victim.stdout.readline()
            self.assertTrue(line.startswith("assigned"), line)
            # Wait until both share the partitions, then kill the other one.
            deadline = time.monotonic() + 60
            while len(survivor.assignment()) != 2 and time.monotonic() < deadline:
                survivor.poll(0.1)
            self.assertEqual(len(survivor.assignment()), 2)
            victim.send_signal(signal.SIGKILL)
            victim.wait()
            seen = set()
            self.assertEqual(drain([survivor], 400, seen), [])
            self.assertEqual(len(seen), 400)
            self.assertEqual(len(survivor.assignment()), 4)
            survivor.close()

    def test_resume_from_committed_offsets(self):
        with Sluiced(*FAST) as b:
            create_topic(b.port, "gr", 1)
            produce(b.port, "gr", 100, 1)
            c = consumer(b.port, "grpr")
            c.subscribe(["gr"])
            got = []
            while len(got) < 40:
                m = c.poll(1)
                if m is not None and not m.error():
                    got.append(m.offset())
            c.commit(offsets=[TopicPartition("gr", 0, 40)], asynchronous=False)
            c.close()
            c = consumer(b.port, "grpr")
            c.subscribe(["gr"])
            m = None
            while m is None or m.error():
                m = c.poll(1)
            self.assertEqual(m.offset(), 40)
            tp = c.committed([TopicPartition("gr", 0)], timeout=10)[0]
            self.assertEqual(tp.offset, 40)
            c.close()

    def test_committed_offsets_survive_a_restart(self):
        from kafka import KafkaConsumer, TopicPartition as KTP
        from kafka.structs import OffsetAndMetadata
        with Sluiced(*FAST) as b:
            data = b.data_dir
            create_topic(b.port, "gs", 3)
            # A group that consumed (a generation, members, an assignment) ...
            produce(b.port, "gs", 30, 3)
            c = consumer(b.port, "grps")
            c.subscribe(["gs"])
            seen = set()
            drain([c], 30, seen)
            c.close()
            # ... and a simple group (no membership; generation -1) with metadata strings.
            kc = KafkaConsumer(bootstrap_servers=f"127.0.0.1:{b.port}", group_id="grps-meta",
                               enable_auto_commit=False)
            kc.commit({KTP("gs", p): OffsetAndMetadata(p + 7, f"meta-{p}") for p in range(3)})
            kc.close()
            # Stop this broker, start one on the same data.
            b.proc.send_signal(signal.SIGTERM)
            b.proc.wait(30)
            with Sluiced(*FAST, data_dir=data) as b2:
                c = consumer(b2.port, "grps")
                got = c.committed([TopicPartition("gs", p) for p in range(3)], timeout=10)
                self.assertEqual([tp.offset for tp in got], [10, 10, 10])
                c.close()
                ka = kafka_admin(b2.port)
                self.assertIn("grps", [g for g, _ in ka.list_consumer_groups()])
                offs = ka.list_consumer_group_offsets("grps-meta")
                self.assertEqual(sorted((tp.partition, o.offset, o.metadata)
                                        for tp, o in offs.items()),
                                 [(0, 7, "meta-0"), (1, 8, "meta-1"), (2, 9, "meta-2")])
                ka.close()


class KafkaPythonGroups(unittest.TestCase):
    def test_group_consumer_with_manual_commit_and_resume(self):
        from kafka import KafkaConsumer, TopicPartition as KTP
        from kafka.structs import OffsetAndMetadata
        with Sluiced(*FAST) as b:
            create_topic(b.port, "kp", 2)
            produce(b.port, "kp", 100, 2)
            conf = dict(bootstrap_servers=f"127.0.0.1:{b.port}", group_id="kpg",
                        auto_offset_reset="earliest", enable_auto_commit=False,
                        session_timeout_ms=6000, heartbeat_interval_ms=500)
            c = KafkaConsumer("kp", **conf)
            got = []
            deadline = time.monotonic() + 60
            while len(got) < 100 and time.monotonic() < deadline:
                for tp, msgs in c.poll(timeout_ms=500).items():
                    got.extend((tp.partition, m.offset) for m in msgs)
            self.assertEqual(len(got), 100)
            self.assertEqual(len(set(got)), 100)
            c.commit({KTP("kp", 0): OffsetAndMetadata(30, "k0"),
                      KTP("kp", 1): OffsetAndMetadata(20, "k1")})
            c.close()
            c = KafkaConsumer("kp", **conf)
            got = []
            deadline = time.monotonic() + 60
            while len(got) < 50 and time.monotonic() < deadline:
                for tp, msgs in c.poll(timeout_ms=500).items():
                    got.extend((tp.partition, m.offset) for m in msgs)
            self.assertEqual(sorted(got), sorted([(0, o) for o in range(30, 50)] +
                                                 [(1, o) for o in range(20, 50)]))
            self.assertEqual(c.committed(KTP("kp", 0)), 30)
            c.close()


class KcatGroups(unittest.TestCase):
    def test_balanced_consumer(self):
        with Sluiced(*FAST) as b:
            create_topic(b.port, "kc", 3)
            produce(b.port, "kc", 90, 3)
            bs = f"127.0.0.1:{b.port}"
            r = subprocess.run(["kcat", "-b", bs, "-G", "kcg", "-e", "-f", "%p:%o\n",
                                "-X", "auto.offset.reset=earliest", "kc"],
                               capture_output=True, text=True, timeout=60)
            got = r.stdout.splitlines()
            self.assertEqual(len(got), 90, r.stderr)
            self.assertEqual(len(set(got)), 90)
            # kcat auto-commits; closing the consumer commits the final positions.
            ka = kafka_admin(b.port)
            offs = ka.list_consumer_group_offsets("kcg")
            self.assertEqual(sorted((tp.partition, o.offset) for tp, o in offs.items()),
                             [(0, 30), (1, 30), (2, 30)])
            ka.close()


if __name__ == "__main__":
    unittest.main()
