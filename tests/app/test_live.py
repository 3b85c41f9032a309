"""The explorer against a local engine: receive, inspect, ack, pause, filter, follow."""

from __future__ import annotations

import pytest

from ensync_tui.app import EnsyncApp
from ensync_tui.app.widgets import Inspector, StreamView, SubscriptionList
from ensync_tui.app.widgets.lines import LinesView
from ensync_tui.client.publishing import Message
from tests.app.conftest import (
    SIZE,
    caught_up,
    delivered_after,
    fake_dialog,
    got,
    round_trip,
    wait_for,
)


async def test_receive_inspect_and_ack(env):
    app = EnsyncApp(env.settings())
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.controller.status.state == "connected", what="connected")
        await wait_for(
            pilot, lambda: "orders/created" in app.controller.subscriptions, what="subscribed"
        )
        idems = await env.publish("orders/created", {"order": {"id": 7, "items": [1, 2]}}, n=3)
        await wait_for(pilot, lambda: got(app, 3), what="3 records")
        stream = app.query_one(StreamView)
        assert stream.follow and stream.selected is not None
        assert stream.selected.idem == idems[-1]
        inspector = app.query_one(Inspector)
        await wait_for(pilot, lambda: inspector.entry is stream.selected, what="inspected")
        assert stream.selected.decrypt(env.me.secret_key) == {
            "order": {"id": 7, "items": [1, 2]},
            "seq": 2,
        }
        await pilot.press("a")
        await wait_for(pilot, lambda: env.state(idems[-1]) == "acked", what="engine ack")
        await wait_for(pilot, lambda: stream.selected.state == "acked", what="acked state")
        assert app.controller.history.acked == 1 and app.controller.history.pending == 2
        assert env.state(idems[0]) == "pending"


@pytest.mark.window(1)
async def test_one_record_at_a_time_and_a_brings_the_next(env):
    app = EnsyncApp(env.settings())
    async with app.run_test(size=SIZE) as pilot:
        await started(app, pilot)
        idems = await env.publish("orders/created", {"v": 1}, n=3)
        await wait_for(pilot, lambda: got(app, 1), what="the first record")
        await app.main.runtime.subscribe("audit/log")  # where the marker comes
        await delivered_after(pilot, app, env, "audit/log")
        held = app.controller.history.stats["orders/created"].received
        assert held == 1  # the engine waits for an answer
        app.main.apply_filter(name="orders/created")  # the stream follows these, not the marker
        await wait_for(pilot, lambda: not app.controller.history.scanning, what="the filter")
        for count in (2, 3):
            await pilot.press("a")
            await wait_for(pilot, lambda: caught_up(app, count + 1), what=f"record {count}")  # noqa: B023
        assert app.query_one(StreamView).selected.idem == idems[2]
        assert [env.state(i) for i in idems] == ["acked", "acked", "pending"]


async def started(app, pilot, names=("orders/created",)):
    await wait_for(pilot, lambda: app.controller.status.state == "connected", what="connected")
    await wait_for(
        pilot, lambda: set(names) <= set(app.controller.subscriptions), what="subscribed"
    )


async def test_subscribe_and_unsubscribe_by_keys(env, monkeypatch):
    fake_dialog(monkeypatch, "prompts", "SubscribeScreen", ["orders/status"])
    app = EnsyncApp(env.settings(subscribe=[]))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.controller.status.state == "connected", what="connected")
        await pilot.press("s")
        state = app.controller
        await wait_for(pilot, lambda: "orders/status" in state.subscriptions, what="subscribed")
        await env.publish("orders/status", {"ok": True})
        await wait_for(pilot, lambda: got(app, 1), what="record")
        subs = app.query_one(SubscriptionList)
        subs.highlighted = 1
        assert subs.highlighted_name == "orders/status"
        await pilot.press("u")
        await wait_for(pilot, lambda: state.subscriptions == [], what="unsubscribed")
        await app.main.runtime.subscribe("audit/log")  # where the marker comes
        (late,) = await env.publish("orders/status", {"ok": False})
        await delivered_after(pilot, app, env, "audit/log")
        assert late not in state.history.by_idem and state.history.received == 2


