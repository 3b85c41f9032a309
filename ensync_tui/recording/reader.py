"""Reading what ensync-tui writes: a recording, an NDJSON export, ``tail`` output.

:func:`parse_line` turns one line into an :class:`Item` (None for a blank or
unreadable line: a torn last line, a line of something else). A message line
(export or ``tail``) becomes a record whose payload is already decrypted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ensync_tui.protocol.frames import WireError
from ensync_tui.protocol.replies import Record

__all__ = ["STATES", "Item", "Row", "parse_line", "parse_row"]

# The states a record line's row can be in; their codes index this tuple.
STATES = ("new", "acked", "deferred", "discarded", "replayed")


@dataclass(slots=True)
class Row:
    """A record of the file: as received, or as a message line gave it."""

    record: Record
    at: int | None = None  # when it was recorded (Unix ms), if the file says
    replayed: bool = False
    plain: bool = False  # the payload is already decrypted (an export or tail line)
    value: Any = None  # that payload
    error: str = ""  # why it could not be decrypted, as the line says
    state: str = ""  # the state an export wrote


@dataclass(slots=True)
class Item:
    """One readable line: ``kind`` is record, message, state, published, connection
    or recording (a writer's first line)."""

    kind: str
    data: dict[str, Any] = field(default_factory=dict)
    row: Row | None = None


def _strict(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def loads(text: str | bytes) -> Any:
    """Strict JSON (NaN and Infinity refused); raises ValueError or RecursionError."""
    return json.loads(text, parse_constant=_strict)


def parse_row(data: dict[str, Any]) -> Row | None:
    """A record line's or a message line's object as a Row (None if it is neither)."""
    try:
        if data.get("type") == "record" and isinstance(data.get("record"), dict):
            at = data.get("at")
            return Row(
                Record.from_dict(data["record"]),
                at if isinstance(at, int) else None,
                replayed=data.get("replayed") is True,
            )
        if "messageName" in data and "idem" in data:
            raw = data.get("rawPayload")
            record = Record.from_dict(
                {
                    "name": data.get("messageName"),
                    "idem": data.get("idem"),
                    "block": data.get("block") or 0,
                    "loggedAt": data.get("timestamp") or 0,
                    "payload": raw if isinstance(raw, str) else "",
                    "metadata": data.get("metadata")
                    if isinstance(data.get("metadata"), dict)
                    else {},
                    "sender": data.get("sender") if isinstance(data.get("sender"), str) else "",
                }
            )
            error = data.get("decryptError")
            state = data.get("state")
            return Row(
                record,
                plain=True,
                value=data.get("payload"),
                error=error if isinstance(error, str) else "",
                state=state if state in STATES else "",
            )
    except WireError:
        return None
    return None


def parse_line(line: str | bytes) -> Item | None:
    """One line of a recording, an export or tail output; None when unreadable."""
    try:
        data = loads(line)
    except (ValueError, RecursionError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict):
        return None
    kind = data.get("type")
    if kind in ("state", "published", "connection", "recording"):
        return Item(str(kind), data)
    row = parse_row(data)
    if row is None:
        return None
    return Item("message" if row.plain else "record", data, row)
