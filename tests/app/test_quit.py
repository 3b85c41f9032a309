"""Quit while keys are still coming: nothing opens on a closing app, exit code 0."""

from __future__ import annotations

import asyncio

import pytest
from textual import events

from ensync_tui.app import EnsyncApp
from tests.app.conftest import SIZE, wait_for

KEYS = ["s", "n", "r", "question_mark", "d", "x", "p", "e"]


@pytest.mark.parametrize("key", KEYS)
async def test_a_key_right_after_q_does_nothing(env, key):
    await env.publish("orders/created", {"v": 1})
    app = EnsyncApp(env.settings())  # the session on its own thread, as in a terminal
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(
            pilot, lambda: "orders/created" in app.controller.subscriptions, what="subscribed"
        )
        await wait_for(pilot, lambda: app.controller.history.received == 1, what="the record")
        # both keys queued at once, as a terminal delivers a fast typist's keys: the
        # second is read before the exit that q asks for takes effect
        for name, char in (("q", "q"), (key, "?" if key == "question_mark" else key)):
            app.post_message(events.Key(name, char))
        async with asyncio.timeout(15):
            while app.is_running:
                await asyncio.sleep(0.01)
    assert app.return_code == 0
