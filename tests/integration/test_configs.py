"""Topic and broker configs through real clients: DescribeConfigs and AlterConfigs with
confluent-kafka's AdminClient, DescribeConfigs v2 with kafka-python, IncrementalAlterConfigs
(neither Debian client has it: sent as a raw v0 request), Kafka's errors, a changed config
surviving a restart, and a changed max.message.bytes taking effect on produce."""

import json
import os
import struct
import sys
import tempfile
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from sluiced_process import Sluiced, recv_frame, send_frame  # noqa: E402

from confluent_kafka import KafkaError, KafkaException, Producer  # noqa: E402
from confluent_kafka.admin import AdminClient, ConfigResource, ConfigSource, NewTopic  # noqa: E402

SET, DELETE, APPEND, SUBTRACT = 0, 1, 2, 3


def admin(b):
    return AdminClient({"bootstrap.servers": f"127.0.0.1:{b.port}"})


def create(a, *topics):
    for f in a.create_topics(list(topics)).values():
        f.result(10)


def describe(a, rtype, name):
    res = ConfigResource(rtype, name)
    return a.describe_configs([res])[res].result(10)


def alter(a, name, configs):
    res = ConfigResource("topic", name, set_config=configs)
    return a.alter_configs([res])[res].result(10)


def produce(port, topic, value):
    """One message; returns the delivery error (None on success). librdkafka's own
    message.max.bytes is raised so the broker decides."""
    reports = []
    p = Producer({"bootstrap.servers": f"127.0.0.1:{port}", "message.max.bytes": 1000000})
    p.produce(topic, value=value, on_delivery=lambda err, msg: reports.append(err))
    assert p.flush(30) == 0
    return reports[0]


def _str(s):
    if s is None:
        return struct.pack(">h", -1)
    b = s.encode()
    return struct.pack(">h", len(b)) + b


def incremental_alter(b, resources, validate_only=False):
    """IncrementalAlterConfigs v0. resources: [(type, name, [(key, op, value)])].
    Returns [(error_code, error_message, type, name)]."""
    body = struct.pack(">i", len(resources))
    for rtype, name, configs in resources:
        body += struct.pack(">b", rtype) + _str(name) + struct.pack(">i", len(configs))
        for key, op, value in configs:
            body += _str(key) + struct.pack(">b", op) + _str(value)
    body += struct.pack(">?", validate_only)
    header = struct.pack(">hhi", 44, 0, 7) + _str("test")
    with b.connect() as s:
        send_frame(s, header + body)
        resp = recv_frame(s)
    assert resp is not None, "connection closed"
    pos = 8  # correlation id, throttle time
    (n,) = struct.unpack_from(">i", resp, pos)
    pos += 4
    out = []

    def read_str():
        nonlocal pos
        (ln,) = struct.unpack_from(">h", resp, pos)
        pos += 2
        if ln < 0:
            return None
        s = resp[pos:pos + ln].decode()
        pos += ln
        return s

    for _ in range(n):
        (code,) = struct.unpack_from(">h", resp, pos)
        pos += 2
        msg = read_str()
        (rtype,) = struct.unpack_from(">b", resp, pos)
        pos += 1
        out.append((code, msg, rtype, read_str()))
    return out


def describe_v3(b, rtype, name, keys):
    """DescribeConfigs v3 with documentation: {name: (value, source, config_type, doc)}."""
    body = struct.pack(">i", 1) + struct.pack(">b", rtype) + _str(name) + struct.pack(">i", len(keys))
    for k in keys:
        body += _str(k)
    body += struct.pack(">??", True, True)
    with b.connect() as s:
        send_frame(s, struct.pack(">hhi", 32, 3, 9) + _str("test") + body)
        resp = recv_frame(s)
    assert resp is not None, "connection closed"
    pos = 8

    def take(fmt):
        nonlocal pos
        v = struct.unpack_from(fmt, resp, pos)
        pos += struct.calcsize(fmt)
        return v[0]

    def read_str():
        nonlocal pos
        ln = take(">h")
        if ln < 0:
            return None
        s = resp[pos:pos + ln].decode()
        pos += ln
        return s

    assert take(">i") == 1
    code, _, _, _ = take(">h"), read_str(), take(">b"), read_str()
    assert code == 0, code
    out = {}
    for _ in range(take(">i")):
        key, value, _, source, _ = read_str(), read_str(), take(">?"), take(">b"), take(">?")
        for _ in range(take(">i")):
            read_str(), read_str(), take(">b")
        out[key] = (value, source, take(">b"), read_str())
    return out