async def test_pause_holds_messages_until_resume(env, monkeypatch):
    fake_dialog(monkeypatch, "prompts", "PauseScreen", "maintenance")
    app = EnsyncApp(env.settings())
    async with app.run_test(size=SIZE) as pilot:
        await started(app, pilot)
        subs = app.query_one(SubscriptionList)
        subs.highlighted = 1
        await pilot.press("p")
        await wait_for(pilot, lambda: "orders/created" in app.controller.paused, what="paused")
        assert "paused" in str(subs.get_option_at_index(1).prompt)
        await env.publish("orders/created", {"n": 1}, n=4)
        await app.main.runtime.subscribe("audit/log")  # where the marker comes
        await delivered_after(pilot, app, env, "audit/log")
        assert app.controller.history.stats["audit/log"].received == 1
        assert "orders/created" not in app.controller.history.stats
        await pilot.press("p")
        await wait_for(pilot, lambda: got(app, 5), what="4 after resume")
        assert "orders/created" not in app.controller.paused
        held = [e for e in app.controller.history.entries if e.name == "orders/created"]
        assert [e.decrypt(env.me.secret_key)["seq"] for e in held] == [0, 1, 2, 3]


async def test_defer_and_discard(env, monkeypatch):
    fake_dialog(monkeypatch, "prompts", "DeferScreen", (60_000, "later"))
    discard = fake_dialog(monkeypatch, "prompts", "DiscardScreen", "junk")
    app = EnsyncApp(env.settings())
    async with app.run_test(size=SIZE) as pilot:
        await started(app, pilot)
        first, second = await env.publish("orders/created", {"v": 1}, n=2)
        await wait_for(pilot, lambda: caught_up(app, 2), what="2 records")
        await pilot.press("d")
        await wait_for(pilot, lambda: env.state(second) == "deferred", what="deferred")
        await wait_for(pilot, lambda: app.controller.history.by_idem[second].state == "deferred")
        await pilot.press("up", "x")
        await wait_for(pilot, lambda: env.state(first) == "discarded", what="discarded")
        await wait_for(pilot, lambda: app.controller.history.by_idem[first].state == "discarded")
        assert discard.seen == [(first,)]
        assert app.controller.history.pending == 0


async def test_cancelled_dialog_does_nothing(env, monkeypatch):
    fake_dialog(monkeypatch, "prompts", "DiscardScreen", None)
    app = EnsyncApp(env.settings())
    async with app.run_test(size=SIZE) as pilot:
        await started(app, pilot)
        (idem,) = await env.publish("orders/created", {"v": 1})
        await wait_for(pilot, lambda: got(app, 1))
        await pilot.press("x")
        await wait_for(pilot, lambda: len(app.screen_stack) == 1, what="the dialog answered")
        await round_trip(app, "orders/created", idem)
        assert env.state(idem) == "pending"
        assert app.controller.history.by_idem[idem].state == "new"


async def test_auto_ack_toggle(env):
    app = EnsyncApp(env.settings())
    async with app.run_test(size=SIZE) as pilot:
        await started(app, pilot)
        (manual,) = await env.publish("orders/created", {"v": 0})
        await wait_for(pilot, lambda: got(app, 1))
        await pilot.press("A")
        assert app.controller.auto_ack
        idems = await env.publish("orders/created", {"v": 1}, n=3)
        await wait_for(
            pilot, lambda: all(env.state(i) == "acked" for i in idems), what="auto-acked"
        )
        await wait_for(pilot, lambda: app.controller.history.acked == 3)
        assert env.state(manual) == "pending"
        await pilot.press("A")
        assert not app.controller.auto_ack
        (later,) = await env.publish("orders/created", {"v": 2})
        await wait_for(pilot, lambda: got(app, 5))
        await round_trip(app, "orders/created", later)
        assert env.state(later) == "pending"


async def test_replay_by_idem_marks_and_inspects(env, monkeypatch):
    app = EnsyncApp(env.settings())
    async with app.run_test(size=SIZE) as pilot:
        await started(app, pilot)
        (held,) = await env.publish("orders/created", {"v": "held"})
        await wait_for(pilot, lambda: got(app, 1))
        # a message published before the explorer subscribed to its name: not held
        (other,) = await env.publish("orders/status", {"v": "not held"})
        app.main.replay_idem("orders/created", held)
        await wait_for(pilot, lambda: app.controller.history.by_idem[held].state == "replayed")
        app.main.replay_idem("orders/status", other)
        await wait_for(
            pilot, lambda: other in app.controller.history.by_idem, what="replayed added"
        )
        entry = app.controller.history.by_idem[other]
        assert entry.state == "replayed"
        assert entry.decrypt(env.me.secret_key) == {"v": "not held", "seq": 0}
        assert app.query_one(Inspector).entry is entry
        assert app.query_one(StreamView).selected is entry
        app.main.replay_idem("orders/status", "no-such-idem")
        await wait_for(
            pilot, lambda: any("replay no-such-idem failed" in t for _, t in app.controller.notices)
        )
        assert ("orders/status", other) in app.controller.replay_history


