"""Scale: 200 classic groups x 5 members on one broker. Each member is a connection speaking
JoinGroup v1 / SyncGroup v0 / Heartbeat v0 encoded by kafka-python's protocol classes (a real
client's codec; 1000 full consumers would not fit on the test machine). Once every group is
stable with its five members, every member sends 15 more heartbeats one second apart (session
timeout 10 s): all must succeed, with no rebalance and no member expired."""

import asyncio
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from sluiced_process import Sluiced  # noqa: E402

from kafka.protocol.group import HeartbeatRequest, JoinGroupRequest, SyncGroupRequest  # noqa: E402
from kafka.protocol.parser import KafkaProtocol  # noqa: E402

GROUPS = 200
MEMBERS = 5
ROUNDS = 15
REBALANCE_IN_PROGRESS = 27


class Member:
    def __init__(self, port, group, board):
        self.port, self.group, self.board = port, group, board
        self.member_id = ""
        self.generation = -1
        self.errors = []
        self.latencies = []

    async def call(self, req):
        self.proto.send_request(req)
        self.writer.write(self.proto.send_bytes())
        await self.writer.drain()
        while True:
            data = await self.reader.read(65536)
            if not data:
                raise ConnectionError("broker closed the connection")
            got = self.proto.receive_bytes(data)
            if got:
                return got[0][1]

    async def join(self):
        """Joins and syncs until it holds a generation's assignment."""
        while True:
            j = await self.call(JoinGroupRequest[1](self.group, 10000, 30000, self.member_id,
                                                    "consumer", [("range", b"sub")]))
            if j.error_code != 0:
                raise AssertionError(f"JoinGroup error {j.error_code}")
            self.member_id, self.generation = j.member_id, j.generation_id
            plan = []
            if j.leader_id == self.member_id:
                plan = [(m[0], m[0].encode()) for m in j.members]
                self.board[self.group] = (j.generation_id, len(j.members))
            s = await self.call(SyncGroupRequest[0](self.group, self.generation, self.member_id,
                                                    plan))
            if s.error_code == REBALANCE_IN_PROGRESS:
                continue
            if s.error_code != 0:
                raise AssertionError(f"SyncGroup error {s.error_code}")
            if s.member_assignment != self.member_id.encode():
                raise AssertionError("wrong assignment")
            return

    def settled(self):
        gen, size = self.board.get(self.group, (-2, 0))
        return size == MEMBERS and gen == self.generation

    async def run(self, all_settled):
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.proto = KafkaProtocol(client_id="scale")
        await self.join()
        # Until every group is complete, follow rebalances as a consumer would.
        while not all_settled.is_set():
            await asyncio.sleep(0.5)
            h = await self.call(HeartbeatRequest[0](self.group, self.generation, self.member_id))
            if h.error_code == REBALANCE_IN_PROGRESS:
                await self.join()
            elif h.error_code != 0:
                raise AssertionError(f"Heartbeat error {h.error_code}")
        for _ in range(ROUNDS):
            await asyncio.sleep(1)
            t0 = time.monotonic()
            h = await self.call(HeartbeatRequest[0](self.group, self.generation, self.member_id))
            self.latencies.append(time.monotonic() - t0)
            if h.error_code != 0:
                self.errors.append(h.error_code)
        self.writer.close()


async def scenario(port):
    board = {}
    all_settled = asyncio.Event()
    members = [Member(port, f"scale-{g}", board) for g in range(GROUPS) for _ in range(MEMBERS)]
    tasks = [asyncio.create_task(m.run(all_settled)) for m in members]
    while not all(m.settled() for m in members):
        for t in tasks:
            if t.done() and t.exception():
                raise t.exception()
        await asyncio.sleep(0.2)
    all_settled.set()
    await asyncio.gather(*tasks)
    return members


class GroupScale(unittest.TestCase):
    def test_200_groups_of_5_heartbeat_steadily(self):
        with Sluiced("--set", "group.initial.rebalance.delay.ms=1000") as b:
            t0 = time.monotonic()
            members = asyncio.run(scenario(b.port))
            errors = [e for m in members for e in m.errors]
            self.assertEqual(errors, [])
            lat = sorted(x for m in members for x in m.latencies)
            self.assertEqual(len(lat), GROUPS * MEMBERS * ROUNDS)
            print(f"\n{GROUPS}x{MEMBERS} members: settled and {len(lat)} heartbeats in "
                  f"{time.monotonic() - t0:.1f} s; heartbeat p50 {lat[len(lat) // 2] * 1e3:.2f} "
                  f"ms, p99 {lat[int(len(lat) * 0.99)] * 1e3:.2f} ms, max {lat[-1] * 1e3:.2f} ms")
            self.assertTrue(b.alive())


if __name__ == "__main__":
    unittest.main()
