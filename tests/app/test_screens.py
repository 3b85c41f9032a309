"""Pilot tests of the modal screens: composer, replay search, prompts, help and clipboard."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from typing import Any

import pytest
from nacl import bindings
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Button, Checkbox, Input, Label, OptionList, Static, Switch, TextArea

from ensync_tui.app.clipboard import copy_text
from ensync_tui.app.screens.composer import ComposerScreen
from ensync_tui.app.screens.help import HelpScreen, KeyList, group_bindings
from ensync_tui.app.screens.json_area import highlight_line
from ensync_tui.app.screens.prompts import (
    DeferScreen,
    DiscardScreen,
    PauseScreen,
    SubscribeScreen,
    format_delay,
    parse_delay,
)
from ensync_tui.app.screens.replay import (
    ReplayScreen,
    ResultsTable,
    failure_reason,
    payload_preview,
    split_idems,
)
from ensync_tui.client import EnSyncError, EnSyncPublishError
from ensync_tui.client.publishing import Message


def fixed_key(seed: int) -> str:
    public, _ = bindings.crypto_sign_seed_keypair(bytes([seed]) * 32)
    return base64.b64encode(public).decode()


SELF_KEY = fixed_key(1)
ALICE_KEY = fixed_key(2)
BOB_KEY = fixed_key(3)
CONTACTS = {"alice": ALICE_KEY, "bob": BOB_KEY}
NAMES = ["orders/created", "orders/status", "users/signup"]


class Host(App[None]):
    """A bare app that opens one screen and records what it was dismissed with."""

    def __init__(self, make_screen: Callable[[], Screen[Any]]) -> None:
        super().__init__()
        self.make_screen = make_screen
        self.dismissed: list[Any] = []
        self.notes: list[str] = []

    def notify(self, message: str, **kwargs: Any) -> None:  # type: ignore[override]
        self.notes.append(message)
        super().notify(message, **kwargs)

    def compose(self) -> ComposeResult:
        yield Label("host")

    def on_mount(self) -> None:
        self.push_screen(self.make_screen(), callback=self.dismissed.append)


async def type_text(pilot: Pilot[Any], text: str) -> None:
    await pilot.press(*["enter" if ch == "\n" else ch for ch in text])


def plain(widget: Static) -> str:
    return str(widget.render())


class FakeSend:
    def __init__(self, error: Exception | None = None) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.error = error

    async def __call__(self, message: Message) -> list[dict]:
        m = message
        self.calls.append((m.name, m.recipients, m.payload, m.metadata, m.hybrid))
        if self.error:
            raise self.error
        return [
            {"recipient": key, "idem": f"idem-{n}", "block": 40 + n, "response": "ok"}
            for n, key in enumerate(m.recipients)
        ]


def composer_host(send: FakeSend, history: list[dict] | None = None) -> Host:
    history = [] if history is None else history
    return Host(lambda: ComposerScreen(NAMES, CONTACTS, SELF_KEY, history, send))


async def flush(pilot: Pilot[Any]) -> None:
    """Let messages posted so far, and those they bubble or post in turn, be handled."""
    for _ in range(3):
        await pilot.pause()


async def settle(pilot: Pilot[Any]) -> None:
    await pilot.app.workers.wait_for_complete()
    await flush(pilot)


# ---- composer -----------------------------------------------------------------------------


async def test_composer_invalid_json_shows_line_and_column_and_sends_nothing() -> None:
    send = FakeSend()
    app = composer_host(send)
    async with app.run_test(size=(120, 40)) as pilot:
        await flush(pilot)
        screen = app.screen
        await type_text(pilot, "orders/created\n")  # Enter moves on to the payload
        payload = screen.query_one("#payload", TextArea)
        assert screen.focused is payload
        assert payload.cursor_location == (1, 2)  # typing starts inside the braces
        await pilot.press("up", "ctrl+a", "shift+end", "shift+down", "shift+down", "delete")
        assert payload.text == ""
        await type_text(pilot, '{\n"a": 1,\n"b" 2\n}')
        await flush(pilot)
        status = screen.query_one("#json-status", Static)
        assert status.has_class("-error")
        assert "line 3, column 5" in plain(status)
        assert "Expecting ':' delimiter" in plain(status)
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert send.calls == []
        result = plain(screen.query_one("#result", Static))
        assert "Payload: not valid JSON: line 3, column 5" in result
        assert "Nothing was sent" in result
        assert screen.focused is payload


async def test_composer_valid_send_calls_send_and_shows_idem_and_block() -> None:
    send = FakeSend()
    history: list[dict] = []
    app = composer_host(send, history)
    async with app.run_test(size=(120, 40)) as pilot:
        await flush(pilot)
        screen = app.screen
        screen.query_one("#name", Input).value = "orders/created"
        screen.query_one("#recipients", TextArea).load_text("self\nAlice")
        screen.query_one("#payload", TextArea).load_text('{"order": 42, "items": ["a"]}')
        screen.query_one("#headers", TextArea).load_text("trace = abc\nsource=tui")
        await flush(pilot)
        assert "valid JSON object" in plain(screen.query_one("#json-status", Static))
        # several recipients switch hybrid on until the user sets it
        assert screen.query_one("#hybrid", Switch).value is True
        await pilot.click("#send")
        await settle(pilot)
        assert send.calls == [
            (
                "orders/created",
                [SELF_KEY, ALICE_KEY],
                {"order": 42, "items": ["a"]},
                {"persist": True, "headers": {"trace": "abc", "source": "tui"}},
                True,
            )
        ]
        result = plain(screen.query_one("#result", Static))
        assert "idem-0" in result and "block 40" in result
        assert "alice" in result and "idem-1" in result and "block 41" in result
        assert history == [
            {
                "name": "orders/created",
                "recipients": ["self", "Alice"],
                "payload_text": '{"order": 42, "items": ["a"]}',
                "headers_text": "trace = abc\nsource=tui",
                "persist": True,
                "hybrid": True,
            }
        ]


async def test_composer_persist_off_and_manual_hybrid() -> None:
    send = FakeSend()
    app = composer_host(send)
    async with app.run_test(size=(120, 40)) as pilot:
        await flush(pilot)
        screen = app.screen
        screen.query_one("#name", Input).value = "orders/status"
        screen.query_one("#recipients", TextArea).load_text(BOB_KEY)
        screen.query_one("#payload", TextArea).load_text('{"list": [1, 2]}')
        screen.query_one("#headers", TextArea).load_text('{"n": 1}')
        await flush(pilot)
        assert screen.query_one("#hybrid", Switch).value is False
        # the default is the CLI's: hybrid for several recipients, and it says so
        assert str(screen.query_one("#hybrid-label", Label).render()) == "Hybrid (auto)"
        await pilot.click("#persist")
        await pilot.click("#hybrid")
        await flush(pilot)
        assert str(screen.query_one("#hybrid-label", Label).render()) == "Hybrid"
        assert screen.query_one("#persist", Checkbox).value is False
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert send.calls == [
            (
                "orders/status",
                [BOB_KEY],
                {"list": [1, 2]},
                {"persist": False, "headers": {"n": 1}},
                True,
            )
        ]
        assert "bob" in plain(screen.query_one("#result", Static))


BAD_INPUT = [
    ("carol", "", "'carol' is neither a public key nor a contact (known: self, alice, bob)"),
    ("A" * 43 + "=", "", "not a valid Ed25519 public key"),
    ("QUJD" * 11, "", "decodes to 33 bytes"),
    ("", "", "Recipients: add at least one recipient"),
    ("self", "no equals sign", "Headers: line 1: expected key=value, got 'no equals sign'"),
    ("self", '{"a": }', "Headers: not valid JSON: line 1, column 7"),
]


async def test_composer_bad_input_is_explained_and_nothing_sent() -> None:
    send = FakeSend()
    app = composer_host(send)
    async with app.run_test(size=(120, 40)) as pilot:
        await flush(pilot)
        screen = app.screen
        screen.query_one("#name", Input).value = "orders/created"
        screen.query_one("#payload", TextArea).load_text('{"a": 1}')
        for recipients, headers, expected in BAD_INPUT:
            screen.query_one("#recipients", TextArea).load_text(recipients)
            screen.query_one("#headers", TextArea).load_text(headers)
            await flush(pilot)
            await pilot.press("ctrl+s")
            await settle(pilot)
            result = plain(screen.query_one("#result", Static))
            assert expected in result, result
            assert "Nothing was sent" in result
        assert send.calls == []
        assert app.screen is screen


async def test_composer_missing_name_is_refused() -> None:
    send = FakeSend()
    app = composer_host(send)
    async with app.run_test(size=(120, 40)) as pilot:
        await flush(pilot)
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert send.calls == []
        result = plain(app.screen.query_one("#result", Static))
        # every problem at once, each on a line of its own
        assert result.splitlines() == [
            "✗ Message name: a message name is required.",
            "Nothing was sent.",
        ]


async def test_composer_says_every_problem_at_once_in_publishs_words() -> None:
    send = FakeSend()
    app = composer_host(send)
    async with app.run_test(size=(120, 40)) as pilot:
        await flush(pilot)
        screen = app.screen
        screen.query_one("#name", Input).value = "orders created"
        screen.query_one("#recipients", TextArea).load_text("self mallory")
        screen.query_one("#payload", TextArea).load_text("[1, 2]")
        screen.query_one("#headers", TextArea).load_text("no equals sign")
        await flush(pilot)
        status = plain(screen.query_one("#json-status", Static))
        assert status == "✗ the payload must be a JSON object"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert send.calls == []
        lines = plain(screen.query_one("#result", Static)).splitlines()
        known = "(known: self, alice, bob)"
        assert lines == [
            "✗ Message name: 'orders created' is not a message name (no spaces or ';').",
            f"✗ Recipients: 'mallory' is neither a public key nor a contact {known}.",
            "✗ Payload: the payload must be a JSON object.",
            "✗ Headers: line 1: expected key=value, got 'no equals sign'.",
            "Nothing was sent.",
        ]
        assert screen.focused is screen.query_one("#name", Input)  # the first to fix


async def test_composer_takes_recipients_as_publish_does() -> None:
    send = FakeSend()
    app = composer_host(send)
    async with app.run_test(size=(120, 40)) as pilot:
        await flush(pilot)
        screen = app.screen
        screen.query_one("#name", Input).value = "orders/created"
        # contact names in any case; spaces, commas and new lines all separate
        screen.query_one("#recipients", TextArea).load_text("ALICE Bob,\nSelf  alice")
        await flush(pilot)
        shown = plain(screen.query_one("#recipients-status", Static))
        assert shown.startswith("→ alice (") and ", bob (" in shown and ", self (" in shown
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert [call[1] for call in send.calls] == [[ALICE_KEY, BOB_KEY, SELF_KEY]]


async def test_composer_shows_engine_error_and_keeps_history_unchanged() -> None:
    send = FakeSend(EnSyncError("no permission to send orders/created", "EnSyncPublishError"))
    history: list[dict] = []
    app = composer_host(send, history)
    async with app.run_test(size=(120, 40)) as pilot:
        await flush(pilot)
        screen = app.screen
        screen.query_one("#name", Input).value = "orders/created"
        screen.query_one("#payload", TextArea).load_text("{}")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert len(send.calls) == 1
        result = screen.query_one("#result", Static)
        assert "Send failed: no permission to send orders/created" in plain(result)
        assert result.has_class("-error")
        assert history == []
        assert not screen.query_one("#send", Button).disabled


async def test_composer_shows_partial_publish_failure_per_recipient() -> None:
    error = EnSyncPublishError(
        "alice may not receive orders/created",
        results=[
            {"recipient": SELF_KEY, "idem": "idem-ok", "block": 5, "response": "+PASS:"},
            {"recipient": ALICE_KEY, "error": EnSyncPublishError("alice may not receive")},
        ],
    )
    send = FakeSend(error)
    app = composer_host(send)
    async with app.run_test(size=(120, 40)) as pilot:
        await flush(pilot)
        screen = app.screen
        screen.query_one("#name", Input).value = "orders/created"
        screen.query_one("#recipients", TextArea).load_text("self, alice")
        screen.query_one("#payload", TextArea).load_text("{}")
        await pilot.press("ctrl+s")
        await settle(pilot)
        result = plain(screen.query_one("#result", Static))
        assert "Send failed: alice may not receive orders/created" in result
        assert "self  idem idem-ok  block 5" in result
        assert "alice  alice may not receive" in result


async def test_composer_recipient_preview_resolves_contacts() -> None:
    app = composer_host(FakeSend())
    async with app.run_test(size=(120, 40)) as pilot:
        await flush(pilot)
        screen = app.screen
        status = screen.query_one("#recipients-status", Static)
        assert "self (" in plain(status)
        screen.query_one("#recipients", TextArea).load_text("bob, nobody")
        await flush(pilot)
        assert "'nobody' is neither a public key nor a contact" in plain(status)
        assert status.has_class("field-error")


async def test_composer_history_recall() -> None:
    history = [
        {
            "name": "orders/created",
            "recipients": ["self"],
            "payload_text": '{"n": 1}',
            "headers_text": "",
            "persist": True,
            "hybrid": False,
        },
        {
            "name": "orders/status",
            "recipients": ["alice", "bob"],
            "payload_text": '{"n": 2}',
            "headers_text": "k=v",
            "persist": False,
            "hybrid": True,
        },
    ]
    send = FakeSend()
    app = composer_host(send, history)
    async with app.run_test(size=(120, 40)) as pilot:
        await flush(pilot)
        screen = app.screen
        screen.query_one("#name", Input).value = "draft/name"
        name = screen.query_one("#name", Input)
        payload = screen.query_one("#payload", TextArea)
        await pilot.press("ctrl+up")
        assert name.value == "orders/status"
        assert payload.text == '{"n": 2}'
        assert screen.query_one("#recipients", TextArea).text == "alice\nbob"
        assert screen.query_one("#headers", TextArea).text == "k=v"
        assert screen.query_one("#persist", Checkbox).value is False
        assert "history 2/2" in plain(screen.query_one("#history-pos", Static))
        await pilot.press("ctrl+up")
        assert name.value == "orders/created"
        await pilot.press("ctrl+up")  # stays on the oldest
        assert name.value == "orders/created"
        await pilot.press("alt+down")
        assert name.value == "orders/status"
        await pilot.press("ctrl+down")  # past the newest: the draft comes back
        assert name.value == "draft/name"
        # recall, edit, send: the edited version is added to the history
        await pilot.press("ctrl+up")
        payload.load_text('{"n": 3}')
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert send.calls[0][:3] == ("orders/status", [ALICE_KEY, BOB_KEY], {"n": 3})
        assert len(history) == 3 and history[-1]["payload_text"] == '{"n": 3}'


async def test_composer_escape_closes() -> None:
    app = composer_host(FakeSend())
    async with app.run_test(size=(120, 40)) as pilot:
        await flush(pilot)
        app.screen.query_one("#payload", TextArea).focus()
        await pilot.press("escape")
        await flush(pilot)
        assert not isinstance(app.screen, ComposerScreen)
        assert app.dismissed == [None]


def test_json_highlight() -> None:
    kinds = [kind for _, _, kind in highlight_line('"k": "v", 1.5e3, true, null')]
    assert kinds[:3] == ["json.label", "punctuation.delimiter", "string"]
    assert "number" in kinds and "boolean" in kinds and "json.null" in kinds
    # byte offsets, as the TextArea wants them
    assert highlight_line('"é"') == [(0, 4, "string")]


# ---- replay -------------------------------------------------------------------------------


class FakeReplay:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    async def __call__(self, name: str, idem: str) -> dict:
        self.calls.append((name, idem))
        if idem == "missing":
            raise EnSyncError("REPLAY failed: message missing not found", "EnSyncReplayError")
        return {
            "messageName": name,
            "idem": idem,
            "block": 7,
            "timestamp": 1_700_000_000_000,
            "payload": {"order": 42},
            "metadata": {"persist": True, "headers": {}},
            "sender": ALICE_KEY,
            "decryptError": None,
        }


def table_text(table: ResultsTable) -> list[str]:
    return [" ".join(str(cell) for cell in table.get_row_at(i)) for i in range(table.row_count)]


async def test_replay_shows_results_and_reasons_and_calls_on_result_once() -> None:
    replay = FakeReplay()
    results: list[dict] = []
    history: list[tuple[str, str]] = []
    app = Host(lambda: ReplayScreen(NAMES, history, replay, results.append))
    async with app.run_test(size=(120, 40)) as pilot:
        await flush(pilot)
        screen = app.screen
        screen.query_one("#name", Input).value = "orders/created"
        screen.query_one("#idems", TextArea).load_text("good-1\n\nmissing\n")
        screen.query_one("#name", Input).focus()
        await pilot.press("enter")
        await settle(pilot)
        assert replay.calls == [("orders/created", "good-1"), ("orders/created", "missing")]
        assert [m["idem"] for m in results] == ["good-1"]
        rows = table_text(screen.query_one("#results", ResultsTable))
        assert len(rows) == 2
        assert "good-1" in rows[0] and "orders/created" in rows[0] and '{"order":42}' in rows[0]
        assert "missing" in rows[1] and "not found" in rows[1]
        assert "1 replayed, 1 failed" in plain(screen.query_one("#progress", Static))
        assert history == [("orders/created", "good-1"), ("orders/created", "missing")]
        recent = screen.query_one("#recent", OptionList)
        assert recent.option_count == 2
        assert str(recent.get_option_at_index(0).prompt) == "orders/created  missing"


async def test_replay_survives_odd_answers_and_a_failing_callback() -> None:
    async def replay(name: str, idem: str) -> Any:
        if idem == "odd":
            return "not a message"
        if idem == "slow":
            raise TimeoutError()
        return {"messageName": name, "idem": idem, "block": 1, "payload": {}}

    def on_result(message: dict) -> None:
        raise RuntimeError("inspector is gone")

    app = Host(lambda: ReplayScreen(NAMES, [], replay, on_result))
    async with app.run_test(size=(120, 40)) as pilot:
        await flush(pilot)
        screen = app.screen
        screen.query_one("#name", Input).value = "orders/created"
        screen.query_one("#idems", TextArea).load_text("odd, slow, fine")
        await pilot.press("ctrl+s")
        await settle(pilot)
        rows = table_text(screen.query_one("#results", ResultsTable))
        assert "unexpected answer" in rows[0]
        assert "TimeoutError" in rows[1]
        assert "fine" in rows[2] and "{}" in rows[2]
        assert not screen.query_one("#run", Button).disabled
        assert app.screen is screen


async def test_replay_recent_search_runs_again() -> None:
    replay = FakeReplay()
    results: list[dict] = []
    history = [("orders/status", "old-1"), ("orders/created", "old-2")]
    app = Host(lambda: ReplayScreen(NAMES, history, replay, results.append))
    async with app.run_test(size=(120, 40)) as pilot:
        await flush(pilot)
        screen = app.screen
        assert screen.query_one("#name", Input).value == "orders/created"
        recent = screen.query_one("#recent", OptionList)
        recent.focus()
        recent.highlighted = 1  # newest first: index 1 is the older search
        await pilot.press("enter")
        await settle(pilot)
        assert replay.calls == [("orders/status", "old-1")]
        assert len(results) == 1
        assert history[-1] == ("orders/status", "old-1") and len(history) == 2


async def test_replay_needs_name_and_idem() -> None:
    replay = FakeReplay()
    app = Host(lambda: ReplayScreen(NAMES, [], replay, lambda message: None))
    async with app.run_test(size=(120, 40)) as pilot:
        await flush(pilot)
        screen = app.screen
        await pilot.press("ctrl+s")
        assert "Message name is required" in plain(screen.query_one("#error", Static))
        screen.query_one("#name", Input).value = "orders/created"
        await pilot.press("enter")
        assert "at least one idem" in plain(screen.query_one("#error", Static))
        await settle(pilot)
        assert replay.calls == []
        await pilot.press("escape")
        await flush(pilot)
        assert app.dismissed == [None]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("-FAIL:message 01H not found", "not found"),
        ("No such message", "not found"),
        ("client is neither the sender nor a recipient", "not yours"),
        ("permission denied for replay", "not yours"),
        ("message was not persisted", "not persisted"),
        ("message '01H' was published with persist=false", "not persisted"),
        ("no message '01H' sent or received by this client", "not found or not yours"),
        ("message '01H' is 'a/b', not 'a/c'", "message '01H' is 'a/b', not 'a/c'"),
        ("frame over 6 MiB", "frame over 6 MiB"),
    ],
)
def test_failure_reason(text: str, reason: str) -> None:
    assert failure_reason(EnSyncError(text, "EnSyncReplayError")) == reason


def test_replay_helpers() -> None:
    assert split_idems("a\n b , c\n\na") == ["a", "b", "c"]
    assert payload_preview({"payload": None, "decryptError": "wrong key"}) == (
        "cannot decrypt: wrong key"
    )
    assert payload_preview({"payload": {"x": "y" * 100}}, width=10) == '{"x":"yyy…'


# ---- prompts ------------------------------------------------------------------------------


async def test_defer_returns_delay_and_reason() -> None:
    app = Host(lambda: DeferScreen("idem-1"))
    async with app.run_test(size=(120, 40)) as pilot:
        await flush(pilot)
        await type_text(pilot, "2m")
        assert "2 min" in plain(app.screen.query_one("#delay-note", Static))
        await pilot.press("enter")
        await type_text(pilot, "retry later")
        await pilot.press("enter")
        await flush(pilot)
        assert app.dismissed == [(120_000, "retry later")]


async def test_defer_rejects_bad_delays() -> None:
    app = Host(lambda: DeferScreen("idem-1"))
    async with app.run_test(size=(120, 40)) as pilot:
        await flush(pilot)
        screen = app.screen
        delay = screen.query_one("#delay", Input)
        for typed, error in [
            ("500ms", "at least 1 s"),
            ("25h", "at most 24 h"),
            ("soon", "not a delay"),
            ("", "Enter a delay"),
        ]:
            delay.value = typed
            await flush(pilot)
            await pilot.click("#ok")
            await flush(pilot)
            assert app.dismissed == []
            assert error in plain(screen.query_one("#error", Static))
            assert screen.focused is delay
        await pilot.press("escape")
        await flush(pilot)
        assert app.dismissed == [None]


@pytest.mark.parametrize(
    ("text", "millis"),
    [
        ("5s", 5_000),
        ("2m", 120_000),
        ("1h", 3_600_000),
        ("1500ms", 1_500),
        ("90", 90_000),
        ("1.5", 1_500),
        ("1h 30m", 5_400_000),
        ("24h", 86_400_000),
        (" 1S ", 1_000),
    ],
)
def test_parse_delay(text: str, millis: int) -> None:
    assert parse_delay(text) == millis


@pytest.mark.parametrize("text", ["0", "999ms", "24h1s", "-5s", "5 parsecs", "nan", "1e9"])
def test_parse_delay_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_delay(text)


def test_format_delay() -> None:
    assert format_delay(5_400_000) == "1 h 30 min"
    assert format_delay(1_500) == "1.5 s"
    assert format_delay(61_000) == "1 min 1 s"


async def test_discard_needs_confirmation() -> None:
    app = Host(lambda: DiscardScreen("idem-9"))
    async with app.run_test(size=(120, 40)) as pilot:
        await flush(pilot)
        screen = app.screen
        await type_text(pilot, "poison message")
        await pilot.press("enter")
        await flush(pilot)
        assert app.dismissed == []  # the first Enter only arms the dialog
        assert "confirm" in plain(screen.query_one("#confirm", Static))
        assert screen.focused is screen.query_one("#ok", Button)
        await pilot.press("enter")
        await flush(pilot)
        assert app.dismissed == ["poison message"]


async def test_discard_cancel() -> None:
    app = Host(lambda: DiscardScreen("idem-9"))
    async with app.run_test(size=(120, 40)) as pilot:
        await flush(pilot)
        await type_text(pilot, "oops")
        await pilot.click("#cancel")
        await flush(pilot)
        assert app.dismissed == [None]


async def test_subscribe_refuses_empty_and_returns_name() -> None:
    app = Host(lambda: SubscribeScreen(NAMES))
    async with app.run_test(size=(120, 40)) as pilot:
        await flush(pilot)
        screen = app.screen
        await pilot.press("enter")
        assert app.dismissed == []
        assert "Enter a message name" in plain(screen.query_one("#error", Static))
        await type_text(pilot, "has;semicolon")
        await pilot.press("enter")
        assert app.dismissed == []
        assert "no spaces or ';'" in plain(screen.query_one("#error", Static))
        screen.query_one("#name", Input).value = ""
        await type_text(pilot, "user")
        await flush(pilot)
        # completion: the suggestion is accepted with the right arrow
        await pilot.press("right", "enter")
        await flush(pilot)
        assert app.dismissed == [["users/signup"]]


async def test_subscribe_takes_several_names_and_completes_the_last() -> None:
    app = Host(lambda: SubscribeScreen(NAMES, ["audit/log"]))
    async with app.run_test(size=(120, 40)) as pilot:
        await flush(pilot)
        screen = app.screen
        await type_text(pilot, "orders/created, audit/log a;b")
        await pilot.press("enter")
        await flush(pilot)
        assert app.dismissed == []  # every problem at once
        assert plain(screen.query_one("#error", Static)) == (
            "✗ 'a;b' is not a message name (no spaces or ';'). Already subscribed to audit/log."
        )
        screen.query_one("#name", Input).value = ""
        await type_text(pilot, "orders/created,orders/status users/si")
        await flush(pilot)
        names = screen.query_one("#names", OptionList)
        assert [names.get_option_at_index(i).id for i in range(names.option_count)] == [
            "users/signup"
        ]  # the list follows the name being typed
        await pilot.press("right", "enter")
        await flush(pilot)
        assert app.dismissed == [["orders/created", "orders/status", "users/signup"]]


async def test_subscribe_pick_from_list() -> None:
    app = Host(lambda: SubscribeScreen(NAMES))
    async with app.run_test(size=(120, 40)) as pilot:
        await flush(pilot)
        await type_text(pilot, "status")
        await flush(pilot)
        names = app.screen.query_one("#names", OptionList)
        assert names.option_count == 1
        names.focus()
        names.highlighted = 0
        await pilot.press("enter")
        await flush(pilot)
        assert app.dismissed == [["orders/status"]]


async def test_pause_returns_reason_or_empty() -> None:
    app = Host(lambda: PauseScreen("orders/created"))
    async with app.run_test(size=(120, 40)) as pilot:
        await flush(pilot)
        assert "orders/created" in plain(app.screen.query_one(".message", Static))
        await pilot.press("enter")
        await flush(pilot)
        assert app.dismissed == [""]
    app = Host(lambda: PauseScreen("orders/created"))
    async with app.run_test(size=(120, 40)) as pilot:
        await flush(pilot)
        await type_text(pilot, "maintenance")
        await pilot.click("#ok")
        await flush(pilot)
        assert app.dismissed == ["maintenance"]


# ---- help ---------------------------------------------------------------------------------

APP_BINDINGS = [
    Binding("a", "ack", "Ack selected", id="ack"),
    Binding("A", "toggle_auto_ack", "Toggle auto-ack", id="auto_ack"),
    Binding("p", "toggle_pause", "Pause/resume", id="pause"),
    Binding("d", "defer", "Defer", id="defer"),
    Binding("x", "discard", "Discard", id="discard"),
    Binding("r", "replay", "Replay search", id="replay"),
    Binding("n", "compose", "Publish", id="compose"),
    Binding("s", "subscribe", "Subscribe", id="subscribe"),
    Binding("u", "unsubscribe", "Unsubscribe", id="unsubscribe"),
    Binding("f", "follow", "Follow", id="follow"),
    Binding("c", "copy_payload", "Copy payload", id="copy_payload"),
    Binding("y", "copy_idem", "Copy idem", id="copy_idem"),
    Binding("slash", "filter", "Filter", id="filter"),
    Binding("question_mark", "help", "Help", id="help"),
    Binding("ctrl+p", "command_palette", "Commands", id="palette"),
    Binding("q", "quit", "Quit", id="quit"),
]


def test_group_bindings() -> None:
    groups = group_bindings([*APP_BINDINGS, Binding("z", "zoom", "Zoom"), APP_BINDINGS[0]])
    assert list(groups) == ["Subscriptions", "Messages", "Stream", "Tools", "App", "Other"]
    assert [b.key for b in groups["Subscriptions"]] == ["p", "s", "u"]
    assert [b.key for b in groups["Messages"]] == ["a", "A", "d", "x", "c", "y"]
    assert sum(len(v) for v in groups.values()) == len(APP_BINDINGS) + 1


@pytest.mark.parametrize("close_key", ["escape", "question_mark", "q"])
async def test_help_lists_every_binding_and_closes(close_key: str) -> None:
    app = Host(lambda: HelpScreen(APP_BINDINGS))
    async with app.run_test(size=(120, 40)) as pilot:
        await flush(pilot)
        text = "\n".join(str(k.render()) for k in app.screen.query(KeyList))
        for binding in APP_BINDINGS:
            assert binding.description in text
        for shown in ("/", "?", "^p", "A"):
            assert shown in text
        panes = plain(app.screen.query_one("#panes", Static))
        assert "Inspector" in panes and "Stream" in panes
        await pilot.press(close_key)
        await flush(pilot)
        assert app.dismissed == [None]


# ---- clipboard ----------------------------------------------------------------------------


class RecordingApp:
    def __init__(self, fail: bool = False) -> None:
        self.copied: list[str] = []
        self.fail = fail

    def copy_to_clipboard(self, text: str) -> None:
        if self.fail:
            raise OSError("no terminal")
        self.copied.append(text)


def test_clipboard_uses_pyperclip_when_it_works(monkeypatch: pytest.MonkeyPatch) -> None:
    import pyperclip

    copied: list[str] = []
    monkeypatch.setattr(pyperclip, "copy", copied.append)
    app = RecordingApp()
    assert copy_text(app, "payload") == "clipboard"
    assert copied == ["payload"] and app.copied == []


def test_clipboard_falls_back_to_osc52(monkeypatch: pytest.MonkeyPatch) -> None:
    import pyperclip

    def broken(text: str) -> None:
        raise pyperclip.PyperclipException("could not find a copy/paste mechanism")

    monkeypatch.setattr(pyperclip, "copy", broken)
    app = RecordingApp()
    assert copy_text(app, "idem-1") == "osc52"
    assert app.copied == ["idem-1"]
    assert copy_text(RecordingApp(fail=True), "x") == "none"


async def test_clipboard_osc52_on_a_real_app(monkeypatch: pytest.MonkeyPatch) -> None:
    import pyperclip

    def broken(text: str) -> None:
        raise pyperclip.PyperclipException("headless")

    monkeypatch.setattr(pyperclip, "copy", broken)
    app = Host(lambda: PauseScreen("x"))
    async with app.run_test(size=(80, 24)) as pilot:
        await flush(pilot)
        assert copy_text(app, "hello") == "osc52"
        assert app.clipboard == "hello"


async def test_json_editor_follows_light_and_dark_themes() -> None:
    app = composer_host(FakeSend())
    async with app.run_test(size=(120, 40)) as pilot:
        await flush(pilot)
        payload = app.screen.query_one("#payload", TextArea)
        assert payload.theme == "css"
        app.theme = "textual-light"
        await flush(pilot)
        assert payload.theme == "css-light"
        app.theme = "textual-dark"
        await flush(pilot)
        assert payload.theme == "css"


async def test_composer_closed_while_sending_still_reports() -> None:
    gate = asyncio.Event()

    class SlowSend(FakeSend):
        async def __call__(self, *args: Any) -> list[dict]:
            await gate.wait()
            return await super().__call__(*args)

    send = SlowSend()
    history: list[dict] = []
    app = composer_host(send, history)
    async with app.run_test(size=(120, 40)) as pilot:
        await flush(pilot)
        app.screen.query_one("#name", Input).value = "orders/created"
        app.screen.query_one("#payload", TextArea).load_text('{"late": true}')
        await flush(pilot)
        await pilot.press("ctrl+s")
        await pilot.press("escape")
        await flush(pilot)
        assert app.dismissed == [None]
        gate.set()
        await settle(pilot)
        assert len(send.calls) == 1 and len(history) == 1
        assert any("Published orders/created" in m and "idem-0" in m for m in app.notes)
