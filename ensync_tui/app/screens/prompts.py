"""Small prompts: defer (delay, reason), discard (reason, confirm), subscribe (name), pause."""

from __future__ import annotations

import re
from typing import TypeVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.suggester import Suggester
from textual.widgets import Button, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from ensync_tui.app.screens.common import DIALOG_CSS, shown_names
from ensync_tui.protocol.limits import MAX_DEFER_MS as MAX_DELAY_MS
from ensync_tui.protocol.limits import MIN_DEFER_MS as MIN_DELAY_MS
from ensync_tui.protocol.limits import name_problem
from ensync_tui.safetext import visible

__all__ = [
    "MAX_DELAY_MS",
    "MIN_DELAY_MS",
    "DeferScreen",
    "DiscardScreen",
    "PauseScreen",
    "SubscribeScreen",
    "format_delay",
    "parse_delay",
]


_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h)")
_DELAY = re.compile(r"(?:\d+(?:\.\d+)?\s*(?:ms|s|m|h)\s*)+")

T = TypeVar("T")


def parse_delay(text: str) -> int:
    """A delay such as "5s", "2m", "1h", "1500ms", "1h30m" or plain seconds, in ms (1 s .. 24 h).

    Raises ValueError with a message for the user.
    """
    cleaned = text.strip().lower()
    if not cleaned:
        raise ValueError("Enter a delay, e.g. 30s, 5m, 1h or 1500ms.")
    try:
        millis = float(cleaned) * 1000
    except ValueError:
        if not _DELAY.fullmatch(cleaned):
            raise ValueError(
                f"{text.strip()!r} is not a delay: use e.g. 30s, 5m, 1h, 1500ms or seconds."
            ) from None
        millis = sum(float(n) * _UNIT_MS[unit] for n, unit in _PART.findall(cleaned))
    if millis != millis or millis < MIN_DELAY_MS:  # NaN or too short
        raise ValueError("The delay must be at least 1 s.")
    if millis > MAX_DELAY_MS:
        raise ValueError("The delay must be at most 24 h.")
    return round(millis)


def format_delay(millis: int) -> str:
    """A delay for reading back, e.g. "1 h 30 min", "2.5 s"."""
    if millis % 1000:
        return f"{millis / 1000:g} s"
    seconds = millis // 1000
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{hours} h" if hours else "", f"{minutes} min" if minutes else ""]
    parts.append(f"{seconds} s" if seconds else "")
    return " ".join(p for p in parts if p)


def name_option(name: str) -> Option:
    """A message name to pick: shown as plain text with visible escapes, chosen as it is."""
    return Option(Content(visible(name)), id=name)


class PromptScreen(ModalScreen[T]):
    """A small dialog: title, explanation, fields, an inline error and two buttons."""

    DEFAULT_CSS = (
        "PromptScreen {"
        + DIALOG_CSS
        + """
        & > .dialog { width: 72; max-width: 95%; }
        & .message { margin-top: 1; height: auto; }
        & Label { color: $text-muted; margin-top: 1; }
        & .note { color: $text-muted; height: auto; }
        & .field-error { height: auto; min-height: 1; }
        & #names { height: auto; max-height: 10; }
        & #confirm { color: $text-warning; height: auto; }
    }
    """
    )

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="prompt.cancel")]

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self) -> None:
        self.dismiss(None)

    def _error(self, message: str) -> None:
        self.query_one("#error", Static).update(Content(f"✗ {visible(message)}" if message else ""))


class DeferScreen(PromptScreen[tuple[int, str]]):
    """Ask how long to defer a message, and why: dismisses with (delay_ms, reason)."""

    def __init__(self, idem: str) -> None:
        super().__init__()
        self._idem = idem

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as dialog:
            dialog.border_title = "Defer"
            yield Static(
                Content.assemble(
                    "Deliver ", (visible(self._idem), "bold"), " again after a delay."
                ),
                classes="message",
            )
            yield Label("Delay (1 s to 24 h)")
            yield Input(placeholder="e.g. 30s, 5m, 1h, 1500ms", id="delay")
            yield Static("", id="delay-note", classes="note")
            yield Label("Reason (optional)")
            yield Input(placeholder="why it should wait", id="reason")
            yield Static("", id="error", classes="field-error")
            with Horizontal(classes="buttons"):
                yield Button("Defer", variant="primary", id="ok")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#delay", Input).focus()

    @on(Input.Changed, "#delay")
    def _delay_changed(self, event: Input.Changed) -> None:
        note = self.query_one("#delay-note", Static)
        if not event.value.strip():
            note.update("")
            return
        try:
            note.update(f"= {format_delay(parse_delay(event.value))}")
        except ValueError as exc:
            note.update(Content(visible(str(exc))))
        else:
            self._error("")

    @on(Input.Submitted, "#delay")
    def _delay_submitted(self) -> None:
        if self._delay() is not None:
            self.query_one("#reason", Input).focus()

    @on(Input.Submitted, "#reason")
    @on(Button.Pressed, "#ok")
    def _submit(self) -> None:
        delay = self._delay()
        if delay is not None:
            self.dismiss((delay, self.query_one("#reason", Input).value.strip()))

    def _delay(self) -> int | None:
        try:
            delay = parse_delay(self.query_one("#delay", Input).value)
        except ValueError as exc:
            self._error(str(exc))
            self.query_one("#delay", Input).focus()
            return None
        self._error("")
        return delay


