"""The composer keeps what was typed: an unsent draft per message name, until it is sent
or cleared; typing starts inside the braces; ctrl+l clears; ctrl+e starts from the
selected message."""

from __future__ import annotations

import json

from textual.widgets import Input, TextArea

from ensync_tui.app.drafts import Drafts, untouched
from ensync_tui.app.screens.composer import ComposerScreen
from ensync_tui.app.widgets import StreamView
from tests.app.conftest import SIZE, SNAP_SENDER, wait_for
from tests.app.test_feedback import Recorder, held, quiet_app
from tests.app.test_screens import flush, type_text


def test_drafts_are_kept_by_name_and_forgotten_when_sent_or_cleared() -> None:
    drafts = Drafts()
    drafts.keep({"name": "a", "payload_text": '{"x": 1}', "headers_text": ""})
    drafts.keep({"name": "b", "payload_text": '{"y": 2}', "headers_text": ""})
    assert drafts.latest() == {"name": "b", "payload_text": '{"y": 2}', "headers_text": ""}
    assert drafts.get("a") is not None and len(drafts) == 2
    drafts.keep({"name": "b", "payload_text": "{\n  \n}", "headers_text": ""})  # left empty
    assert drafts.get("b") is None and drafts.latest() is None and len(drafts) == 1
    drafts.drop("a")
    assert len(drafts) == 0
    assert untouched({"payload_text": " { } ", "headers_text": ""})
    assert not untouched({"payload_text": "{}", "headers_text": "trace=1"})


async def open_composer(app, pilot) -> ComposerScreen:
    await pilot.press("n")
    await wait_for(pilot, lambda: isinstance(app.screen, ComposerScreen), what="composer")
    await flush(pilot)
    return app.screen


async def test_esc_keeps_the_draft_and_n_brings_it_back_until_it_is_sent() -> None:
    app = quiet_app()
    async with app.run_test(size=SIZE) as pilot:
        await held(pilot)
        recorder = Recorder()
        app.main.runtime = recorder
        screen = await open_composer(app, pilot)
        payload = screen.query_one("#payload", TextArea)
        assert payload.cursor_location == (1, 2)  # inside the { }
        await type_text(pilot, "orders/status\n")
        await type_text(pilot, '"status": "late"')
        assert json.loads(payload.text) == {"status": "late"}
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, ComposerScreen))
        screen = await open_composer(app, pilot)
        assert screen.query_one("#name", Input).value == "orders/status"
        assert json.loads(screen.query_one("#payload", TextArea).text) == {"status": "late"}
        # another name's draft is kept apart, and comes back with its name
        screen.query_one("#name", Input).value = "audit/log"
        await flush(pilot)
        screen.query_one("#payload", TextArea).load_text('{"who": "me"}')
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, ComposerScreen))
        screen = await open_composer(app, pilot)
        assert screen.query_one("#name", Input).value == "audit/log"
        screen.query_one("#payload", TextArea).load_text("{}")
        screen.query_one("#name", Input).value = "orders/status"  # an untouched form: its draft
        await flush(pilot)
        assert json.loads(screen.query_one("#payload", TextArea).text) == {"status": "late"}
        screen.query_one("#recipients", TextArea).load_text(SNAP_SENDER)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: any(c[0] == "publish" for c in recorder.calls), what="sent")
        await app.workers.wait_for_complete()
        assert app.controller.drafts.get("orders/status") is None  # sent: forgotten
        await pilot.press("ctrl+l")  # clears the payload, cursor inside the braces
        payload = screen.query_one("#payload", TextArea)
        assert payload.text == "{\n  \n}" and payload.cursor_location == (1, 2)


async def test_ctrl_e_starts_the_payload_from_the_selected_message() -> None:
    app = quiet_app()
    async with app.run_test(size=SIZE) as pilot:
        await held(pilot)
        selected = app.query_one(StreamView).selected
        assert selected is not None
        screen = await open_composer(app, pilot)
        await pilot.press("ctrl+e")
        await flush(pilot)
        assert screen.query_one("#name", Input).value == selected.name
        value = json.loads(screen.query_one("#payload", TextArea).text)
        assert value == selected.decrypt(app.controller.history.secret_key)
        assert value["order"]["id"] == 1005