class Describe(unittest.TestCase):
    def test_topic_values_sources_and_synonyms(self):
        with Sluiced("--set", "log.retention.ms=3600000") as b:
            a = admin(b)
            create(a, NewTopic("t", 1, 1, config={"cleanup.policy": "compact"}))
            cfg = describe(a, "topic", "t")
            self.assertEqual(cfg["cleanup.policy"].value, "compact")
            self.assertEqual(cfg["cleanup.policy"].source, ConfigSource.DYNAMIC_TOPIC_CONFIG.value)
            self.assertFalse(cfg["cleanup.policy"].is_default)
            self.assertFalse(cfg["cleanup.policy"].is_read_only)
            self.assertEqual(cfg["retention.ms"].value, "3600000")
            self.assertEqual(cfg["retention.ms"].source, ConfigSource.STATIC_BROKER_CONFIG.value)
            self.assertEqual(cfg["segment.bytes"].value, "1073741824")
            self.assertEqual(cfg["segment.bytes"].source, ConfigSource.DEFAULT_CONFIG.value)
            self.assertTrue(cfg["segment.bytes"].is_default)
            self.assertEqual(cfg["max.message.bytes"].value, "1048588")
            # Two synonyms share the name log.retention.ms (set, then default): the client's
            # dict keeps one; kafka-python's test below checks the list.
            self.assertIn("log.retention.ms", cfg["retention.ms"].synonyms)
            syn = cfg["cleanup.policy"].synonyms
            self.assertEqual(syn["cleanup.policy"].value, "compact")
            self.assertEqual(syn["log.cleanup.policy"].value, "delete")
            self.assertEqual(syn["log.cleanup.policy"].source, ConfigSource.DEFAULT_CONFIG.value)

    def test_broker(self):
        with Sluiced("--set", "num.partitions=3") as b:
            a = admin(b)
            cfg = describe(a, "broker", "0")
            self.assertEqual(cfg["num.partitions"].value, "3")
            self.assertEqual(cfg["num.partitions"].source, ConfigSource.STATIC_BROKER_CONFIG.value)
            self.assertTrue(cfg["num.partitions"].is_read_only)
            self.assertEqual(cfg["message.max.bytes"].value, "1048588")
            self.assertEqual(cfg["message.max.bytes"].source, ConfigSource.DEFAULT_CONFIG.value)
            self.assertTrue(cfg["message.max.bytes"].is_default)
            self.assertIn("log.dir", cfg)
            with self.assertRaises(KafkaException) as e:
                alter_res = ConfigResource("broker", "0", set_config={"num.partitions": "5"})
                a.alter_configs([alter_res])[alter_res].result(10)
            self.assertEqual(e.exception.args[0].code(), KafkaError.INVALID_REQUEST)
            self.assertIn("dynamically", e.exception.args[0].str())

    def test_kafka_python_v2_documentation_and_keys(self):
        from kafka.admin import ConfigResource as KpResource, ConfigResourceType, KafkaAdminClient
        with Sluiced("--set", "log.roll.ms=7200000") as b:
            create(admin(b), NewTopic("kp", 1, 1, config={"retention.ms": "1000"}))
            a = KafkaAdminClient(bootstrap_servers=f"127.0.0.1:{b.port}", request_timeout_ms=10000)
            [resp] = a.describe_configs(
                [KpResource(ConfigResourceType.TOPIC, "kp", {"retention.ms": None, "segment.ms": None})],
                include_synonyms=True)
            [(code, msg, rtype, name, entries)] = resp.resources
            self.assertEqual((code, name), (0, "kp"))
            by_name = {e[0]: e for e in entries}
            self.assertEqual(sorted(by_name), ["retention.ms", "segment.ms"])
            # v1 entries: name, value, read_only, source, is_sensitive, synonyms
            self.assertEqual(by_name["retention.ms"][1:4], ("1000", False, 1))
            self.assertEqual(by_name["retention.ms"][5],
                             [("retention.ms", "1000", 1), ("log.retention.ms", "604800000", 5)])
            self.assertEqual(by_name["segment.ms"][1:4], ("7200000", False, 4))
            self.assertEqual(by_name["segment.ms"][5],
                             [("log.roll.ms", "7200000", 4), ("log.roll.ms", "604800000", 5)])
            [resp] = a.describe_configs([KpResource(ConfigResourceType.TOPIC, "missing")])
            self.assertEqual(resp.resources[0][0], 3)  # UNKNOWN_TOPIC_OR_PARTITION
            a.close()

    def test_v3_types_and_documentation(self):
        with Sluiced() as b:
            create(admin(b), NewTopic("t", 1, 1))
            cfg = describe_v3(b, 2, "t", ["cleanup.policy", "retention.ms", "preallocate",
                                          "segment.bytes", "compression.type",
                                          "min.cleanable.dirty.ratio"])
            types = {k: v[2] for k, v in cfg.items()}
            self.assertEqual(types, {"cleanup.policy": 7, "retention.ms": 5, "preallocate": 1,
                                     "segment.bytes": 3, "compression.type": 2,
                                     "min.cleanable.dirty.ratio": 6})
            self.assertIn("compact", cfg["cleanup.policy"][3])
            cfg = describe_v3(b, 4, "0", ["num.partitions", "log.retention.ms"])
            self.assertEqual(cfg["num.partitions"][:3], ("1", 5, 3))
            self.assertEqual(cfg["log.retention.ms"][2], 5)
            self.assertTrue(cfg["num.partitions"][3])

    def test_unknown_topic(self):
        with Sluiced("--set", "auto.create.topics.enable=false") as b:
            with self.assertRaises(KafkaException) as e:
                describe(admin(b), "topic", "nope")
            self.assertEqual(e.exception.args[0].code(), KafkaError.UNKNOWN_TOPIC_OR_PART)


