"""Message schemas: the type words a registered name's schema may use, how a
payload's fields match them, and a payload to start from. No I/O.

A schema maps each top-level field to a type word. A field matches when its
skeleton type (``crypto.payload_skeleton``) is that word, or when both are numeric
in a way EnSync's SDKs mix up (they write ``integer``/``long``/``double`` or
``number``/``float`` for the same numbers).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ensync_tui.protocol.crypto import payload_skeleton

__all__ = ["NUMBER_OK", "SCHEMA_TYPES", "field_problems", "matches", "template"]

SCHEMA_TYPES = frozenset(
    {
        "string",
        "integer",
        "long",
        "double",
        "float",
        "number",
        "boolean",
        "object",
        "array",
        "null",
    }
)

# skeleton words a numeric schema type accepts
NUMBER_OK = {
    "integer": {"integer", "number", "float"},
    "long": {"integer", "long", "number", "float"},
    "double": {"integer", "long", "double", "float", "number"},
    "float": {"integer", "long", "double", "float", "number"},
    "number": {"integer", "long", "double", "float", "number"},
}

_PLACEHOLDERS: dict[str, Any] = {
    "string": "",
    "integer": 0,
    "long": 0,
    "double": 0.0,
    "float": 0.0,
    "number": 0,
    "boolean": False,
    "object": {},
    "array": [],
    "null": None,
}


def matches(expected: str, got: str) -> bool:
    """Whether a field of skeleton type ``got`` fits the schema type ``expected``."""
    return got == expected or got in NUMBER_OK.get(expected, ())


def field_problems(schema: Mapping[str, str], payload: Any) -> dict[str, str]:
    """What is wrong with each field of ``payload`` against ``schema``, by field name
    (in the schema's order, then the payload's): missing, of another type, or not in
    the schema. Empty when it matches."""
    if not isinstance(payload, dict):
        return {"": "the payload is not a JSON object"}
    skeleton = payload_skeleton(payload)
    problems: dict[str, str] = {}
    for name, expected in schema.items():
        got = skeleton.get(name)
        if got is None:
            problems[name] = f"missing ({expected})"
        elif not matches(expected, got):
            problems[name] = f"expected {expected}, got {got}"
    for name in skeleton:
        if name not in schema:
            problems[name] = "not in the schema"
    return problems


def template(schema: Mapping[str, str]) -> dict[str, Any]:
    """A payload with every field of ``schema`` and a placeholder of its type."""
    return {name: _placeholder(kind) for name, kind in schema.items()}


def _placeholder(kind: str) -> Any:
    value = _PLACEHOLDERS.get(kind, "")
    return type(value)() if isinstance(value, dict | list) else value
