"""What the explorer tells the user: offline actions, subscribing twice, composer and replay."""

from __future__ import annotations

import json
from typing import Any

import pytest
from textual.widgets import Input, OptionList, Static, TextArea

from ensync_tui.app import EnsyncApp
from ensync_tui.app.messages import ConnectionChanged, RecordsReceived, SubscriptionsChanged
from ensync_tui.app.pacing import INSPECT_DELAY
from ensync_tui.app.screens.composer import ComposerScreen
from ensync_tui.app.screens.help import PANES_HELP
from ensync_tui.app.screens.prompts import SubscribeScreen
from ensync_tui.app.screens.replay import ReplayScreen, ResultsTable
from ensync_tui.app.widgets import Inspector, StreamView
from ensync_tui.client import EnSyncError, publishing
from ensync_tui.settings import Settings
from tests.app.conftest import (
    SIZE,
    SNAP_SECRET,
    ManualClock,
    build_records,
    got,
    settled,
    wait_for,
)
from tests.app.test_screens import (
    CONTACTS,
    NAMES,
    SELF_KEY,
    FakeSend,
    Host,
    composer_host,
    flush,
    plain,
    settle,
    table_text,
    type_text,
)

REFUSED = "cannot connect to ws://127.0.0.1:9/message: [Errno 111] Connect call failed"


def quiet_app() -> EnsyncApp:
    settings = Settings(
        url="ws://127.0.0.1:9",
        access_key="k",
        app_secret_key=SNAP_SECRET,
        subscribe=["orders/created"],
        message_names=["orders/created", "orders/status", "audit/log"],
    )
    return EnsyncApp(settings, start_session=False, clock=ManualClock())


class Recorder:
    """Stands in for the session: records what the app asks of the engine."""

    loop = None
    paused: dict[str, str] = {}

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def stop(self) -> None:
        pass

    async def close(self) -> None:
        pass

    def __getattr__(self, name: str) -> Any:
        async def call(*args: Any) -> Any:
            self.calls.append((name, *args))
            return {}

        return call


async def held(pilot: Any, state: str = "connected") -> EnsyncApp:
    app: EnsyncApp = pilot.app
    app.main.post_message(ConnectionChanged(state, 2, 4.0, REFUSED if state != "connected" else ""))
    app.main.post_message(SubscriptionsChanged(["orders/created"], {}))
    app.main.post_message(RecordsReceived(build_records(6)))
    await wait_for(pilot, lambda: got(app, 6), what="records")
    await settled(pilot, INSPECT_DELAY)  # the inspector shows the newest
    return app


# ---- actions while the engine is away -----------------------------------------------------


async def test_actions_are_refused_at_once_while_reconnecting(monkeypatch) -> None:
    app = quiet_app()
    async with app.run_test(size=SIZE) as pilot:
        await held(pilot, "reconnecting")
        recorder = Recorder()
        monkeypatch.setattr(app.main, "runtime", recorder)
        for key in ("a", "d", "x"):
            await pilot.press(key)
            await pilot.pause()
            assert app.screen is app.screen_stack[0], f"{key} opened a dialog"
        labels = [text.split(" failed: ")[0] for _, text in app.controller.notices]
        assert labels == ["ack", "defer", "discard"]
        assert all(
            text.endswith("not connected to the engine (reconnecting)")
            for _, text in app.controller.notices
        )
        app.main.subscribe_to("orders/status")
        app.main.replay_idem("orders/created", app.controller.history.entries[0].idem)
        assert "subscribe orders/status failed: not connected" in app.controller.notices[-2][1]
        assert recorder.calls == []
        # the composer's send and replay search get the same answer, at once
        assert app.controller.offline_reason() == "not connected to the engine (reconnecting)"
        send = app.main.publish(publishing.Message("orders/created", [SELF_KEY], {}, {}, False))
        for call in (send, app.main.replay("orders/created", "idem-1")):
            try:
                await call
            except Exception as exc:
                assert str(exc) == "not connected to the engine (reconnecting)"
            else:
                raise AssertionError("an offline call went through")
        # once connected, the same key reaches the engine
        app.main.post_message(ConnectionChanged("connected"))
        await pilot.pause()
        await pilot.press("a")
        await wait_for(pilot, lambda: recorder.calls, what="ack sent")
        assert recorder.calls[0][0] == "ack"


