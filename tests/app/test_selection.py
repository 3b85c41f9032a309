"""Acting on several messages (space, v, V, then a, d, x, e, R) and re-publishing (R)."""

from __future__ import annotations

import json

from textual.widgets import Input, Switch, TextArea

from ensync_tui.app import EnsyncApp
from ensync_tui.app.redrive import redrive_of
from ensync_tui.app.screens.batch import BatchScreen
from ensync_tui.app.widgets import StreamView
from tests.app.conftest import SIZE, wait_for
from tests.app.test_layout import feed, lines_of, offline_app
from tests.app.test_live import started


async def test_space_v_and_big_v_choose_rows_and_mark_them() -> None:
    app = offline_app()
    async with app.run_test(size=(160, 45)) as pilot:
        await feed(pilot, 6)
        stream = app.query_one(StreamView)
        stream.focus()
        await pilot.press("home", "space", "space")  # toggles and moves down
        history = app.controller.history
        assert sorted(app.main.selection) == [history[0].seq, history[1].seq]
        assert stream.cursor == 2
        rows = lines_of(stream)
        assert rows[0].startswith("●") and rows[1].startswith("●")
        assert not rows[2].startswith("●")
        await pilot.press("up", "space")  # again: off
        assert sorted(app.main.selection) == [history[0].seq]
        app.main.use_filter("name:audit/*")
        await wait_for(pilot, lambda: not history.scanning, what="scanned")
        await pilot.press("v")
        assert len(app.main.selection) == 3  # the one before and the two in view
        assert "3 selected" in app.controller.notices[-1][1]
        await pilot.press("V")
        assert not app.main.selection and "selection cleared" in app.controller.notices[-1][1]


async def batch(pilot, key: str) -> BatchScreen:
    app = pilot.app
    await pilot.press(key)
    screen = await wait_for(
        pilot, lambda: isinstance(app.screen, BatchScreen) and app.screen, what="batch"
    )
    return screen


async def test_ack_a_selection_through_the_engine_with_failures_listed(env, monkeypatch):
    app = EnsyncApp(env.settings())
    async with app.run_test(size=SIZE) as pilot:
        await started(app, pilot)
        idems = await env.publish("orders/created", {"v": 1}, n=4)
        await wait_for(pilot, lambda: app.controller.history.received == 4, what="records")
        real_ack = app.main.runtime.ack

        async def ack(name, idem, block):
            if idem == idems[2]:
                raise RuntimeError("refused by the test")
            await real_ack(name, idem, block)

        monkeypatch.setattr(app.main.runtime, "ack", ack)
        app.main.stream.focus()
        await pilot.press("v")
        screen = await batch(pilot, "a")
        assert "Ack the 4 selected messages?" in str(screen.query_one("#question").render())
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.finished, what="finished")
        progress = str(screen.query_one("#progress").render())
        assert progress == "finished: 3 of 4 done, 1 failed"
        assert screen.outcome_lines() == [f"✗ {idems[2]}: refused by the test"]
        for idem in (idems[0], idems[1], idems[3]):
            await wait_for(pilot, lambda idem=idem: env.state(idem) == "acked", what="acked")
        assert env.state(idems[2]) != "acked"
        assert app.controller.history.by_idem[idems[2]].state == "new"
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, BatchScreen))
        assert "ack: 3 done, 1 failed" in app.controller.notices[-1][1]


async def test_defer_and_discard_a_selection(env):
    from ensync_tui.app.screens.prompts import DeferScreen, DiscardScreen

    app = EnsyncApp(env.settings())
    async with app.run_test(size=SIZE) as pilot:
        await started(app, pilot)
        idems = await env.publish("orders/created", {"v": 1}, n=4)
        await wait_for(pilot, lambda: app.controller.history.received == 4, what="records")
        stream = app.main.stream
        stream.focus()
        await pilot.press("home", "space", "space")
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, DeferScreen), what="defer")
        await pilot.press(*"30s", "enter", "enter")
        screen = await wait_for(pilot, lambda: isinstance(app.screen, BatchScreen) and app.screen)
        assert "(for 30 s)" in str(screen.query_one("#question").render())
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.finished, what="finished")
        for idem in idems[:2]:
            await wait_for(pilot, lambda idem=idem: env.state(idem) == "deferred")
        await pilot.press("escape", "V", "space", "space")
        assert len(app.main.selection) == 2
        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(app.screen, DiscardScreen), what="discard")
        await pilot.press("enter", "enter")  # the reason, then its confirmation
        screen = await wait_for(pilot, lambda: isinstance(app.screen, BatchScreen) and app.screen)
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.finished, what="finished")
        for idem in idems[2:]:
            await wait_for(pilot, lambda idem=idem: env.state(idem) == "discarded")


