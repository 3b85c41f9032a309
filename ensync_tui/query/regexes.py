"""Patterns a filter runs: ``re:/…/`` and the globs of ``name:``, ``idem:`` and ``header:``.

All of them run on RE2, which matches in time linear in the text and never
backtracks: no pattern, however written, can make a filter hang on a record
(``re:/(a+)+$/`` costs what ``re:/a/`` costs). The price is what RE2 leaves out:
backreferences and lookaround are refused with a reason when the filter is read.
"""

from __future__ import annotations

import functools
from typing import Any

import re2

__all__ = ["RegexError", "compile_glob", "compile_regex"]

MAX_PATTERN = 2_000


class RegexError(ValueError):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _options(case: bool) -> Any:
    options = re2.Options()
    options.log_errors = False  # RE2 would write each refusal to stderr
    options.max_mem = 8 << 20  # a pattern whose program needs more is refused
    options.case_sensitive = case
    return options


_CASE = _options(True)
_NOCASE = _options(False)


def _reason(exc: Exception) -> str:
    text = exc.args[0] if exc.args else str(exc)
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return str(text)


@functools.lru_cache(maxsize=128)
def compile_regex(pattern: str, flags: str = "") -> Any:
    """``pattern`` as RE2 with flags ``i`` (any case), ``m`` (^ $ at lines), ``s`` (. and \\n)."""
    if len(pattern) > MAX_PATTERN:
        raise RegexError(f"longer than {MAX_PATTERN:,} characters")
    inline = "".join(f for f in "ms" if f in flags)
    text = f"(?{inline}){pattern}" if inline else pattern
    try:
        return re2.compile(text, _NOCASE if "i" in flags else _CASE)
    except Exception as exc:  # re2.error, and anything else the binding raises
        reason = _reason(exc)
        if "invalid perl operator" in reason or "invalid escape" in reason:
            reason += " (backreferences and lookaround are not supported)"
        raise RegexError(reason) from None


@functools.lru_cache(maxsize=128)
def compile_glob(glob: str) -> Any:
    """A glob (``*`` any run, ``?`` one character, ``[abc]``, ``[!abc]``) matching a
    whole string in any case, as RE2."""
    parts: list[str] = []
    i, n = 0, len(glob)
    while i < n:
        char = glob[i]
        i += 1
        if char == "*":
            if not parts or parts[-1] != ".*":
                parts.append(".*")
        elif char == "?":
            parts.append(".")
        elif char == "[":
            j = i + 1 if i < n and glob[i] in "!^" else i
            j = j + 1 if j < n and glob[j] == "]" else j  # a ] first is one of the class
            end = glob.find("]", j)
            if end < 0:  # no class: a plain [
                parts.append(re2.escape("["))
                continue
            body, i = glob[i:end], end + 1
            negate = body[:1] in ("!", "^")
            body = body[1:] if negate else body
            parts.append(f"[{'^' if negate else ''}{_class(body)}]")
        else:
            parts.append(re2.escape(char))
    try:
        return re2.compile("(?s)^" + "".join(parts) + "$", _NOCASE)
    except Exception as exc:
        raise RegexError(_reason(exc)) from None


def _class(body: str) -> str:
    """The inside of a glob's [class] for RE2: ``a-z`` stays a range, the rest is literal."""
    out: list[str] = []
    i = 0
    while i < len(body):
        if i + 2 < len(body) and body[i + 1] == "-":
            low, high = body[i], body[i + 2]
            if low > high:
                raise RegexError(f"range {low}-{high} is backwards")
            out.append(f"{_esc(low)}-{_esc(high)}")
            i += 3
        else:
            out.append(_esc(body[i]))
            i += 1
    return "".join(out)


def _esc(char: str) -> str:
    return "\\" + char if char in "\\^]-[" else char
