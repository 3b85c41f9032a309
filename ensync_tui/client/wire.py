"""The EnSync WebSocket wire format: frames <-> typed objects. Pure, no I/O.

Client requests are ``VERB;KEY=:value;KEY=:value``. Values are not escaped:
a field ends where the next expected ``;KEY=:`` begins and the last field runs
to the end of the frame. Server frames are ``+PASS:``, ``-FAIL:``,
``+REPLAY:<json>``, ``+RECORD:<json>`` and ``PING``.

Every parse error is a :class:`WireError`; nothing else escapes.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, ClassVar

__all__ = [
    "REQUEST_TYPES",
    "Ack",
    "Conn",
    "Continue",
    "Defer",
    "Discard",
    "Fail",
    "Pass",
    "Pause",
    "Ping",
    "Pong",
    "Pub",
    "Record",
    "RecordFrame",
    "Replay",
    "ReplayReply",
    "Request",
    "Rollback",
    "ServerFrame",
    "Sub",
    "Unsub",
    "WireError",
    "encode_kv",
    "parse_kv",
    "parse_request",
    "parse_request_general",
    "parse_server_frame",
    "shown_verb",
    "split_ack",
    "split_pub",
]


class WireError(ValueError):
    """A frame that is not valid EnSync wire protocol."""


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


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


# ---------------------------------------------------------------- requests
# Request JSON is strict: NaN, Infinity and numbers too large for a double
# are refused, and so are lone surrogates (``"\\ud800"``), which no strict
# JSON reader accepts and SQLite cannot store.


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"the number {text[:20]} is out of range")
    return value


_STRICT = json.JSONDecoder(parse_constant=_no_constant, parse_float=_finite)


def _strict_loads(text: str) -> Any:
    """Parse request JSON; ValueError (or RecursionError) if it is not strict JSON."""
    value = _STRICT.decode(text)
    if "\\u" in text or not text.isascii():
        try:
            _compact(value).encode()
        except UnicodeEncodeError:
            raise ValueError("it holds a lone surrogate (an unpaired \\ud800-\\udfff)") from None
    return value


def _request_json(key: str, text: str) -> dict[str, Any]:
    try:
        value = _strict_loads(text)
    except (ValueError, RecursionError) as exc:
        raise WireError(f"{key} is not valid JSON: {exc}") from None
    if isinstance(value, str):  # metadata may arrive as a JSON string of an object
        try:
            value = _strict_loads(value)
        except (ValueError, RecursionError):
            raise WireError(f"{key} is a string that is not a JSON object") from None
    if not isinstance(value, dict):
        raise WireError(f"{key} must be a JSON object, got {type(value).__name__}")
    return value


@dataclass(frozen=True, slots=True)
class Request:
    """Base of every client request. Subclasses list their wire fields."""

    VERB: ClassVar[str] = ""
    # (wire key, attribute name) in wire order
    FIELDS: ClassVar[tuple[tuple[str, str], ...]] = ()
    # wire keys that may be missing at the end of the frame
    OPTIONAL: ClassVar[frozenset[str]] = frozenset()

    def _wire_values(self) -> list[tuple[str, str | None]]:
        return [(key, _to_wire(getattr(self, attr))) for key, attr in self.FIELDS]

    def encode(self) -> str:
        parts = [self.VERB]
        values = self._wire_values()
        for i, (key, value) in enumerate(values):
            if value is None:
                if key in self.OPTIONAL:
                    continue
                raise WireError(f"{self.VERB}: {key} is required")
            for later, _ in values[i + 1 :]:
                if f";{later}=:" in value:
                    raise WireError(f"{self.VERB}: {key} must not contain ';{later}=:'")
            parts.append(f";{key}=:{value}")
        return "".join(parts)

    @classmethod
    def _from_fields(cls, values: dict[str, str]) -> Request:
        kwargs: dict[str, Any] = {}
        for key, attr in cls.FIELDS:
            if key in values:
                kwargs[attr] = values[key]
        return cls(**kwargs)


def _to_wire(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dict):
        return _compact(value)
    return str(value)


@dataclass(frozen=True, slots=True)
class Conn(Request):
    VERB: ClassVar[str] = "CONN"
    FIELDS: ClassVar[tuple[tuple[str, str], ...]] = (("ACCESS_KEY", "access_key"),)
    access_key: str = ""

    def __repr__(self) -> str:  # never show a secret in full
        shown = self.access_key[:4] + "…" if self.access_key else ""
        return f"Conn(access_key={shown!r})"


@dataclass(frozen=True, slots=True)
class Pub(Request):
    VERB: ClassVar[str] = "PUB"
    FIELDS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("CLIENT_ID", "client_id"),
        ("EVENT_NAME", "event_name"),
        ("PAYLOAD", "payload"),
        ("DELIVERY_TO", "delivery_to"),
        ("METADATA", "metadata"),
        ("PAYLOAD_METADATA", "payload_metadata"),
    )
    OPTIONAL: ClassVar[frozenset[str]] = frozenset({"PAYLOAD_METADATA"})
    client_id: str = ""
    event_name: str = ""
    payload: str = ""
    delivery_to: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    payload_metadata: dict[str, Any] | None = None

    @classmethod
    def _from_fields(cls, values: dict[str, str]) -> Request:
        pm = values.get("PAYLOAD_METADATA")
        return cls(
            client_id=values["CLIENT_ID"],
            event_name=values["EVENT_NAME"],
            payload=values["PAYLOAD"],
            delivery_to=values["DELIVERY_TO"],
            metadata=_request_json("METADATA", values["METADATA"]),
            payload_metadata=None if pm is None else _request_json("PAYLOAD_METADATA", pm),
        )


@dataclass(frozen=True, slots=True)
class Sub(Request):
    VERB: ClassVar[str] = "SUB"
    FIELDS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("CLIENT_ID", "client_id"),
        ("EVENT_NAME", "event_name"),
    )
    client_id: str = ""
    event_name: str = ""


@dataclass(frozen=True, slots=True)
class Unsub(Request):
    VERB: ClassVar[str] = "UNSUB"
    FIELDS: ClassVar[tuple[tuple[str, str], ...]] = Sub.FIELDS
    client_id: str = ""
    event_name: str = ""


@dataclass(frozen=True, slots=True)
class Ack(Request):
    VERB: ClassVar[str] = "ACK"
    FIELDS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("CLIENT_ID", "client_id"),
        ("EVENT_IDEM", "idem"),
        ("BLOCK", "block"),
        ("EVENT_NAME", "event_name"),
    )
    client_id: str = ""
    idem: str = ""
    block: str = ""
    event_name: str = ""


@dataclass(frozen=True, slots=True)
class Rollback(Request):
    VERB: ClassVar[str] = "ROLLBACK"
    FIELDS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("CLIENT_ID", "client_id"),
        ("EVENT_IDEM", "idem"),
        ("BLOCK", "block"),
    )
    client_id: str = ""
    idem: str = ""
    block: str = ""


@dataclass(frozen=True, slots=True)
class Defer(Request):
    VERB: ClassVar[str] = "DEFER"
    FIELDS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("CLIENT_ID", "client_id"),
        ("EVENT_IDEM", "idem"),
        ("EVENT_NAME", "event_name"),
        ("DELAY", "delay_ms"),
        ("REASON", "reason"),
    )
    client_id: str = ""
    idem: str = ""
    event_name: str = ""
    delay_ms: int = 0
    reason: str = ""

    @classmethod
    def _from_fields(cls, values: dict[str, str]) -> Request:
        delay = values["DELAY"].strip()
        if len(delay) > 18:
            raise WireError(f"DEFER: DELAY is too large ({len(delay)} digits)")
        if not delay.isdigit() or not delay.isascii():
            raise WireError(f"DEFER: DELAY must be whole milliseconds, got {delay[:40]!r}")
        return cls(
            client_id=values["CLIENT_ID"],
            idem=values["EVENT_IDEM"],
            event_name=values["EVENT_NAME"],
            delay_ms=int(delay),
            reason=values["REASON"],
        )


@dataclass(frozen=True, slots=True)
class Discard(Request):
    VERB: ClassVar[str] = "DISCARD"
    FIELDS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("CLIENT_ID", "client_id"),
        ("EVENT_IDEM", "idem"),
        ("EVENT_NAME", "event_name"),
        ("REASON", "reason"),
    )
    client_id: str = ""
    idem: str = ""
    event_name: str = ""
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Pause(Request):
    VERB: ClassVar[str] = "PAUSE"
    FIELDS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("CLIENT_ID", "client_id"),
        ("EVENT_NAME", "event_name"),
        ("REASON", "reason"),
    )
    client_id: str = ""
    event_name: str = ""
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Continue(Request):
    VERB: ClassVar[str] = "CONTINUE"
    FIELDS: ClassVar[tuple[tuple[str, str], ...]] = Sub.FIELDS
    client_id: str = ""
    event_name: str = ""


@dataclass(frozen=True, slots=True)
class Replay(Request):
    VERB: ClassVar[str] = "REPLAY"
    FIELDS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("CLIENT_ID", "client_id"),
        ("EVENT_IDEM", "idem"),
        ("EVENT_NAME", "event_name"),
    )
    client_id: str = ""
    idem: str = ""
    event_name: str = ""


@dataclass(frozen=True, slots=True)
class Pong(Request):
    VERB: ClassVar[str] = "PONG"


REQUEST_TYPES: dict[str, type[Request]] = {
    cls.VERB: cls
    for cls in (Conn, Pub, Sub, Unsub, Ack, Rollback, Defer, Discard, Pause, Continue, Replay, Pong)
}


def _split_fields(verb: str, cls: type[Request], rest: str) -> dict[str, str]:
    """Cut ``;K1=:v1;K2=:v2...`` by the verb's expected keys, in order."""
    keys = [key for key, _ in cls.FIELDS]
    values: dict[str, str] = {}
    pos = 0
    for i, key in enumerate(keys):
        marker = f";{key}=:"
        if not rest.startswith(marker, pos):
            if key in cls.OPTIONAL and pos == len(rest):
                break
            raise WireError(f"{verb}: expected field {key} at position {len(verb) + pos}")
        start = pos + len(marker)
        end = len(rest)
        for later in keys[i + 1 :]:
            # an optional trailing field is searched from the end: values before it are JSON
            found = (
                rest.rfind(f";{later}=:", start)
                if later in cls.OPTIONAL
                else rest.find(f";{later}=:", start)
            )
            if found != -1:
                end = found
                break
        values[key] = rest[start:end]
        pos = end
    if pos != len(rest):
        raise WireError(f"{verb}: unexpected text after the last field")
    return values


