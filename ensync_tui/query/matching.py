"""Running a parsed filter on records: a compiled test per filter, true, false or unknown.

A record is read through an ``Access``: the explorer reads its held entries, a
command its recorded ones, each the way it keeps them. A test answers None
("unknown") only when it needs the payload and the access says it is not opened
yet; the caller opens it (off its UI loop, say) and asks again. Nothing from a
record is ever run as code: payload values are compared as data, and patterns,
even one a path takes from a payload, run on RE2 (linear time).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from ensync_tui.query.paths import compile_path
from ensync_tui.query.regexes import compile_glob, compile_regex
from ensync_tui.query.syntax import And, Compare, Exists, Field, Node, Not, Or, Regex, Text

__all__ = ["PENDING", "UNREADABLE", "Access", "Test", "compile_test", "needs_payload"]

PENDING: Any = type("Pending", (), {"__repr__": lambda self: "PENDING"})()
UNREADABLE: Any = type("Unreadable", (), {"__repr__": lambda self: "UNREADABLE"})()
Test = Callable[[Any], bool | None]
_NAME_CACHE = 4_096  # names whose glob outcome a test remembers (names repeat a lot)


class Access:
    """How a filter reads a record. The defaults read the attributes ``name``,
    ``idem``, ``sender`` and ``metadata`` (its ``headers``); a subclass says how the
    payload and the states are known."""

    def __init__(self, contacts: Mapping[str, str] | None = None, self_key: str = "") -> None:
        self.contacts = dict(contacts or {})  # contact name -> public key
        self.self_key = self_key

    def name(self, record: Any) -> str:
        return str(record.name)

    def idem(self, record: Any) -> str:
        return str(record.idem)

    def sender(self, record: Any) -> str:
        return str(record.sender)

    def headers(self, record: Any) -> Mapping[str, Any]:
        metadata = record.metadata
        headers = metadata.get("headers") if isinstance(metadata, dict) else None
        return headers if isinstance(headers, dict) else {}

    def state(self, record: Any) -> str:
        """pending, acked, deferred, discarded or replayed."""
        return "pending"

    def redelivered(self, record: Any) -> bool:
        return False

    def value(self, record: Any) -> Any:
        """The payload's JSON value; PENDING (not opened yet) or UNREADABLE."""
        return UNREADABLE

    def text(self, record: Any) -> str | None:
        """The payload as lower-cased compact JSON ("" when unreadable); None: PENDING."""
        value = self.value(record)
        if value is PENDING:
            return None
        if value is UNREADABLE:
            return ""
        return _compact(value).lower()

    def json(self, record: Any) -> str | None:
        """The payload as compact JSON, as sent ("" when unreadable); None: PENDING."""
        value = self.value(record)
        if value is PENDING:
            return None
        return "" if value is UNREADABLE else _compact(value)