async def test_acting_while_following_shows_the_record_acted_on(monkeypatch) -> None:
    app = quiet_app()
    async with app.run_test(size=SIZE) as pilot:
        await held(pilot)
        stream = app.query_one(StreamView)
        inspector = app.query_one(Inspector)
        assert stream.follow
        older = app.controller.history.entries[0]
        inspector.show(older, app.controller.history.secret_key)  # the inspector trails the cursor
        recorder = Recorder()
        monkeypatch.setattr(app.main, "runtime", recorder)
        await pilot.press("a")
        await wait_for(pilot, lambda: recorder.calls, what="ack sent")
        selected = stream.selected
        assert selected is not None and recorder.calls[0][2] == selected.idem != older.idem
        assert inspector.entry is selected


# ---- subscribing --------------------------------------------------------------------------


async def test_subscribe_dialog_offers_only_names_not_subscribed_yet() -> None:
    app = Host(lambda: SubscribeScreen(NAMES, ["orders/created"]))
    async with app.run_test(size=(120, 40)) as pilot:
        await flush(pilot)
        screen = app.screen
        names = screen.query_one("#names", OptionList)
        shown = [str(names.get_option_at_index(i).prompt) for i in range(names.option_count)]
        assert shown == ["orders/status", "users/signup"]
        await type_text(pilot, "orders/created")
        await pilot.press("enter")
        assert app.dismissed == []
        assert "Already subscribed to orders/created" in plain(screen.query_one("#error", Static))


async def test_subscribing_again_says_so_instead_of_claiming_success() -> None:
    app = quiet_app()
    async with app.run_test(size=SIZE) as pilot:
        await held(pilot)
        app.main.subscribe_to("orders/created")
        assert app.controller.notices[-1] == ("information", "already subscribed to orders/created")


# ---- composer -----------------------------------------------------------------------------


async def test_each_unknown_contact_is_named_with_the_known_names() -> None:
    app = composer_host(FakeSend())
    async with app.run_test(size=(120, 40)) as pilot:
        await flush(pilot)
        screen = app.screen
        screen.query_one("#recipients", TextArea).load_text("self bob mallory, eve")
        await flush(pilot)
        known = "(known: self, alice, bob)"
        assert plain(screen.query_one("#recipients-status", Static)).splitlines() == [
            f"✗ 'mallory' is neither a public key nor a contact {known}",
            f"✗ 'eve' is neither a public key nor a contact {known}",
        ]


async def test_a_payload_over_the_engine_limit_is_flagged_and_not_sent(monkeypatch) -> None:
    monkeypatch.setattr(publishing, "MAX_PAYLOAD", 8192)  # small, so the editor stays quick
    send = FakeSend()
    app = composer_host(send)
    async with app.run_test(size=(120, 40)) as pilot:
        await flush(pilot)
        screen = app.screen
        screen.query_one("#name", Input).value = "orders/created"
        screen.query_one("#payload", TextArea).load_text(json.dumps({"blob": "x" * 6000}))
        await flush(pilot)
        status = screen.query_one("#json-status", Static)
        assert status.has_class("-error")
        assert "once encrypted, over the" in plain(status)
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert send.calls == []
        result = plain(screen.query_one("#result", Static))
        assert "Payload: " in result and "once encrypted, over the" in result
        assert "Nothing was sent" in result
        # with no recipients yet it is measured for self, the prefilled one
        screen.query_one("#recipients", TextArea).load_text("")
        await flush(pilot)
        assert status.has_class("-error") and "once encrypted" in plain(status)
        screen.query_one("#recipients", TextArea).load_text("self")
        # under the limit is fine
        screen.query_one("#payload", TextArea).load_text(json.dumps({"blob": "x" * 4000}))
        await flush(pilot)
        assert not status.has_class("-error")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert len(send.calls) == 1


async def test_typing_after_the_prefilled_self_adds_a_recipient() -> None:
    app = composer_host(FakeSend())
    async with app.run_test(size=(120, 40)) as pilot:
        await flush(pilot)
        screen = app.screen
        await pilot.press("tab")  # from the name to the recipients
        recipients = screen.query_one("#recipients", TextArea)
        assert screen.focused is recipients
        await type_text(pilot, ", alice")
        await flush(pilot)
        assert recipients.text == "self, alice"
        assert "alice (" in plain(screen.query_one("#recipients-status", Static))


async def test_a_refusal_goes_away_once_the_form_is_edited() -> None:
    app = composer_host(FakeSend())
    async with app.run_test(size=(120, 40)) as pilot:
        await flush(pilot)
        screen = app.screen
        result = screen.query_one("#result", Static)
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert result.has_class("-shown")
        assert "Message name: a message name is required" in plain(result)
        await type_text(pilot, "orders/created")
        await flush(pilot)
        assert not result.has_class("-shown")