# ------------------------------------------------------ fast paths (PUB, ACK)
# The hottest frames are cut with a few str.find calls; anything unusual
# returns None and goes through the general parser, which judges errors.

_HEAD = "PUB;CLIENT_ID=:"
_CACHE_SIZE = 1024  # texts remembered, each at most _CACHE_TEXT characters: 512 KiB at most
_CACHE_TEXT = 512
_metadata_cache: dict[str, dict[str, Any]] = {}


def _object(text: str) -> dict[str, Any] | None:
    try:
        value = _strict_loads(text)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _metadata(text: str) -> dict[str, Any] | None:
    """METADATA is nearly always the same few short texts: parse each once."""
    value = _metadata_cache.get(text)
    if value is None:
        value = _object(text)
        if value is None or len(text) > _CACHE_TEXT:
            return value
        if len(_metadata_cache) >= _CACHE_SIZE:
            _metadata_cache.clear()
        _metadata_cache[text] = value
    return value


def split_pub(frame: str) -> tuple[Pub, str] | None:
    """(request, raw METADATA text) for a plain PUB frame, else None."""
    if not frame.startswith(_HEAD):
        return None
    find = frame.find
    a = find(";EVENT_NAME=:", 15)
    if a < 0:
        return None
    b = find(";PAYLOAD=:", a + 13)
    if b < 0:
        return None
    c = find(";DELIVERY_TO=:", b + 10)
    if c < 0:
        return None
    d = find(";METADATA=:", c + 14)
    if d < 0:
        return None
    e = frame.rfind(";PAYLOAD_METADATA=:", d + 11)
    meta_text = frame[d + 11 :] if e < 0 else frame[d + 11 : e]
    metadata = _metadata(meta_text)
    if metadata is None:
        return None
    pm = None
    if e >= 0:
        pm = _object(frame[e + 19 :])
        if pm is None:
            return None
    request = Pub(
        frame[15:a], frame[a + 13 : b], frame[b + 10 : c], frame[c + 14 : d], metadata, pm
    )
    return request, meta_text


