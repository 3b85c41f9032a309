"""Small helpers shared by the modal screens."""

from __future__ import annotations

from collections.abc import Iterable

from ensync_tui.safetext import visible

__all__ = ["DIALOG_CSS", "shown_names"]

# Shared look of every dialog: a bordered panel centred on a dimmed screen.
DIALOG_CSS = """
    align: center middle;
    background: $background 60%;
    & > .dialog {
        width: 90%;
        max-width: 110;
        height: auto;
        max-height: 95%;
        border: round $primary;
        border-title-color: $text;
        border-title-style: bold;
        background: $surface;
        padding: 0 1;
    }
    & .hint {
        color: $text-muted;
        height: 1;
        margin-top: 1;
    }
    & .field-error {
        color: $text-error;
        height: auto;
    }
    & .buttons {
        height: auto;
        margin-top: 1;
        align-horizontal: right;
    }
    & .buttons Button {
        margin-left: 1;
    }
"""


def shown_names(names: Iterable[str]) -> list[str]:
    """Names for completion, as the screen shows them (control characters as escapes)."""
    return list(dict.fromkeys(visible(name) for name in names))
