"""The `sluice` admin CLI against a live sluiced: every topic verb, offsets, cluster info and
configs, help and bash completion; table, JSON and YAML output parsed; the error paths (a Kafka
error name on one stderr line and exit status 1; an unreachable broker fails instead of retrying
forever). What the CLI produces is read back with confluent-kafka, an independent client, and what
confluent-kafka produces is read with the CLI."""

import json
import os
import pty
import select
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from sluiced_process import BIN_DIR, Sluiced  # noqa: E402

import yaml  # noqa: E402
from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, ConfigResource  # noqa: E402

SLUICE = os.path.join(BIN_DIR, "sluice")


class Result:
    def __init__(self, proc):
        self.code = proc.returncode
        self.out = proc.stdout.decode(errors="replace")
        self.err = proc.stderr.decode(errors="replace")

    def json(self):
        return json.loads(self.out)


def sluice(port, *args, input=None, check=True, timeout="10s"):
    cmd = [SLUICE, "--brokers", f"127.0.0.1:{port}", "--timeout", timeout, *args]
    # The subprocess bound only stops a hung CLI from hanging the suite.
    proc = subprocess.run(cmd, input=input, capture_output=True, timeout=120)
    r = Result(proc)
    if check and r.code != 0:
        raise AssertionError(f"{cmd} exited {r.code}: {r.err}")
    return r


def parse_table(text):
    """Rows of an aligned table as dicts keyed by header (columns split at the header's offsets)."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    header = lines[0]
    starts = [i for i, c in enumerate(header) if c != " " and (i == 0 or header[i - 1] == " ")]
    names = header.split()
    rows = []
    for ln in lines[1:]:
        cells = [ln[s:e].strip() for s, e in zip(starts, starts[1:] + [None])]
        rows.append(dict(zip(names, cells)))
    return rows


def sections(text):
    """A table-format report: {'': field lines, 'NAME': table text} split at blank lines."""
    out = {}
    for block in text.strip().split("\n\n"):
        lines = block.splitlines()
        if lines[0].isupper() and " " not in lines[0].strip() and len(lines) > 1 and \
                len(lines[1].split()) > 1 and lines[1].split()[0].isupper():
            out[lines[0]] = "\n".join(lines[1:])
        else:
            out[""] = block
    return out


def read_pty(master):
    """Everything written to a pty's slave side until it closes."""
    out = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    return out


def assert_error_line(test, r, name):
    test.assertEqual(r.code, 1, r.err)
    lines = r.err.strip().splitlines()
    test.assertEqual(len(lines), 1, r.err)
    test.assertTrue(lines[0].startswith(f"error: {name}: "), lines[0])