_ACK_HEAD = "ACK;CLIENT_ID=:"


def split_ack(frame: str) -> Ack | None:
    """The request for a plain ACK frame, else None."""
    if not frame.startswith(_ACK_HEAD):
        return None
    find = frame.find
    a = find(";EVENT_IDEM=:", 15)
    if a < 0:
        return None
    b = find(";BLOCK=:", a + 13)
    if b < 0:
        return None
    c = find(";EVENT_NAME=:", b + 8)
    if c < 0:
        return None
    return Ack(frame[15:a], frame[a + 13 : b], frame[b + 8 : c], frame[c + 13 :])


def parse_request(frame: str) -> Request:
    """Parse one client frame into its typed request."""
    if not isinstance(frame, str):
        raise WireError("a frame must be text")
    if frame.startswith(_HEAD):
        fast = split_pub(frame)
        if fast is not None:
            return fast[0]
    elif frame.startswith(_ACK_HEAD):
        ack = split_ack(frame)
        if ack is not None:
            return ack
    return parse_request_general(frame)


_VERB = re.compile(r"[A-Z][A-Z_]{0,15}")


def shown_verb(verb: str) -> str:
    """A verb as an error may show it: quoted when it looks like one (capital
    letters), else only its length, since it may be a secret sent alone or
    with the wrong separator (``CONN ACCESS_KEY=:...``)."""
    if _VERB.fullmatch(verb):
        return repr(verb)
    n = len(verb)
    return f"({n} character{'' if n == 1 else 's'}, not shown)"