class DiscardScreen(PromptScreen[str]):
    """Ask why a message is discarded and confirm: dismisses with the reason."""

    def __init__(self, idem: str) -> None:
        super().__init__()
        self._idem = idem

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as dialog:
            dialog.border_title = "Discard"
            yield Static(
                Content.assemble(
                    "Discard ",
                    (visible(self._idem), "bold"),
                    "? The engine will not deliver it again.",
                ),
                classes="message",
            )
            yield Label("Reason (optional)")
            yield Input(placeholder="why it is dropped", id="reason")
            yield Static("", id="confirm")
            with Horizontal(classes="buttons"):
                yield Button("Discard", variant="error", id="ok")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#reason", Input).focus()

    @on(Input.Submitted, "#reason")
    def _reason_submitted(self) -> None:
        # Enter only arms the dialog: discarding takes a second, explicit step.
        self.query_one("#confirm", Static).update(
            "Press [b]Enter[/b] again (or click [b]Discard[/b]) to confirm, Escape to cancel."
        )
        self.query_one("#ok", Button).focus()

    @on(Button.Pressed, "#ok")
    def _confirmed(self) -> None:
        self.dismiss(self.query_one("#reason", Input).value.strip())


_NAME_SEPARATORS = re.compile(r"[\s,]+")


def split_names(text: str) -> list[str]:
    """Message names as typed, separated by spaces or commas; repeats dropped."""
    return list(dict.fromkeys(n for n in _NAME_SEPARATORS.split(text) if n))


class LastNameSuggester(Suggester):
    """Completes the last of several names typed (the ones before it stay as typed)."""

    def __init__(self, names: list[str]) -> None:
        super().__init__(use_cache=False, case_sensitive=True)
        self._names = names

    async def get_suggestion(self, value: str) -> str | None:
        cut = max(value.rfind(" "), value.rfind(","), value.rfind("\t")) + 1
        head, last = value[:cut], value[cut:].casefold()
        if not last:
            return None
        for name in self._names:
            if name.casefold().startswith(last):
                return head + name
        return None


class SubscribeScreen(PromptScreen[list[str]]):
    """Ask for message names to subscribe to (spaces or commas between them), with
    completion: dismisses with the names."""

    def __init__(self, names: list[str], subscribed: list[str] | None = None) -> None:
        super().__init__()
        self._subscribed = set(subscribed or [])
        self._names = sorted(set(names) - self._subscribed)  # what there is left to pick

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as dialog:
            dialog.border_title = "Subscribe"
            yield Label("Message names (spaces or commas between several)")
            yield Input(
                placeholder="e.g. orders/created orders/status",
                suggester=LastNameSuggester(shown_names(self._names)),
                id="name",
            )
            yield Static("", id="error", classes="field-error")
            if self._names:
                yield Label(
                    "Known names, not subscribed yet" if self._subscribed else "Known names"
                )
                yield OptionList(*[name_option(name) for name in self._names], id="names")
            with Horizontal(classes="buttons"):
                yield Button("Subscribe", variant="primary", id="ok")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#name", Input).focus()

    @on(Input.Changed, "#name")
    def _filter(self, event: Input.Changed) -> None:
        self._error("")
        if not self._names:
            return
        typed = split_names(event.value)
        ends = bool(event.value) and event.value[-1] in " ,\t"
        needle = "" if ends or not typed else typed[-1].casefold()  # the name being typed
        names = self.query_one("#names", OptionList)
        names.clear_options()
        names.add_options(
            [name_option(name) for name in self._names if needle in visible(name).casefold()]
        )

    @on(OptionList.OptionSelected, "#names")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        """A picked name, with the complete names typed before it."""
        if not event.option.id:
            return
        value = self.query_one("#name", Input).value
        typed = split_names(value)
        if typed and value[-1:] not in (" ", ","):
            typed.pop()  # the part typed to find the one picked
        names = list(dict.fromkeys([*typed, event.option.id]))
        if self._check(names):
            self.dismiss(names)

    @on(Input.Submitted, "#name")
    @on(Button.Pressed, "#ok")
    def _submit(self) -> None:
        names = split_names(self.query_one("#name", Input).value)
        if self._check(names):
            self.dismiss(names)
            return
        self.query_one("#name", Input).focus()

    def _check(self, names: list[str]) -> bool:
        """Whether ``names`` can be subscribed to; else every problem, said at once."""
        if not names:
            self._error("Enter a message name.")
            return False
        problems = [problem + "." for name in names if (problem := name_problem(name))]
        problems += [f"Already subscribed to {name}." for name in names if name in self._subscribed]
        self._error(" ".join(problems))
        return not problems


class PauseScreen(PromptScreen[str]):
    """Ask an optional reason before pausing a subscription: dismisses with it ("" if none)."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self._sub_name = name

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as dialog:
            dialog.border_title = "Pause"
            yield Static(
                Content.assemble(
                    "Pause delivery of ",
                    (visible(self._sub_name), "bold"),
                    "? Messages wait on the engine until you resume.",
                ),
                classes="message",
            )
            yield Label("Reason (optional)")
            yield Input(placeholder="why delivery stops", id="reason")
            yield Static("", id="error", classes="field-error")
            with Horizontal(classes="buttons"):
                yield Button("Pause", variant="warning", id="ok")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#reason", Input).focus()

    @on(Input.Submitted, "#reason")
    @on(Button.Pressed, "#ok")
    def _submit(self) -> None:
        self.dismiss(self.query_one("#reason", Input).value.strip())
