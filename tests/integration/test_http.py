"""The admin HTTP API and /metrics against a live sluiced: every endpoint, error statuses with
JSON bodies, and the Prometheus text (parsed with prometheus_client's parser) checked against
traffic the test makes with confluent-kafka, kcat and raw Kafka frames."""

import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from sluiced_process import SLUICED, Sluiced, recv_frame, send_frame  # noqa: E402

from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402


def http(b, path, method="GET"):
    """Returns (status, headers, body bytes); 4xx/5xx are answers, not exceptions."""
    req = urllib.request.Request(b.http_url(path), method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def get_json(b, path, status=200):
    code, headers, body = http(b, path)
    assert code == status, (path, code, body)
    assert headers["Content-Type"] == "application/json", headers
    return json.loads(body)


def scrape(b):
    """{(name, frozenset(labels)): value} for every sample, and the families by name."""
    code, headers, body = http(b, "/metrics")
    assert code == 200, code
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4"), headers
    samples, families = {}, {}
    for fam in text_string_to_metric_families(body.decode()):
        families[fam.name] = fam
        for s in fam.samples:
            samples[(s.name, frozenset(s.labels.items()))] = s.value
    return samples, families


def value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples, name, **labels):
    """Sum over every sample of `name` whose labels include `labels`."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= set(ls))


def wait_for(predicate, what, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("timed out waiting for " + what)


def api_versions_v0(correlation_id):
    return struct.pack(">hhih", 18, 0, correlation_id, -1)  # header v1, null client id, no body


class AdminApi(unittest.TestCase):
    def test_endpoints_and_metrics_follow_traffic(self):
        with Sluiced() as b:
            self.assertIsNotNone(b.http_port)
            bs = f"127.0.0.1:{b.port}"
            admin = AdminClient({"bootstrap.servers": bs})
            futs = admin.create_topics([
                NewTopic("web-a", num_partitions=3, replication_factor=1,
                         config={"retention.ms": "123456789"}),
                NewTopic("web-b", num_partitions=1, replication_factor=1)])
            for f in futs.values():
                f.result(30)

            self.assertEqual(get_json(b, "/v1/health")["status"], "ok")
            ready = get_json(b, "/v1/ready")
            self.assertEqual(ready, {"ready": True, "storage_recovered": True,
                                     "listeners_up": True})

            before, _ = scrape(b)

            # 200 messages with acks=all (fsynced) over web-a's three partitions.
            p = Producer({"bootstrap.servers": bs, "acks": "all", "linger.ms": 5})
            for i in range(200):
                p.produce("web-a", key=f"k{i}".encode(), value=b"v" * (i % 50 + 1))
            self.assertEqual(p.flush(60), 0)
            # 7 more to web-b, one kcat run each (one Produce request each).
            for i in range(7):
                r = subprocess.run(["kcat", "-b", bs, "-P", "-t", "web-b"], input=f"m{i}\n",
                                   capture_output=True, text=True, timeout=60)
                self.assertEqual(r.returncode, 0, r.stderr)
            # Read web-a back to its end once.
            r = subprocess.run(["kcat", "-b", bs, "-C", "-t", "web-a", "-o", "beginning", "-e",
                                "-q"], capture_output=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(len(r.stdout.splitlines()), 200)

            del p
            # Exactly three ApiVersions on one raw connection, then an unknown API (closes it).
            around, _ = scrape(b)
            with b.connect() as s:
                for cid in range(3):
                    send_frame(s, api_versions_v0(cid))
                    self.assertIsNotNone(recv_frame(s))
            self.assertEqual(value(scrape(b)[0], "sluice_requests_total", api="ApiVersions") -
                             value(around, "sluice_requests_total", api="ApiVersions"), 3)
            with b.connect() as s:
                send_frame(s, struct.pack(">hhih", 200, 0, 1, -1))
                self.assertIsNone(recv_frame(s))
            # One DeleteTopics with one unknown topic: one error code in its response.
            fut = admin.delete_topics(["no-such-topic"])["no-such-topic"]
            with self.assertRaises(Exception):
                fut.result(30)

            after, families = scrape(b)

            def delta(name, **labels):
                return value(after, name, **labels) - value(before, name, **labels)

            # Messages and bytes per topic.
            self.assertEqual(value(after, "sluice_topic_messages_in_total", topic="web-a"), 200)
            self.assertEqual(value(after, "sluice_topic_messages_in_total", topic="web-b"), 7)
            size_a = total(after, "sluice_partition_log_size_bytes", topic="web-a")
            size_b = total(after, "sluice_partition_log_size_bytes", topic="web-b")
            self.assertGreater(size_a, 200 * 20)
            # Batches are stored as received: bytes in == bytes in the segments.
            self.assertEqual(value(after, "sluice_topic_bytes_in_total", topic="web-a"), size_a)
            self.assertEqual(value(after, "sluice_topic_bytes_in_total", topic="web-b"), size_b)
            # One reader read every batch of web-a once; nobody read web-b.
            self.assertEqual(value(after, "sluice_topic_bytes_out_total", topic="web-a"), size_a)
            self.assertEqual(value(after, "sluice_topic_bytes_out_total", topic="web-b"), 0)
            # Partition offsets.
            self.assertEqual(total(after, "sluice_partition_high_watermark", topic="web-a"), 200)
            self.assertEqual(value(after, "sluice_partition_high_watermark", topic="web-b",
                                   partition="0"), 7)
            self.assertEqual(total(after, "sluice_partition_log_start_offset", topic="web-a"), 0)

            # Requests and errors per API.
            self.assertGreaterEqual(delta("sluice_requests_total", api="Produce"), 8)
            self.assertGreaterEqual(delta("sluice_requests_total", api="Fetch"), 1)
            self.assertEqual(delta("sluice_request_errors_total", api="Produce"), 0)
            self.assertEqual(delta("sluice_requests_total", api="unknown"), 1)
            self.assertEqual(delta("sluice_request_errors_total", api="unknown"), 1)
            self.assertEqual(delta("sluice_requests_total", api="DeleteTopics"), 1)
            self.assertEqual(delta("sluice_request_errors_total", api="DeleteTopics"), 1)
            # Every answered request is in the latency histogram of its API.
            # (Not Fetch: kcat may leave a long poll behind that answers after this scrape.)
            for api in ("Produce", "DeleteTopics"):
                self.assertEqual(delta("sluice_request_latency_seconds_count", api=api),
                                 delta("sluice_requests_total", api=api), api)
                self.assertEqual(value(after, "sluice_request_latency_seconds_bucket", api=api,
                                       le="+Inf"),
                                 value(after, "sluice_request_latency_seconds_count", api=api))
            self.assertEqual(families["sluice_request_latency_seconds"].type, "histogram")
            self.assertEqual(families["sluice_requests"].type, "counter")

            # acks=all went through group commit; nobody waits any more.
            self.assertGreaterEqual(value(after, "sluice_storage_fsync_duration_seconds_count"), 1)
            self.assertEqual(value(after, "sluice_produce_purgatory_requests"), 0)
            self.assertGreaterEqual(value(after, "sluice_connections_accepted_total"), 10)
            self.assertGreaterEqual(value(after, "sluice_connections_active"), 0)
            self.assertGreater(value(after, "process_resident_memory_bytes"), 1e6)
            self.assertGreater(value(after, "process_cpu_seconds_total"), 0)
            self.assertGreater(value(after, "process_open_fds"), 3)

            # The topic endpoints agree with the metrics.
            topics = {t["name"]: t for t in get_json(b, "/v1/topics")["topics"]}
            self.assertEqual(topics["web-a"]["partition_count"], 3)
            self.assertEqual(topics["web-b"]["partition_count"], 1)
            self.assertEqual(len(topics["web-a"]["id"]), 22)
            d = get_json(b, "/v1/topics/web-a")
            self.assertEqual(d["name"], "web-a")
            self.assertEqual(d["configs"], {"retention.ms": "123456789"})
            self.assertEqual([p["partition"] for p in d["partitions"]], [0, 1, 2])
            # Protobuf's JSON mapping prints int64 as strings.
            self.assertEqual(sum(int(p["high_watermark"]) for p in d["partitions"]), 200)
            self.assertEqual(int(d["size_bytes"]), size_a)
            self.assertEqual(get_json(b, "/v1/topics/web%2Db")["name"], "web-b")

            # Groups: nothing yet; then a confluent-kafka consumer reads web-a to its end in
            # group "readers" and commits partition 0 at 10, partition 1 at its end, and
            # nothing for partition 2.
            self.assertEqual(get_json(b, "/v1/groups"), {"groups": []})
            self.assertEqual(get_json(b, "/v1/groups/readers", 404)["error"], "not_found")
            hw = {p["partition"]: int(p["high_watermark"]) for p in d["partitions"]}
            c = Consumer({"bootstrap.servers": bs, "group.id": "readers",
                          "client.id": "lag-reader", "enable.auto.commit": False,
                          "auto.offset.reset": "earliest"})
            try:
                c.subscribe(["web-a"])
                got = 0
                deadline = time.monotonic() + 60
                while got < 200 and time.monotonic() < deadline:
                    m = c.poll(1.0)
                    if m is not None and m.error() is None:
                        got += 1
                self.assertEqual(got, 200)
                c.commit(offsets=[TopicPartition("web-a", 0, 10),
                                  TopicPartition("web-a", 1, hw[1])], asynchronous=False)

                groups = get_json(b, "/v1/groups")["groups"]
                self.assertEqual(groups, [{"group_id": "readers", "state": "Stable",
                                           "protocol_type": "consumer", "members": 1}])
                g = get_json(b, "/v1/groups/readers")
                self.assertEqual(g["state"], "Stable")
                self.assertEqual(g["protocol_type"], "consumer")
                self.assertIn(g["protocol"], ("range", "roundrobin"))
                self.assertEqual(len(g["members"]), 1)
                member = g["members"][0]
                self.assertEqual(member["client_id"], "lag-reader")
                self.assertTrue(member["member_id"].startswith("lag-reader-"), member)
                self.assertEqual(member["assignments"],
                                 [{"topic": "web-a", "partitions": [0, 1, 2]}])
                offsets = {o["partition"]: o for o in g["offsets"]}
                self.assertEqual(sorted(offsets), [0, 1])
                self.assertEqual(offsets[0], {"topic": "web-a", "partition": 0,
                                              "committed_offset": "10",
                                              "high_watermark": str(hw[0]),
                                              "lag": str(hw[0] - 10)})
                self.assertEqual(int(offsets[1]["lag"]), 0)
                self.assertEqual(int(g["total_lag"]), hw[0] - 10)

                # The same lag on /metrics, per group, topic and partition.
                samples, families = scrape(b)
                self.assertEqual(families["sluice_consumer_group_lag"].type, "gauge")
                self.assertEqual(value(samples, "sluice_consumer_group_lag", group="readers",
                                       topic="web-a", partition="0"), hw[0] - 10)
                self.assertEqual(value(samples, "sluice_consumer_group_lag", group="readers",
                                       topic="web-a", partition="1"), 0)
                self.assertNotIn(("sluice_consumer_group_lag",
                                  frozenset({"group": "readers", "topic": "web-a",
                                             "partition": "2"}.items())), samples)
            finally:
                c.close()
            # The member left: the group is Empty and keeps its offsets.
            g = get_json(b, "/v1/groups/readers")
            self.assertEqual((g["state"], g["members"]), ("Empty", []))
            self.assertEqual(int(g["total_lag"]), hw[0] - 10)
            self.assertEqual(get_json(b, "/v1/groups/nobody", 404)["error"], "not_found")
            self.assertEqual(get_json(b, "/v1/groups/bad%zz", 400)["error"], "bad_request")

            cfg = get_json(b, "/v1/broker/config")
            self.assertEqual(len(cfg["cluster_id"]), 22)
            entries = {c["name"]: c for c in cfg["configs"]}
            self.assertEqual(entries["http.listen"]["value"], "127.0.0.1:0")
            self.assertEqual(entries["http.listen"]["source"], "static")
            self.assertEqual(entries["num.partitions"]["value"], "1")
            self.assertEqual(entries["num.partitions"]["source"], "default")

    def test_errors_are_json_with_status_and_counted(self):
        with Sluiced() as b:
            cases = [
                ("/v1/nope", "GET", 404, "not_found"),
                ("/v1/topics/missing", "GET", 404, "not_found"),
                ("/v1/topics/bad%zz", "GET", 400, "bad_request"),
                ("/v1/topics/bad!name", "GET", 400, "bad_request"),
                ("/v1/topics", "POST", 405, "method_not_allowed"),
                ("/metrics", "DELETE", 405, "method_not_allowed"),
            ]
            for path, method, status, error in cases:
                code, headers, body = http(b, path, method)
                self.assertEqual(code, status, path)
                self.assertEqual(headers["Content-Type"], "application/json")
                doc = json.loads(body)
                self.assertEqual(doc["code"], status)
                self.assertEqual(doc["error"], error)
                self.assertTrue(doc["message"])
                if status == 405:
                    self.assertEqual(headers["Allow"], "GET, HEAD")
            code, headers, body = http(b, "/v1/health", "HEAD")
            self.assertEqual((code, body), (200, b""))
            self.assertGreater(int(headers["Content-Length"]), 0)

            samples, _ = scrape(b)
            req = "sluice_http_requests_total"
            self.assertEqual(value(samples, req, route="unmatched", code="404"), 1)
            self.assertEqual(value(samples, req, route="/v1/topics/{name}", code="404"), 1)
            self.assertEqual(value(samples, req, route="/v1/topics/{name}", code="400"), 2)
            self.assertEqual(value(samples, req, route="/v1/topics", code="405"), 1)
            self.assertEqual(value(samples, req, route="/metrics", code="405"), 1)
            self.assertEqual(value(samples, req, route="/v1/health", code="200"), 1)

            # A request that is not HTTP gets a 400 and the listener carries on.
            with socket.create_connection(("127.0.0.1", b.http_port), timeout=10) as s:
                s.sendall(b"NOT HTTP AT ALL\r\n\r\n")
                self.assertIn(b" 400 ", s.recv(4096))
            self.assertEqual(get_json(b, "/v1/health")["status"], "ok")

    def test_lag_of_an_idle_group_after_a_restart(self):
        with tempfile.TemporaryDirectory() as data:
            with Sluiced(data_dir=data) as b:
                bs = f"127.0.0.1:{b.port}"
                p = Producer({"bootstrap.servers": bs})
                for i in range(5):
                    p.produce("lagged", value=b"x", partition=0)
                self.assertEqual(p.flush(60), 0)
                c = Consumer({"bootstrap.servers": bs, "group.id": "idle",
                              "enable.auto.commit": False})
                c.commit(offsets=[TopicPartition("lagged", 0, 2)], asynchronous=False)
                c.close()
            # Nobody produces or fetches after the restart: the partition's log is not open,
            # yet the scrape reports the group's lag.
            with Sluiced(data_dir=data) as b:
                samples, _ = scrape(b)
                self.assertEqual(value(samples, "sluice_consumer_group_lag", group="idle",
                                       topic="lagged", partition="0"), 3)
                g = get_json(b, "/v1/groups/idle")
                self.assertEqual((g["state"], g["total_lag"]), ("Empty", "3"))

    def test_connections_follow_open_sockets(self):
        with Sluiced() as b:
            samples, _ = scrape(b)  # HTTP is not a Kafka connection
            self.assertEqual(value(samples, "sluice_connections_active"), 0)
            self.assertEqual(value(samples, "sluice_connections_accepted_total"), 0)
            socks = [b.connect() for _ in range(3)]
            try:
                for i, s in enumerate(socks):  # answered: accepted and counted
                    send_frame(s, api_versions_v0(i))
                    self.assertIsNotNone(recv_frame(s))
                samples, _ = scrape(b)
                self.assertEqual(value(samples, "sluice_connections_active"), 3)
                self.assertEqual(value(samples, "sluice_connections_accepted_total"), 3)
            finally:
                for s in socks:
                    s.close()
            wait_for(lambda: value(scrape(b)[0], "sluice_connections_active") == 0,
                     "the connections to close")
            self.assertEqual(value(scrape(b)[0], "sluice_connections_accepted_total"), 3)

    def test_fetch_purgatory_counts_a_long_poll(self):
        with Sluiced() as b:
            bs = f"127.0.0.1:{b.port}"
            r = subprocess.run(["kcat", "-b", bs, "-P", "-t", "idle"], input="x\n",
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            # A consumer at the end of the log long-polls (kcat follows without -e).
            c = subprocess.Popen(["kcat", "-b", bs, "-C", "-t", "idle", "-o", "end", "-q",
                                  "-X", "fetch.wait.max.ms=10000"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                wait_for(lambda: value(scrape(b)[0], "sluice_fetch_purgatory_requests") >= 1,
                         "a parked fetch")
            finally:
                c.terminate()
                c.wait(30)
            wait_for(lambda: value(scrape(b)[0], "sluice_fetch_purgatory_requests") == 0,
                     "the parked fetch to end")

    def test_http_port_in_use_is_a_config_error(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        try:
            with tempfile.TemporaryDirectory() as d:
                r = subprocess.run([SLUICED, "--listen", "127.0.0.1:0", "--data-dir", d,
                                    "--set", f"http.listen=127.0.0.1:{port}"],
                                   capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn(f"http.listen: cannot listen on 127.0.0.1:{port}", r.stderr)
            with tempfile.TemporaryDirectory() as d:
                r = subprocess.run([SLUICED, "--listen", "127.0.0.1:0", "--data-dir", d,
                                    "--set", "http.listen=nonsense"],
                                   capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn("http.listen: expected HOST:PORT", r.stderr)
        finally:
            s.close()

    def test_http_can_be_turned_off(self):
        with Sluiced("--set", "http.listen=") as b:
            self.assertIsNone(b.http_port)
            self.assertNotIn("http listening", b.output())


if __name__ == "__main__":
    unittest.main()
