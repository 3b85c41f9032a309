"""The engine's fast paths for its hottest frames (PUB, ACK); no I/O.

A plain PUB or ACK is cut with a few ``str.find`` calls; anything unusual
returns None and goes through :func:`ensync_tui.protocol.frames.parse_request`,
the field-by-field parser, which judges errors. Both give the same request
for every frame the fast paths take. Before that parser, :func:`dialect`
reads other SDKs' spellings as the protocol's.
"""

from __future__ import annotations

import re
from typing import Any

from ensync_tui.protocol.frames import (
    REQUEST_TYPES,
    Ack,
    Pub,
    Request,
    WireError,
    strict_loads,
)
from ensync_tui.protocol.frames import parse_request as parse_general

__all__ = ["dialect", "parse_request", "split_ack", "split_pub"]

_HEAD = "PUB;CLIENT_ID=:"
_CACHE_SIZE = 1024  # texts remembered, each at most _CACHE_TEXT characters: 512 KiB at most
_CACHE_TEXT = 512
_metadata_cache: dict[str, dict[str, Any]] = {}


def _object(text: str) -> dict[str, Any] | None:
    try:
        value = strict_loads(text)
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
    if c < 0 or find(";", c + 13) >= 0:  # a name has no ';': an extra field follows
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
    return parse_general(dialect(frame))


MAX_EXTRAS = 8  # unknown trailing fields dropped at most (clients add one)
# a trailing field: an upper-case key and a value that cannot end a JSON value
_FIELD = re.compile(r';([A-Z][A-Z0-9_]*)=:[^;"}\]]*')


def dialect(frame: str) -> str:
    """A frame in the protocol's own spelling: ROLLBACK's ``PARTITION_BLOCK``
    (the Go SDK) is ``BLOCK``, and trailing fields the verb does not have (the
    ``;MSG_ID=:<n>`` of older Go clients) are dropped instead of being read as
    part of the last value."""
    cut = frame.find(";")
    cls = REQUEST_TYPES.get(frame if cut < 0 else frame[:cut])
    if cls is None or cut < 0:
        return frame
    if cls.VERB == "ROLLBACK":
        frame = frame.replace(";PARTITION_BLOCK=:", ";BLOCK=:", 1)
    known = {key for key, _ in cls.FIELDS}
    end = len(frame)
    for _ in range(MAX_EXTRAS):
        at = frame.rfind(";", 0, end)
        found = _FIELD.fullmatch(frame, at, end) if at >= 0 else None
        if found is None or found.group(1) in known:
            break
        end = at
    return frame if end == len(frame) else frame[:end]
