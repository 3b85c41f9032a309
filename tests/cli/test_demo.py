"""Demo mode: realistic deterministic flows; start and stop leave nothing behind."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

from ensync_tui.client import EnSyncEngine
from ensync_tui.client.crypto import describe_envelope, payload_metadata, public_key_of
from ensync_tui.demo import Demo
from ensync_tui.demo.flows import NAMES, SCHEMAS, Flows


def test_flows_are_deterministic_and_fit_their_schemas():
    a, b = Flows(7), Flows(7)
    seen = set()
    for i in range(2000):
        x, y = a.next(1.7e9 + i), b.next(1.7e9 + i)
        assert (x.name, x.payload, x.headers, x.recipients) == (
            y.name,
            y.payload,
            y.headers,
            y.recipients,
        )
        schema = SCHEMAS[x.name]
        if schema is not None:
            assert payload_metadata(x.payload)["skeleton"] == schema
        seen.add(x.name)
    assert seen == set(NAMES)
    assert Flows(8).next(1.7e9).payload != Flows(7).next(1.7e9).payload


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


async def _explorer(settings, got: list):
    engine = EnSyncEngine(settings.url, {"max_reconnect_attempts": 1})
    client = await engine.create_client(
        settings.access_key, {"appSecretKey": settings.app_secret_key}
    )
    for name in settings.subscribe:
        sub = client.subscribe(name, auto_ack=True)
        sub.handler(got.append)
        await sub
    return client


async def _wait_for(cond, timeout=10.0):
    async with asyncio.timeout(timeout):
        while not cond():
            await asyncio.sleep(0.02)


async def test_start_and_stop_leave_nothing_running():
    before = set(asyncio.all_tasks())
    demo = Demo(seed=0, rate=30)
    settings = await demo.start()
    assert "local demo engine" in demo.banner.lower()
    assert settings.url and settings.app_secret_key and demo.server and demo._tmp
    assert settings.url.startswith("ws://127.0.0.1:") and settings.can_connect
    assert settings.subscribe == list(NAMES) and settings.message_names == list(NAMES)
    assert public_key_of(settings.app_secret_key) == settings.contacts["self"]
    assert {"orders-service", "payments-service", "billing", "fleet-tracker"} <= set(
        settings.contacts
    )
    port = demo.server.port
    tmp = Path(demo._tmp)
    assert tmp.is_dir() and _port_open(port)
    got: list = []
    client = await _explorer(settings, got)
    await _wait_for(lambda: len(got) >= 5)
    assert all(m["decryptError"] is None for m in got)
    await client.close()
    await demo.stop()
    await demo.stop()  # twice is fine
    assert not _port_open(port)
    assert not tmp.exists()
    await asyncio.sleep(0)
    left = {t for t in asyncio.all_tasks() if not t.done()} - before - {asyncio.current_task()}
    assert not left, left


async def test_publish_sample_is_deterministic():
    payloads = []
    keys = []
    for _ in range(2):
        async with Demo(seed=3, rate=0) as demo:
            settings = demo.settings()
            got: list = []
            client = await _explorer(settings, got)
            results = await demo.publish_sample(12)
            assert len(results) >= 12
            await _wait_for(lambda: len(got) >= 12)  # noqa: B023
            await client.close()
            assert demo.published == 12
            got.sort(key=lambda m: (m["messageName"], m["block"]))
            payloads.append([(m["messageName"], m["payload"], m["metadata"]) for m in got])
            keys.append(sorted(settings.contacts.values()))
            hybrid = [m for m in got if m["messageName"] == "payments/invoice"]
            assert hybrid
            for m in hybrid:
                assert describe_envelope(m["record"].payload).kind == "hybrid"
    assert payloads[0] == payloads[1]
    assert keys[0] == keys[1]


async def test_no_producers_at_rate_zero():
    async with Demo(seed=1, rate=0) as demo:
        await asyncio.sleep(0.3)
        assert demo.published == 0
