"""Saved payloads on screen: ask a save name, list a message name's saved payloads (Enter
loads, r renames, delete removes after a confirmation), and the composer's keys for them.

Save names and message names are shown through ``safetext`` (they may hold anything)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from ensync_tui.app.saved import MAX_SAVE_NAME, SavedError, SavedPayloads, name_problem
from ensync_tui.app.screens.prompts import PromptScreen
from ensync_tui.safetext import visible

__all__ = ["ComposerSaved", "ConfirmScreen", "SaveNameScreen", "SavedPayloadsScreen", "ask_save"]


def _about(message_name: str) -> str:
    return visible(message_name) if message_name else "(no message name)"


class SaveNameScreen(PromptScreen[str]):
    """Ask the name to save a payload under: dismisses with it."""

    def __init__(self, message_name: str, title: str = "Save payload", value: str = "") -> None:
        super().__init__()
        self._message_name = message_name
        self._title = title
        self._value = value

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as dialog:
            dialog.border_title = self._title
            yield Static(Content(f"for {_about(self._message_name)}"), classes="message")
            yield Label("Name")
            yield Input(self._value, max_length=MAX_SAVE_NAME, id="save-name")
            yield Static("", id="error", classes="field-error")
            with Horizontal(classes="buttons"):
                yield Button("Save", variant="primary", id="ok")
                yield Button("Cancel", id="cancel")
            yield Static("enter save · esc cancel", classes="hint")

    def on_mount(self) -> None:
        self.query_one("#save-name", Input).focus()

    @on(Input.Submitted, "#save-name")
    @on(Button.Pressed, "#ok")
    def _submit(self) -> None:
        text = self.query_one("#save-name", Input).value.strip()
        problem = name_problem(text)
        if problem:
            self._error(problem)
            return
        self.dismiss(text)


class ConfirmScreen(PromptScreen[bool]):
    """Ask yes or no: y or Enter yes, n or Escape no."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes", id="confirm.yes"),
        Binding("n", "answer(False)", "No", id="confirm.no"),
    ]

    def __init__(self, title: str, question: str) -> None:
        super().__init__()
        self._title = title
        self._question = question

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as dialog:
            dialog.border_title = self._title
            yield Static(Content(self._question), id="confirm")
            with Horizontal(classes="buttons"):
                yield Button("Yes", variant="error", id="yes")
                yield Button("No", id="cancel")
            yield Static("y or enter yes · n or esc no", classes="hint")

    def on_mount(self) -> None:
        self.query_one("#yes", Button).focus()

    @on(Button.Pressed, "#yes")
    def _yes(self) -> None:
        self.dismiss(True)

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class SavedPayloadsScreen(ModalScreen[dict[str, Any] | None]):
    """A message name's saved payloads: Enter dismisses with the one to load."""

    DEFAULT_CSS = """
    SavedPayloadsScreen { align: center middle; background: $background 60%; }
    SavedPayloadsScreen > .dialog {
        width: 80; max-width: 95%; height: auto; max-height: 90%;
        border: round $primary; background: $surface; padding: 0 1;
        border-title-style: bold;
    }
    SavedPayloadsScreen #saved { height: auto; max-height: 16; }
    SavedPayloadsScreen #saved-status { height: auto; margin-top: 1; }
    SavedPayloadsScreen .hint { color: $text-muted; height: 1; margin-top: 1; }
    """

    BINDINGS = [
        Binding("escape", "close", "Close", id="saved.close"),
        Binding("r", "rename", "Rename", id="saved.rename"),
        Binding("delete,ctrl+d", "delete", "Delete", id="saved.delete"),
    ]

    def __init__(self, store: SavedPayloads) -> None:
        super().__init__()
        self._store = store
        self._saved: dict[str, dict[str, Any]] = {}

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as dialog:
            title = f"Saved payloads of {_about(self._store.message_name)}"
            dialog.border_title = Content(title)  # a str would be read as markup
            yield OptionList(id="saved")
            yield Static("", id="saved-status")
            yield Static("enter load · r rename · del delete · esc close", classes="hint")

    def on_mount(self) -> None:
        self._reload()
        self.query_one("#saved", OptionList).focus()

    def _reload(self, highlight: str | None = None) -> None:
        listing = self.query_one("#saved", OptionList)
        listing.clear_options()
        status = self.query_one("#saved-status", Static)
        try:
            self._saved = self._store.load()
        except SavedError as exc:
            self._saved = {}
            status.update(Content.styled(f"✗ {visible(str(exc))}", "$text-error"))
            return
        for save_name, entry in self._saved.items():
            first = " ".join(str(entry.get("payload_text", "")).split())[:40]
            when = visible(str(entry.get("saved_at", "")))
            listing.add_option(Option(Content(f"{visible(save_name)}  {when}  {visible(first)}")))
        names = list(self._saved)
        if not names:
            status.update("Nothing saved yet: ctrl+k in the composer saves the draft.")
            return
        status.update(f"{len(names)} saved")
        listing.highlighted = names.index(highlight) if highlight in names else 0

    def _current(self) -> str | None:
        index = self.query_one("#saved", OptionList).highlighted
        names = list(self._saved)
        return names[index] if index is not None and 0 <= index < len(names) else None

    def _fail(self, exc: SavedError) -> None:
        self.notify(visible(str(exc)), severity="error", markup=False)

    @on(OptionList.OptionSelected, "#saved")
    def _chosen(self) -> None:
        save_name = self._current()
        if save_name is not None:
            self.dismiss({"save_name": save_name, **self._saved[save_name]})

    def action_close(self) -> None:
        self.dismiss(None)

    def action_rename(self) -> None:
        old = self._current()
        if old is None:
            return

        def renamed(new: str | None) -> None:
            if not new or new == old:
                return
            try:
                self._store.rename(old, new)
            except SavedError as exc:
                self._fail(exc)
            self._reload(new)

        screen = SaveNameScreen(self._store.message_name, "Rename saved payload", old)
        self.app.push_screen(screen, renamed)

    def action_delete(self) -> None:
        save_name = self._current()
        if save_name is None:
            return

        def answered(yes: bool | None) -> None:
            if not yes:
                return
            try:
                self._store.delete(save_name)
            except SavedError as exc:
                self._fail(exc)
            self._reload()

        question = f"Delete the saved payload {visible(save_name)}?"
        self.app.push_screen(ConfirmScreen("Delete saved payload", question), answered)


