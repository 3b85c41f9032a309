"""Ask which key path the Changes tab compares a message name by: dismisses with
the path, or "" for the previous message of the name (whatever its key)."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Button, Input, Label, Static

from ensync_tui.app.compare import PathError, check_path
from ensync_tui.app.screens.prompts import PromptScreen
from ensync_tui.safetext import visible

__all__ = ["CompareScreen"]


class CompareScreen(PromptScreen[str]):
    def __init__(self, name: str, path: str) -> None:
        super().__init__()
        self._message_name = name
        self._path = path

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as dialog:
            dialog.border_title = "Compare by"
            yield Static(
                Content.assemble(
                    "The Changes tab compares a ",
                    (visible(self._message_name), "bold"),
                    " message with the previous one whose value at this key path is the"
                    " same. Empty: the previous one of the name.",
                ),
                classes="message",
            )
            yield Label("Key path (RFC 9535 JSONPath)")
            yield Input(visible(self._path), placeholder="e.g. $.bikeId", id="path")
            yield Static("", id="error", classes="field-error")
            with Horizontal(classes="buttons"):
                yield Button("Compare", variant="primary", id="ok")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#path", Input).focus()

    @on(Input.Submitted, "#path")
    @on(Button.Pressed, "#ok")
    def _submit(self) -> None:
        text = self.query_one("#path", Input).value.strip()
        if not text:
            self.dismiss("")
            return
        try:
            path = check_path(text)
        except PathError as exc:
            self._error(f"column {exc.offset + 1}: {exc.message}")
            return
        self.dismiss(path)
