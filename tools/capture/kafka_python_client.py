#!/usr/bin/python3
"""kafka-python client run by capture.sh (use Debian's /usr/bin/python3).

    kafka_python_client.py <bootstrap> <topic> <group>
"""
import logging
import sys
import time

import kafka
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic

CLIENT_ID = "sluice-capture-kafka-python"


def value(i):
    s = "sluice-golden-value-%d:" % i
    while len(s) < 160:
        s += "abcdefgh"
    return s.encode()


def step(name, fn):
    try:
        r = fn()
        print("ok   %s%s" % (name, "" if r is None else ": %r" % (r,)),
              file=sys.stderr)
    except Exception as e:  # keep going: we only want the request bytes
        print("FAIL %s: %s: %s" % (name, type(e).__name__, e), file=sys.stderr)


def produce(bootstrap, topic, codec):
    p = KafkaProducer(bootstrap_servers=bootstrap, client_id=CLIENT_ID,
                      compression_type=codec, linger_ms=20, acks="all")
    tag = codec or "none"
    for i in range(4):
        p.send(topic, key=("key-%s-%d" % (tag, i)).encode(), value=value(i),
               headers=[("codec", tag.encode()), ("seq", str(i).encode())],
               partition=0)
    p.flush(10)
    p.close(5)


def consume(bootstrap, topic, group):
    c = KafkaConsumer(topic, bootstrap_servers=bootstrap,
                      client_id=CLIENT_ID + "-consumer", group_id=group,
                      auto_offset_reset="earliest", enable_auto_commit=False,
                      consumer_timeout_ms=4000, heartbeat_interval_ms=500,
                      session_timeout_ms=6000)
    n = 0
    for _ in c:
        n += 1
    c.commit()
    tp = TopicPartition(topic, 0)
    committed = c.committed(tp)
    ends = c.end_offsets([tp])
    times = c.offsets_for_times({tp: int(time.time() * 1000) - 3600000})
    c.close()
    return n, committed, ends, times


def admin(bootstrap, topic):
    a = KafkaAdminClient(bootstrap_servers=bootstrap,
                         client_id=CLIENT_ID + "-admin")
    step("admin.list_topics", a.list_topics)
    step("admin.describe_cluster", a.describe_cluster)
    step("admin.describe_topics", lambda: a.describe_topics([topic]))
    # The mock does not advertise CreateTopics, so create_topics() refuses
    # locally (IncompatibleBrokerVersion) without sending anything ...
    step("admin.create_topics", lambda: a.create_topics(
        [NewTopic("kp-created", num_partitions=3, replication_factor=1)]))
    # ... so send kafka-python's own CreateTopics v1 encoding directly; the
    # mock closes the connection, which is fine: we want the request bytes.
    def raw_create_topics():
        from kafka.protocol.admin import CreateTopicsRequest
        req = CreateTopicsRequest[1](
            create_topic_requests=[("kp-created", 3, 1, [],
                                    [("retention.ms", "3600000")])],
            timeout=1000, validate_only=False)
        node = a._client.least_loaded_node()
        f = a._client.send(node, req)
        a._client.poll(timeout_ms=2000, future=f)
        return f.value if f.succeeded() else f.exception
    step("raw CreateTopics v1", raw_create_topics)
    a.close()


def main():
    bootstrap, topic, group = sys.argv[1:4]
    print("kafka-python %s" % kafka.__version__, file=sys.stderr)
    for codec in (None, "gzip", "snappy", "lz4", "zstd"):
        step("produce %s" % codec, lambda: produce(bootstrap, topic, codec))
    step("consume", lambda: consume(bootstrap, topic, group))
    step("admin", lambda: admin(bootstrap, topic))


if __name__ == "__main__":
    logging.basicConfig(level=logging.ERROR)
    main()