def ask_save(screen: Any, message_name: str, form: dict[str, Any]) -> None:
    """Ask a save name on ``screen``'s app and save ``form`` under it; says how it went."""
    app = screen.app

    def named(save_name: str | None) -> None:
        if not save_name:
            return
        try:
            replaced = SavedPayloads(message_name).save(save_name, form)
        except SavedError as exc:
            app.notify(visible(str(exc)), title="Save payload", severity="error", markup=False)
            return
        what = "Replaced" if replaced else "Saved"
        text = f"{what} {visible(save_name)} for {_about(message_name)}."
        app.notify(text, title="Save payload", markup=False)

    app.push_screen(SaveNameScreen(message_name), named)


class ComposerSaved:
    """The composer's ctrl+k and ctrl+o (mixed into ComposerScreen)."""

    app: Any
    _form_state: Callable[[], dict[str, Any]]
    _load_state: Callable[[dict[str, Any]], None]

    def action_save_payload(self) -> None:
        form = self._form_state()
        ask_save(self, form["name"], form)

    def action_saved_payloads(self) -> None:
        name = self._form_state()["name"]

        def chosen(entry: dict[str, Any] | None) -> None:
            if entry is None:
                return
            self._load_state({**entry, "name": name})
            self.app.notify(f"Loaded {visible(entry['save_name'])}.", markup=False, timeout=3)

        self.app.push_screen(SavedPayloadsScreen(SavedPayloads(name)), chosen)
