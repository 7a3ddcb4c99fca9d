"""KIP-848 consumer groups (group.protocol=consumer) with a real client: the librdkafka bundled in
@confluentinc/kafka-javascript (npm, pinned in node-kip848/package-lock.json), compiled against Debian's
libraries (CKJS_LINKING=dynamic). The client side is node-kip848/kip848_group.js; this file starts
sluiced, creates the topics, installs the client once per build directory and checks the result.

Skipped (with a message) only when node/npm are missing."""

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from sluiced_process import BIN_DIR, Sluiced  # noqa: E402

from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
NODE_SRC = os.path.join(HERE, "node-kip848")
# build/<preset>/node-kip848: one install per build directory, reused while the lockfile holds.
NODE_DIR = os.path.join(os.path.dirname(os.path.abspath(BIN_DIR)), "node-kip848")


def install_client():
    """npm ci into NODE_DIR unless an install of the same lockfile is there. The package's
    install script builds its bundled librdkafka and the binding against Debian's -dev packages
    (about 2-3 minutes on 2 cores, once)."""
    os.makedirs(NODE_DIR, exist_ok=True)
    with open(os.path.join(NODE_SRC, "package-lock.json"), "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    stamp = os.path.join(NODE_DIR, ".installed")
    addon = os.path.join(NODE_DIR, "node_modules", "@confluentinc", "kafka-javascript", "build",
                         "Release", "confluent-kafka-javascript.node")
    if os.path.exists(addon) and os.path.exists(stamp) and open(stamp).read() == digest:
        return
    for name in ("package.json", "package-lock.json"):
        shutil.copy(os.path.join(NODE_SRC, name), NODE_DIR)
    env = dict(os.environ, CKJS_LINKING="dynamic", npm_config_build_from_source="true",
               npm_config_nodedir="/usr", npm_config_fund="false", npm_config_audit="false")
    r = subprocess.run(["npm", "ci", "--foreground-scripts"], cwd=NODE_DIR, env=env,
                       capture_output=True, text=True, timeout=1800)
    if r.returncode != 0 or not os.path.exists(addon):
        raise RuntimeError("npm ci failed:\n" + r.stdout[-4000:] + r.stderr[-4000:])
    with open(stamp, "w") as f:
        f.write(digest)


@unittest.skipUnless(shutil.which("node") and shutil.which("npm"),
                     "node/npm not installed: KIP-848 client test skipped")
class Kip848(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        install_client()

    def test_join_assign_leave_commit_resume(self):
        with Sluiced() as b:
            bootstrap = f"127.0.0.1:{b.port}"
            admin = AdminClient({"bootstrap.servers": bootstrap})
            futures = admin.create_topics([NewTopic("orders", 6, 1), NewTopic("rx-a", 2, 1),
                                           NewTopic("rx-b", 1, 1), NewTopic("other", 1, 1)])
            for f in futures.values():
                f.result(timeout=30)
            env = dict(os.environ, NODE_PATH=os.path.join(NODE_DIR, "node_modules"),
                       SLUICE_BIN_DIR=BIN_DIR)
            r = subprocess.run(["node", os.path.join(NODE_SRC, "kip848_group.js"), bootstrap,
                                "orders", "6", "rx-", b.http_url("")], env=env,
                               capture_output=True, text=True, timeout=600)
            out = r.stdout.strip().splitlines()
            self.assertEqual(r.returncode, 0, "\n".join(out[-20:]) + r.stderr[-3000:] +
                             "\nbroker log:\n" + b.output()[-3000:])
            result = json.loads(out[-1])
            print("kip848 client result:", json.dumps(result), file=sys.stderr)
            self.assertEqual(sorted(result["shares"]), [2, 2, 2])
            self.assertEqual(result["resumed_from"], 90)
            self.assertEqual(result["regex_owned"], ["rx-a:0", "rx-a:1", "rx-b:0"])
            self.assertEqual(result["regex_consumed"], [1000, 1001, 1002])
            versions = result["versions"]
            self.assertEqual(versions.get("ConsumerGroupHeartbeat"), [1])
            self.assertIn("OffsetCommit", versions)
            self.assertIn("OffsetFetch", versions)

            # The admin API's view of the live KIP-848 group (taken after the first commits,
            # while c1..c3 were members): each member's assignment is what its client owned;
            # 60 messages over 6 partitions, all committed, so no lag.
            view = result["admin_view"]
            self.assertEqual(view["status"], 200)
            g = view["body"]
            self.assertEqual((g["group_id"], g["protocol_type"], g["protocol"], g["state"]),
                             ("kip848-group", "consumer", "uniform", "Stable"))
            members = {m["client_id"]: m for m in g["members"]}
            self.assertEqual(sorted(members), ["c1", "c2", "c3"])
            for name, m in members.items():
                got = sorted(f"{a['topic']}:{p}" for a in m["assignments"] for p in a["partitions"])
                self.assertEqual(got, sorted(view["owned"][name]), name)
            self.assertEqual(sorted((o["topic"], o["partition"], o["committed_offset"], o["lag"])
                                    for o in g["offsets"]),
                             [("orders", p, "10", "0") for p in range(6)])
            self.assertEqual(g["total_lag"], "0")
            # The CLI's view (ConsumerGroupDescribe; DescribeGroups calls the group Dead).
            cli = view["cli"]
            self.assertEqual((cli["group"], cli["state"], cli["assignor"], cli["member_count"]),
                             ("kip848-group", "Stable", "uniform", 3))
            for m in cli["members"]:
                owned = sorted(p.replace("/", ":") for p in m["partitions"])
                self.assertEqual(owned, sorted(view["owned"][m["client_id"]]), m)
            self.assertEqual(sorted((o["partition"], o["committed_offset"], o["lag"])
                                    for o in cli["offsets"]), [(p, 10, 0) for p in range(6)])
            self.assertEqual(cli["total_lag"], 0)
            self.assertTrue(b.alive())

    def test_member_keeps_its_epoch_and_offsets_across_a_restart(self):
        """The consumer group is persisted: after sluiced restarts (same port, same data), the
        members heartbeat on with their epochs, keep their partitions without a rebalance, and
        the committed offsets are exact."""
        with tempfile.TemporaryDirectory(prefix="kip848-restart-") as data:
            first = Sluiced(data_dir=data)
            with first as b:
                port = b.port
                admin = AdminClient({"bootstrap.servers": f"127.0.0.1:{port}"})
                for f in admin.create_topics([NewTopic("persisted", 4, 1)]).values():
                    f.result(timeout=30)
                env = dict(os.environ, NODE_PATH=os.path.join(NODE_DIR, "node_modules"))
                # stderr to a file: an undrained pipe would stall the client.
                client_err = open(os.path.join(data, "client.err"), "w+")
                client = subprocess.Popen(
                    ["node", os.path.join(NODE_SRC, "kip848_restart.js"), f"127.0.0.1:{port}",
                     "persisted", "4"], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                    stderr=client_err, text=True)
                line = client.stdout.readline().strip()
                if line != "READY":  # the client failed (read the rest only then: it ends)
                    client.kill()
                    self.fail(line + client.stdout.read()[-2000:] + "\nbroker log:\n" +
                              b.output()[-3000:])
            # Same port, so the running client reconnects to the restarted broker.
            second = Sluiced(data_dir=data)
            second.args[second.args.index("127.0.0.1:0")] = f"127.0.0.1:{port}"
            with second as b:
                self.assertIn("groups: 1 loaded", b.output())
                client.stdin.write("GO\n")
                client.stdin.flush()
                try:
                    out, _ = client.communicate(timeout=300)
                except subprocess.TimeoutExpired:
                    client.kill()
                    out, _ = client.communicate()
                client_err.seek(0)
                err = client_err.read()
                client_err.close()
                lines = out.strip().splitlines()
                self.assertEqual(client.returncode, 0, "\n".join(lines[-20:]) + err[-3000:] +
                                 "\nbroker log:\n" + b.output()[-3000:])
                result = json.loads(lines[-1])
                print("kip848 restart result:", json.dumps(result), file=sys.stderr)
                self.assertEqual(result["consumed"], 90)
                self.assertTrue(result["same_assignment"], result)
                self.assertEqual(result["rebalances_after_restart"], [])
                # Committed offsets exact: 90 messages over 4 partitions, round robin (read with
                # OffsetFetch by a confluent-kafka consumer that does not join).
                from confluent_kafka import Consumer, TopicPartition
                reader = Consumer({"bootstrap.servers": f"127.0.0.1:{b.port}",
                                   "group.id": "kip848-restart"})
                got = reader.committed([TopicPartition("persisted", p) for p in range(4)],
                                       timeout=30)
                reader.close()
                self.assertEqual([tp.offset for tp in got], [23, 23, 22, 22])
                self.assertTrue(b.alive())

    def test_describe_groups_reports_authorized_operations(self):
        """librdkafka 2.15's admin client asks for the authorized operations (DescribeGroups v3+
        or ConsumerGroupDescribe): a live classic group answers READ, DELETE and DESCRIBE
        (Kafka's AclOperation codes 3, 6, 8; there are no ACLs yet)."""
        from confluent_kafka import Consumer
        with Sluiced() as b:
            bootstrap = f"127.0.0.1:{b.port}"
            admin = AdminClient({"bootstrap.servers": bootstrap})
            for f in admin.create_topics([NewTopic("ops", 2, 1)]).values():
                f.result(timeout=30)
            member = Consumer({"bootstrap.servers": bootstrap, "group.id": "classic-ops",
                               "auto.offset.reset": "earliest", "enable.auto.commit": False})
            member.subscribe(["ops"])
            for _ in range(600):  # until the group is Stable with this member (an event)
                member.poll(0.1)
                if member.assignment():
                    break
            self.assertEqual(len(member.assignment()), 2)
            env = dict(os.environ, NODE_PATH=os.path.join(NODE_DIR, "node_modules"))
            r = subprocess.run(["node", os.path.join(NODE_SRC, "describe_groups.js"), bootstrap,
                                "classic-ops"], env=env, capture_output=True, text=True,
                               timeout=120)
            member.close()
            out = r.stdout.strip().splitlines()
            self.assertEqual(r.returncode, 0, "\n".join(out[-20:]) + r.stderr[-3000:])
            got = json.loads(out[-1])["classic-ops"]
            self.assertEqual(got["error"], None, got)
            self.assertEqual(got["members"], 1, got)
            self.assertEqual(got["authorizedOperations"], [3, 6, 8], got)
            self.assertTrue(b.alive())


if __name__ == "__main__":
    unittest.main()