def parse_request_general(frame: str) -> Request:
    """The field-by-field parser every frame falls back to (and the fast paths agree with)."""
    if not isinstance(frame, str):
        raise WireError("a frame must be text")
    cut = frame.find(";")
    verb = frame if cut == -1 else frame[:cut]
    rest = "" if cut == -1 else frame[cut:]
    cls = REQUEST_TYPES.get(verb)
    if cls is None:
        raise WireError(f"unknown verb {shown_verb(verb)}" if verb else "empty frame")
    values = _split_fields(verb, cls, rest)
    try:
        return cls._from_fields(values)
    except KeyError as exc:  # pragma: no cover - _split_fields guarantees keys
        raise WireError(f"{verb}: missing field {exc.args[0]}") from None


# ------------------------------------------------------------ server frames


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
        return _compact(self.to_dict())

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


_INT64 = range(-(2**63), 2**63)


def _as_int(key: str, value: Any) -> int:
    """A block or time: a 64-bit integer, or a string of at most 19 digits."""
    if isinstance(value, bool):
        raise WireError(f"record {key} must be an integer")
    if isinstance(value, str) and value.isascii() and value.isdigit():
        if len(value) > 19:
            raise WireError(f"record {key} is out of range ({len(value)} digits)")
        value = int(value)
    if isinstance(value, int):
        if value not in _INT64:
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
