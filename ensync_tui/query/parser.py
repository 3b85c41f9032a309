"""Reading a filter: text in, a tree of ``syntax`` nodes out, or a ``QueryError``.

The grammar, loosest first::

    query    := [or]
    or       := and ("or" and)*
    and      := unary (["and"] unary)*          two terms side by side: both must hold
    unary    := "not" unary | "(" or ")" | term
    term     := phrase | "quoted text" | field:value | re:/pattern/flags
              | $path OP value | exists($path)

A phrase is bare words side by side, matched as the text between them as typed
("connection reset" is one substring). ``and``, ``or`` and ``not`` are keywords in
any case; quote them to search for them. Nothing but ``QueryError`` is raised,
whatever the text.
"""

from __future__ import annotations

import json
import re
from typing import Any, NoReturn

from ensync_tui.query.paths import PathError, compile_path
from ensync_tui.query.syntax import (
    FIELDS,
    KEYWORDS,
    STATES,
    And,
    Compare,
    Exists,
    Field,
    Node,
    Not,
    Or,
    Regex,
    Text,
)

__all__ = ["MAX_DEPTH", "MAX_LENGTH", "QueryError", "parse"]

MAX_LENGTH = 20_000  # characters of filter text
MAX_DEPTH = 40  # parentheses and nots inside each other
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_FIELD = re.compile(r"([A-Za-z]+):")
_WORDS = {"true": True, "false": False, "null": None}
_OPS = ("==", "!=", "<=", ">=", "<", ">")
_TERMS = "name:, sender:, idem:, state:, header:, re:"
_VALUE = 'a value ("text", a number, true, false or null)'


class QueryError(ValueError):
    """What is wrong with a filter and where: ``column`` counts from 1."""

    def __init__(self, column: int, message: str) -> None:
        super().__init__(f"column {column}: {message}")
        self.column = column
        self.message = message


