"""The path part of a filter: RFC 9535 JSONPath, parsed by ``jsonpath_rfc9535``.

Every path is parsed by the library, so what is accepted and what it means is the
RFC's. Paths made only of names, indexes and wildcards, as children or
descendants (``$.status``, ``$.lines[*].sku``, ``$['a b'][0]``, ``$..sku``) are
then walked by a plain loop over the decoded JSON: the library's general
evaluator costs 5-20 µs a record, too much for 100,000 of them; anything else
(filters, slices, unions mixing those) is evaluated by the library itself. The two
agree (see the tests).

The RFC's ``match()`` and ``search()`` functions run I-Regexp patterns, which may
come from a payload (``match(@.a, @.b)``): here they run on RE2, whose matching
time is linear in the text, so no pattern can make a filter hang.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import jsonpath_rfc9535 as jsonpath
import re2
from iregexp_check import check as is_iregexp
from jsonpath_rfc9535.function_extensions import ExpressionType, FilterFunction
from jsonpath_rfc9535.segments import JSONPathChildSegment, JSONPathRecursiveDescentSegment
from jsonpath_rfc9535.selectors import IndexSelector, NameSelector, WildcardSelector

__all__ = ["Path", "PathError", "compile_path", "path_to"]

Values = Callable[[Any], Iterator[Any]]


class PathError(ValueError):
    """A path the RFC does not allow; ``offset`` is where in the path text (0-based)."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


def _re2_options() -> Any:
    options = re2.Options()
    options.log_errors = False
    options.max_mem = 8 << 20
    return options


_RE2 = _re2_options()


@functools.lru_cache(maxsize=256)
def _iregexp(pattern: str, whole: bool) -> Any:
    """An I-Regexp pattern as compiled RE2 (None when it is not one)."""
    if not is_iregexp(pattern):
        return None
    parts, in_class, escaped = [], False, False
    for ch in pattern:  # I-Regexp's "." matches anything but CR and LF
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == "[":
            in_class = True
        elif ch == "]":
            in_class = False
        elif ch == "." and not in_class:
            parts.append(r"[^\n\r]")
            continue
        parts.append(ch)
    text = "".join(parts)
    try:
        return re2.compile(f"^(?:{text})$" if whole else text, _RE2)
    except Exception:  # RE2 refuses it (too big): it matches nothing
        return None


class _Match(FilterFunction):
    arg_types = [ExpressionType.VALUE, ExpressionType.VALUE]
    return_type = ExpressionType.LOGICAL
    whole = True

    def __call__(self, string: object, pattern: object) -> bool:
        if not isinstance(string, str) or not isinstance(pattern, str):
            return False
        compiled = _iregexp(pattern, self.whole)
        return compiled is not None and compiled.search(string) is not None


class _Search(_Match):
    whole = False


class _Environment(jsonpath.JSONPathEnvironment):
    """The RFC's environment with ``match`` and ``search`` on RE2."""

    def setup_function_extensions(self) -> None:
        super().setup_function_extensions()
        self.function_extensions["match"] = _Match()
        self.function_extensions["search"] = _Search()


ENV = _Environment()


class Path:
    """A compiled path: ``values(doc)`` yields the value of each node it selects."""

    __slots__ = ("fast", "query", "text", "values")

    def __init__(self, text: str, query: jsonpath.JSONPathQuery) -> None:
        self.text = text
        self.query = query
        walker = _walker(query)
        self.fast = walker is not None
        self.values: Values = walker or self._library

    def _library(self, doc: Any) -> Iterator[Any]:
        for node in self.query.finditer(doc):
            yield node.value

    def __repr__(self) -> str:
        return f"Path({self.text!r})"


def compile_path(text: str) -> Path:
    """Parse ``text`` as an RFC 9535 query; PathError says where it goes wrong."""
    try:
        return Path(text, ENV.compile(text))
    except jsonpath.JSONPathError as exc:
        token = exc.token
        offset = token.index if token is not None else 0
        message = str(exc.args[0]) if exc.args else "not a valid path"
        raise PathError(message, max(0, min(offset, len(text)))) from None
    except RecursionError:
        raise PathError("nested too deeply", 0) from None
    except Exception as exc:  # the library has a bug for this text: still only a refusal
        raise PathError(f"not a valid path ({type(exc).__name__})", 0) from None


