"""Replay search: fetch persisted messages by name and idem, show each result or why not."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widgets import Button, DataTable, Input, Label, OptionList, Static, TextArea
from textual.widgets.option_list import Option

from ensync_tui.app.screens.common import DIALOG_CSS, shown_names
from ensync_tui.errors import error_text
from ensync_tui.safetext import visible

__all__ = ["ReplayScreen", "failure_reason", "format_time", "payload_preview", "split_idems"]

ReplayFunc = Callable[[str, str], Awaitable[dict]]

MAX_RECENT = 50
PREVIEW_WIDTH = 60

# Engine failure texts, folded to what they mean for the user (first match wins).
_REASONS: list[tuple[str, tuple[str, ...]]] = [
    # the local engine does not tell a missing message from someone else's
    ("not found or not yours", ("sent or received by this client",)),
    ("not persisted", ("not persisted", "persist")),
    (
        "not found",
        ("not found", "no such", "unknown idem", "unknown message", "does not exist", "no message"),
    ),
    (
        "not yours",
        (
            "not yours",
            "not allowed",
            "not permitted",
            "permission",
            "not a recipient",
            "not the sender",
            "neither",
            "forbidden",
            "denied",
        ),
    ),
]


def failure_reason(exc: BaseException) -> str:
    """Why a replay failed: "not found", "not yours", "not persisted", else the engine's text."""
    text = error_text(exc).strip()
    if text.startswith("-FAIL:"):
        text = text[len("-FAIL:") :].strip()
    folded = text.casefold()
    for reason, needles in _REASONS:
        if any(needle in folded for needle in needles):
            return reason
    return text or type(exc).__name__


def split_idems(text: str) -> list[str]:
    """Idems pasted one per line (commas and spaces also separate); repeats dropped."""
    idems: list[str] = []
    for token in text.replace(",", " ").split():
        if token not in idems:
            idems.append(token)
    return idems


def format_time(timestamp: Any) -> str:
    """A record time (ms since the epoch) as local date and time."""
    try:
        millis = int(timestamp)
    except (TypeError, ValueError):
        return "" if timestamp is None else str(timestamp)
    try:
        return datetime.fromtimestamp(millis / 1000).strftime("%Y-%m-%d %H:%M:%S")
    except (OverflowError, OSError, ValueError):
        return str(timestamp)


def payload_preview(message: dict[str, Any], width: int = PREVIEW_WIDTH) -> str:
    """One line of the decrypted payload, or why it could not be decrypted."""
    if message.get("decryptError"):
        text = f"cannot decrypt: {message['decryptError']}"
    elif message.get("payload") is None:
        text = "(not decrypted)"
    else:
        try:
            text = json.dumps(message["payload"], separators=(",", ":"), ensure_ascii=False)
        except RecursionError:
            text = "(cannot display: nested too deeply)"
        except Exception:
            text = str(message["payload"])
    text = visible(text)
    return text if len(text) <= width else text[: width - 1] + "…"


def _cell(value: object, style: str = "") -> Text:
    """A table cell of wire text: plain (Text is never markup), escapes visible."""
    return Text(visible(str(value)), style=style)