async def test_replay_screen_results_reach_the_stream(env):
    from ensync_tui.app.screens.replay import ReplayScreen

    app = EnsyncApp(env.settings())
    async with app.run_test(size=SIZE) as pilot:
        await started(app, pilot)
        (idem,) = await env.publish("orders/created", {"v": 1})
        await wait_for(pilot, lambda: got(app, 1))
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, ReplayScreen), what="replay screen")
        screen = app.screen
        message = await screen._replay("orders/created", idem)  # the callable the app passed
        screen._on_result(message)
        assert app.controller.history.by_idem[idem].state == "replayed"


async def test_filter_by_text_and_by_subscription(env):
    app = EnsyncApp(env.settings(subscribe=["orders/created", "orders/status"]))
    async with app.run_test(size=SIZE) as pilot:
        await started(app, pilot, ("orders/created", "orders/status"))
        await env.publish("orders/created", {"customer": "Ann"}, n=3)
        await env.publish("orders/status", {"customer": "Bob"}, n=2)
        await wait_for(pilot, lambda: got(app, 5))
        stream = app.query_one(StreamView)
        await pilot.press("slash")
        assert app.focused is app.query_one("#filter")
        await pilot.press(*"bob")
        await wait_for(pilot, lambda: len(app.controller.history) == 2, what="payload filter")
        assert {e.name for e in app.controller.history.view} == {"orders/status"}
        await pilot.press("enter")
        assert app.focused is stream
        # the subscription list narrows further; "all" lifts the name filter
        subs = app.query_one(SubscriptionList)
        app.main.apply_filter(text="")
        subs.focus()
        subs.highlighted = 1
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(app.controller.history) == 3, what="name filter")
        assert all(e.name == "orders/created" for e in app.controller.history.view)
        await env.publish("orders/status", {"customer": "Cy"})
        await env.publish("orders/created", {"customer": "Di"})
        await wait_for(pilot, lambda: got(app, 7))
        assert len(app.controller.history) == 4
        subs.highlighted = 0
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(app.controller.history) == 7, what="all")


async def test_follow_stops_when_moving_up_and_f_resumes(env):
    app = EnsyncApp(env.settings())
    async with app.run_test(size=SIZE) as pilot:
        await started(app, pilot)
        await env.publish("orders/created", {"v": 1}, n=40)
        await wait_for(pilot, lambda: caught_up(app, 40))
        stream = app.query_one(StreamView)
        assert stream.follow and stream.cursor == 39
        await pilot.press("up", "up")
        assert not stream.follow and stream.cursor == 37
        kept = stream.selected
        await env.publish("orders/created", {"v": 2}, n=5)
        await wait_for(pilot, lambda: got(app, 45))
        assert stream.selected is kept and not stream.follow
        await pilot.press("home")
        assert stream.cursor == 0 and stream.scroll_y == 0
        await pilot.press("pagedown")
        assert stream.cursor > 5
        await pilot.press("f")
        assert stream.follow and stream.cursor == 44
        await env.publish("orders/created", {"v": 3})
        await wait_for(pilot, lambda: stream.cursor == 45, what="follows the newest")
        assert stream.scroll_y == stream.max_scroll_y


async def test_click_selects_a_row(env):
    app = EnsyncApp(env.settings())
    async with app.run_test(size=SIZE) as pilot:
        await started(app, pilot)
        idems = await env.publish("orders/created", {"v": 1}, n=5)
        await wait_for(pilot, lambda: got(app, 5))
        await pilot.click(StreamView, offset=(10, 1))
        stream = app.query_one(StreamView)
        assert stream.selected.idem == idems[1]
        assert not stream.follow
        inspector = app.query_one(Inspector)
        await wait_for(pilot, lambda: inspector.entry is stream.selected, what="inspected")
        assert inspector.entry.idem == idems[1]


