"""`sluice group list|describe|seek|delete` and `topic consume -g` against a live sluiced, with a
confluent-kafka consumer as the other group member and as the independent reader of committed
offsets. Table and JSON output parsed; error paths (active group, unknown group)."""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from sluiced_process import Sluiced  # noqa: E402
from test_cli import assert_error_line, parse_table, sections, sluice  # noqa: E402

from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402


def committed(port, group, topic, partitions):
    c = Consumer({"bootstrap.servers": f"127.0.0.1:{port}", "group.id": group,
                  "enable.auto.commit": False})
    try:
        got = c.committed([TopicPartition(topic, p) for p in partitions], timeout=10)
        return {tp.partition: tp.offset for tp in got}
    finally:
        c.close()


def wait_for_assignment(consumer):
    """Polls until the group gave this member partitions (no time assertion: the test's own
    subprocess bounds keep a broken coordinator from hanging forever)."""
    while not consumer.assignment():
        consumer.poll(0.2)


class GroupVerbs(unittest.TestCase):
    def test_consume_describe_seek_delete(self):
        with Sluiced() as b:
            sluice(b.port, "topic", "create", "t", "-p", "2")
            lines = "".join(f"{i}\n" for i in range(10)).encode()
            sluice(b.port, "topic", "produce", "t", "-p", "0", input=lines[:10])  # 0..4
            sluice(b.port, "topic", "produce", "t", "-p", "1", input=lines[10:])  # 5..9

            # A group member through the CLI: 4 records, then it leaves and commits.
            r = sluice(b.port, "topic", "consume", "t", "-g", "g", "-n", "4", "-f", "%p:%o\\n")
            self.assertEqual(len(r.out.split()), 4)
            offs = committed(b.port, "g", "t", [0, 1])
            self.assertEqual(sum(max(o, 0) for o in offs.values()), 4)

            groups = sluice(b.port, "group", "list", "--format", "json").json()
            self.assertIn({"group": "g", "state": "Empty", "simple": False}, groups)
            rows = parse_table(sluice(b.port, "group", "list").out)
            self.assertIn({"GROUP": "g", "STATE": "Empty", "SIMPLE": "false"}, rows)

            d = sluice(b.port, "group", "describe", "g", "--format", "json").json()
            self.assertEqual((d["group"], d["state"], d["member_count"]), ("g", "Empty", 0))
            self.assertEqual(d["members"], [])
            self.assertEqual(d["total_lag"], 6)
            by_part = {row["partition"]: row for row in d["offsets"]}
            for p in (0, 1):
                self.assertEqual(by_part[p]["log_end_offset"], 5)
                self.assertEqual(by_part[p]["lag"], 5 - max(offs[p], 0))
            s = sections(sluice(b.port, "group", "describe", "g").out)
            self.assertIn("TOTAL-LAG", s[""])
            self.assertEqual(len(parse_table(s["OFFSETS"])), len(d["offsets"]))

            # seek: earliest, latest, an offset, checked by an independent client.
            r = sluice(b.port, "group", "seek", "g", "--to-earliest", "--format", "json")
            self.assertEqual(sorted((x["partition"], x["offset"]) for x in r.json()),
                             [(0, 0), (1, 0)])
            self.assertEqual(committed(b.port, "g", "t", [0, 1]), {0: 0, 1: 0})
            r = sluice(b.port, "group", "seek", "g", "--to-latest")
            self.assertEqual(parse_table(r.out),
                             [{"TOPIC": "t", "PARTITION": "0", "OFFSET": "5"},
                              {"TOPIC": "t", "PARTITION": "1", "OFFSET": "5"}])
            self.assertEqual(committed(b.port, "g", "t", [0, 1]), {0: 5, 1: 5})
            sluice(b.port, "group", "seek", "g", "--to-offset", "3")
            self.assertEqual(committed(b.port, "g", "t", [0, 1]), {0: 3, 1: 3})
            # The group resumes where it was moved to.
            r = sluice(b.port, "topic", "consume", "t", "-g", "g", "-e", "-f", "%p:%o\\n")
            self.assertEqual(sorted(r.out.split()), ["0:3", "0:4", "1:3", "1:4"])

            # A running member: describe lists it with its assignment; seek refuses.
            c = Consumer({"bootstrap.servers": f"127.0.0.1:{b.port}", "group.id": "live",
                          "client.id": "member-a"})
            c.subscribe(["t"])
            try:
                wait_for_assignment(c)
                d = sluice(b.port, "group", "describe", "live", "--format", "json").json()
                self.assertEqual(d["state"], "Stable")
                [m] = d["members"]
                self.assertEqual(m["client_id"], "member-a")
                self.assertEqual(sorted(m["partitions"]), ["t/0", "t/1"])
                r = sluice(b.port, "group", "seek", "live", "--topic", "t", "--to-earliest",
                           check=False)
                assert_error_line(self, r, "REBALANCE_IN_PROGRESS")
                self.assertIn("stop its consumers", r.err)
                r = sluice(b.port, "group", "delete", "live", check=False)
                assert_error_line(self, r, "NON_EMPTY_GROUP")
            finally:
                c.close()

            r = sluice(b.port, "group", "delete", "g", "--format", "json")
            self.assertEqual(r.json(), [{"group": "g", "result": "deleted"}])
            sluice(b.port, "group", "seek", "g2", "--topic", "t", "--to-earliest")
            r = sluice(b.port, "group", "delete", "g2")
            self.assertEqual(parse_table(r.out), [{"GROUP": "g2", "RESULT": "deleted"}])
            names = [x["group"] for x in sluice(b.port, "group", "list", "--format", "json").json()]
            self.assertNotIn("g", names)
            r = sluice(b.port, "group", "delete", "never-existed", check=False)
            assert_error_line(self, r, "GROUP_ID_NOT_FOUND")
            r = sluice(b.port, "group", "describe", "g", "--format", "json")
            self.assertEqual(r.json()["state"], "Dead")

    def test_seek_to_time_for_a_new_group(self):
        with Sluiced() as b:
            sluice(b.port, "topic", "create", "tt", "-p", "1")
            p = Producer({"bootstrap.servers": f"127.0.0.1:{b.port}"})
            for ts in (1_000_000, 2_000_000, 3_000_000):
                p.produce("tt", value=b"x", timestamp=ts)
            self.assertEqual(p.flush(30), 0)
            r = sluice(b.port, "group", "seek", "fresh", "--to-time", "2", check=False)
            self.assertEqual(r.code, 1)
            self.assertIn("--topic", r.err)  # no offsets yet: topics must be named
            sluice(b.port, "group", "seek", "fresh", "--topic", "tt", "--to-time", "2000000")
            self.assertEqual(committed(b.port, "fresh", "tt", [0]), {0: 1})
            sluice(b.port, "group", "seek", "fresh", "--to-time", "9000000")
            self.assertEqual(committed(b.port, "fresh", "tt", [0]), {0: 3})


if __name__ == "__main__":
    unittest.main(verbosity=2)