# -- the plain walker ---------------------------------------------------------------------

Step = Callable[[Any], Iterator[Any]]


def _name_step(name: str) -> Step:
    def step(value: Any) -> Iterator[Any]:
        if type(value) is dict and name in value:
            yield value[name]

    return step


def _index_step(index: int) -> Step:
    def step(value: Any) -> Iterator[Any]:
        if type(value) is list and -len(value) <= index < len(value):
            yield value[index]

    return step


def _wild_step(value: Any) -> Iterator[Any]:
    if type(value) is dict:
        yield from value.values()
    elif type(value) is list:
        yield from value


def _union(steps: list[Step]) -> Step:
    def step(value: Any) -> Iterator[Any]:
        for one in steps:
            yield from one(value)

    return step


def _descend(step: Step, limit: int) -> Step:
    """``..``: the step on a value and on every array and object under it, in the
    RFC's order (depth first, each node before its children)."""

    def descend(value: Any) -> Iterator[Any]:
        stack = [(value, 1)]
        while stack:
            node, depth = stack.pop()
            if depth > limit:
                raise RecursionError("nested too deeply")
            yield from step(node)
            kind = type(node)
            if kind is dict:
                children = [v for v in node.values() if type(v) is dict or type(v) is list]
            elif kind is list:
                children = [v for v in node if type(v) is dict or type(v) is list]
            else:
                continue
            stack.extend((child, depth + 1) for child in reversed(children))

    return descend


def _walker(query: jsonpath.JSONPathQuery) -> Values | None:
    """A plain loop for a path of names, indexes and wildcards; None for any other."""
    steps: list[Step] = []
    for segment in query.segments:
        descend = type(segment) is JSONPathRecursiveDescentSegment
        if not descend and type(segment) is not JSONPathChildSegment:
            return None
        parts: list[Step] = []
        for selector in segment.selectors:
            if type(selector) is NameSelector:
                parts.append(_name_step(selector.name))
            elif type(selector) is IndexSelector:
                parts.append(_index_step(selector.index))
            elif type(selector) is WildcardSelector:
                parts.append(_wild_step)
            else:
                return None
        step = parts[0] if len(parts) == 1 else _union(parts)
        steps.append(_descend(step, query.env.max_recursion_depth) if descend else step)
    names = _plain_names(query)
    if names is not None:  # the common case: $.a.b.c
        return _names_walker(names)

    def values(doc: Any) -> Iterator[Any]:
        current: list[Any] = [doc]
        for step in steps:
            current = [child for value in current for child in step(value)]
            if not current:
                return iter(())
        return iter(current)

    return values


def _plain_names(query: jsonpath.JSONPathQuery) -> list[str] | None:
    names = []
    for segment in query.segments:
        if type(segment) is not JSONPathChildSegment:
            return None
        selectors = segment.selectors
        if len(selectors) != 1 or type(selectors[0]) is not NameSelector:
            return None
        names.append(selectors[0].name)
    return names


def _names_walker(names: list[str]) -> Values:
    def values(doc: Any) -> Iterator[Any]:
        value = doc
        for name in names:
            if type(value) is not dict:
                return iter(())
            value = value.get(name, _MISSING)
            if value is _MISSING:
                return iter(())
        return iter((value,))

    return values


_MISSING: Any = object()


# -- building a path to a field (the Tree tab's "filter by this value") --------------------

_SHORTHAND = re.compile(r"[A-Za-z_\u0080-\U0010ffff][A-Za-z0-9_\u0080-\U0010ffff]*")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _member(key: str) -> str:
    if _SHORTHAND.fullmatch(key) and not _SURROGATE.search(key):
        return "." + key
    # a JSON string is a valid RFC 9535 string literal; surrogates stay escaped
    return "[" + json.dumps(key, ensure_ascii=bool(_SURROGATE.search(key))) + "]"


def path_to(keys: list[str | int | None]) -> str:
    """The path of a field: a str is a member name, an int an index, None any index (``[*]``)."""
    parts = ["$"]
    for key in keys:
        if key is None:
            parts.append("[*]")
        elif isinstance(key, int):
            parts.append(f"[{key}]")
        else:
            parts.append(_member(key))
    return "".join(parts)