def _compact(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    except (ValueError, TypeError, RecursionError):
        return ""


def needs_payload(node: Node | None) -> bool:
    """Whether the filter may have to open payloads (text, patterns, $ conditions)."""
    if node is None:
        return False
    if isinstance(node, Text | Regex | Compare | Exists):
        return True
    if isinstance(node, Field):
        return node.field == "state" and node.value == "undecryptable"
    if isinstance(node, Not):
        return needs_payload(node.item)
    if isinstance(node, And | Or):
        return any(needs_payload(item) for item in node.items)
    return False


def compile_test(node: Node | None, access: Access) -> Test:
    """A test of one record: True, False, or None when it needs a payload not opened yet.

    It never raises: a record it cannot read is not matched.
    """
    if node is None:
        return lambda record: True
    inner = _compile(node, access)

    def test(record: Any) -> bool | None:
        try:
            return inner(record)
        except Exception:  # a record too strange to read (or nested too deep) is no match
            return False

    return test


def _compile(node: Node, access: Access) -> Test:
    if isinstance(node, Text):
        return _text(node.text.lower(), access)
    if isinstance(node, Field):
        return _field(node, access)
    if isinstance(node, Regex):
        return _regex(node, access)
    if isinstance(node, Compare):
        return _compare(node, access)
    if isinstance(node, Exists):
        return _exists(node, access)
    if isinstance(node, Not):
        item = _compile(node.item, access)

        def negate(record: Any) -> bool | None:
            found = item(record)
            return None if found is None else not found

        return negate
    if isinstance(node, And):
        return _all([_compile(item, access) for item in node.items])
    if isinstance(node, Or):
        return _any([_compile(item, access) for item in node.items])
    raise TypeError(f"not a filter node: {node!r}")


def _all(tests: list[Test]) -> Test:
    return _decided_by(tests, False)


def _any(tests: list[Test]) -> Test:
    return _decided_by(tests, True)


def _decided_by(tests: list[Test], decisive: bool) -> Test:
    """``and`` (decisive False) or ``or`` (True): the first test answering ``decisive``
    decides; otherwise unknown (None) if any test was, else ``not decisive``."""

    def combined(record: Any) -> bool | None:
        unknown = False
        for test in tests:
            found = test(record)
            if found is decisive:
                return decisive
            if found is None:
                unknown = True
        return None if unknown else not decisive

    return combined


# -- terms ----------------------------------------------------------------------------------
def _text(needle: str, access: Access) -> Test:
    name, idem, sender, text = access.name, access.idem, access.sender, access.text

    def contains(record: Any) -> bool | None:
        if needle in name(record).lower() or needle in idem(record).lower():
            return True
        if needle in sender(record).lower():
            return True
        payload = text(record)
        return None if payload is None else needle in payload

    return contains


def _cached(glob: str, read: Callable[[Any], str]) -> Test:
    """A whole-string glob on what ``read`` gives, remembering the answer per string."""
    return _remembered(compile_glob(glob).search, read)


def _field(node: Field, access: Access) -> Test:
    kind, value = node.field, node.value
    if kind == "name":
        return _cached(value, access.name)
    if kind == "idem":
        pattern = compile_glob(value)
        idem = access.idem
        return lambda record: pattern.search(idem(record)) is not None
    if kind == "sender":
        return _sender(value, access)
    if kind == "header":
        return _header(value, access)
    if kind == "state":
        return _state(value, access)
    raise TypeError(f"unknown field {kind!r}")


def _sender(value: str, access: Access) -> Test:
    folded = value.casefold()
    keys = {key for name, key in access.contacts.items() if name.casefold() == folded and key}
    if folded == "self" and access.self_key:
        keys.add(access.self_key)
    sender = access.sender
    return lambda record: (key := sender(record)) in keys or key.startswith(value)


def _header(value: str, access: Access) -> Test:
    key, sep, glob = value.partition("=")
    key = key.strip().casefold()
    pattern = compile_glob(glob.strip()) if sep else None
    headers = access.headers

    def match(record: Any) -> bool:
        for name, found in headers(record).items():
            if str(name).casefold() != key:
                continue
            if pattern is None:
                return True
            shown = found if isinstance(found, str) else _compact(found)
            if pattern.search(shown) is not None:
                return True
        return False

    return match


def _state(word: str, access: Access) -> Test:
    if word == "redelivered":
        return access.redelivered
    if word == "undecryptable":
        read = access.value

        def unreadable(record: Any) -> bool | None:
            value = read(record)
            return None if value is PENDING else value is UNREADABLE

        return unreadable
    state = access.state
    return lambda record: state(record) == word


def _remembered(search: Callable[[str], Any], read: Callable[[Any], str]) -> Test:
    """Whether ``search`` finds something in what ``read`` gives, remembered per string."""
    seen: dict[str, bool] = {}

    def match(record: Any) -> bool:
        value = read(record)
        found = seen.get(value)
        if found is None:
            found = search(value) is not None
            if len(seen) < _NAME_CACHE:
                seen[value] = found
        return found

    return match


def _regex(node: Regex, access: Access) -> Test:
    search = compile_regex(node.pattern, node.flags).search
    idem = access.idem
    # names and senders repeat: each is searched once
    name, sender = _remembered(search, access.name), _remembered(search, access.sender)
    payload_text = access.json

    def match(record: Any) -> bool | None:
        if name(record) or search(idem(record)) or sender(record):
            return True
        payload = payload_text(record)
        return None if payload is None else search(payload) is not None

    return match


# -- payload conditions ---------------------------------------------------------------------
def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _equal(a: Any, b: Any) -> bool:
    """JSON equality: true is not 1, 1 is 1.0, arrays and objects are never equal to a scalar."""
    if _number(a) and _number(b):
        return bool(a == b)
    return type(a) is type(b) and a == b


_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _compare(node: Compare, access: Access) -> Test:
    values = compile_path(node.path).values
    read = access.value
    wanted = node.value
    op = node.op

    if op in ("==", "!="):
        negate = op == "!="

        def equal(record: Any) -> bool | None:
            doc = read(record)
            if doc is PENDING:
                return None
            if doc is UNREADABLE:  # a payload condition needs a payload
                return False
            return any(_equal(v, wanted) for v in values(doc)) != negate

        return equal

    order = _ORDER[op]
    numeric = _number(wanted)
    if not numeric and not isinstance(wanted, str):  # true < x, null > x: never
        return lambda record: None if read(record) is PENDING else False

    def ordered(record: Any) -> bool | None:
        doc = read(record)
        if doc is PENDING:
            return None
        if doc is UNREADABLE:
            return False
        for v in values(doc):
            if (_number(v) if numeric else isinstance(v, str)) and order(v, wanted):
                return True
        return False

    return ordered


def _exists(node: Exists, access: Access) -> Test:
    values = compile_path(node.path).values
    read = access.value

    def exists(record: Any) -> bool | None:
        doc = read(record)
        if doc is PENDING:
            return None
        return doc is not UNREADABLE and next(iter(values(doc)), _NONE) is not _NONE

    return exists


_NONE: Any = object()
