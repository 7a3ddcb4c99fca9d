"""KIP-848 consumer groups (group.protocol=consumer) with a real client: the librdkafka bundled in
@confluentinc/kafka-javascript (npm, pinned in node-kip848/package-lock.json), compiled against Debian's
libraries (CKJS_LINKING=dynamic). The client side is node-kip848/kip848_group.js; this file starts
sluiced, creates the topics, installs the client once per build directory and checks the result.

Skipped (with a message) only when node/npm are missing."""

import hashlib
import json
import os
import shutil
import subprocess
import sys
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
            env = dict(os.environ, NODE_PATH=os.path.join(NODE_DIR, "node_modules"))
            r = subprocess.run(["node", os.path.join(NODE_SRC, "kip848_group.js"), bootstrap,
                                "orders", "6", "rx-"], env=env, capture_output=True, text=True,
                               timeout=600)
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
            self.assertTrue(b.alive())


if __name__ == "__main__":
    unittest.main()