async def test_a_refusal_right_after_typing_stays_shown() -> None:
    app = composer_host(FakeSend())
    async with app.run_test(size=(120, 40)) as pilot:
        await flush(pilot)
        screen = app.screen
        # typed fast, then ctrl+s: the refusal comes before the edits' change events
        screen.query_one("#name", Input).value = "orders/created"
        screen.query_one("#recipients", TextArea).load_text("")
        screen.action_send()
        await flush(pilot)
        result = screen.query_one("#result", Static)
        assert result.has_class("-shown")
        assert "Recipients: add at least one recipient" in plain(result)


# ---- replay and help ----------------------------------------------------------------------


async def test_a_long_replay_failure_shows_whole() -> None:
    reason = (
        "message '1a2173617ba000000053' is 'orders/created', not 'orders/status': "
        "search it under its own name"
    )

    async def replay(name: str, idem: str) -> dict:
        raise EnSyncError(reason, "EnSyncReplayError")

    app = Host(lambda: ReplayScreen(NAMES, [], replay, lambda message: None))
    async with app.run_test(size=(100, 40)) as pilot:
        await flush(pilot)
        screen = app.screen
        screen.query_one("#name", Input).value = "orders/status"
        screen.query_one("#idems", TextArea).load_text("1a2173617ba000000053")
        await pilot.press("ctrl+s")
        await settle(pilot)
        table = screen.query_one("#results", ResultsTable)
        assert reason in table_text(table)[0]
        row = table.ordered_rows[0]
        assert row.height > 1  # wrapped, not cut at the column's edge
        shown = " ".join(
            line.text for line in table.render_lines(table.region.reset_offset)
        ).replace(" ", "")
        assert "searchitunderitsownname" in shown


def test_help_tells_how_to_move_between_panes() -> None:
    assert (
        "Tab" in PANES_HELP
        and "PgUp/PgDn" in PANES_HELP
        and "Enter on a subscription" in (PANES_HELP)
    )


async def test_the_composer_prefills_self_from_the_app() -> None:
    app = Host(lambda: ComposerScreen(NAMES, CONTACTS, SELF_KEY, [], FakeSend()))
    async with app.run_test(size=(120, 40)) as pilot:
        await flush(pilot)
        recipients = app.screen.query_one("#recipients", TextArea)
        assert recipients.text == "self" and recipients.cursor_location == (0, 4)


async def test_unsubscribe_without_a_choice_says_how_to_choose() -> None:
    app = quiet_app()
    async with app.run_test(size=SIZE) as pilot:
        await held(pilot)
        await pilot.press("u")
        assert app.controller.notices[-1] == (
            "warning",
            "select a subscription in the list first (shift+tab moves there)",
        )
        await pilot.press("shift+tab")  # from the stream, as the notice says
        assert app.focused is app.query_one("#subs")


@pytest.mark.parametrize(("key", "label"), [("s", "subscribe"), ("n", "publish"), ("r", "replay")])
async def test_dialogs_that_need_the_engine_say_so_at_once_while_it_is_away(
    key: str, label: str
) -> None:
    settings = Settings(url="ws://127.0.0.1:9", access_key="k", app_secret_key=SNAP_SECRET)
    app = EnsyncApp(settings, start_session=False, clock=ManualClock())
    async with app.run_test(size=SIZE) as pilot:
        app.main.post_message(ConnectionChanged("reconnecting", 2, 3.0, "connection lost"))
        await pilot.pause()
        await pilot.press(key)
        await pilot.pause()
        assert app.screen is app.main  # no dialog that could only fail on submit
        expected = f"{label} failed: not connected to the engine (reconnecting)"
        assert ("warning", expected) in app.controller.notices
        app.main.post_message(ConnectionChanged("connected"))
        await pilot.pause()
        await pilot.press(key)
        await wait_for(pilot, lambda: app.screen is not app.main, what="the dialog")


async def test_messages_sent_by_this_identity_show_self_as_the_sender() -> None:
    from ensync_tui.app.messages import SessionReady
    from tests.app.conftest import SNAP_SENDER

    app = quiet_app()
    async with app.run_test(size=SIZE) as pilot:
        # published elsewhere (e.g. `ensync-tui publish`) with this identity's key
        app.main.post_message(SessionReady(app.controller.settings, SNAP_SENDER))
        await held(pilot)
        stream = app.query_one(StreamView)
        assert stream.sender_label(SNAP_SENDER) == "self"
        assert " self " in stream.row_text(stream.history[0], 160)
        assert app.query_one(Inspector).senders[SNAP_SENDER] == "self"
