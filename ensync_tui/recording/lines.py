"""The NDJSON lines ensync-tui writes: a message as ``tail`` prints it and the
explorer exports it, and the lines of a recording. Pure, no I/O.

Every line is strict JSON (no NaN) on one line, with control, bidi and
invisible characters written as JSON escapes: the same values, and ``cat`` of
the file cannot drive a terminal.

A recording's lines, each an object with ``type`` first and ``at`` (Unix time in
milliseconds) second, in this order so that a reader can index them cheaply:

- ``{"type":"recording","at":…,"version":1,"url":…,"identity":…}`` where a
  writer starts (a file appended to more than once has several);
- ``{"type":"record","at":…,"record":{…}}`` a record as the engine sent it, its
  payload still encrypted; ``"replayed":true`` after the record for a replay;
- ``{"type":"state","at":…,"idem":…,"name":…,"state":…}`` an action's outcome
  (``acked``, ``deferred`` with ``delayMs``, ``discarded``; ``reason`` if any);
- ``{"type":"published","at":…,"name":…,"recipients":[…],"answers":[…],
  "metadata":{…},"payload":…}`` a message sent from the session, its payload
  sealed to the writer's own key (``null`` without one);
- ``{"type":"connection","at":…,"status":…,"reason":…}`` the connection state.

A record delivered again appears as another record line with the same idem.
"""

from __future__ import annotations

import json
from typing import Any

from ensync_tui.protocol.replies import Record
from ensync_tui.safetext import json_visible

__all__ = [
    "VERSION",
    "connection_line",
    "dumps",
    "header_line",
    "message_line",
    "message_row",
    "published_line",
    "record_line",
    "state_line",
]

VERSION = 1
MAX_REASON = 200  # characters of why a message could not be written whole


def dumps(obj: Any) -> str:
    """Strict compact JSON, terminal-safe (ValueError for NaN, RecursionError if too deep)."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=str)
    return json_visible(text)


def message_row(
    name: Any,
    idem: Any,
    block: Any,
    timestamp: Any,
    sender: Any,
    metadata: Any,
    payload: Any,
    error: str | None,
) -> dict[str, Any]:
    """A message in the shape ``tail`` prints and the explorer exports."""
    return {
        "messageName": name,
        "idem": idem,
        "block": block,
        "timestamp": timestamp,
        "sender": sender,
        "metadata": metadata,
        "payload": payload,
        "decryptError": error or None,
    }


def _why(exc: BaseException) -> str:
    if isinstance(exc, RecursionError):
        return "cannot be shown as JSON: nested too deeply"
    reason = "cannot be shown as JSON: " + " ".join(f"{type(exc).__name__}: {exc}".split())
    return reason[:MAX_REASON]


def message_line(row: dict[str, Any], raw_payload: str | None) -> tuple[str, str]:
    """The NDJSON line of a message row, and why it could not be written whole
    ("" when it could). Never raises: a payload or metadata that JSON cannot carry
    again (nested too deeply, NaN, too large) gives the row with ``"payload": null``,
    the envelope as received in ``rawPayload`` and the reason in ``decryptError``
    (then without the metadata, then only the plain fields)."""
    try:
        return dumps(row), ""
    except Exception as exc:  # RecursionError, ValueError, MemoryError: this message only
        reason = _why(exc)
    row = {**row, "payload": None, "rawPayload": raw_payload}
    row["decryptError"] = row.get("decryptError") or reason
    for _ in range(2):
        try:
            return dumps(row), reason
        except Exception:
            row["metadata"] = None  # the metadata is what JSON cannot carry
    keep = ("messageName", "idem", "block", "timestamp", "decryptError", "rawPayload", "state")
    return dumps({k: row[k] for k in keep if isinstance(row.get(k), str | int)}), reason


def header_line(at: int, url: str, identity: str) -> str:
    return dumps(
        {"type": "recording", "at": at, "version": VERSION, "url": url, "identity": identity}
    )


def record_line(record: Record, at: int, replayed: bool = False) -> str:
    """A record as received (its payload as the engine sent it, encrypted)."""
    line: dict[str, Any] = {"type": "record", "at": at, "record": record.to_dict()}
    if replayed:
        line["replayed"] = True
    try:
        return dumps(line)
    except Exception:  # metadata JSON cannot carry again: the record without it
        line["record"] = {**line["record"], "metadata": None}
        return dumps(line)


def state_line(
    at: int, name: str, idem: str, state: str, reason: str = "", delay_ms: int | None = None
) -> str:
    line: dict[str, Any] = {"type": "state", "at": at, "idem": idem, "name": name, "state": state}
    if delay_ms is not None:
        line["delayMs"] = delay_ms
    if reason:
        line["reason"] = reason
    return dumps(line)


def published_line(
    at: int,
    name: str,
    recipients: list[str],
    answers: list[dict[str, Any]],
    metadata: Any,
    sealed: str | None,
) -> str:
    line = {
        "type": "published",
        "at": at,
        "name": name,
        "recipients": recipients,
        "answers": answers,
        "metadata": metadata,
        "payload": sealed,
    }
    try:
        return dumps(line)
    except Exception:
        line["metadata"] = None
        return dumps(line)


def connection_line(at: int, status: str, reason: str = "") -> str:
    return dumps({"type": "connection", "at": at, "status": status, "reason": reason})
