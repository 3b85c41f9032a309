"""What changed between two JSON payloads, field by field. Pure, no Textual."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

ADDED, REMOVED, CHANGED = "added", "removed", "changed"
MAX_CHANGES = 500  # a diff longer than this is cut, and says so


@dataclass(frozen=True, slots=True)
class Change:
    path: str  # e.g. "details.tracking.code" or "items[2].qty"; "" for the whole value
    kind: str  # ADDED, REMOVED or CHANGED
    old: Any = None
    new: Any = None


def _key_path(path: str, key: str) -> str:
    plain = key.isidentifier()
    if plain:
        return f"{path}.{key}" if path else key
    return f"{path}[{json.dumps(key, ensure_ascii=False)}]"


def diff(old: Any, new: Any, limit: int = MAX_CHANGES) -> tuple[list[Change], bool]:
    """The changes from ``old`` to ``new``, outer fields first, and whether the list was cut."""
    changes: list[Change] = []
    stack: list[tuple[str, Any, Any]] = [("", old, new)]
    while stack:
        path, a, b = stack.pop()
        if len(changes) >= limit:
            return changes[:limit], True
        if isinstance(a, dict) and isinstance(b, dict):
            pending: list[tuple[str, Any, Any]] = []
            for key in a:
                sub = _key_path(path, str(key))
                if key not in b:
                    changes.append(Change(sub, REMOVED, old=a[key]))
                else:
                    pending.append((sub, a[key], b[key]))
            for key in b:
                if key not in a:
                    changes.append(Change(_key_path(path, str(key)), ADDED, new=b[key]))
            stack.extend(reversed(pending))
        elif isinstance(a, list) and isinstance(b, list):
            common = min(len(a), len(b))
            for i in range(common, len(a)):
                changes.append(Change(f"{path}[{i}]", REMOVED, old=a[i]))
            for i in range(common, len(b)):
                changes.append(Change(f"{path}[{i}]", ADDED, new=b[i]))
            stack.extend((f"{path}[{i}]", a[i], b[i]) for i in reversed(range(common)))
        elif type(a) is not type(b) or a != b:
            changes.append(Change(path, CHANGED, old=a, new=b))
    cut = len(changes) > limit
    return changes[:limit], cut


def short_json(value: Any, width: int = 60) -> str:
    """A value as compact JSON, cut to ``width`` characters."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return text if len(text) <= width else text[: width - 1] + "…"
