"""The explorer under EnSync's need-based push: one record in flight per name."""

from __future__ import annotations

import asyncio

import pytest
from textual.widgets import Static

from ensync_tui.app import EnsyncApp
from ensync_tui.app.controller import SHARED_QUEUE
from ensync_tui.app.messages import RecordsReceived
from ensync_tui.app.runtime import Runtime
from ensync_tui.app.screens.help import HelpScreen
from ensync_tui.app.widgets import SubscriptionList
from tests.app.conftest import SIZE, caught_up, fake_dialog, got, wait_for

WAITING = "1 in flight, waiting for you"


def pane_text(app: EnsyncApp, name: str) -> str:
    subs = app.query_one(SubscriptionList)
    index = subs.names.index(name) + 1
    return str(subs.get_option_at_index(index).prompt)


async def connected(app, pilot):
    await wait_for(pilot, lambda: app.controller.status.state == "connected", what="connected")
    await wait_for(pilot, lambda: "orders/created" in app.controller.subscriptions, what="sub")


@pytest.mark.window(1)
async def test_the_pane_says_waiting_for_you_and_a_d_x_each_bring_the_next(env, monkeypatch):
    fake_dialog(monkeypatch, "prompts", "DeferScreen", (60_000, "later"))
    fake_dialog(monkeypatch, "prompts", "DiscardScreen", "junk")
    app = EnsyncApp(env.settings())
    async with app.run_test(size=SIZE) as pilot:
        await connected(app, pilot)
        idems = await env.publish("orders/created", {"v": 1}, n=4)
        await wait_for(pilot, lambda: got(app, 1), what="the first record")
        await wait_for(pilot, lambda: WAITING in pane_text(app, "orders/created"), what="pane")
        for count, key in ((2, "a"), (3, "d"), (4, "x")):
            await pilot.press(key)
            await wait_for(pilot, lambda: caught_up(app, count), what=f"record {count}")  # noqa: B023
            assert app.controller.history.stats["orders/created"].received == count
        await wait_for(pilot, lambda: WAITING in pane_text(app, "orders/created"), what="pane")
        states = [env.state(i) for i in idems]
        assert states == ["acked", "deferred", "discarded", "pending"]
        # said once on connecting with manual ack: the identity's queue is shared
        assert app.controller.notices.count(("warning", SHARED_QUEUE)) == 1
        await pilot.press("a")
        await wait_for(pilot, lambda: env.state(idems[3]) == "acked", what="the last acked")
        await wait_for(pilot, lambda: "in flight" not in pane_text(app, "orders/created"))


@pytest.mark.window(1)
async def test_auto_ack_drains_a_backlog_and_says_nothing_about_the_queue(env):
    idems = await env.publish("orders/created", {"v": 1}, n=40)  # before the explorer subscribes
    app = EnsyncApp(env.settings(auto_ack=True))
    async with app.run_test(size=SIZE) as pilot:
        await connected(app, pilot)
        await wait_for(pilot, lambda: got(app, 40), what="the backlog")
        await wait_for(pilot, lambda: app.controller.history.acked == 40, what="all acked")
        assert all(env.state(i) == "acked" for i in idems)
        assert "in flight" not in pane_text(app, "orders/created")
        assert ("warning", SHARED_QUEUE) not in app.controller.notices
        await pilot.press("A")  # manual from here: the next one waits for an answer
        (held,) = await env.publish("orders/created", {"v": 2})
        await wait_for(pilot, lambda: got(app, 41), what="one more")
        await wait_for(pilot, lambda: WAITING in pane_text(app, "orders/created"), what="pane")
        assert env.state(held) == "pending"


@pytest.mark.window(1)
async def test_the_runtime_acks_without_waiting_for_the_ui(env):
    """A backlog drains while nothing reads what the runtime posts (the flush is an hour
    away): the acks go from the runtime's loop as each record arrives."""
    idems = await env.publish("orders/created", {"v": 1}, n=30)
    posted: list[object] = []
    runtime = Runtime(env.settings(auto_ack=True), posted.append, flush_interval=3600)
    task = asyncio.create_task(runtime.run())
    try:
        for _ in range(400):
            if all(env.state(i) == "acked" for i in idems):
                break
            await asyncio.sleep(0.025)
        assert [env.state(i) for i in idems] == ["acked"] * 30
        assert not any(isinstance(m, RecordsReceived) for m in posted)
        runtime.flush()
        (batch,) = [m for m in posted if isinstance(m, RecordsReceived)]
        assert [e.idem for e in batch.records] == idems
        assert [idem for _, idem, _ in batch.acked] == idems and batch.failures == []
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await runtime.close()


async def test_help_says_what_manual_ack_holds_back(env):
    app = EnsyncApp(env.settings(), start_session=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
        text = str(app.screen.query_one("#panes", Static).render())
        assert WAITING in text and "holds back that name's queue" in text
        assert "competes with it" in text


async def test_auto_ack_failures_reach_the_screen_with_the_next_batch():
    """An ACK that cannot be sent and one the engine refuses: both come back as failures."""
    from ensync_tui.settings import Settings
    from tests.app.conftest import build_records

    class Refusing:
        calls = 0

        async def send_ack(self, name: str, idem: str, block: int) -> asyncio.Future[str]:
            Refusing.calls += 1
            if Refusing.calls == 1:
                raise ConnectionError("not connected")
            answer: asyncio.Future[str] = asyncio.get_running_loop().create_future()
            answer.set_exception(ValueError("refused by the engine"))
            return answer

    posted: list[object] = []
    runtime = Runtime(Settings(auto_ack=True), posted.append)
    runtime.client = Refusing()  # type: ignore[assignment]
    records = build_records(2)
    for record in records:
        pending = runtime._on_message({"record": record})
        assert pending is not None
        await pending
    await asyncio.sleep(0)  # the refused answer's callback
    runtime.flush()
    (batch,) = posted
    assert isinstance(batch, RecordsReceived) and batch.acked == []
    assert [(idem, str(e)) for idem, e in batch.failures] == [
        (records[0].idem, "not connected"),
        (records[1].idem, "refused by the engine"),
    ]
    runtime.auto_ack = False  # manual: nothing is sent
    assert runtime._on_message({"record": build_records(3)[2]}) is None
    assert Refusing.calls == 2