class Alter(unittest.TestCase):
    def test_alter_replaces_overrides_and_validates(self):
        with Sluiced() as b:
            a = admin(b)
            create(a, NewTopic("t", 1, 1, config={"retention.ms": "1000"}))
            alter(a, "t", {"segment.ms": "60000"})
            cfg = describe(a, "topic", "t")
            self.assertEqual(cfg["segment.ms"].value, "60000")
            self.assertEqual(cfg["retention.ms"].value, "604800000")  # replaced: back to default
            self.assertEqual(cfg["retention.ms"].source, ConfigSource.DEFAULT_CONFIG.value)
            for bad, word in [({"retention.ms": "soon"}, "retention.ms"),
                              ({"no.such.config": "1"}, "no.such.config"),
                              ({"cleanup.policy": "shred"}, "cleanup.policy")]:
                with self.assertRaises(KafkaException) as e:
                    alter(a, "t", bad)
                self.assertEqual(e.exception.args[0].code(), KafkaError.INVALID_CONFIG, bad)
                self.assertIn(word, e.exception.args[0].str())
            self.assertEqual(describe(a, "topic", "t")["segment.ms"].value, "60000")
            # validate_only changes nothing
            res = ConfigResource("topic", "t", set_config={"segment.ms": "120000"})
            a.alter_configs([res], validate_only=True)[res].result(10)
            self.assertEqual(describe(a, "topic", "t")["segment.ms"].value, "60000")
            res = ConfigResource("topic", "missing", set_config={"segment.ms": "120000"})
            with self.assertRaises(KafkaException) as e:
                a.alter_configs([res])[res].result(10)
            self.assertEqual(e.exception.args[0].code(), KafkaError.UNKNOWN_TOPIC_OR_PART)

    def test_incremental_ops(self):
        with Sluiced() as b:
            a = admin(b)
            create(a, NewTopic("t", 1, 1, config={"retention.ms": "1000"}))
            r = incremental_alter(b, [(2, "t", [("segment.ms", SET, "60000"),
                                                ("cleanup.policy", APPEND, "compact")])])
            self.assertEqual(r, [(0, None, 2, "t")])
            cfg = describe(a, "topic", "t")
            self.assertEqual(cfg["segment.ms"].value, "60000")
            self.assertEqual(cfg["retention.ms"].value, "1000")  # untouched
            self.assertEqual(cfg["cleanup.policy"].value, "delete,compact")
            r = incremental_alter(b, [(2, "t", [("cleanup.policy", SUBTRACT, "delete"),
                                                ("retention.ms", DELETE, None)])])
            self.assertEqual(r[0][0], 0, r)
            cfg = describe(a, "topic", "t")
            self.assertEqual(cfg["cleanup.policy"].value, "compact")
            self.assertEqual(cfg["retention.ms"].source, ConfigSource.DEFAULT_CONFIG.value)
            # APPEND on a non-list config, bad values, validate_only, unknown topic, broker
            [(code, msg, _, _)] = incremental_alter(b, [(2, "t", [("segment.ms", APPEND, "1")])])
            self.assertEqual(code, 40)
            self.assertIn("segment.ms", msg)
            [(code, msg, _, _)] = incremental_alter(b, [(2, "t", [("segment.ms", SET, "-5")])])
            self.assertEqual(code, 40)
            self.assertIn("segment.ms", msg)
            r = incremental_alter(b, [(2, "t", [("segment.ms", SET, "5")])], validate_only=True)
            self.assertEqual(r[0][0], 0)
            self.assertEqual(describe(a, "topic", "t")["segment.ms"].value, "60000")
            r = incremental_alter(b, [(2, "nope", [("segment.ms", SET, "5")]),
                                      (4, "0", [("num.partitions", SET, "5")]),
                                      (4, "0", [("bogus.key", SET, "5")])])
            self.assertEqual([x[0] for x in r], [3, 42, 40])

    def test_survives_restart_and_limits_produce(self):
        with tempfile.TemporaryDirectory() as data:
            with Sluiced(data_dir=data) as b:
                a = admin(b)
                create(a, NewTopic("t", 1, 1))
                self.assertIsNone(produce(b.port, "t", b"x" * 5000))  # the partition is open
                alter(a, "t", {"max.message.bytes": "1000"})
                err = produce(b.port, "t", b"x" * 5000)
                self.assertEqual(err.code(), KafkaError.MSG_SIZE_TOO_LARGE)
            with Sluiced(data_dir=data) as b:
                a = admin(b)
                cfg = describe(a, "topic", "t")
                self.assertEqual(cfg["max.message.bytes"].value, "1000")
                self.assertEqual(cfg["max.message.bytes"].source,
                                 ConfigSource.DYNAMIC_TOPIC_CONFIG.value)
                err = produce(b.port, "t", b"x" * 5000)
                self.assertEqual(err.code(), KafkaError.MSG_SIZE_TOO_LARGE)
                r = incremental_alter(b, [(2, "t", [("max.message.bytes", DELETE, None)])])
                self.assertEqual(r[0][0], 0)
                self.assertIsNone(produce(b.port, "t", b"x" * 5000))

