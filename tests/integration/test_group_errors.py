"""Group error codes on the wire, with requests encoded and responses decoded by kafka-python's
protocol classes: where Kafka answers UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION,
REBALANCE_IN_PROGRESS, INCONSISTENT_GROUP_PROTOCOL, INVALID_SESSION_TIMEOUT, GROUP_ID_NOT_FOUND,
NON_EMPTY_GROUP, GROUP_SUBSCRIBED_TO_TOPIC (OffsetDelete), and FindCoordinator for groups and
transactional ids."""

import os
import socket
import struct
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from sluiced_process import Sluiced, recv_frame, send_frame  # noqa: E402

from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402
from kafka.protocol.admin import DeleteGroupsRequest, DescribeGroupsRequest  # noqa: E402
from kafka.protocol.commit import (GroupCoordinatorRequest, OffsetCommitRequest,  # noqa: E402
                                   OffsetFetchRequest)
from kafka.protocol.group import (HeartbeatRequest, JoinGroupRequest,  # noqa: E402
                                  LeaveGroupRequest, SyncGroupRequest)
from kafka.protocol.parser import KafkaProtocol  # noqa: E402

NONE, ILLEGAL_GENERATION, INCONSISTENT_PROTOCOL, UNKNOWN_MEMBER = 0, 22, 23, 25
INVALID_SESSION_TIMEOUT, REBALANCE_IN_PROGRESS = 26, 27
NON_EMPTY_GROUP, GROUP_ID_NOT_FOUND, INVALID_REQUEST = 68, 69, 42
GROUP_SUBSCRIBED_TO_TOPIC = 86


class Conn:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.proto = KafkaProtocol(client_id="errors")

    def call(self, req):
        self.proto.send_request(req)
        self.sock.sendall(self.proto.send_bytes())
        while True:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("closed")
            got = self.proto.receive_bytes(data)
            if got:
                return got[0][1]


def find_coordinator_v1(port, key, key_type):
    """(error_code, port) of a FindCoordinator v1 answer."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    cid = b"raw"
    body = (struct.pack(">hhih", 10, 1, 7, len(cid)) + cid +
            struct.pack(">h", len(key)) + key.encode() + struct.pack(">b", key_type))
    send_frame(sock, body)
    resp = recv_frame(sock)
    sock.close()
    corr, _throttle, err, msg_len = struct.unpack(">iihh", resp[:12])
    rest = resp[12 + max(msg_len, 0):]
    _node, host_len = struct.unpack(">ih", rest[:6])
    (port_out,) = struct.unpack(">i", rest[6 + host_len:10 + host_len])
    assert corr == 7
    return err, port_out


def find_coordinator_v4(port, keys, key_type):
    """[(key, error_code, port)] of a batched FindCoordinator v4 answer (flexible encoding:
    compact strings and arrays, tagged fields), encoded from Kafka's spec."""
    def compact(b):
        return bytes([len(b) + 1]) + b  # lengths here stay below 127: one uvarint byte
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    body = (struct.pack(">hhih", 10, 4, 11, 3) + b"raw" + b"\x00" + struct.pack(">b", key_type) +
            bytes([len(keys) + 1]) + b"".join(compact(k.encode()) for k in keys) + b"\x00")
    send_frame(sock, body)
    r = recv_frame(sock)
    sock.close()
    corr, tags, _throttle, n = struct.unpack(">ibib", r[:10])
    assert (corr, tags) == (11, 0)
    out, pos = [], 10
    for _ in range(n - 1):
        klen = r[pos] - 1
        key = r[pos + 1:pos + 1 + klen].decode()
        pos += 1 + klen + 4  # node id
        hlen = r[pos] - 1
        pos += 1 + hlen
        port_out, err = struct.unpack(">ih", r[pos:pos + 6])
        pos += 6
        mlen = r[pos] - 1
        pos += 1 + max(mlen, 0) + 1  # message, tagged fields
        out.append((key, err, port_out))
    return out