async def test_export_the_selection(tmp_path):
    from ensync_tui.app.screens.export import ExportScreen

    app = offline_app()
    async with app.run_test(size=(160, 45)) as pilot:
        await feed(pilot, 6)
        app.main.stream.focus()
        await pilot.press("home", "space", "down", "space")
        await pilot.press("e")
        screen = await wait_for(pilot, lambda: isinstance(app.screen, ExportScreen) and app.screen)
        assert "2 messages in view (the selection)" in str(screen.query_one(".message").render())
        path = tmp_path / "chosen.ndjson"
        screen.query_one("#path", Input).value = str(path)
        await pilot.press("enter")
        await wait_for(pilot, lambda: path.exists() and path.read_text().count("\n") == 2)
        lines = [json.loads(line) for line in path.read_text().splitlines()]
        history = app.controller.history
        assert [line["idem"] for line in lines] == [history[0].idem, history[2].idem]


async def test_redrive_opens_the_composer_filled_and_sends_it_again(env):
    from ensync_tui.app.screens.composer import ComposerScreen

    app = EnsyncApp(env.settings())
    async with app.run_test(size=SIZE) as pilot:
        await started(app, pilot)
        await env.publish("orders/created", {"warm": 1})
        me, bob = env.me.public_key, env.ids["bob"].public_key
        metadata = {"persist": True, "headers": {"trace": "t-9"}}
        body = {"orderId": "ord-1", "lines": [{"sku": "X-1"}]}
        options = {"useHybridEncryption": True}
        sent = await env.producer.publish("orders/created", [me, bob], body, metadata, options)
        first = sent[0]["idem"]
        history = app.controller.history
        await wait_for(pilot, lambda: first in history.by_idem, what="the hybrid one")
        app.main.stream.focus()
        app.main.stream.select_entry(history.by_idem[first])
        await pilot.press("R")
        screen = await wait_for(
            pilot, lambda: isinstance(app.screen, ComposerScreen) and app.screen, what="composer"
        )
        assert screen.query_one("#name", Input).value == "orders/created"
        assert screen.query_one("#recipients", TextArea).text == "self\nbob"
        assert json.loads(screen.query_one("#payload", TextArea).text) == body
        assert json.loads(screen.query_one("#headers", TextArea).text) == {"trace": "t-9"}
        assert screen.query_one("#hybrid", Switch).value is True
        await pilot.press("ctrl+s")

        def again():
            return [
                e
                for e in history.entries
                if e.idem != first and e.decrypt(env.me.secret_key) == body
            ]

        copies = await wait_for(pilot, again, what="the re-published copy")
        assert copies[0].metadata["headers"] == {"trace": "t-9"}
        assert copies[0].sender == me


async def test_redrive_a_selection_reports_each_outcome(env):
    app = EnsyncApp(env.settings())
    async with app.run_test(size=SIZE) as pilot:
        await started(app, pilot)
        idems = await env.publish("orders/created", {"v": 7}, n=2)
        history = app.controller.history
        await wait_for(pilot, lambda: history.received == 2, what="records")
        app.main.stream.focus()
        await pilot.press("v")
        screen = await batch(pilot, "R")
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.finished, what="finished")
        lines = screen.outcome_lines()
        assert [line.split(" → ")[0] for line in lines] == [f"✓ {idem}" for idem in idems]
        new = [line.split(" → ")[1] for line in lines]
        await wait_for(pilot, lambda: all(idem in history.by_idem for idem in new))
        assert [history.by_idem[i].decrypt(env.me.secret_key)["v"] for i in new] == [7, 7]


def test_redrive_of_a_direct_message_goes_to_ourselves():
    from ensync_tui.app.history import Entry
    from ensync_tui.protocol import crypto
    from ensync_tui.protocol.replies import Record

    me, secret = crypto.generate_keypair()
    sealed = crypto.encrypt_payload({"a": 1}, [me])
    entry = Entry(Record("x/y", "i-1", 1, 0, sealed, {"persist": False, "headers": {}}, "pk"))
    redrive = redrive_of(entry, secret, {"bob": "BOBKEY"}, me)
    assert redrive.recipients == ["self"] and not redrive.hybrid and not redrive.persist
    assert redrive.headers == "" and json.loads(redrive.payload) == {"a": 1}
    other, _ = crypto.generate_keypair()
    wrong = Entry(Record("x/y", "i-2", 1, 0, crypto.encrypt_payload({}, [other]), {}, "pk"))
    try:
        redrive_of(wrong, secret, {}, me)
    except ValueError as exc:
        assert "cannot re-publish i-2" in str(exc)
    else:
        raise AssertionError("an unreadable payload cannot be re-published")
