"""Need-based push under seeded random runs: publishes, answers, dropped and new
connections, pauses. The rules hold at every record, and nothing is lost."""

from __future__ import annotations

import asyncio
import random

import pytest

from ensync_tui.engine import EngineServer
from ensync_tui.protocol import frames, replies

from .conftest import Connect, RawClient, engine_config

NAME = "orders/created"


class Bob:
    """One connection of the recipient and what it holds unanswered."""

    def __init__(self, client: RawClient, window: int, seen: dict[str, int]) -> None:
        self.client = client
        self.window = window
        self.seen = seen  # idem -> deliveries seen, across connections
        self.held: list[replies.Record] = []
        self.last_new = 0  # the block of the last record seen here for the first time

    def collect(self, answered: set[str]) -> None:
        while not self.client.records.empty():
            record = self.client.records.get_nowait()
            assert len(self.held) < self.window, "more in flight than the window"
            assert record.idem not in answered, "an answered record came again"
            before = self.seen.get(record.idem, 0)
            if before:
                assert record.metadata.get("redelivered") is True, record.metadata
                assert record.metadata["deliveryCount"] > before
            else:
                assert "redelivered" not in record.metadata, record.metadata
                assert record.block > self.last_new, "new records out of order"
                self.last_new = record.block
            self.seen[record.idem] = before + 1
            self.held.append(record)


@pytest.mark.parametrize("seed", range(4))
async def test_random_runs_keep_the_rules(ids, connect: Connect, seed: int) -> None:
    rng = random.Random(seed)
    window = [1, 1, 2, 3][seed]
    cfg = engine_config(ids, max_in_flight=window, sub_grace=0)
    async with EngineServer(cfg) as server:
        alice = await connect(ids["alice"], server=server)
        seen: dict[str, int] = {}
        answered: set[str] = set()
        published: list[str] = []

        async def new_bob() -> Bob:
            client = await connect(ids["bob"], server=server)
            await client.ok(frames.Sub(client.client_id, NAME).encode())
            return Bob(client, window, seen)

        bobs = [await new_bob()]
        for _ in range(150):
            await asyncio.sleep(0.002)
            for bob in bobs:
                bob.collect(answered)
            op = rng.random()
            if op < 0.35:
                for _ in range(rng.randint(1, 3)):
                    published.append((await alice.pub_ok(NAME, bob.client.public_key))["idem"])
            elif op < 0.75:
                holding = [b for b in bobs if b.held]
                if holding:
                    bob = rng.choice(holding)
                    record = bob.held.pop(rng.randrange(len(bob.held)))
                    if rng.random() < 0.8:
                        await bob.client.ack(record)
                    else:
                        await bob.client.ok(
                            frames.Discard(bob.client.client_id, record.idem, NAME, "").encode()
                        )
                    answered.add(record.idem)
            elif op < 0.85:
                gone = bobs.pop(rng.randrange(len(bobs)))
                gone.client.ws.transport.abort()  # what it held goes out again, marked
                bobs.append(await new_bob())
            elif op < 0.92 and len(bobs) < 2:
                bobs.append(await new_bob())
            else:  # a pause with publishes and answers during it, then continue
                bob = rng.choice(bobs)
                await bob.client.ok(frames.Pause(bob.client.client_id, NAME, "").encode())
                published.append((await alice.pub_ok(NAME, bob.client.public_key))["idem"])
                if bob.held:
                    record = bob.held.pop(0)
                    await bob.client.ack(record)
                    answered.add(record.idem)
                await bob.client.ok(frames.Continue(bob.client.client_id, NAME).encode())
        # answer everything: every record published is delivered, in the end
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 20
        while len(answered) < len(published):
            assert loop.time() < deadline, f"{len(published) - len(answered)} never came"
            await asyncio.sleep(0.01)
            for bob in bobs:
                bob.collect(answered)
                while bob.held:
                    record = bob.held.pop()
                    await bob.client.ack(record)
                    answered.add(record.idem)
        assert answered == set(published)
        states = {server.store.delivery_state(i, ids["bob"].public_key) for i in published}
        assert states <= {"acked", "discarded"}
        await asyncio.sleep(0.2)
        for bob in bobs:
            bob.collect(answered)
            assert not bob.held
