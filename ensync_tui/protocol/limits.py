"""The protocol's numbers and name rules, written once for client, engine and app."""

from __future__ import annotations

from typing import Any

__all__ = [
    "DELAY_DIGITS",
    "INT32",
    "INT64",
    "INT64_DIGITS",
    "MAX_DEFER_MS",
    "MAX_FRAME",
    "MAX_PAYLOAD",
    "MAX_RECEIVED_FRAME",
    "MIN_DEFER_MS",
    "name_problem",
]

MIB = 1024 * 1024

# DEFER: how long a message may be put off, in milliseconds (1 s to 24 h)
MIN_DEFER_MS = 1_000
MAX_DEFER_MS = 24 * 60 * 60 * 1000

# sizes: EnSync refuses a frame over MAX_FRAME and a PAYLOAD (the encrypted,
# base64 envelope) over MAX_PAYLOAD with -FAIL
MAX_FRAME = 6 * MIB
MAX_PAYLOAD = 4 * MIB
# what a client reads: above MAX_FRAME, so an engine configured larger still works
MAX_RECEIVED_FRAME = 16 * MIB

# integers: blocks and times are 64-bit; DELAY has at most 18 digits; a skeleton
# calls an integer in INT32 "integer" and a larger one "long"
INT64 = range(-(2**63), 2**63)
INT64_DIGITS = 19
DELAY_DIGITS = 18
INT32 = range(-(2**31), 2**31)


def name_problem(name: Any) -> str | None:
    """Why ``name`` cannot be a message name, or None: it must be non-empty text
    without spaces or ';' (a ';' would cut the frame's fields)."""
    if not isinstance(name, str) or not name.strip():
        return "a message name must be a non-empty string"
    if any(ch.isspace() for ch in name) or ";" in name:
        return f"{name!r} is not a message name (no spaces or ';')"
    return None
