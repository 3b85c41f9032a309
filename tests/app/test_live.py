"""The explorer against a local engine: receive, inspect, ack, pause, filter, follow."""

from __future__ import annotations

from ensync_tui.app import EnsyncApp
from ensync_tui.app.widgets import Inspector, StreamView
from tests.app.conftest import SIZE, wait_for


async def test_receive_inspect_and_ack(env):
    app = EnsyncApp(env.settings())
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.status.state == "connected", what="connected")
        await wait_for(pilot, lambda: "orders/created" in app.subscriptions, what="subscribed")
        idems = await env.publish("orders/created", {"order": {"id": 7, "items": [1, 2]}}, n=3)
        await wait_for(pilot, lambda: app.history.received == 3, what="3 records")
        stream = app.query_one(StreamView)
        assert stream.follow and stream.selected is not None
        assert stream.selected.idem == idems[-1]
        await pilot.pause(0.2)
        inspector = app.query_one(Inspector)
        assert inspector.entry is stream.selected
        assert stream.selected.decrypt(env.me.secret_key) == {
            "order": {"id": 7, "items": [1, 2]},
            "seq": 2,
        }
        await pilot.press("a")
        await wait_for(pilot, lambda: env.state(idems[-1]) == "acked", what="engine ack")
        await wait_for(pilot, lambda: stream.selected.state == "acked", what="acked state")
        assert app.history.acked == 1 and app.history.pending == 2
        assert env.state(idems[0]) == "pending"
