#!/usr/bin/python3
"""confluent-kafka-python client run by capture.sh (Debian /usr/bin/python3).

    confluent_kafka_client.py <bootstrap> <topic> <group>
"""
import sys
import time

import confluent_kafka
from confluent_kafka import Consumer, Producer


def value(i):
    s = "sluice-golden-value-%d:" % i
    while len(s) < 160:
        s += "abcdefgh"
    return s.encode()


def main():
    bootstrap, topic, group = sys.argv[1:4]
    print("confluent-kafka %s, librdkafka %s" % (
        confluent_kafka.version()[0], confluent_kafka.libversion()[0]),
        file=sys.stderr)
    for codec in ("none", "lz4"):
        p = Producer({"bootstrap.servers": bootstrap,
                      "client.id": "sluice-capture-confluent-python",
                      "compression.codec": codec, "linger.ms": 20})
        for i in range(4):
            p.produce(topic, key=b"key-%s-%d" % (codec.encode(), i),
                      value=value(i), partition=0,
                      headers=[("codec", codec.encode())])
        left = p.flush(10)
        print("produce %s: %d left" % (codec, left), file=sys.stderr)

    c = Consumer({"bootstrap.servers": bootstrap,
                  "client.id": "sluice-capture-confluent-python-consumer",
                  "group.id": group, "auto.offset.reset": "earliest",
                  "enable.auto.commit": False,
                  "heartbeat.interval.ms": 500, "session.timeout.ms": 6000})
    c.subscribe([topic])
    n, deadline, stop = 0, time.time() + 15, None
    while time.time() < (stop or deadline):
        m = c.poll(0.2)
        if m is None or m.error():
            continue
        n += 1
        if stop is None:
            stop = time.time() + 2  # linger so a Heartbeat goes out
    print("consumed %d" % n, file=sys.stderr)
    if n:
        c.commit(asynchronous=False)
        print("committed %r" % c.committed(c.assignment(), timeout=5),
              file=sys.stderr)
    c.close()


if __name__ == "__main__":
    main()