def offset_delete_v0(port, group, topic, partitions):
    """(error_code, [(partition, error_code)]) of an OffsetDelete v0 answer (kafka-python 2.0.2
    has no OffsetDelete; encoded from Kafka's spec)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    cid = b"raw"
    body = (struct.pack(">hhih", 47, 0, 9, len(cid)) + cid +
            struct.pack(">h", len(group)) + group.encode() + struct.pack(">i", 1) +
            struct.pack(">h", len(topic)) + topic.encode() + struct.pack(">i", len(partitions)) +
            b"".join(struct.pack(">i", p) for p in partitions))
    send_frame(sock, body)
    resp = recv_frame(sock)
    sock.close()
    corr, err, _throttle, ntopics = struct.unpack(">ihii", resp[:14])
    assert corr == 9
    out, pos = [], 14
    for _ in range(ntopics):
        (name_len,) = struct.unpack(">h", resp[pos:pos + 2])
        pos += 2 + name_len
        (nparts,) = struct.unpack(">i", resp[pos:pos + 4])
        pos += 4
        for _ in range(nparts):
            out.append(struct.unpack(">ih", resp[pos:pos + 6]))
            pos += 6
    return err, out


# A ConsumerProtocolSubscription v0 for topic "t" (version, [topics], null user data).
SUBSCRIPTION = struct.pack(">hih", 0, 1, 1) + b"t" + struct.pack(">i", -1)


def join(conn, group, member_id="", proto="range", session=10000, ptype="consumer"):
    return conn.call(JoinGroupRequest[1](group, session, 10000, member_id, ptype,
                                         [(proto, SUBSCRIPTION)]))


class GroupErrors(unittest.TestCase):
    def test_error_codes(self):
        with Sluiced("--set", "group.initial.rebalance.delay.ms=0") as b:
            admin = AdminClient({"bootstrap.servers": f"127.0.0.1:{b.port}"})
            admin.create_topics([NewTopic("t", 1, 1)])["t"].result(30)
            a, c = Conn(b.port), Conn(b.port)
            # FindCoordinator: this broker for groups (v0, v1) and transactional ids; an empty
            # transactional id is INVALID_REQUEST.
            r = a.call(GroupCoordinatorRequest[0]("g"))
            self.assertEqual((r.error_code, r.port), (NONE, b.port))
            # kafka-python 2.0.2's FindCoordinator v1 response schema lacks throttle_time_ms, so
            # v1 (key types) is spelled out here from Kafka's spec.
            self.assertEqual(find_coordinator_v1(b.port, "txn-1", 1), (NONE, b.port))
            self.assertEqual(find_coordinator_v1(b.port, "", 1)[0], INVALID_REQUEST)
            self.assertEqual(find_coordinator_v1(b.port, "g", 0), (NONE, b.port))
            self.assertEqual(find_coordinator_v4(b.port, ["g1", "g2"], 0),
                             [("g1", NONE, b.port), ("g2", NONE, b.port)])
            self.assertEqual(find_coordinator_v4(b.port, ["tx", ""], 1),
                             [("tx", NONE, b.port), ("", INVALID_REQUEST, -1)])

            # Nothing known yet.
            self.assertEqual(a.call(HeartbeatRequest[0]("g", 1, "x")).error_code, UNKNOWN_MEMBER)
            self.assertEqual(a.call(SyncGroupRequest[0]("g", 1, "x", [])).error_code,
                             UNKNOWN_MEMBER)
            self.assertEqual(a.call(LeaveGroupRequest[0]("g", "x")).error_code, UNKNOWN_MEMBER)
            self.assertEqual(join(a, "g", member_id="x").error_code, UNKNOWN_MEMBER)
            self.assertEqual(join(a, "g", session=10).error_code, INVALID_SESSION_TIMEOUT)
            r = a.call(DeleteGroupsRequest[0](["g"]))
            self.assertEqual(r.results[0][1], GROUP_ID_NOT_FOUND)
            r = a.call(DescribeGroupsRequest[0](["g"]))
            self.assertEqual((r.groups[0][0], r.groups[0][2]), (NONE, "Dead"))

            # One member (no initial delay): generation 1 at once.
            j = join(a, "g")
            self.assertEqual((j.error_code, j.generation_id, j.leader_id), (NONE, 1, j.member_id))
            m1 = j.member_id
            s = a.call(SyncGroupRequest[0]("g", 1, m1, [(m1, b"assign-1")]))
            self.assertEqual((s.error_code, s.member_assignment), (NONE, b"assign-1"))
            self.assertEqual(a.call(HeartbeatRequest[0]("g", 0, m1)).error_code,
                             ILLEGAL_GENERATION)
            self.assertEqual(a.call(HeartbeatRequest[0]("g", 1, "y")).error_code, UNKNOWN_MEMBER)
            self.assertEqual(join(c, "g", proto="roundrobin").error_code, INCONSISTENT_PROTOCOL)
            self.assertEqual(join(c, "g", ptype="connect").error_code, INCONSISTENT_PROTOCOL)
            self.assertEqual(a.call(DeleteGroupsRequest[0](["g"])).results[0][1], NON_EMPTY_GROUP)
            # OffsetDelete: the members subscribe to "t", so its offsets stay.
            self.assertEqual(offset_delete_v0(b.port, "g", "t", [0]),
                             (NONE, [(0, GROUP_SUBSCRIBED_TO_TOPIC)]))
            self.assertEqual(offset_delete_v0(b.port, "nope", "t", [0])[0], GROUP_ID_NOT_FOUND)

            # Commits: a member of the current generation, or nothing.
            def commit(gen, member):
                r = a.call(OffsetCommitRequest[2]("g", gen, member, -1, [("t", [(0, 5, "md")])]))
                return r.topics[0][1][0][1]
            self.assertEqual(commit(0, m1), ILLEGAL_GENERATION)
            self.assertEqual(commit(1, "y"), UNKNOWN_MEMBER)
            self.assertEqual(commit(-1, ""), UNKNOWN_MEMBER)  # group not Empty
            # A second member starts a rebalance: the first member's heartbeat says so and its
            # old generation may no longer commit.
            c.sock.settimeout(30)
            c.proto.send_request(JoinGroupRequest[1]("g", 10000, 10000, "", "consumer",
                                                     [("range", SUBSCRIPTION)]))
            c.sock.sendall(c.proto.send_bytes())
            # c's JoinGroup travels on another connection: wait until the broker has it.
            while a.call(DescribeGroupsRequest[0](["g"])).groups[0][2] != "PreparingRebalance":
                pass
            self.assertEqual(a.call(HeartbeatRequest[0]("g", 1, m1)).error_code,
                             REBALANCE_IN_PROGRESS)
            self.assertEqual(a.call(SyncGroupRequest[0]("g", 1, m1, [])).error_code,
                             REBALANCE_IN_PROGRESS)
            j1 = join(a, "g", member_id=m1)
            self.assertEqual((j1.error_code, j1.generation_id, len(j1.members)), (NONE, 2, 2))
            got = []
            while not got:
                got = c.proto.receive_bytes(c.sock.recv(65536))
            j2 = got[0][1]
            self.assertEqual((j2.error_code, j2.generation_id, j2.leader_id), (NONE, 2, m1))
            self.assertEqual(commit(1, m1), ILLEGAL_GENERATION)
            # CompletingRebalance: the current generation may not commit yet.
            self.assertEqual(commit(2, m1), REBALANCE_IN_PROGRESS)

            # Both leave; the group is Empty and may be deleted with its offsets.
            self.assertEqual(a.call(LeaveGroupRequest[0]("g", m1)).error_code, NONE)
            self.assertEqual(a.call(LeaveGroupRequest[0]("g", j2.member_id)).error_code, NONE)
            r = a.call(DescribeGroupsRequest[0](["g"]))
            self.assertEqual(r.groups[0][2], "Empty")
            self.assertEqual(commit(-1, ""), NONE)  # an Empty group takes admin commits
            r = a.call(OffsetFetchRequest[1]("g", [("t", [0])]))
            self.assertEqual(r.topics[0][1][0][1:3], (5, "md"))
            # An Empty group's offsets may be deleted one by one.
            self.assertEqual(offset_delete_v0(b.port, "g", "t", [0]), (NONE, [(0, NONE)]))
            r = a.call(OffsetFetchRequest[1]("g", [("t", [0])]))
            self.assertEqual(r.topics[0][1][0][1], -1)
            self.assertEqual(commit(-1, ""), NONE)
            self.assertEqual(a.call(DeleteGroupsRequest[0](["g"])).results[0][1], NONE)
            r = a.call(OffsetFetchRequest[1]("g", [("t", [0])]))
            self.assertEqual(r.topics[0][1][0][1], -1)


if __name__ == "__main__":
    unittest.main()
