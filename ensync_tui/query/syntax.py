"""A parsed filter as a tree of plain values, and how each part is written back.

``str(node)`` is the canonical text of a node: parsing it again gives an equal tree.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

__all__ = [
    "FIELDS",
    "KEYWORDS",
    "OPERATORS",
    "STATES",
    "And",
    "Compare",
    "Exists",
    "Field",
    "Node",
    "Not",
    "Or",
    "Regex",
    "Text",
    "quote",
]

FIELDS = ("name", "sender", "idem", "state", "header", "re")
STATES = (
    "pending",
    "acked",
    "deferred",
    "discarded",
    "undecryptable",
    "replayed",
    "redelivered",
)
OPERATORS = ("==", "!=", "<=", ">=", "<", ">")
KEYWORDS = ("and", "or", "not")
# what ends a bare word, and what a bare word may not start with
_BARE = re.compile(r'[^\s()"$][^\s()]*')


def quote(text: str) -> str:
    """``text`` as a double-quoted string (JSON escapes)."""
    return json.dumps(text, ensure_ascii=False)


def _bare_ok(text: str, word: bool) -> bool:
    """Whether ``text`` reads back as itself without quotes."""
    if not _BARE.fullmatch(text):
        return False
    if word:  # a plain word must not read as a keyword, a term or exists(
        if text.casefold() in KEYWORDS or text.casefold().startswith("exists"):
            return False
        head, sep, _ = text.partition(":")
        if sep and head.isalpha():
            return False
    return True


class Node:
    """A part of a filter."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class Text(Node):
    """Plain text: a case-insensitive substring of the name, idem, sender or payload."""

    text: str

    def __str__(self) -> str:
        return self.text if _bare_ok(self.text, word=True) else quote(self.text)


@dataclass(frozen=True, slots=True)
class Field(Node):
    """``name:``, ``sender:``, ``idem:``, ``state:`` or ``header:`` with its value.

    For ``header:`` the value is ``key`` or ``key=glob``.
    """

    field: str
    value: str

    def __str__(self) -> str:
        value = self.value
        return f"{self.field}:{value if _bare_ok(value, word=False) else quote(value)}"


@dataclass(frozen=True, slots=True)
class Regex(Node):
    """``re:/pattern/flags``: the pattern as written between the slashes."""

    pattern: str
    flags: str = ""

    def __str__(self) -> str:
        return f"re:/{self.pattern}/{self.flags}"


@dataclass(frozen=True, slots=True)
class Compare(Node):
    """``$.path OP literal``: true when a value the path selects compares so."""

    path: str
    op: str
    value: Any  # str, int, float, bool or None

    def __str__(self) -> str:
        return f"{self.path} {self.op} {literal(self.value)}"


@dataclass(frozen=True, slots=True)
class Exists(Node):
    """``exists($.path)``: true when the path selects anything."""

    path: str

    def __str__(self) -> str:
        return f"exists({self.path})"


@dataclass(frozen=True, slots=True)
class Not(Node):
    item: Node

    def __str__(self) -> str:
        inner = self.item
        shown = f"({inner})" if isinstance(inner, And | Or) else str(inner)
        return f"not {shown}"


@dataclass(frozen=True, slots=True)
class And(Node):
    items: tuple[Node, ...]

    def __str__(self) -> str:
        return " and ".join(f"({i})" if isinstance(i, Or) else str(i) for i in self.items)


@dataclass(frozen=True, slots=True)
class Or(Node):
    items: tuple[Node, ...]

    def __str__(self) -> str:
        return " or ".join(str(i) for i in self.items)


def literal(value: Any) -> str:
    """A comparison's value as written: JSON."""
    return json.dumps(value, ensure_ascii=False)
