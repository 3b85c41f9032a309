"""`--record` in the explorer: records as they arrive, each action's outcome and
what was published, readable while the explorer runs and opened again after."""

from __future__ import annotations

import json

from ensync_tui.app import EnsyncApp
from ensync_tui.client.publishing import Message
from ensync_tui.protocol import crypto
from ensync_tui.recording.index import Index
from ensync_tui.recording.writer import Recorder
from tests.app.conftest import SIZE, got, wait_for


def kinds(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


async def test_the_explorer_records_what_it_receives_does_and_sends(env, tmp_path):
    path = tmp_path / "session.ndjson"
    settings = env.settings()
    recorder = Recorder(path, url=settings.url, secret_key=settings.app_secret_key)
    app = EnsyncApp(settings, recorder=recorder)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: "orders/created" in app.controller.subscriptions)
            idems = await env.publish("orders/created", {"k": 1}, n=3)
            await wait_for(pilot, lambda: got(app, 3), what="3 records")
            # each record is in the file within a second, while the explorer runs
            await wait_for(
                pilot,
                lambda: sum(r["type"] == "record" for r in kinds(path)) == 3,
                timeout=2,
                what="the records flushed",
            )
            runtime = app.runtime
            await runtime.ack("orders/created", idems[0], 1)
            await runtime.defer("orders/created", idems[1], 60_000, "later")
            await runtime.discard("orders/created", idems[2], "bad")
            await runtime.replay("orders/created", idems[0])
            me = env.me.public_key
            await runtime.publish(Message("orders/status", [me], {"sent": True}, {}, False))
    finally:
        recorder.close()
    lines = kinds(path)
    records = [r for r in lines if r["type"] == "record"]
    assert [r["record"]["idem"] for r in records] == [*idems, idems[0]]
    assert records[-1]["replayed"] is True
    states = [(r["idem"], r["state"]) for r in lines if r["type"] == "state"]
    assert states == [(idems[0], "acked"), (idems[1], "deferred"), (idems[2], "discarded")]
    [sent] = [r for r in lines if r["type"] == "published"]
    assert sent["name"] == "orders/status" and sent["answers"][0]["idem"]
    secret = env.me.secret_key
    assert crypto.decrypt_payload(sent["payload"], secret) == {"sent": True}
    assert any(r["type"] == "connection" and r["status"] == "connected" for r in lines)

    index = Index(path)
    while not index.done:
        index.build()
    assert [index.state(i) for i in range(len(index))] == ["replayed", "deferred", "discarded"]
    assert crypto.decrypt_payload(index.row(0).record.payload, secret)["k"] == 1
