"""One action on several messages: asks first (saying how many), then runs it one
message at a time with a progress line, and lists every failure (and, for a
re-publish, every outcome) instead of hiding them.

The action is a coroutine per entry returning a line for the list (None: nothing
worth listing) or raising; Escape while it runs stops it after the current one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from ensync_tui.app.history import Entry
from ensync_tui.app.screens.common import DIALOG_CSS
from ensync_tui.errors import error_text
from ensync_tui.safetext import visible

__all__ = ["MAX_LISTED", "BatchScreen"]

MAX_LISTED = 500  # lines the outcome list keeps (the counts cover the rest)
Action = Callable[[Entry], Awaitable[str | None]]


class BatchScreen(ModalScreen[tuple[int, int]]):
    """Confirm, run and report an action on ``entries``: dismisses with (done, failed)."""

    DEFAULT_CSS = (
        "BatchScreen {"
        + DIALOG_CSS
        + """
        & > .dialog { width: 80; max-width: 95%; }
        & #question { margin-top: 1; height: auto; }
        & #progress { margin-top: 1; height: auto; color: $text-muted; }
        & #outcomes { height: auto; max-height: 16; margin-top: 1; }
        & #outcomes Static { height: auto; }
        & .-failed { color: $text-error; }
    }
    """
    )

    BINDINGS = [Binding("escape", "stop", "Stop or close", id="batch.stop")]

    def __init__(self, verb: str, entries: list[Entry], action: Action, note: str = "") -> None:
        super().__init__()
        self.verb = verb  # "Ack", "Defer", "Discard", "Re-publish"
        self.entries = list(entries)
        self.action = action
        self.note = note
        self.done = 0
        self.failed = 0
        self.running = False
        self.finished = False
        self._stop = False
        self._listed = 0

    def compose(self) -> ComposeResult:
        count = len(self.entries)
        noun = "message" if count == 1 else "messages"
        with Vertical(classes="dialog") as dialog:
            dialog.border_title = f"{self.verb} {count:,} {noun}"
            question = f"{self.verb} the {count:,} selected {noun}?"
            if self.note:
                question += f" {self.note}"
            yield Static(Content(visible(question)), id="question")
            yield Static("", id="progress")
            yield VerticalScroll(id="outcomes")
            with Horizontal(classes="buttons"):
                yield Button(f"{self.verb} {count:,}", variant="primary", id="ok")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#outcomes").display = False
        self.query_one("#progress").display = False
        self.query_one("#ok", Button).focus()

    @on(Button.Pressed, "#ok")
    def _go(self) -> None:
        if self.running or self.finished:
            return
        self.running = True
        ok = self.query_one("#ok", Button)
        ok.disabled = True
        self.query_one("#cancel", Button).label = "Stop"
        self._show_progress()
        self._run()

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.action_stop()

    def action_stop(self) -> None:
        if self.running:
            self._stop = True  # after the one being sent
            return
        self.dismiss((self.done, self.failed))

    @work(group="batch", exit_on_error=False)
    async def _run(self) -> None:
        total = len(self.entries)
        for entry in self.entries:
            if self._stop:
                break
            try:
                line = await self.action(entry)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.failed += 1
                self._list(f"✗ {visible(entry.idem)}: {visible(error_text(exc))}", True)
            else:
                self.done += 1
                if line:
                    self._list(line, False)
            self._show_progress()
        self.running = False
        self.finished = True
        stopped = self.done + self.failed < total
        self._show_progress(stopped)
        cancel = self.query_one("#cancel", Button)
        cancel.label = "Close"
        cancel.focus()

    def _list(self, text: str, failed: bool) -> None:
        outcomes = self.query_one("#outcomes", VerticalScroll)
        outcomes.display = True
        self._listed += 1
        if self._listed > MAX_LISTED:
            return
        line = Static(Content(text), classes="-failed" if failed else "")
        outcomes.mount(line)
        outcomes.scroll_end(animate=False)

    def _show_progress(self, stopped: bool = False) -> None:
        total = len(self.entries)
        gone = self.done + self.failed
        verb = self.verb.lower()
        if self.finished:
            head = "stopped" if stopped else "finished"
            text = f"{head}: {self.done:,} of {total:,} done, {self.failed:,} failed"
        else:
            text = f"{verb}: {gone:,}/{total:,} · {self.done:,} done · {self.failed:,} failed"
        if self._listed > MAX_LISTED:
            text += f" · the list shows the first {MAX_LISTED}"
        progress = self.query_one("#progress", Static)
        progress.display = True
        progress.update(text)

    def outcome_lines(self) -> list[str]:
        """What the outcome list shows, for tests and for the report."""
        return [str(child.render()) for child in self.query_one("#outcomes").children]
