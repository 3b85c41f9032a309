"""Our client and the official SDK (ensync-sdk-ws 0.4.3) through one engine, both ways."""

from __future__ import annotations

import asyncio

import pytest

from ensync_tui.client import EnSyncEngine
from ensync_tui.engine import EngineServer
from ensync_tui.engine.sandbox import make_identities, sandbox_config

sdk = pytest.importorskip("ensync_sdk_ws")

NAME = "orders/status"


@pytest.fixture
def people():
    return make_identities(["ours", "theirs"])


@pytest.fixture
async def engine(people):
    async with EngineServer(sandbox_config(people, [NAME], port=0)) as server:
        yield server


async def test_sdk_reads_what_we_send_and_we_read_what_it_sends(engine, people):
    me, them = people["ours"], people["theirs"]
    ours = await EnSyncEngine(engine.url).create_client(me.access_key, app_secret_key=me.secret_key)
    theirs = await sdk.EnSyncEngine(engine.url, {"maxReconnectAttempts": 0}).create_client(
        them.access_key, {"appSecretKey": them.secret_key}
    )
    sdk_inbox: asyncio.Queue[dict] = asyncio.Queue()
    our_inbox: asyncio.Queue[dict] = asyncio.Queue()

    async def sdk_handler(message):
        sdk_inbox.put_nowait(message)

    try:
        theirs._on(NAME, sdk_handler, None, False)
        await theirs._subscribe_internal(NAME, {"autoAck": False})
        sub = await ours.subscribe(NAME)
        sub.handler(our_inbox.put_nowait)

        # several messages in one key window: the SDK opens every one
        for i in range(3):
            await ours.publish(NAME, [them.public_key], {"i": i, "from": "ours"})
        got = []
        for _ in range(3):  # acked one by one: the engine pushes the next after each answer
            got.append(await asyncio.wait_for(sdk_inbox.get(), 5))
            await theirs._ack(got[-1]["idem"], got[-1]["block"], NAME)
        assert [m["payload"] for m in got] == [{"i": i, "from": "ours"} for i in range(3)]
        assert all(m["sender"] == me.public_key for m in got)

        await theirs.publish(NAME, [me.public_key], {"from": "theirs"})
        message = await asyncio.wait_for(our_inbox.get(), 5)
        assert message["payload"] == {"from": "theirs"} and message["decryptError"] is None
        assert message["sender"] == them.public_key
    finally:
        await ours.close()
        await theirs.close()