class DynamicBroker(unittest.TestCase):
    """Dynamic broker configs: AlterConfigs (confluent-kafka) and IncrementalAlterConfigs (raw v0)
    on the BROKER resource, applied live to topics without their own override, shown by
    DescribeConfigs as DYNAMIC_BROKER_CONFIG, kept across a restart."""

    def test_set_live_describe_restart_delete(self):
        with tempfile.TemporaryDirectory() as data:
            with Sluiced(data_dir=data) as b:
                a = admin(b)
                create(a, NewTopic("plain", 1, 1),
                       NewTopic("own", 1, 1, config={"max.message.bytes": "100000"}))
                self.assertIsNone(produce(b.port, "plain", b"x" * 5000))  # partitions open
                self.assertIsNone(produce(b.port, "own", b"x" * 5000))
                res = ConfigResource("broker", "0", set_config={"message.max.bytes": "1000",
                                                                "log.retention.ms": "3600000"})
                a.alter_configs([res])[res].result(10)
                # Live: the topic without an override follows the new default at once; the
                # topic with its own max.message.bytes keeps it.
                err = produce(b.port, "plain", b"x" * 5000)
                self.assertEqual(err.code(), KafkaError.MSG_SIZE_TOO_LARGE)
                self.assertIsNone(produce(b.port, "own", b"x" * 5000))

                cfg = describe(a, "broker", "0")
                for key, v in (("message.max.bytes", "1000"), ("log.retention.ms", "3600000")):
                    self.assertEqual(cfg[key].value, v)
                    self.assertEqual(cfg[key].source, ConfigSource.DYNAMIC_BROKER_CONFIG.value)
                    self.assertFalse(cfg[key].is_read_only)
                    self.assertFalse(cfg[key].is_default)
                self.assertTrue(cfg["num.partitions"].is_read_only)
                t = describe(a, "topic", "plain")
                self.assertEqual(t["retention.ms"].value, "3600000")
                self.assertEqual(t["retention.ms"].source,
                                 ConfigSource.DYNAMIC_BROKER_CONFIG.value)
                self.assertEqual(t["max.message.bytes"].value, "1000")

                # Read-only, unknown, invalid values, the cluster default and APPEND: refused,
                # nothing changes.
                r = incremental_alter(b, [(4, "0", [("log.dir", SET, "/tmp/x")]),
                                          (4, "0", [("no.such.key", SET, "1")]),
                                          (4, "0", [("log.retention.ms", SET, "forever")]),
                                          (4, "", [("log.retention.ms", SET, "1")]),
                                          (4, "0", [("log.cleanup.policy", APPEND, "compact")])])
                # (An invalid value on a broker resource is INVALID_REQUEST in Kafka, too.)
                self.assertEqual([x[0] for x in r], [42, 40, 42, 42, 40], r)
                self.assertIn("log.dir", r[0][1])
                self.assertIn("dynamically", r[0][1])
                self.assertEqual(describe(a, "broker", "0")["log.retention.ms"].value, "3600000")
                # validate_only changes nothing.
                r = incremental_alter(b, [(4, "0", [("log.retention.ms", SET, "1000")])],
                                      validate_only=True)
                self.assertEqual(r[0][0], 0, r)
                self.assertEqual(describe(a, "broker", "0")["log.retention.ms"].value, "3600000")

                # The admin HTTP API shows the same (source "dynamic", not read-only).
                with urllib.request.urlopen(b.http_url("/v1/broker/config"), timeout=30) as resp:
                    http_cfg = {c["name"]: c for c in json.loads(resp.read())["configs"]}
                self.assertEqual(http_cfg["log.retention.ms"]["value"], "3600000")
                self.assertEqual(http_cfg["log.retention.ms"]["source"], "dynamic")
                self.assertFalse(http_cfg["log.retention.ms"]["read_only"])
                self.assertTrue(http_cfg["log.dir"]["read_only"])

                # kafka-python (AlterConfigs v0 replaces the broker's whole dynamic set, and
                # DescribeConfigs v1 with synonyms: dynamic first, then the default).
                from kafka.admin import (ConfigResource as KpResource, ConfigResourceType,
                                         KafkaAdminClient)
                kp = KafkaAdminClient(bootstrap_servers=f"127.0.0.1:{b.port}",
                                      request_timeout_ms=10000)
                resp = kp.alter_configs([KpResource(ConfigResourceType.BROKER, "0",
                                                      {"message.max.bytes": "1000",
                                                       "log.roll.ms": "7200000"})])
                self.assertEqual(resp.resources[0][0], 0, resp)
                [resp] = kp.describe_configs(
                    [KpResource(ConfigResourceType.BROKER, "0", {"log.roll.ms": None,
                                                                 "log.retention.ms": None})],
                    include_synonyms=True)
                by_name = {e[0]: e for e in resp.resources[0][4]}
                self.assertEqual(by_name["log.roll.ms"][1:4], ("7200000", False, 2))
                self.assertEqual(by_name["log.roll.ms"][5],
                                 [("log.roll.ms", "7200000", 2), ("log.roll.ms", "604800000", 5)])
                # log.retention.ms was left out of the new set: back to its default.
                self.assertEqual(by_name["log.retention.ms"][1:4], ("604800000", False, 5))
                kp.close()
                res = ConfigResource("broker", "0", set_config={"message.max.bytes": "1000",
                                                                "log.retention.ms": "3600000"})
                a.alter_configs([res])[res].result(10)
            with Sluiced(data_dir=data) as b:
                a = admin(b)
                cfg = describe(a, "broker", "0")
                self.assertEqual(cfg["message.max.bytes"].value, "1000")
                self.assertEqual(cfg["message.max.bytes"].source,
                                 ConfigSource.DYNAMIC_BROKER_CONFIG.value)
                err = produce(b.port, "plain", b"x" * 5000)
                self.assertEqual(err.code(), KafkaError.MSG_SIZE_TOO_LARGE)
                # IncrementalAlterConfigs DELETE: back to the static value, live.
                r = incremental_alter(b, [(4, "0", [("message.max.bytes", DELETE, None)])])
                self.assertEqual(r, [(0, None, 4, "0")])
                self.assertIsNone(produce(b.port, "plain", b"x" * 5000))
                cfg = describe(a, "broker", "0")
                self.assertEqual(cfg["message.max.bytes"].source,
                                 ConfigSource.DEFAULT_CONFIG.value)
                self.assertEqual(cfg["log.retention.ms"].source,
                                 ConfigSource.DYNAMIC_BROKER_CONFIG.value)


if __name__ == "__main__":
    unittest.main(verbosity=2)
