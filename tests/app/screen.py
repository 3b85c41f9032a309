"""What the terminal would get from the explorer's current screen, and checks on it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.segment import Segment

from ensync_tui.safetext import visible
from tests.hostile import ESCAPES, HOSTILE_TEXTS

# what each hostile escape would do if it reached the terminal as it is
RAW_SEQUENCES = {
    "title": "\x1b]0;owned",
    "osc52": "\x1b]52;c;ZWNobyBvd25lZA",
    "clear": "\x1b[2J",
    "c1-csi": "\x9b",
    "bidi": "\u202e",
    "del": "\x7f",
}
assert set(RAW_SEQUENCES) == set(ESCAPES)
# actions and targets the markup strings would create if they were read as markup
HOSTILE_ACTIONS = ("quit", "screenshot", "x.svg")


@dataclass
class Shot:
    lines: list[str]  # the plain text of each row
    raw: str  # the bytes the terminal would be sent (escape sequences included)
    segments: list[Segment]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def shot(app: Any) -> Shot:
    """The current screen (with the screens under a dialog) as the terminal would get it."""
    screen = app.screen
    compositor = screen._compositor
    update = compositor.render_update(full=True, screen_stack=app._background_screens)
    raw = update.render_segments(app.console)
    lines: list[str] = []
    segments: list[Segment] = []
    for line in update.strips:
        text = []
        for strip in line:
            for segment in strip:
                segments.append(segment)
                text.append(segment.text)
        lines.append("".join(text))
    return Shot(lines, raw, segments)


def assert_inert(taken: Shot, where: str) -> None:
    """No hostile escape reaches the terminal; no link or hostile action was made."""
    for label, sequence in RAW_SEQUENCES.items():
        assert sequence not in taken.raw, f"{where}: {label} escape passed to the terminal"
    for segment in taken.segments:
        style = segment.style
        if style is None:
            continue
        assert not style.link, f"{where}: a link was made: {style.link!r}"
        meta = style.meta or {}
        for key, value in meta.items():
            if key.startswith("@"):
                shown = str(value)
                assert not any(a in shown for a in HOSTILE_ACTIONS), f"{where}: action {shown}"


def shown_as(text: str) -> str:
    """How a hostile string reads on screen."""
    return visible(text)


def assert_literal(taken: Shot, text: str, where: str, width: int | None = None) -> None:
    """``text`` (or its first ``width`` characters) appears on screen literally."""
    expected = shown_as(text)
    if width is not None:
        expected = expected[:width]
    assert expected in taken.text, f"{where}: {expected!r} not on screen:\n{taken.text}"


def hostile_items() -> list[tuple[str, str]]:
    return list(HOSTILE_TEXTS.items())
