"""kill -9 of sluiced in the middle of transactions, 20 cycles on one data directory: with a
transaction open (produced, not ended) and while EndTxn runs (the commit is sent, then the
broker is killed). A producer process (python3-confluent-kafka) reports each commit that
returned; it is killed with the broker. At the end, read_committed over both partitions must
hold every reported transaction completely, the one whose commit was cut off either completely
or not at all, and nothing of any other transaction: never half of one."""

import os
import signal
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from sluiced_process import Sluiced  # noqa: E402

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition  # noqa: E402

CYCLES = 20
TXNS_PER_CYCLE = 3
RECORDS = 4  # per transaction, alternating over 2 partitions

# The producer process: `port cycle mode`; prints "committed <txn>" after each commit returns,
# "open" once the last transaction's records are acknowledged, and in mode "end" then commits
# it (the parent kills the broker as soon as it reads "open").
CHILD = r"""
import sys
from confluent_kafka import Producer
port, cycle, mode, txns, records = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
p = Producer({"bootstrap.servers": f"127.0.0.1:{port}", "transactional.id": "crash",
              "linger.ms": 1, "message.timeout.ms": 20000})
p.init_transactions(20)
def txn(name):
    p.begin_transaction()
    for i in range(records):
        p.produce("crash", value=f"{name}/{i}", partition=i % 2)
for t in range(txns):
    name = f"{cycle}-{t}"
    txn(name)
    p.commit_transaction(20)
    print("committed", name, flush=True)
name = f"{cycle}-open"
txn(name)
p.flush(20)
print("open", name, flush=True)
if mode == "end":
    p.commit_transaction(20)
    print("committed", name, flush=True)
sys.stdin.read()  # until killed
"""


def read_committed(port):
    c = Consumer({"bootstrap.servers": f"127.0.0.1:{port}", "group.id": "crash-reader",
                  "enable.auto.commit": False, "enable.partition.eof": True,
                  "isolation.level": "read_committed"})
    c.assign([TopicPartition("crash", p, 0) for p in range(2)])
    out, eof = [], set()
    while len(eof) < 2:
        m = c.poll(1.0)
        if m is None:
            continue
        if m.error():
            if m.error().code() == KafkaError._PARTITION_EOF:
                eof.add(m.partition())
                continue
            raise AssertionError(m.error())
        out.append(m.value().decode())
    c.close()
    return out


class TxnCrash(unittest.TestCase):
    def test_kill_during_transactions(self):
        committed, uncertain = [], []
        with tempfile.TemporaryDirectory(prefix="sluiced-txn-crash-") as tmp:
            data = os.path.join(tmp, "data")
            for cycle in range(CYCLES):
                mode = "end" if cycle % 2 else "open"
                with Sluiced("--set", "num.partitions=2",
                             data_dir=data) as s:
                    child = subprocess.Popen(
                        [sys.executable, "-c", CHILD, str(s.port), str(cycle), mode,
                         str(TXNS_PER_CYCLE), str(RECORDS)],
                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
                    open_name = None
                    for line in child.stdout:
                        word, name = line.split()
                        if word == "committed":
                            committed.append(name)
                        else:
                            open_name = name
                            break
                    self.assertIsNotNone(open_name, f"cycle {cycle}: producer failed")
                    s.proc.send_signal(signal.SIGKILL)  # during EndTxn in mode "end"
                    s.proc.wait()
                    child.kill()
                    rest = child.communicate()[0]
                    if f"committed {open_name}" in rest:
                        committed.append(open_name)
                    elif mode == "end":
                        uncertain.append(open_name)
            with Sluiced("--set", "num.partitions=2", data_dir=data) as s:
                # A new instance aborts whatever the last cycle left open.
                p = Producer({"bootstrap.servers": f"127.0.0.1:{s.port}",
                              "transactional.id": "crash"})
                p.init_transactions(30)
                values = read_committed(s.port)
                del p
        by_txn = {}
        for v in values:
            name, i = v.split("/")
            by_txn.setdefault(name, []).append(int(i))
        for name, records in by_txn.items():
            self.assertEqual(sorted(records), list(range(RECORDS)),
                             f"transaction {name} half visible or duplicated")
        for name in committed:
            self.assertIn(name, by_txn, f"acknowledged commit {name} lost")
        for name in by_txn:
            self.assertTrue(name in committed or name in uncertain,
                            f"{name} was never committed but is visible")
        self.assertEqual(len(committed), CYCLES * TXNS_PER_CYCLE + sum(
            1 for n in committed if n.endswith("-open")))
        print(f"{len(committed)} acknowledged commits, {len(uncertain)} cut off in EndTxn "
              f"({sum(1 for n in uncertain if n in by_txn)} of them completed after restart)")


if __name__ == "__main__":
    unittest.main()
