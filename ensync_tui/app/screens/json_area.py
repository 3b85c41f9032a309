"""A TextArea for JSON: tree-sitter highlighting when installed, a small built-in one otherwise."""

from __future__ import annotations

import re
from typing import Any

from textual.theme import Theme
from textual.widgets import TextArea
from textual.widgets.text_area import TextAreaTheme

__all__ = ["JsonTextArea", "highlight_line", "tree_sitter_json"]

_TOKEN = re.compile(
    r'"(?:[^"\\]|\\.)*"?'
    r"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?"
    r"|\b(?:true|false|null)\b"
    r"|[{}\[\]]|[,:]"
)
_LABEL_AFTER = re.compile(r"\s*:")


def tree_sitter_json() -> bool:
    """True when textual's optional syntax extras can parse JSON here."""
    try:
        from textual._tree_sitter import TREE_SITTER, get_language
    except Exception:
        return False
    if not TREE_SITTER:
        return False
    try:
        return get_language("json") is not None
    except Exception:
        return False


def _token_kind(token: str, line: str, end: int) -> str:
    first = token[0]
    if first == '"':
        return "json.label" if _LABEL_AFTER.match(line, end) else "string"
    if first in "{}[]":
        return "punctuation.bracket"
    if first in ",:":
        return "punctuation.delimiter"
    if token == "null":
        return "json.null"
    if token in ("true", "false"):
        return "boolean"
    return "number"


def highlight_line(line: str) -> list[tuple[int, int | None, str]]:
    """Highlights of one line as (start byte, end byte, name), the TextArea's format."""
    ascii_only = line.isascii()
    spans: list[tuple[int, int | None, str]] = []
    for match in _TOKEN.finditer(line):
        start, end = match.span()
        kind = _token_kind(match.group(), line, end)
        if not ascii_only:
            start, end = len(line[:start].encode()), len(line[:end].encode())
        spans.append((start, end, kind))
    return spans


class JsonTextArea(TextArea):
    """A code editor for JSON, highlighted with or without tree-sitter."""

    def __init__(self, text: str = "", **kwargs: Any) -> None:
        self._builtin_highlight = not tree_sitter_json()
        kwargs.setdefault("show_line_numbers", True)
        kwargs.setdefault("tab_behavior", "focus")
        kwargs.setdefault("soft_wrap", False)
        language = None if self._builtin_highlight else "json"
        super().__init__(text, language=language, **kwargs)

    def on_mount(self) -> None:
        # Colours come from the app's CSS; syntax colours follow a dark or a light theme.
        light = TextAreaTheme.get_builtin_theme("github_light")
        styles = dict(light.syntax_styles) if light else {}
        self.register_theme(TextAreaTheme("css-light", syntax_styles=styles))
        self._follow_app_theme(self.app.current_theme)
        self.app.theme_changed_signal.subscribe(self, self._follow_app_theme)

    def _follow_app_theme(self, theme: Theme) -> None:
        self.theme = "css" if theme.dark else "css-light"

    def _build_highlight_map(self) -> None:
        if not getattr(self, "_builtin_highlight", False):
            super()._build_highlight_map()
            return
        self._line_cache.clear()
        highlights = self._highlights
        highlights.clear()
        for index, line in enumerate(self.document.lines):
            spans = highlight_line(line)
            if spans:
                highlights[index] = spans
