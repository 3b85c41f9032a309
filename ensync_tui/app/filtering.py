"""What the stream shows: the chosen subscription and the filter typed under ``/``.

The filter is the query language (``ensync_tui.query``) run on held entries. A
payload is opened (decrypted, parsed) once and cached on its entry; a filter that
needs a payload not opened yet answers "unknown" for that entry, so that the
history's scan can have it opened off the UI loop and go on (``background``), or
opens it there and then when it is small and nothing runs in the background.
Plain Python, no Textual.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ensync_tui.query import (
    PENDING,
    UNREADABLE,
    Access,
    Node,
    QueryError,
    compile_test,
    needs_payload,
    parse,
)
from ensync_tui.query.syntax import And, Not, Or, Regex, Text

if TYPE_CHECKING:
    from ensync_tui.app.history import Entry

__all__ = ["EntryAccess", "Filter", "QueryError", "check"]

_STATES = {"new": "pending"}  # MessageState values as the language names them


class EntryAccess(Access):
    """How a filter reads a held entry."""

    def __init__(self, contacts: Mapping[str, str] | None = None, self_key: str = "") -> None:
        super().__init__(contacts, self_key)
        self.secret_key: str | None = None
        self.here = "all"  # which payloads may be opened here: "all", "small" or "none"

    def name(self, record: Entry) -> str:
        return record.name

    def idem(self, record: Entry) -> str:
        return record.idem

    def sender(self, record: Entry) -> str:
        return record.sender

    def state(self, record: Entry) -> str:
        state = str(record.state)
        return _STATES.get(state, state)

    def redelivered(self, record: Entry) -> bool:
        return record.deliveries > 1

    def _ready(self, record: Entry) -> bool:
        """Whether the payload may be opened here and now (else it is PENDING)."""
        if record.decrypted or record.error:
            return True
        here = self.here
        return here == "all" or (here == "small" and record.small)

    def value(self, record: Entry) -> Any:
        if not self._ready(record):
            return PENDING
        value = record.decrypt(self.secret_key)
        return UNREADABLE if record.error else value

    def json(self, record: Entry) -> str | None:
        if record.text_ready or self._ready(record):
            return record.payload_json(self.secret_key)
        return None

    def text(self, record: Entry) -> str | None:
        found = self.json(record)
        return None if found is None else found.lower()


def check(text: str) -> QueryError | None:
    """What is wrong with filter ``text``, or None when it reads."""
    try:
        parse(text)
    except QueryError as exc:
        return exc
    return None


class Filter:
    """Which records the stream shows: a message name and a filter.

    QueryError when the filter text does not read."""

    def __init__(
        self,
        name: str | None = None,
        text: str = "",
        contacts: Mapping[str, str] | None = None,
        self_key: str = "",
    ) -> None:
        self.name = name
        self.text = text
        self.node: Node | None = parse(text)
        self.access = EntryAccess(contacts, self_key)
        self.payload = needs_payload(self.node)  # whether it may have to open payloads
        self.texts = _has_text(self.node)  # whether it reads payloads as text
        self._test = compile_test(self.node, self.access)

    @property
    def active(self) -> bool:
        return bool(self.name or self.node is not None)

    def matches(
        self, entry: Entry, secret_key: str | None, wait: bool = False, background: bool = False
    ) -> bool | None:
        """Whether ``entry`` is in the view; None (with ``wait``) when that takes
        opening its payload, which the caller does first (off the UI loop). With
        ``background`` every payload is opened there, else only large ones."""
        if self.name and entry.name != self.name:
            return False
        access = self.access
        access.secret_key = secret_key
        access.here = "all" if not wait else ("none" if background else "small")
        return self._test(entry)

    def open(self, entries: list[Entry], secret_key: str | None) -> None:
        """Open the payloads the filter waits for (on a background thread): the
        decrypted value, and the text when the filter reads payloads as text."""
        texts = self.texts
        for entry in entries:
            entry.decrypt(secret_key)
            if texts:
                entry.payload_json(secret_key)


def _has_text(node: Node | None) -> bool:
    if isinstance(node, Text | Regex):
        return True
    if isinstance(node, Not):
        return _has_text(node.item)
    if isinstance(node, And | Or):
        return any(_has_text(item) for item in node.items)
    return False
