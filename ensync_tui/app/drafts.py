"""The composer's unsent forms, kept by message name until sent or cleared. No Textual."""

from __future__ import annotations

from typing import Any

__all__ = ["Drafts", "untouched"]


def untouched(state: dict[str, Any]) -> bool:
    """Whether a form holds nothing typed: no payload beyond ``{}`` and no headers."""
    payload = "".join(str(state.get("payload_text", "")).split())
    return payload in ("", "{}") and not str(state.get("headers_text", "")).strip()


class Drafts:
    """Unsent forms by message name ("" for one without a name yet); the last one
    put away is what the composer opens with."""

    def __init__(self) -> None:
        self._by_name: dict[str, dict[str, Any]] = {}
        self._last: str | None = None

    def keep(self, state: dict[str, Any]) -> None:
        """Put a form away as it was left (an untouched one is not kept)."""
        name = str(state.get("name", ""))
        if untouched(state):
            self.drop(name)
            return
        self._by_name[name] = dict(state)
        self._last = name

    def get(self, name: str) -> dict[str, Any] | None:
        state = self._by_name.get(name)
        return dict(state) if state is not None else None

    def latest(self) -> dict[str, Any] | None:
        """The form put away last, if it is still kept."""
        return self.get(self._last) if self._last is not None else None

    def drop(self, name: str) -> None:
        """Sent or cleared: forgotten."""
        self._by_name.pop(name, None)
        if self._last == name:
            self._last = None

    def __len__(self) -> int:
        return len(self._by_name)
