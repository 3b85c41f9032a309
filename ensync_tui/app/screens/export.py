"""Ask where to export the messages in view: dismisses with the file's path."""

from __future__ import annotations

from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Button, Input, Label, Static

from ensync_tui.app.screens.prompts import PromptScreen
from ensync_tui.safetext import visible

__all__ = ["ExportScreen", "export_path_problem"]


def export_path_problem(text: str) -> str | None:
    """Why ``text`` cannot be written as an export file, or None."""
    if not text.strip():
        return "give a file name"
    path = Path(text.strip()).expanduser()
    if path.is_dir():
        return f"{path} is a folder: add a file name"
    if not path.parent.is_dir():
        return f"folder {path.parent} does not exist"
    return None


class ExportScreen(PromptScreen[Path]):
    """Choose the file; an existing file is only replaced after a second press."""

    def __init__(self, count: int, what: str, default: Path) -> None:
        super().__init__()
        self._count = count
        self._what = what
        self._default = default
        self._confirmed: Path | None = None

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as dialog:
            dialog.border_title = "Export"
            noun = "message" if self._count == 1 else "messages"
            yield Static(
                Content(
                    f"Write the {self._count:,} {noun} in view ({visible(self._what)}) as NDJSON,"
                    " one message a line, decrypted where the key allows (readable by you only)."
                ),
                classes="message",
            )
            yield Label("File")
            yield Input(visible(str(self._default)), id="path")
            yield Static("", id="error", classes="field-error")
            with Horizontal(classes="buttons"):
                yield Button("Export", variant="primary", id="ok")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#path", Input).focus()

    @on(Input.Changed, "#path")
    def _changed(self) -> None:
        self._confirmed = None
        self._error("")

    @on(Input.Submitted, "#path")
    @on(Button.Pressed, "#ok")
    def _submit(self) -> None:
        text = self.query_one("#path", Input).value
        problem = export_path_problem(text)
        if problem:
            self._error(problem)
            return
        path = Path(text.strip()).expanduser()
        if path.exists() and self._confirmed != path:
            self._confirmed = path
            self._error(f"{path.name} exists: press Export again to replace it")
            return
        self.dismiss(path)
