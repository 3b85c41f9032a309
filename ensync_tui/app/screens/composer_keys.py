"""The composer's keys that start its payload again: ctrl+l (clear) and ctrl+e (from
the message selected in the stream). ``ComposerScreen`` (``screens/composer``) has
the form they write into."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from textual.screen import Screen
from textual.widgets import Input, TextArea

from ensync_tui.app.drafts import Drafts

__all__ = ["DEFAULT_PAYLOAD", "INSIDE", "PayloadKeys"]

DEFAULT_PAYLOAD = "{\n  \n}"
INSIDE = (1, 2)  # where typing starts in DEFAULT_PAYLOAD: inside the braces


class PayloadKeys(Screen[None]):
    """ctrl+l and ctrl+e of the composer."""

    _drafts: Drafts
    _selected: tuple[str, Any] | None
    _form_state: Callable[[], dict[str, Any]]  # the composer's form as data

    def action_clear_payload(self) -> None:
        """An empty payload again; the name's kept draft is forgotten."""
        payload = self.query_one("#payload", TextArea)
        payload.load_text(DEFAULT_PAYLOAD)
        payload.move_cursor(INSIDE)
        payload.focus()
        self._drafts.drop(self._form_state()["name"])

    def action_from_selected(self) -> None:
        """Start the payload (and an empty name) from the message selected in the stream."""
        if self._selected is None:
            self.notify("No readable message is selected.", severity="warning", markup=False)
            return
        name, value = self._selected
        field = self.query_one("#name", Input)
        if not field.value.strip():
            field.value = name
        payload = self.query_one("#payload", TextArea)
        payload.load_text(json.dumps(value, indent=2, ensure_ascii=False))
        payload.focus()
