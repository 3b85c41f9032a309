"""Text from the wire, made safe to show: control characters become visible.

Anything a sender or an engine chose (names, idems, keys, payload text,
``-FAIL`` reasons, close reasons) may carry terminal escapes (``ESC ]52;…``
sets the clipboard), C1 controls, bidi overrides (U+202E reverses what
follows), lone surrogates (which cannot even be encoded) or zero-width
characters. Before such text reaches a screen, a log or a terminal it goes
through :func:`visible` (plain text) or :func:`json_visible` (JSON text),
which show each of those characters as an escape instead of passing it on.

A leaf module: the standard library only.
"""

from __future__ import annotations

import re

__all__ = ["UNSAFE", "json_visible", "one_line", "visible"]

# C0, DEL, C1; soft hyphen; Arabic letter mark; Mongolian vowel separator;
# zero-width and direction marks; line and paragraph separators; bidi embeddings
# and overrides; word joiner, invisible operators and bidi isolates; BOM;
# interlinear annotation; surrogates; tag characters.
UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2069"
    "\ufeff\ufff9-\ufffb\ud800-\udfff\U000e0000-\U000e007f]"
)
_UNSAFE_BUT_LAYOUT = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2069"
    "\ufeff\ufff9-\ufffb\ud800-\udfff\U000e0000-\U000e007f]"
)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def _json_escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    # JSON escapes only the basic plane: write the pair of surrogates
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def visible(text: str, *, layout: bool = False) -> str:
    """``text`` with every control and invisible formatting character escaped.

    ``\\x1b`` stands for ESC, ``\\u202e`` for a right-to-left override. With
    ``layout=True`` new lines and tabs stay as they are (for multi-line views
    such as pretty-printed JSON); everything else is escaped either way.
    """
    if not isinstance(text, str):
        text = str(text)
    pattern = _UNSAFE_BUT_LAYOUT if layout else UNSAFE
    if pattern.search(text) is None:
        return text
    return pattern.sub(_escape, text)


def one_line(text: str, width: int | None = None) -> str:
    """:func:`visible`, cut to ``width`` characters with an ellipsis."""
    shown = visible(text)
    if width is not None and len(shown) > width:
        return shown[: max(0, width - 1)] + "…"
    return shown


def json_visible(text: str) -> str:
    """JSON text (as ``json.dumps(..., ensure_ascii=False)`` writes it) with the
    characters :func:`visible` escapes written as ``\\uXXXX`` escapes.

    The result is still valid JSON with the same value: outside strings JSON
    text has none of these characters, and inside strings the escape means
    the character itself. Lone surrogates become escapes any parser accepts.
    """
    if UNSAFE.search(text) is None:
        return text
    return UNSAFE.sub(_json_escape, text)
