"""The requests a client sends, as typed objects and as frames, for client and engine. No I/O.

Client requests are ``VERB;KEY=:value;KEY=:value``. Values are not escaped:
a field ends where the next expected ``;KEY=:`` begins and the last field runs
to the end of the frame. What the engine sends back is in :mod:`.replies`.

Every parse error is a :class:`WireError`; nothing else escapes.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ensync_tui.protocol.limits import DELAY_DIGITS

__all__ = [
    "REQUEST_TYPES",
    "Ack",
    "Conn",
    "Continue",
    "Defer",
    "Discard",
    "Pause",
    "Pong",
    "Pub",
    "Replay",
    "Request",
    "Rollback",
    "Sub",
    "Unsub",
    "WireError",
    "compact_json",
    "encode_pubs",
    "parse_request",
    "shown_verb",
    "strict_loads",
]


class WireError(ValueError):
    """A frame that is not valid EnSync wire protocol."""


def compact_json(value: Any) -> str:
    """JSON text as the protocol writes it: no spaces, non-ASCII as it is."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


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


def strict_loads(text: str) -> Any:
    """Parse request JSON; ValueError (or RecursionError) if it is not strict JSON."""
    value = _STRICT.decode(text)
    if "\\u" in text or not text.isascii():
        try:
            compact_json(value).encode()
        except UnicodeEncodeError:
            raise ValueError("it holds a lone surrogate (an unpaired \\ud800-\\udfff)") from None
    return value


def _request_json(key: str, text: str) -> dict[str, Any]:
    try:
        value = strict_loads(text)
    except (ValueError, RecursionError) as exc:
        raise WireError(f"{key} is not valid JSON: {exc}") from None
    if isinstance(value, str):  # metadata may arrive as a JSON string of an object
        try:
            value = strict_loads(value)
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
        for i, (key, value) in enumerate(self._wire_values()):
            if value is None:
                if key in self.OPTIONAL:
                    continue
                raise WireError(f"{self.VERB}: {key} is required")
            if ";" in value:
                _check_field(self.VERB, self.FIELDS[i + 1 :], key, value)
            parts.append(f";{key}=:{value}")
        return "".join(parts)

    @classmethod
    def _from_fields(cls, values: dict[str, str]) -> Request:
        kwargs: dict[str, Any] = {}
        for key, attr in cls.FIELDS:
            if key in values:
                kwargs[attr] = values[key]
        return cls(**kwargs)


def _check_field(verb: str, later: tuple[tuple[str, str], ...], key: str, value: str) -> None:
    """A value must not hold the marker of a field after it (values are not escaped)."""
    for after, _ in later:
        if f";{after}=:" in value:
            raise WireError(f"{verb}: {key} must not contain ';{after}=:'")


def _to_wire(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dict):
        return compact_json(value)
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


def encode_pubs(
    client_id: str,
    event_name: str,
    deliveries: list[tuple[str, str]],
    metadata: str,
    payload_metadata: str | None = None,
) -> list[str]:
    """One PUB frame per (recipient, envelope), sharing the other fields (``metadata``
    and ``payload_metadata`` as JSON text): each the text ``Pub(...).encode()`` gives,
    with the shared parts checked and joined once."""
    fields = Pub.FIELDS
    shared = (
        (0, "CLIENT_ID", client_id),
        (1, "EVENT_NAME", event_name),
        (4, "METADATA", metadata),
        (5, "PAYLOAD_METADATA", payload_metadata),
    )
    for i, key, value in shared:
        if value is not None and ";" in value:
            _check_field("PUB", fields[i + 1 :], key, value)
    head = f"PUB;CLIENT_ID=:{client_id};EVENT_NAME=:{event_name};PAYLOAD=:"
    tail = ";METADATA=:" + metadata
    if payload_metadata is not None:
        tail += ";PAYLOAD_METADATA=:" + payload_metadata
    out = []
    for recipient, envelope in deliveries:
        if ";" in envelope:
            _check_field("PUB", fields[3:], "PAYLOAD", envelope)
        if ";" in recipient:
            _check_field("PUB", fields[4:], "DELIVERY_TO", recipient)
        out.append(head + envelope + ";DELIVERY_TO=:" + recipient + tail)
    return out


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

    def encode(self) -> str:  # the one sent per message handled: kept short
        client_id, idem, block = str(self.client_id), str(self.idem), str(self.block)
        if ";" in client_id or ";" in idem or ";" in block:
            return Request.encode(self)  # the general path judges the markers
        return (
            f"ACK;CLIENT_ID=:{client_id};EVENT_IDEM=:{idem};BLOCK=:{block}"
            f";EVENT_NAME=:{self.event_name}"
        )


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
        if len(delay) > DELAY_DIGITS:
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


_VERB = re.compile(r"[A-Z][A-Z_]{0,15}")


def shown_verb(verb: str) -> str:
    """A verb as an error may show it: quoted when it looks like one (capital
    letters), else only its length, since it may be a secret sent alone or
    with the wrong separator (``CONN ACCESS_KEY=:...``)."""
    if _VERB.fullmatch(verb):
        return repr(verb)
    n = len(verb)
    return f"({n} character{'' if n == 1 else 's'}, not shown)"


def parse_request(frame: str) -> Request:
    """Parse one client frame into its typed request, field by field (the reference
    parser: the engine's fast paths in ``engine/fastparse.py`` agree with it)."""
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