class TopicVerbs(unittest.TestCase):
    def test_create_list_describe_delete(self):
        with Sluiced() as b:
            r = sluice(b.port, "topic", "create", "orders", "-p", "3", "-c", "retention.ms=3600000")
            self.assertEqual(parse_table(r.out), [{"TOPIC": "orders", "RESULT": "created"}])
            r = sluice(b.port, "topic", "create", "audit", "logs", "--format", "json")
            self.assertEqual(r.json(), [{"topic": "audit", "result": "created"},
                                        {"topic": "logs", "result": "created"}])

            listed = sluice(b.port, "topic", "list", "--format", "json").json()
            self.assertEqual([t["name"] for t in listed], ["audit", "logs", "orders"])
            self.assertEqual(listed[2], {"name": "orders", "partitions": 3, "replicas": 1})
            rows = parse_table(sluice(b.port, "topic", "list").out)
            self.assertEqual(rows[2], {"NAME": "orders", "PARTITIONS": "3", "REPLICAS": "1"})
            doc = yaml.safe_load(sluice(b.port, "topic", "list", "--format", "yaml").out)
            self.assertEqual(doc, listed)

            d = sluice(b.port, "topic", "describe", "orders", "--format", "json").json()
            self.assertEqual(d["name"], "orders")
            self.assertEqual((d["partition_count"], d["replication_factor"]), (3, 1))
            self.assertEqual(d["size_bytes"], 0)  # nothing produced yet
            self.assertEqual([p["size_bytes"] for p in d["partitions"]], [0, 0, 0])
            self.assertEqual([p["partition"] for p in d["partitions"]], [0, 1, 2])
            configs = {c["name"]: c for c in d["configs"]}
            self.assertEqual(configs["retention.ms"],
                             {"name": "retention.ms", "value": "3600000",
                              "source": "DYNAMIC_TOPIC_CONFIG"})
            self.assertNotIn("segment.bytes", configs)  # defaults only with --all-configs
            d_all = sluice(b.port, "topic", "describe", "orders", "-a", "--format", "json").json()
            self.assertIn("segment.bytes", {c["name"] for c in d_all["configs"]})

            r = sluice(b.port, "topic", "delete", "audit")
            self.assertEqual(parse_table(r.out), [{"TOPIC": "audit", "RESULT": "deleted"}])
            r = sluice(b.port, "topic", "delete", "logs", "--format", "json")
            self.assertEqual(r.json(), [{"topic": "logs", "result": "deleted"}])
            listed = sluice(b.port, "topic", "list", "--format", "json").json()
            self.assertEqual([t["name"] for t in listed], ["orders"])

    def test_describe_partitions_offsets_and_table(self):
        with Sluiced() as b:
            sluice(b.port, "topic", "create", "t", "-p", "2")
            lines = "".join(f"k{i}:v{i}\n" for i in range(10)).encode()
            sluice(b.port, "topic", "produce", "t", "-p", "1", "-k", ":", input=lines)
            doc = sluice(b.port, "topic", "describe", "t", "--format", "json").json()
            # Sizes (DescribeLogDirs) agree with the admin HTTP API's (read on the shards).
            with urllib.request.urlopen(b.http_url("/v1/topics/t"), timeout=30) as resp:
                http_parts = {p["partition"]: int(p["size_bytes"])
                              for p in json.loads(resp.read())["partitions"]}
            self.assertGreater(http_parts[1], 10 * 6)
            self.assertEqual(doc["size_bytes"], http_parts[1])
            self.assertEqual(doc["partitions"], [
                {"partition": 0, "leader": 0, "replicas": [0], "isr": [0], "log_start_offset": 0,
                 "high_watermark": 0, "messages": 0, "size_bytes": 0},
                {"partition": 1, "leader": 0, "replicas": [0], "isr": [0], "log_start_offset": 0,
                 "high_watermark": 10, "messages": 10, "size_bytes": http_parts[1]}])
            text = sluice(b.port, "topic", "describe", "t").out
            s = sections(text)
            fields = dict(ln.split(None, 1) for ln in s[""].splitlines())
            self.assertEqual(fields["NAME"], "t")
            self.assertEqual(fields["PARTITION-COUNT"], "2")
            self.assertEqual(fields["SIZE-BYTES"], str(http_parts[1]))
            rows = parse_table(s["PARTITIONS"])
            self.assertEqual(rows[1]["HIGH-WATERMARK"], "10")
            self.assertEqual(rows[1]["REPLICAS"], "0")

            offs = sluice(b.port, "offsets", "t", "--format", "json").json()
            self.assertEqual(offs, [
                {"partition": 0, "log_start_offset": 0, "high_watermark": 0, "messages": 0},
                {"partition": 1, "log_start_offset": 0, "high_watermark": 10, "messages": 10}])
            rows = parse_table(sluice(b.port, "offsets", "t").out)
            self.assertEqual(rows[1], {"PARTITION": "1", "LOG-START-OFFSET": "0",
                                       "HIGH-WATERMARK": "10", "MESSAGES": "10"})

    def test_alter_config_and_add_partitions(self):
        with Sluiced() as b:
            sluice(b.port, "topic", "create", "t", "-p", "1", "-c", "cleanup.policy=compact")
            r = sluice(b.port, "topic", "alter-config", "t", "--set", "retention.ms=1000",
                       "--format", "json")
            self.assertEqual({c["name"]: c["value"] for c in r.json()},
                             {"cleanup.policy": "compact", "retention.ms": "1000"})
            # An independent client sees the change; the earlier override was kept.
            a = AdminClient({"bootstrap.servers": f"127.0.0.1:{b.port}"})
            res = ConfigResource("topic", "t")
            cfg = a.describe_configs([res])[res].result(10)
            self.assertEqual(cfg["retention.ms"].value, "1000")
            self.assertEqual(cfg["cleanup.policy"].value, "compact")
            r = sluice(b.port, "topic", "alter-config", "t", "--delete", "cleanup.policy")
            self.assertEqual({row["NAME"]: row["VALUE"] for row in parse_table(r.out)},
                             {"retention.ms": "1000"})
            cfg = a.describe_configs([res])[res].result(10)
            self.assertEqual(cfg["cleanup.policy"].value, "delete")

            r = sluice(b.port, "topic", "alter-config", "t", "--set", "retention.ms=oops",
                       check=False)
            assert_error_line(self, r, "INVALID_CONFIG")
            r = sluice(b.port, "topic", "alter-config", "t", "--delete", "no.such", check=False)
            assert_error_line(self, r, "INVALID_CONFIG")

            r = sluice(b.port, "topic", "add-partitions", "t", "-n", "2", "--format", "json")
            self.assertEqual(r.json(), {"topic": "t", "partitions_before": 1, "partitions": 3})
            r = sluice(b.port, "topic", "add-partitions", "t", "--total", "5")
            fields = dict(ln.split(None, 1) for ln in r.out.splitlines())
            self.assertEqual(fields, {"TOPIC": "t", "PARTITIONS-BEFORE": "3", "PARTITIONS": "5"})
            md = a.list_topics("t", timeout=10)
            self.assertEqual(len(md.topics["t"].partitions), 5)
            r = sluice(b.port, "topic", "add-partitions", "t", "--total", "2", check=False)
            assert_error_line(self, r, "INVALID_PARTITIONS")

    def test_create_errors(self):
        with Sluiced() as b:
            sluice(b.port, "topic", "create", "dup")
            r = sluice(b.port, "topic", "create", "dup", check=False)
            assert_error_line(self, r, "TOPIC_ALREADY_EXISTS")
            self.assertIn("dup", r.out)  # the per-topic result table is still printed
            r = sluice(b.port, "topic", "create", "bad", "-c", "cleanup.policy=nonsense",
                       check=False)
            assert_error_line(self, r, "INVALID_CONFIG")
            r = sluice(b.port, "topic", "delete", "missing", check=False)
            assert_error_line(self, r, "UNKNOWN_TOPIC_OR_PARTITION")