class ResultsTable(DataTable[Text]):
    """The replay results, with theme-coloured success and failure marks."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"results--ok", "results--failed"}
    DEFAULT_CSS = """
    ResultsTable > .results--ok { color: $text-success; }
    ResultsTable > .results--failed { color: $text-error; }
    """

    HEADERS = ("", "Idem", "Name", "Block", "Time", "Payload / reason")
    MAX_WIDTHS = (1, 40, 32, 12, 19, 200)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._results: list[tuple[Text, ...]] = []
        self._failed: set[int] = set()  # rows whose reason may wrap onto more lines

    def on_mount(self) -> None:
        self._rebuild()

    def add_success(self, name: str, idem: str, message: dict) -> None:
        ok = self.get_component_rich_style("results--ok", partial=True)
        self._add(
            Text("✓", style=ok),
            _cell(message.get("idem") or idem),
            _cell(message.get("messageName") or name),
            _cell(str(message.get("block", ""))[:40]),
            _cell(format_time(message.get("timestamp"))[:40]),
            Text(payload_preview(message)),
        )

    def add_failure(self, name: str, idem: str, reason: str) -> None:
        failed = self.get_component_rich_style("results--failed", partial=True)
        self._failed.add(len(self._results))
        self._add(
            Text("✗", style=failed),
            _cell(idem),
            _cell(name),
            Text(""),
            Text(""),
            Text(visible(reason), style=failed),
        )

    def on_resize(self) -> None:
        if self._results:
            self._rebuild()

    def _add(self, *cells: Text) -> None:
        self._results.append(cells)
        self._rebuild()
        self.move_cursor(row=len(self._results) - 1)

    def _rebuild(self) -> None:
        # Columns get fixed widths measured here: DataTable widens auto columns lazily and
        # may keep cells rendered at the old width. Rendering also crops a Text cell in
        # place, so rows are added as copies.
        self.clear(columns=True)
        widths = [
            min(max([len(header), *(row[index].cell_len for row in self._results)]), most)
            for index, (header, most) in enumerate(zip(self.HEADERS, self.MAX_WIDTHS, strict=True))
        ]
        # the last column (payload or reason) takes what is left, so no sideways scrolling
        room = self.size.width - sum(w + 2 * self.cell_padding for w in widths[:-1])
        room -= 2 * self.cell_padding + 1
        if self.size.width and room >= 12:
            widths[-1] = min(widths[-1], room)
        for index, (header, width) in enumerate(zip(self.HEADERS, widths, strict=True)):
            self.add_column(header, width=width, key=str(index))
        for index, row in enumerate(self._results):
            # a failure's whole reason shows (wrapped); a payload stays a one-line preview
            height = None if index in self._failed else 1
            self.add_row(*(cell.copy() for cell in row), height=height)


class ReplayScreen(ModalScreen[None]):
    """Replay messages by idem; successes go to ``on_result``."""

    DEFAULT_CSS = (
        "ReplayScreen {"
        + DIALOG_CSS
        + """
        & > .dialog { height: 95%; }
        & .form { height: auto; }
        & .fields { width: 1fr; height: auto; }
        & .fields Label { color: $text-muted; }
        & #idems { height: 6; }
        & .recent { width: 40%; max-width: 40; height: auto; padding-left: 1; }
        & #recent { height: 10; }
        & #error { height: auto; }
        & #progress { height: 1; color: $text-muted; margin-top: 1; }
        & #results { height: 1fr; min-height: 4; }
    }
    """
    )

    BINDINGS = [
        Binding("ctrl+s", "replay", "Replay", id="replay.run", priority=True),
        Binding("escape", "close", "Close", id="replay.close"),
    ]

    def __init__(
        self,
        names: list[str],
        history: list[tuple[str, str]],
        replay: ReplayFunc,
        on_result: Callable[[dict], None],
    ) -> None:
        super().__init__()
        self._names = list(names)
        self._history = history
        self._replay = replay
        self._on_result = on_result
        self._busy = False

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as dialog:
            dialog.border_title = "Replay by idem"
            with Horizontal(classes="form"):
                with Vertical(classes="fields"):
                    yield Label("Message name")
                    yield Input(
                        placeholder="e.g. orders/created",
                        suggester=SuggestFromList(shown_names(self._names), case_sensitive=False),
                        id="name",
                    )
                    yield Label("Idems (paste several, one per line)")
                    yield TextArea("", id="idems")
                with Vertical(classes="recent"):
                    yield Label("Recent searches")
                    yield OptionList(id="recent")
            yield Static("", id="error", classes="field-error")
            with Horizontal(classes="buttons"):
                yield Button("Replay", variant="primary", id="run")
                yield Button("Close", id="close")
            yield Static("", id="progress")
            yield ResultsTable(id="results", cursor_type="row", zebra_stripes=True)
            yield Static(
                "enter (in name) or ctrl+s replay · pick a recent search · esc close",
                classes="hint",
            )

    def on_mount(self) -> None:
        self._refresh_recent()
        if self._history:  # a name an engine answered with: its escapes stay visible
            self.query_one("#name", Input).value = visible(self._history[-1][0])
        self.query_one("#name", Input).focus()

    def _refresh_recent(self) -> None:
        recent = self.query_one("#recent", OptionList)
        recent.clear_options()
        for index in range(len(self._history) - 1, -1, -1):
            name, idem = self._history[index]
            recent.add_option(Option(Text(visible(f"{name}  {idem}")), id=str(index)))

    # ---- events ---------------------------------------------------------------------------

    @on(Input.Submitted, "#name")
    def _name_submitted(self) -> None:
        self.action_replay()

    @on(Button.Pressed, "#run")
    def _run_pressed(self) -> None:
        self.action_replay()

    @on(Button.Pressed, "#close")
    def _close_pressed(self) -> None:
        self.action_close()

    @on(OptionList.OptionSelected, "#recent")
    def _recent_picked(self, event: OptionList.OptionSelected) -> None:
        try:
            name, idem = self._history[int(event.option.id or "")]
        except (ValueError, IndexError):
            return
        self.query_one("#name", Input).value = visible(name)
        self.query_one("#idems", TextArea).load_text(visible(idem))
        self.action_replay()

    def action_close(self) -> None:
        self.dismiss(None)

    def action_replay(self) -> None:
        if self._busy:
            return
        name = self.query_one("#name", Input).value.strip()
        idems = split_idems(self.query_one("#idems", TextArea).text)
        error = self.query_one("#error", Static)
        if not name:
            error.update("✗ Message name is required.")
            self.query_one("#name", Input).focus()
            return
        if not idems:
            error.update("✗ Paste at least one idem.")
            self.query_one("#idems", TextArea).focus()
            return
        error.update("")
        self._busy = True
        self.query_one("#run", Button).disabled = True
        self.run_worker(self._run(name, idems), name="replay", group="replay", exit_on_error=False)

    # ---- work -----------------------------------------------------------------------------

    async def _run(self, name: str, idems: list[str]) -> None:
        table = self.query_one("#results", ResultsTable)
        progress = self.query_one("#progress", Static)
        found = 0
        try:
            for number, idem in enumerate(idems, start=1):
                progress.update(f"Replaying {number}/{len(idems)}…")
                found += await self._replay_one(table, name, idem)
                self._remember(name, idem)
            failed = len(idems) - found
            progress.update(f"{found} replayed, {failed} failed" if failed else f"{found} replayed")
        finally:
            self._busy = False
            self.query_one("#run", Button).disabled = False
            self._refresh_recent()

    async def _replay_one(self, table: ResultsTable, name: str, idem: str) -> bool:
        try:
            message = await self._replay(name, idem)
        except Exception as exc:
            table.add_failure(name, idem, failure_reason(exc))
            return False
        if not isinstance(message, dict):
            table.add_failure(name, idem, f"unexpected answer: {message!r:.60}")
            return False
        table.add_success(name, idem, message)
        try:
            self._on_result(message)
        except Exception as exc:
            reason = visible(f"Could not show {idem}: {error_text(exc)}")
            self.notify(reason, severity="error", markup=False)
        return True

    def _remember(self, name: str, idem: str) -> None:
        entry = (name, idem)
        if entry in self._history:
            self._history.remove(entry)
        self._history.append(entry)
        del self._history[:-MAX_RECENT]
