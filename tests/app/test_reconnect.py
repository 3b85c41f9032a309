"""Coming back after an outage: short waits between attempts, and ctrl+r to try at once."""

from __future__ import annotations

from typing import Any

import pytest

from ensync_tui.app import EnsyncApp
from ensync_tui.app.runtime import RECONNECT_CAP, Runtime
from ensync_tui.client.connection import Backoff
from ensync_tui.client.options import parse_options
from ensync_tui.settings import Settings
from tests.app.conftest import SIZE, wait_for

SLOW = {"reconnect_interval": 60_000}  # a first wait of 30 to 60 s: only ctrl+r ends it soon


def test_the_explorer_waits_a_few_seconds_at_most_between_attempts() -> None:
    runtime = Runtime(Settings(url="ws://127.0.0.1:9", access_key="k"), lambda message: None)
    options = parse_options(runtime.client_options())
    assert options.max_reconnect_delay == RECONNECT_CAP <= 5
    assert options.max_reconnect_attempts == 0  # forever
    backoff = Backoff(options.reconnect_interval, options.max_reconnect_delay)
    assert max(backoff.delay(n) for n in range(1, 40)) <= RECONNECT_CAP
    # scripts keep the client's own schedule
    assert parse_options(None).max_reconnect_delay == 30


def slow_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    original = Runtime.client_options

    def slow(self: Runtime) -> dict[str, Any]:
        return {**original(self), **SLOW}

    monkeypatch.setattr(Runtime, "client_options", slow)


def state(app: EnsyncApp) -> str:
    return app.controller.status.state


async def test_ctrl_r_reconnects_at_once_after_an_outage(env, monkeypatch) -> None:
    slow_retries(monkeypatch)
    app = EnsyncApp(env.settings())
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.controller.subscriptions, what="subscribed")
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: ("warning", "already connected") in app.controller.notices)
        await env.server.stop()
        await wait_for(pilot, lambda: state(app) == "reconnecting", what="the outage")
        assert app.controller.status.delay >= 30
        await env.restart()
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: state(app) == "connected", timeout=10, what="reconnected")
        assert ("information", "reconnecting now") in app.controller.notices
        (idem,) = await env.publish("orders/created", {"after": "the outage"})
        await wait_for(pilot, lambda: idem in app.controller.history.by_idem, what="resubscribed")


async def test_ctrl_r_also_ends_the_wait_for_an_engine_not_up_yet(env, monkeypatch) -> None:
    slow_retries(monkeypatch)
    await env.server.stop()  # its port is known and nothing listens there yet
    app = EnsyncApp(env.settings())
    seen: list[str] = []
    told = app.controller.connection

    def connection(status: str, *args: Any) -> str | None:
        seen.append(status)
        return told(status, *args)

    monkeypatch.setattr(app.controller, "connection", connection)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: state(app) == "reconnecting", what="the first wait")
        await env.restart()
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: state(app) == "connected", timeout=10, what="connected")
        await wait_for(pilot, lambda: app.controller.subscriptions, what="subscribed")
    # the attempt given up on is not shown as a closed connection
    assert "reconnecting" in seen and "connected" in seen
    assert "closed" not in seen[: seen.index("connected")]


async def test_reconnect_now_is_in_the_palette_and_help(env) -> None:
    app = EnsyncApp(env.settings(), start_session=False)
    async with app.run_test(size=SIZE):
        bindings = {b.id: b for b in app.main.key_bindings()}
        assert bindings["reconnect"].key == "ctrl+r"
        assert bindings["reconnect"].description == "Reconnect now"