async def test_wrong_secret_key_shows_cannot_decrypt(env):
    wrong = env.ids["carol"].secret_key
    app = EnsyncApp(env.settings(app_secret_key=wrong))
    async with app.run_test(size=SIZE) as pilot:
        await started(app, pilot)
        (idem,) = await env.publish("orders/created", {"secret": 1})
        await wait_for(pilot, lambda: got(app, 1))
        entry = app.controller.history.by_idem[idem]
        inspector = app.query_one(Inspector)
        await wait_for(pilot, lambda: inspector.entry is entry, what="inspected")
        assert entry.shown_state == "undecryptable"
        assert "cannot decrypt" in entry.error
        assert entry.payload  # the raw record is kept
        status = str(inspector.query_one("#inspector-status").render())
        assert "cannot decrypt" in status
        inspector.query_one("#inspector-tabs").active = "tab-raw"
        raw = inspector.query_one("#payload-raw", LinesView)
        await wait_for(pilot, lambda: idem in raw.text, what="the raw tab")
        assert "ephemeralPublicKey" in raw.text


async def test_reconnects_after_engine_restart(env):
    app = EnsyncApp(env.settings())
    async with app.run_test(size=SIZE) as pilot:
        await started(app, pilot)
        (before,) = await env.publish("orders/created", {"v": "before"})
        await wait_for(pilot, lambda: got(app, 1))
        await env.producer.close()
        env.producer = None
        await env.restart()
        await wait_for(
            pilot, lambda: app.controller.status.state != "connected", timeout=5, what="drop seen"
        )
        await wait_for(
            pilot, lambda: app.controller.status.state == "connected", timeout=15, what="back"
        )
        (after,) = await env.publish("orders/created", {"v": "after"})
        await wait_for(
            pilot, lambda: after in app.controller.history.by_idem, timeout=10, what="after"
        )
        # the unacked one came again and was merged, not duplicated
        assert len(app.controller.history.entries) == 2
        assert before in app.controller.history.by_idem


async def test_publish_through_the_composer_reaches_the_engine(env):
    from ensync_tui.app.screens.composer import ComposerScreen

    app = EnsyncApp(env.settings())
    async with app.run_test(size=SIZE) as pilot:
        await started(app, pilot)
        await wait_for(pilot, lambda: app.controller.public_key, what="own key")
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, ComposerScreen), what="composer")
        send = app.screen._send  # the callable the app handed to the screen
        message = Message("orders/created", [app.controller.public_key], {"hello": 1}, {}, False)
        results = await send(message)
        assert results and results[0]["idem"]
        await wait_for(
            pilot, lambda: results[0]["idem"] in app.controller.history.by_idem, what="own msg"
        )
        entry = app.controller.history.by_idem[results[0]["idem"]]
        assert entry.decrypt(env.me.secret_key) == {"hello": 1}
        await pilot.press("escape")


async def test_engine_refusals_become_notifications(env, monkeypatch):
    fake_dialog(monkeypatch, "prompts", "SubscribeScreen", ["no/such-name"])
    app = EnsyncApp(env.settings())
    async with app.run_test(size=SIZE) as pilot:
        await started(app, pilot)
        await pilot.press("s")
        await wait_for(
            pilot,
            lambda: any(
                s == "error" and "subscribe no/such-name failed" in t
                for s, t in app.controller.notices
            ),
            what="error notice",
        )
        assert "no/such-name" not in app.controller.subscriptions
        assert app.controller.status.state == "connected"


async def test_unsubscribing_the_name_in_view_shows_everything_again(env):
    app = EnsyncApp(env.settings(subscribe=["orders/created", "orders/status"]))
    async with app.run_test(size=SIZE) as pilot:
        subs = app.query_one(SubscriptionList)
        await wait_for(pilot, lambda: len(app.controller.subscriptions) == 2, what="subscribed")
        await env.publish("orders/created", {"n": 1}, n=2)
        await env.publish("orders/status", {"n": 1}, n=3)
        await wait_for(pilot, lambda: got(app, 5), what="5 records")
        subs.focus()
        subs.highlighted = subs.names.index("orders/status") + 1
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(app.controller.history) == 3, what="the view")
        await pilot.press("u")
        await wait_for(
            pilot, lambda: app.controller.subscriptions == ["orders/created"], what="unsubscribed"
        )
        await pilot.pause()
        history = app.controller.history
        assert history.filter.name is None and len(history) == 5
        assert subs.chosen is None
        assert " view " not in str(app.query_one("#status").render())
