"""The filter language of the explorer's ``/`` and of commands that select records.

Plain text is a case-insensitive substring of the name, idem, sender or payload;
``name:orders/*`` and ``idem:`` take globs, ``sender:`` a key prefix or a contact
name, ``state:`` a message state, ``header:key=glob`` a header; ``re:/pattern/i``
a pattern (RE2); ``$.status == "failed"``, ``$.amount > 100``,
``$.lines[*].sku == "X-1"`` and ``exists($.refund)`` test the decrypted payload by
RFC 9535 JSONPath; ``and``, ``or``, ``not`` and parentheses combine them.

    node = parse('name:orders/* and $.status == "failed"')   # or QueryError
    test = compile_test(node, access)                        # test(record) -> bool | None

Pure Python, no I/O: the explorer and the commands give it records through an
``Access`` of their own.
"""

from __future__ import annotations

from typing import Any

from ensync_tui.query.matching import PENDING, UNREADABLE, Access, Test, compile_test, needs_payload
from ensync_tui.query.parser import QueryError, parse
from ensync_tui.query.paths import path_to
from ensync_tui.query.syntax import Node, literal

__all__ = [
    "PENDING",
    "UNREADABLE",
    "Access",
    "Node",
    "QueryError",
    "Test",
    "compile_test",
    "field_filter",
    "needs_payload",
    "parse",
]


def field_filter(keys: list[str | int | None], value: Any) -> str:
    """The filter for "this field has this value" (``exists`` for an object or array)."""
    path = path_to(keys)
    if isinstance(value, dict | list):
        return f"exists({path})"
    return f"{path} == {literal(value)}"
