"""A fast path for the engine's hottest frames, ``PUB`` and ``ACK``.

It cuts a well-formed frame exactly as :func:`wire.parse_request` would and
returns None for anything unusual, so the wire codec stays the judge of every
malformed frame (and of its error message).
"""

from __future__ import annotations

import json
from typing import Any

from ensync_tui.client import wire

_HEAD = "PUB;CLIENT_ID=:"
_CACHE_SIZE = 1024
_metadata_cache: dict[str, dict[str, Any]] = {}


def _object(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _metadata(text: str) -> dict[str, Any] | None:
    """METADATA is nearly always the same few texts: parse each once."""
    value = _metadata_cache.get(text)
    if value is None:
        value = _object(text)
        if value is None:
            return None
        if len(_metadata_cache) >= _CACHE_SIZE:
            _metadata_cache.clear()
        _metadata_cache[text] = value
    return value


def split_pub(frame: str) -> tuple[wire.Pub, str] | None:
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
    request = wire.Pub(
        frame[15:a], frame[a + 13 : b], frame[b + 10 : c], frame[c + 14 : d], metadata, pm
    )
    return request, meta_text


_ACK_HEAD = "ACK;CLIENT_ID=:"


def split_ack(frame: str) -> wire.Ack | None:
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
    return wire.Ack(frame[15:a], frame[a + 13 : b], frame[b + 8 : c], frame[c + 13 :])