class ProduceConsume(unittest.TestCase):
    def test_produce_keys_headers_read_by_confluent_kafka(self):
        with Sluiced() as b:
            sluice(b.port, "topic", "create", "t", "-p", "1")
            data = b"a:1\nb:2\nno-key-line\nc:x:y\n"
            r = sluice(b.port, "topic", "produce", "t", "-k", ":", "-H", "src=cli", "-H", "n=1",
                       "--format", "json", input=data)
            self.assertEqual(r.json(), {"topic": "t", "records": 4})
            self.assertEqual(r.err, "")  # not a terminal: no progress
            c = Consumer({"bootstrap.servers": f"127.0.0.1:{b.port}", "group.id": "x",
                          "enable.auto.commit": False})
            c.assign([TopicPartition("t", 0, 0)])
            got = []
            while len(got) < 4:
                m = c.consume(1, 10)
                if m and not m[0].error():
                    got.append((m[0].key(), m[0].value(), m[0].headers()))
            c.close()
            hs = [("src", b"cli"), ("n", b"1")]
            self.assertEqual(got, [(b"a", b"1", hs), (b"b", b"2", hs), (None, b"no-key-line", hs),
                                   (b"c", b"x:y", hs)])

    def test_produce_file_and_consume_formats(self):
        with Sluiced() as b:
            sluice(b.port, "topic", "create", "t", "-p", "2")
            with tempfile.NamedTemporaryFile("w", suffix=".txt") as f:
                f.write("".join(f"key{i}\tvalue {i}\n" for i in range(100)))
                f.flush()
                r = sluice(b.port, "topic", "produce", "t", "-f", f.name, "-k", "\t", "-z", "zstd")
            self.assertEqual(dict(ln.split(None, 1) for ln in r.out.splitlines()),
                             {"TOPIC": "t", "RECORDS": "100"})

            r = sluice(b.port, "topic", "consume", "t", "-e", "--format", "json")
            recs = [json.loads(ln) for ln in r.out.splitlines()]
            self.assertEqual(len(recs), 100)
            self.assertEqual(sorted(int(x["key"][3:]) for x in recs), list(range(100)))
            for x in recs:
                self.assertEqual(x["value"], "value " + x["key"][3:])
                self.assertEqual(x["topic"], "t")
                self.assertEqual(x["headers"], {})
                self.assertGreater(x["timestamp"], 0)
            by_part = {p: sorted(x["offset"] for x in recs if x["partition"] == p) for p in (0, 1)}
            for p, offs in by_part.items():
                self.assertEqual(offs, list(range(len(offs))))

            r = sluice(b.port, "topic", "consume", "t", "-e", "-p", "1",
                       "-f", "%t|%p|%o|%k|%v|%K|%S\\n")
            lines = r.out.splitlines()
            self.assertEqual(len(lines), len(by_part[1]))
            t, p, o, k, v, klen, vlen = lines[0].split("|")
            self.assertEqual((t, p, o), ("t", "1", "0"))
            self.assertEqual(v, "value " + k[3:])
            self.assertEqual((int(klen), int(vlen)), (len(k), len(v)))

            # -n stops after N even though the topic has more (and it would follow otherwise).
            r = sluice(b.port, "topic", "consume", "t", "-n", "7", "-f", "%v\\n")
            self.assertEqual(len(r.out.splitlines()), 7)
            # -o -2: the last two of each partition; -o N: from offset N.
            r = sluice(b.port, "topic", "consume", "t", "-e", "-o", "-2", "-f", "%p:%o\\n")
            self.assertEqual(sorted(r.out.split()), sorted(
                [f"{p}:{o}" for p in (0, 1) for o in by_part[p][-2:]]))
            r = sluice(b.port, "topic", "consume", "t", "-e", "-p", "0", "-o", "3", "-f", "%o\\n")
            self.assertEqual(r.out.split(), [str(o) for o in by_part[0][3:]])
            r = sluice(b.port, "topic", "consume", "t", "-e", "-o", "end")
            self.assertEqual(r.out, "")

    def test_consume_follows_by_default(self):
        with Sluiced() as b:
            sluice(b.port, "topic", "create", "t", "-p", "1")
            sluice(b.port, "topic", "produce", "t", input=b"one\ntwo\n")
            proc = subprocess.Popen([SLUICE, "--brokers", f"127.0.0.1:{b.port}", "topic",
                                     "consume", "t", "-f", "%v\n"], stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE)
            try:
                buf = b""

                def read_until(n):
                    """The first n lines on stdout (fewer if it ends or 60 s pass)."""
                    nonlocal buf
                    deadline = time.monotonic() + 60
                    fd = proc.stdout.fileno()
                    while buf.count(b"\n") < n and time.monotonic() < deadline:
                        ready, _, _ = select.select([fd], [], [], 1)
                        if ready:
                            chunk = os.read(fd, 4096)
                            if not chunk:
                                break
                            buf += chunk
                    return buf.decode().splitlines()[:n]

                self.assertEqual(read_until(2), ["one", "two"])
                # At the end it keeps waiting; a record produced now shows up.
                self.assertIsNone(proc.poll())
                sluice(b.port, "topic", "produce", "t", input=b"three\n")
                self.assertEqual(read_until(3), ["one", "two", "three"])
                self.assertIsNone(proc.poll())
            finally:
                proc.terminate()
                proc.wait(30)
                proc.stdout.close()
                proc.stderr.close()

    def test_consume_from_time_and_headers(self):
        with Sluiced() as b:
            sluice(b.port, "topic", "create", "t", "-p", "1")
            p = Producer({"bootstrap.servers": f"127.0.0.1:{b.port}"})
            for i, ts in enumerate([1_000_000, 2_000_000, 3_000_000]):
                p.produce("t", key=f"k{i}", value=f"v{i}", timestamp=ts, headers=[("h", b"x")])
            self.assertEqual(p.flush(30), 0)
            r = sluice(b.port, "topic", "consume", "t", "-e", "-t", "2000000", "-f", "%v %T %h\\n")
            self.assertEqual(r.out.splitlines(), ["v1 2000000 h=x", "v2 3000000 h=x"])
            r = sluice(b.port, "topic", "consume", "t", "-e", "-t", "1970-01-01T00:50:00Z",
                       "-f", "%v\\n")  # 3,000,000 ms
            self.assertEqual(r.out.split(), ["v2"])
            r = sluice(b.port, "topic", "consume", "t", "-e", "-t", "-1m", "-f", "%v\\n")
            self.assertEqual(r.out, "")  # nothing that recent
            r = sluice(b.port, "topic", "consume", "t", "-e", "--format", "yaml")
            docs = list(yaml.safe_load_all(r.out))
            self.assertEqual([(d["key"], d["value"], d["headers"]) for d in docs],
                             [("k0", "v0", {"h": "x"}), ("k1", "v1", {"h": "x"}),
                              ("k2", "v2", {"h": "x"})])

    def test_progress_on_a_terminal(self):
        with Sluiced() as b:
            sluice(b.port, "topic", "create", "t", "-p", "1")
            master, slave = pty.openpty()
            proc = subprocess.run([SLUICE, "--brokers", f"127.0.0.1:{b.port}", "topic", "produce",
                                   "t"], input=b"1\n2\n3\n", stdout=subprocess.PIPE, stderr=slave,
                                  timeout=120)
            os.close(slave)
            tty = b""
            while True:
                try:
                    chunk = os.read(master, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                tty += chunk
            os.close(master)
            self.assertEqual(proc.returncode, 0)
            self.assertIn(b"produced 3 records", tty)
            self.assertIn(b"records/s", tty)

            # consume -n: progress on the terminal (stderr), records on the pipe (stdout).
            master, slave = pty.openpty()
            proc = subprocess.run([SLUICE, "--brokers", f"127.0.0.1:{b.port}", "topic", "consume",
                                   "t", "-n", "3", "-f", "%v\n"], stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=slave, timeout=120)
            os.close(slave)
            tty = read_pty(master)
            self.assertEqual(proc.returncode, 0)
            self.assertEqual(proc.stdout, b"1\n2\n3\n")
            self.assertIn(b"consumed 3 records", tty)
            self.assertIn(b"records/s", tty)
            # Piped stderr: no progress at all.
            r = sluice(b.port, "topic", "consume", "t", "-n", "3", "-f", "%v\n")
            self.assertEqual((r.out, r.err), ("1\n2\n3\n", ""))


class ErrorPaths(unittest.TestCase):
    def test_unknown_topic(self):
        with Sluiced() as b:
            for args in (["topic", "describe", "nope"], ["topic", "consume", "nope", "-e"],
                         ["topic", "produce", "nope"], ["offsets", "nope"],
                         ["topic", "alter-config", "nope", "--set", "retention.ms=1"],
                         ["topic", "add-partitions", "nope", "-n", "1"]):
                r = sluice(b.port, *args, input=b"x\n", check=False)
                assert_error_line(self, r, "UNKNOWN_TOPIC_OR_PARTITION")
                self.assertIn("nope", r.err)
                self.assertEqual(r.out, "")
            # Producing did not auto-create it.
            listed = sluice(b.port, "topic", "list", "--format", "json").json()
            self.assertEqual(listed, [])
            sluice(b.port, "topic", "create", "t", "-p", "1")
            r = sluice(b.port, "topic", "consume", "t", "-e", "-p", "4", check=False)
            assert_error_line(self, r, "UNKNOWN_TOPIC_OR_PARTITION")

    def test_broker_down_fails_within_timeout(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()  # nothing listens there now
        for args in (["topic", "list"], ["cluster", "info"], ["topic", "produce", "t"],
                     ["topic", "consume", "t"], ["group", "list"]):
            r = sluice(port, *args, input=b"x\n", check=False, timeout="1s")
            self.assertEqual(r.code, 1, r.err)
            lines = r.err.strip().splitlines()
            self.assertEqual(len(lines), 1, r.err)
            self.assertIn(f"cannot reach a broker at 127.0.0.1:{port} within 1000 ms", lines[0])

    def test_brokers_from_the_environment(self):
        with Sluiced() as b:
            sluice(b.port, "topic", "create", "env-topic", "-p", "1")
            env = {**os.environ, "SLUICE_BROKERS": f"127.0.0.1:{b.port}"}
            proc = subprocess.run([SLUICE, "topic", "list", "--format", "json"], env=env,
                                  capture_output=True, timeout=120)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            self.assertEqual([t["name"] for t in json.loads(proc.stdout)], ["env-topic"])
        # --brokers wins over the environment.
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
        s.close()
        proc = subprocess.run([SLUICE, "--brokers", f"127.0.0.1:{dead}", "--timeout", "1s",
                               "topic", "list"], env=env, capture_output=True, timeout=120)
        self.assertEqual(proc.returncode, 1)
        self.assertIn(f"127.0.0.1:{dead}", proc.stderr.decode())

    def test_usage_errors(self):
        r = sluice(1, "topic", "create", check=False)
        self.assertEqual(r.code, 2)
        r = sluice(1, "--format", "xml", "topic", "list", check=False)
        self.assertEqual(r.code, 2)
        r = sluice(1, "topic", "list", timeout="soon", check=False)
        self.assertEqual(r.code, 2)
        self.assertIn("invalid duration", r.err)


class ClusterVerbs(unittest.TestCase):
    def test_info_and_configs(self):
        with Sluiced("--set", "num.partitions=3") as b:
            info = sluice(b.port, "cluster", "info", "--format", "json").json()
            self.assertEqual(info["controller_id"], 0)
            self.assertEqual(len(info["cluster_id"]), 22)
            self.assertEqual(info["broker_list"],
                             [{"id": 0, "host": "127.0.0.1", "port": b.port, "controller": True}])
            doc = yaml.safe_load(sluice(b.port, "cluster", "info", "--format", "yaml").out)
            self.assertEqual(doc, info)
            s = sections(sluice(b.port, "cluster", "info").out)
            self.assertIn(info["cluster_id"], s[""])
            self.assertEqual(parse_table(s["BROKER-LIST"]),
                             [{"ID": "0", "HOST": "127.0.0.1", "PORT": str(b.port),
                               "CONTROLLER": "true"}])

            cfg = sluice(b.port, "cluster", "config", "get", "--format", "json").json()
            by = {c["name"]: c for c in cfg}
            self.assertEqual(by["num.partitions"]["value"], "3")
            self.assertEqual(by["num.partitions"]["source"], "STATIC_BROKER_CONFIG")
            self.assertEqual(by["message.max.bytes"]["source"], "DEFAULT_CONFIG")
            rows = parse_table(sluice(b.port, "cluster", "config", "get", "num.partitions").out)
            self.assertEqual(rows, [{"NAME": "num.partitions", "VALUE": "3",
                                     "SOURCE": "STATIC_BROKER_CONFIG", "READ-ONLY": "true"}])
            r = sluice(b.port, "cluster", "config", "get", "no.such.key", check=False)
            assert_error_line(self, r, "INVALID_CONFIG")
            # Sluice reads broker settings at startup only: the broker's refusal is the line.
            r = sluice(b.port, "cluster", "config", "set", "num.partitions=5", check=False)
            assert_error_line(self, r, "INVALID_REQUEST")
            self.assertIn("dynamically", r.err)
            r = sluice(b.port, "cluster", "config", "get", "-b", "7", check=False)
            assert_error_line(self, r, "BROKER_NOT_AVAILABLE")
            r = sluice(b.port, "cluster", "config", "set", "log.retention.ms=soon", check=False)
            assert_error_line(self, r, "INVALID_REQUEST")
            self.assertIn("log.retention.ms", r.err)

            # Dynamic broker configs: set one, then a second (the first is kept: the CLI sends
            # AlterConfigs with the broker's whole dynamic set), read back by the CLI and by
            # confluent-kafka's DescribeConfigs.
            out = sluice(b.port, "cluster", "config", "set", "log.retention.ms=86400000",
                         "--format", "json").json()
            self.assertEqual(out, [{"name": "log.retention.ms", "value": "86400000"}])
            r = sluice(b.port, "cluster", "config", "set", "log.segment.bytes=1048576")
            self.assertEqual(parse_table(r.out),
                             [{"NAME": "log.segment.bytes", "VALUE": "1048576"}])
            rows = parse_table(sluice(b.port, "cluster", "config", "get", "log.retention.ms",
                                      "log.segment.bytes", "num.partitions").out)
            self.assertEqual(
                {r["NAME"]: (r["VALUE"], r["SOURCE"], r["READ-ONLY"]) for r in rows},
                {"log.retention.ms": ("86400000", "DYNAMIC_BROKER_CONFIG", "false"),
                 "log.segment.bytes": ("1048576", "DYNAMIC_BROKER_CONFIG", "false"),
                 "num.partitions": ("3", "STATIC_BROKER_CONFIG", "true")})
            a = AdminClient({"bootstrap.servers": f"127.0.0.1:{b.port}"})
            res = ConfigResource("broker", "0")
            cfg = a.describe_configs([res])[res].result(10)
            self.assertEqual(cfg["log.retention.ms"].value, "86400000")
            self.assertEqual(cfg["log.retention.ms"].source, 2)  # DYNAMIC_BROKER_CONFIG
            self.assertFalse(cfg["log.retention.ms"].is_read_only)


class HelpAndCompletion(unittest.TestCase):
    def test_help_verb_has_examples(self):
        r = sluice(1, "help", "topic", "consume")
        self.assertIn("--offset", r.out)
        self.assertIn("Examples:", r.out)
        self.assertIn("sluice topic consume orders", r.out)
        r = sluice(1, "help", "group", "seek")
        self.assertIn("--to-earliest", r.out)
        r = sluice(1, "help", "nonsense", check=False)
        self.assertEqual(r.code, 1)
        self.assertIn("no such command", r.err)

    def test_bash_completion(self):
        script = sluice(1, "completion", "bash").out
        def complete(*words):
            words_arr = " ".join(f"'{w}'" for w in words)
            prog = (script + f"\nCOMP_WORDS=({words_arr}); COMP_CWORD={len(words) - 1}; _sluice; "
                    'printf "%s\\n" "${COMPREPLY[@]}"\n')
            out = subprocess.run(["bash", "-c", prog], capture_output=True, timeout=60,
                                 env={**os.environ, "PATH": BIN_DIR + ":" + os.environ["PATH"]})
            self.assertEqual(out.returncode, 0, out.stderr)
            return sorted(out.stdout.decode().split())
        self.assertEqual(complete("sluice", "gr"), ["group"])
        self.assertEqual(complete("sluice", "topic", "p"), ["produce"])
        self.assertEqual(complete("sluice", "group", "s"), ["seek"])
        self.assertIn("--key-sep", complete("sluice", "topic", "produce", "--k"))
        self.assertEqual(complete("sluice", "--format", "j"), ["json"])
        self.assertEqual(complete("sluice", "cluster", "config", ""), ["get", "set"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
