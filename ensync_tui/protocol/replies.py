"""What the engine sends, as typed objects and as frames, for client and engine. No I/O.

Answers are ``+PASS:<body>``, ``-FAIL:<reason>`` and ``+REPLAY:<record JSON>``;
records are pushed as ``+RECORD:<record JSON>``; ``PING`` asks for a ``PONG``.
A ``+PASS`` body is ``{key=value,key=value}`` (:func:`parse_kv` reads it, the
one reader of it). Every parse error is a :class:`WireError`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ensync_tui.protocol.frames import WireError, compact_json
from ensync_tui.protocol.limits import INT64, INT64_DIGITS

__all__ = [
    "Fail",
    "Pass",
    "Ping",
    "Record",
    "RecordFrame",
    "ReplayReply",
    "ServerFrame",
    "encode_kv",
    "parse_kv",
    "parse_server_frame",
]


def _json_object(key: str, text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise WireError(f"{key} is not valid JSON: {exc}") from None
    if isinstance(value, str):  # metadata may arrive as a JSON string of an object
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
            raise WireError(f"{key} is a string that is not a JSON object") from None
    if not isinstance(value, dict):
        raise WireError(f"{key} must be a JSON object, got {type(value).__name__}")
    return value


def parse_kv(body: str) -> dict[str, str]:
    """Read a ``{key=value,key=value}`` body; text without ``=`` gives ``{}``."""
    text = body.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1]
    out: dict[str, str] = {}
    for item in text.split(","):
        key, sep, value = item.partition("=")
        if sep and key.strip():
            out[key.strip()] = value.strip()
    return out


def encode_kv(values: dict[str, Any]) -> str:
    return "{" + ",".join(f"{k}={v}" for k, v in values.items()) + "}"


@dataclass(frozen=True, slots=True)
class Record:
    """A message as the engine delivers it (``+RECORD:`` / ``+REPLAY:``)."""

    name: str
    idem: str
    block: int
    logged_at: int
    payload: str
    metadata: dict[str, Any]
    sender: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "idem": self.idem,
            "block": self.block,
            "loggedAt": self.logged_at,
            "payload": self.payload,
            "metadata": self.metadata,
            "sender": self.sender,
        }

    def to_json(self) -> str:
        return compact_json(self.to_dict())

    @classmethod
    def from_json(cls, text: str) -> Record:
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise WireError(f"record is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise WireError("record must be a JSON object")
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Record:
        name = data.get("name")
        if not isinstance(name, str) or not name:
            raise WireError("record has no name")
        idem = data.get("idem")
        if idem is None or idem == "":
            idem = data.get("id")
        if isinstance(idem, int) and not isinstance(idem, bool):
            idem = str(idem)
        if not isinstance(idem, str) or not idem:
            raise WireError("record has no idem")
        if not (name.isascii() and idem.isascii()):  # both go back to the engine in an ACK
            try:
                (name + idem).encode()
            except UnicodeEncodeError:
                raise WireError("record name or idem holds a lone surrogate") from None
        payload = data.get("payload")
        if not isinstance(payload, str):
            raise WireError("record payload must be a string")
        block = _as_int("block", data.get("block", 0))
        logged_at = _as_int("loggedAt", data.get("loggedAt", 0))
        raw_meta = data.get("metadata")
        if raw_meta is None or raw_meta == "":
            metadata: dict[str, Any] = {}
        elif isinstance(raw_meta, dict):
            metadata = raw_meta
        elif isinstance(raw_meta, str):
            metadata = _json_object("metadata", raw_meta)
        else:
            raise WireError("record metadata must be an object or a JSON string")
        sender = data.get("sender") or ""
        if not isinstance(sender, str):
            raise WireError("record sender must be a string")
        return cls(name, idem, block, logged_at, payload, metadata, sender)


def _as_int(key: str, value: Any) -> int:
    """A block or time: a 64-bit integer, or a string of at most 19 digits."""
    if isinstance(value, bool):
        raise WireError(f"record {key} must be an integer")
    if isinstance(value, str) and value.isascii() and value.isdigit():
        if len(value) > INT64_DIGITS:
            raise WireError(f"record {key} is out of range ({len(value)} digits)")
        value = int(value)
    if isinstance(value, int):
        if value not in INT64:
            raise WireError(f"record {key} is out of the 64-bit range")
        return value
    raise WireError(f"record {key} must be an integer or a string of digits")


@dataclass(frozen=True, slots=True)
class Pass:
    body: str = ""

    def fields(self) -> dict[str, str]:
        return parse_kv(self.body)

    def encode(self) -> str:
        return "+PASS:" + self.body


@dataclass(frozen=True, slots=True)
class Fail:
    reason: str = ""

    def encode(self) -> str:
        return "-FAIL:" + self.reason


@dataclass(frozen=True, slots=True)
class ReplayReply:
    record: Record

    def encode(self) -> str:
        return "+REPLAY:" + self.record.to_json()


@dataclass(frozen=True, slots=True)
class RecordFrame:
    record: Record

    def encode(self) -> str:
        return "+RECORD:" + self.record.to_json()


@dataclass(frozen=True, slots=True)
class Ping:
    def encode(self) -> str:
        return "PING"


ServerFrame = Pass | Fail | ReplayReply | RecordFrame | Ping


def parse_server_frame(frame: str) -> ServerFrame:
    """Parse one server frame."""
    if not isinstance(frame, str):
        raise WireError("a frame must be text")
    if frame.startswith("+RECORD:"):
        return RecordFrame(Record.from_json(frame[8:]))
    if frame.startswith("+PASS:"):
        return Pass(frame[6:])
    if frame.startswith("-FAIL:"):
        return Fail(frame[6:])
    if frame.startswith("+REPLAY:"):
        return ReplayReply(Record.from_json(frame[8:]))
    if frame == "PING":
        return Ping()
    shown = frame[:32] + ("…" if len(frame) > 32 else "")
    raise WireError(f"unknown server frame {shown!r}" if frame else "empty frame")
