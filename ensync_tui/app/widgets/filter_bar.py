"""The ``/`` filter's input, with recent filters on Up/Down, and the line under it.

The line under the input says what is wrong with the filter as it is typed (the
column and what was expected; the last filter that read keeps applying), how far
a long search has gone, or how many held messages match.
"""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.content import Content
from textual.widgets import Input, Static

from ensync_tui.query import QueryError
from ensync_tui.safetext import visible

__all__ = ["MAX_RECENT", "FilterInput", "FilterStatus", "remember"]

MAX_RECENT = 50
PLACEHOLDER = 'filter: text, name:orders/*, state:pending, $.status == "failed" … (↑ recent)'


def remember(recent: list[str], text: str) -> bool:
    """Put ``text`` last in ``recent`` (once, at most MAX_RECENT kept); True when it changed."""
    text = text.strip()
    if not text or (recent and recent[-1] == text):
        return False
    if text in recent:
        recent.remove(text)
    recent.append(text)
    del recent[:-MAX_RECENT]
    return True


class FilterInput(Input):
    """The filter as typed; Up and Down go through the recent filters."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "recall(-1)", "Older filter", show=False),
        Binding("down", "recall(1)", "Newer filter", show=False),
    ]

    def __init__(self, recent: list[str], **kwargs: object) -> None:
        super().__init__(placeholder=PLACEHOLDER, **kwargs)  # type: ignore[arg-type]
        self.recent = recent  # the controller's list, newest last
        self._position: int | None = None  # where in ``recent`` Up/Down is
        self._typed = ""  # what was typed before recalling

    def action_recall(self, step: int) -> None:
        recent = self.recent
        if not recent:
            return
        if self._position is None:
            if step > 0:
                return
            self._typed = self.value
            position = len(recent) - 1
        else:
            position = self._position + step
        if position >= len(recent):
            self._position = None
            self._set(self._typed)
            return
        self._position = max(0, position)
        self._set(recent[self._position])

    def _set(self, text: str) -> None:
        self.value = text
        self.cursor_position = len(text)

    def forget_position(self) -> None:
        """Typing (or a new filter) starts again from the newest."""
        self._position = None


class FilterStatus(Static):
    """One line under the input: the mistake, the progress or the count."""

    DEFAULT_CSS = """
    FilterStatus { height: 1; padding: 0 1; color: $text-muted; text-wrap: nowrap; }
    FilterStatus.-error { color: $text-error; }
    """

    def show_error(self, text: str, error: QueryError) -> None:
        self.add_class("-error")
        self.display = True
        near = text[max(0, error.column - 1) : error.column + 19]
        where = f" (at {visible(near)!r})" if near.strip() else ""
        self.update(
            Content.assemble(
                "✗ ",
                (f"column {error.column}", "bold"),
                f": {visible(error.message)}{where}",
                ("  · the last filter that read still applies", "dim"),
            )
        )

    def show_progress(self, shown: int, done: int, total: int, opening: bool) -> None:
        self.remove_class("-error")
        self.display = True
        percent = 100 * done // total if total else 100
        what = " · decrypting payloads off the UI thread" if opening else ""
        self.update(f"searching {percent}%  {done:,}/{total:,} held  {shown:,} match{what}")

    def show_count(self, shown: int, total: int) -> None:
        self.remove_class("-error")
        self.display = True
        self.update(f"{shown:,} of {total:,} held messages match  · ↑/↓ recent · esc clears")
