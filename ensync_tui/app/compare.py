"""What the Changes tab compares a message with: the previous held message of its
name, or, with a key path chosen for the name (``$.bikeId``), the previous one of
that name whose value there is the same. Plain Python, no Textual."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ensync_tui.app.history import Entry
from ensync_tui.query.paths import PathError, compile_path
from ensync_tui.query.syntax import literal

__all__ = ["LOOK_BACK", "NOTHING", "PathError", "check_path", "key_of", "previous_by"]

LOOK_BACK = 2_000  # earlier messages of the name read to find one with the same key
NOTHING: Any = object()  # the path selects nothing in this payload


def check_path(text: str) -> str:
    """``text`` as a key path, or PathError saying what is wrong (with where)."""
    text = text.strip()
    if not text.startswith("$"):
        raise PathError("a key path starts with $ (e.g. $.bikeId)", 0)
    compile_path(text)
    return text


def key_of(entry: Entry, path: str, secret_key: str | None) -> Any:
    """The first value ``path`` selects in the entry's payload (NOTHING if none)."""
    value = entry.decrypt(secret_key)
    if entry.error:
        return NOTHING
    try:
        return next(iter(compile_path(path).values(value)), NOTHING)
    except Exception:  # a payload too deep for the path: no key
        return NOTHING


def _same(a: Any, b: Any) -> bool:
    try:
        return literal(a) == literal(b)  # as JSON: true is not 1
    except Exception:  # too deep to write: not a key worth comparing by
        return False


def previous_by(
    previous: Callable[[Entry], Entry | None],
    entry: Entry,
    path: str,
    secret_key: str | None,
    look_back: int = LOOK_BACK,
) -> Entry | None:
    """The previous message of ``entry``'s name with the same value at ``path``."""
    wanted = key_of(entry, path, secret_key)
    if wanted is NOTHING:
        return None
    other = entry
    for _ in range(look_back):
        before = previous(other)
        if before is None:
            return None
        other = before
        found = key_of(other, path, secret_key)
        if found is not NOTHING and _same(found, wanted):
            return other
    return None


def describe(entry: Entry, path: str, secret_key: str | None) -> str:
    """``$.bikeId == "bike-008"`` for the Changes tab's first line."""
    value = key_of(entry, path, secret_key)
    if value is NOTHING:
        return f"{path} (not in this payload)"
    try:
        shown = literal(value)
    except Exception:
        shown = "(a value too deep to show)"
    return f"{path} == {shown if len(shown) <= 80 else shown[:79] + '…'}"