def parse(text: str) -> Node | None:
    """The filter ``text`` as a tree; None when it is empty (everything matches)."""
    if not isinstance(text, str):
        raise QueryError(1, "a filter is text")
    if len(text) > MAX_LENGTH:
        raise QueryError(MAX_LENGTH + 1, f"a filter is at most {MAX_LENGTH:,} characters")
    try:
        return _Parser(text).query()
    except QueryError:
        raise
    except RecursionError:
        raise QueryError(1, "nested too deeply") from None
    except Exception as exc:  # a bug here must still read as a refusal, never a crash
        raise QueryError(1, f"cannot read this filter ({type(exc).__name__})") from None


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.depth = 0

    # -- helpers ------------------------------------------------------------------------
    def fail(self, message: str, pos: int | None = None) -> NoReturn:
        raise QueryError((self.pos if pos is None else pos) + 1, message)

    def skip(self) -> None:
        text, pos = self.text, self.pos
        while pos < len(text) and text[pos].isspace():
            pos += 1
        self.pos = pos

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def word_end(self, pos: int) -> int:
        """Where a bare word from ``pos`` ends: at a space, a parenthesis or the end."""
        text = self.text
        while pos < len(text) and not text[pos].isspace() and text[pos] not in "()":
            pos += 1
        return pos

    def keyword(self) -> str | None:
        """The keyword at the cursor (and, or, not), if the next word is one."""
        end = self.word_end(self.pos)
        word = self.text[self.pos : end].casefold()
        return word if word in KEYWORDS else None

    def exists_at(self, pos: int) -> int | None:
        """Where the ( is when ``exists(`` starts at ``pos`` (spaces allowed before it)."""
        end = self.word_end(pos)
        if self.text[pos:end].casefold() != "exists":
            return None
        while end < len(self.text) and self.text[end].isspace():
            end += 1
        return end if end < len(self.text) and self.text[end] == "(" else None

    def describe(self) -> str:
        if self.pos >= len(self.text):
            return "the end"
        end = self.word_end(self.pos)
        return repr(self.text[self.pos : max(end, self.pos + 1)][:30])

    # -- the grammar --------------------------------------------------------------------
    def query(self) -> Node | None:
        self.skip()
        if self.pos >= len(self.text):
            return None
        node = self.or_()
        self.skip()
        if self.pos < len(self.text):
            if self.peek() == ")":
                self.fail("no ( to close with this )")
            self.fail(f"expected and, or or the end, found {self.describe()}")
        return node

    def or_(self) -> Node:
        items = [self.and_()]
        while True:
            self.skip()
            if self.keyword() != "or":
                break
            self.pos += 2
            items.append(self.and_())
        return _join(Or, items)

    def and_(self) -> Node:
        items = [self.unary()]
        while True:
            self.skip()
            char = self.peek()
            if not char or char == ")":
                break
            word = self.keyword()
            if word == "or":
                break
            if word == "and":
                self.pos += 3
            items.append(self.unary())
        return _join(And, items)

    def unary(self) -> Node:
        self.skip()
        if self.depth >= MAX_DEPTH:
            self.fail("nested too deeply")
        word = self.keyword()
        if word == "not":
            self.pos += 3
            self.depth += 1
            node = self.unary()
            self.depth -= 1
            return Not(node)
        if word is not None:
            self.fail(f"expected a term before {word}")
        char = self.peek()
        if not char:
            self.fail("expected a term: text, name:, state:, $.path == value, …")
        if char == "(":
            start = self.pos
            self.pos += 1
            self.depth += 1
            self.skip()
            if self.peek() == ")":
                self.fail("expected a term inside ( )")
            node = self.or_()
            self.skip()
            if self.peek() != ")":
                if self.pos >= len(self.text):
                    self.fail(f"expected ) to close the ( at column {start + 1}")
                self.fail(f"expected ) or and/or, found {self.describe()}")
            self.pos += 1
            self.depth -= 1
            return node
        if char == ")":
            self.fail("expected a term before )")
        return self.term()

    def term(self) -> Node:
        text, pos = self.text, self.pos
        char = text[pos]
        if char == '"':
            return Text(self.string())
        if char == "$":
            return self.compare()
        end = self.word_end(pos)
        paren = self.exists_at(pos)
        if paren is not None:
            return self.exists(paren)
        word = text[pos:end]
        found = _FIELD.match(word)
        if found:
            field = found.group(1).casefold()
            if field not in FIELDS:
                self.fail(
                    f"unknown term {found.group(0)!r} (terms: {_TERMS}; quote text to search it)"
                )
            self.pos = pos + found.end()
            return self.field(field)
        return self.phrase()

    def phrase(self) -> Text:
        text = self.text
        start = self.pos
        end = self.word_end(start)
        while True:
            self.pos = end
            self.skip()
            nxt = self.pos
            if nxt >= len(text) or text[nxt] in '()"$' or self.keyword() is not None:
                break
            if _FIELD.match(text[nxt : self.word_end(nxt)]) or self.exists_at(nxt) is not None:
                break
            end = self.word_end(nxt)
        self.pos = end
        return Text(text[start:end])

    def string(self) -> str:
        """A double-quoted string with JSON escapes, at the cursor."""
        text, start = self.text, self.pos
        pos = start + 1
        while pos < len(text):
            char = text[pos]
            if char == "\\":
                pos += 2
                continue
            if char == '"':
                try:
                    value = json.loads(text[start : pos + 1], strict=False)
                except ValueError as exc:
                    where = start + getattr(exc, "pos", 0)
                    self.fail(f"bad escape or character in the quoted text: {_reason(exc)}", where)
                self.pos = pos + 1
                return str(value)
            pos += 1
        self.fail('expected " to close the quoted text', start)

    def field(self, field: str) -> Node:
        start = self.pos
        if field == "re":
            return self.regex()
        if self.peek() == '"':
            value = self.string()
        else:
            end = self.word_end(start)
            value = self.text[start:end]
            self.pos = end
        if not value:
            self.fail(f"expected a value after {field}:", start)
        if field == "state":
            word = value.casefold()
            if word not in STATES:
                self.fail(f"unknown state {value!r}: expected {'|'.join(STATES)}", start)
            value = word
        if field == "header" and value.partition("=")[0].strip() == "":
            self.fail("expected header:key or header:key=value", start)
        return Field(field, value)

    def regex(self) -> Regex:
        text, start = self.text, self.pos
        if self.peek() != "/":
            self.fail("expected /pattern/ after re:")
        pos = start + 1
        while pos < len(text) and text[pos] != "/":
            pos += 2 if text[pos] == "\\" else 1
        if pos >= len(text):
            self.fail("expected / to close the pattern", start)
        pattern = text[start + 1 : pos]
        end = self.word_end(pos + 1)
        flags = text[pos + 1 : end]
        if any(f not in "ims" for f in flags) or len(set(flags)) != len(flags):
            self.fail(f"unknown or repeated flag in {flags!r}: expected i, m or s", pos + 1)
        from ensync_tui.query.regexes import RegexError, compile_regex

        try:
            compile_regex(pattern, flags)
        except RegexError as exc:
            self.fail(f"not a pattern this filter runs: {exc.message}", start + 1)
        self.pos = end
        return Regex(pattern, "".join(sorted(flags)))

    def path(self) -> str:
        """The path text at the cursor: up to a space, an operator or a ")" outside brackets."""
        text, start = self.text, self.pos
        pos, depth, quote = start, 0, ""
        while pos < len(text):
            char = text[pos]
            if quote:
                if char == "\\":
                    pos += 1
                elif char == quote:
                    quote = ""
            elif char in "'\"":
                quote = char
            elif char in "[(":
                depth += 1
            elif char in "])":
                if depth == 0:
                    break
                depth -= 1
            elif depth == 0 and (char.isspace() or char in "=!<>"):
                break
            pos += 1
        path = text[start:pos]
        try:
            compile_path(path)
        except PathError as exc:
            self.fail(f"in the path: {exc.message}", start + exc.offset)
        self.pos = pos
        return path

    def compare(self) -> Compare:
        path = self.path()
        self.skip()
        op_at = self.pos
        op = next((op for op in _OPS if self.text.startswith(op, op_at)), None)
        if op is None:
            if self.peek() == "=":
                self.fail("expected == (one = is not a comparison)")
            self.fail(
                "expected ==, !=, <, <=, > or >= after the path (or exists($.path) to test it)"
            )
        self.pos += len(op)
        self.skip()
        value = self.literal()
        after = self.peek()
        if after and not after.isspace() and after != ")":
            self.fail(f"expected a space or ) after the value, found {self.describe()}")
        return Compare(path, op, value)

    def literal(self) -> Any:
        text, pos = self.text, self.pos
        char = self.peek()
        if char == '"':
            return self.string()
        if char == "'":
            return self.single_quoted()
        found = _NUMBER.match(text, pos)
        if found:
            number = found.group(0)
            try:
                value = json.loads(number)
            except ValueError:
                self.fail("number too long")
            if isinstance(value, float) and value in (float("inf"), float("-inf")):
                self.fail("number out of range")
            self.pos = found.end()
            return value
        end = self.word_end(pos)
        word = text[pos:end]
        if word in _WORDS:
            self.pos = end
            return _WORDS[word]
        self.fail(f"expected {_VALUE}, found {self.describe()}")

    def single_quoted(self) -> str:
        """A single-quoted string (as JSONPath allows): the JSON escapes and \\'."""
        text, start = self.text, self.pos
        pos = start + 1
        out = []
        while pos < len(text):
            char = text[pos]
            if char == "\\" and pos + 1 < len(text) and text[pos + 1] == "'":
                out.append("'")
                pos += 2
                continue
            if char == "\\":
                out.append(text[pos : pos + 2])
                pos += 2
                continue
            if char == "'":
                body = "".join(out)
                try:
                    value = json.loads(f'"{body}"', strict=False)
                except ValueError as exc:
                    self.fail(f"bad escape or character in the quoted text: {_reason(exc)}", start)
                self.pos = pos + 1
                return str(value)
            out.append('\\"' if char == '"' else char)
            pos += 1
        self.fail("expected ' to close the quoted text", start)

    def exists(self, paren: int) -> Exists:
        self.pos = paren + 1
        self.skip()
        if self.peek() != "$":
            self.fail("expected a path starting with $ inside exists( )")
        path = self.path()
        self.skip()
        if self.peek() != ")":
            self.fail("expected ) to close exists(")
        self.pos += 1
        return Exists(path)


def _join(kind: type[And] | type[Or], items: list[Node]) -> Node:
    if len(items) == 1:
        return items[0]
    flat: list[Node] = []
    for item in items:
        flat.extend(item.items if isinstance(item, kind) else (item,))
    return kind(tuple(flat))


def _reason(exc: ValueError) -> str:
    return str(getattr(exc, "msg", None) or exc)
