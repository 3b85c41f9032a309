"""Text from the wire is shown with its control characters made visible."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from ensync_tui.safetext import UNSAFE, json_visible, one_line, visible

HOSTILE = [
    "\x1b]0;owned\x07",  # set the terminal title
    "\x1b]52;c;ZWNobyBvd25lZA==\x07",  # set the clipboard (OSC 52)
    "\x1b[2J\x1b[H",  # clear the screen
    "\x9b31m",  # C1 CSI
    "abc\u202edcba",  # right-to-left override
    "\ud800",  # lone surrogate
    "zero\u200bwidth",
    "tag\U000e0041",
    "del\x7f",
]


def test_plain_text_is_returned_as_it_is():
    text = "orders/status ünïcödé 日本 ✓"
    assert visible(text) is text
    assert json_visible(text) is text


def test_each_hostile_string_is_shown_escaped():
    for text in HOSTILE:
        shown = visible(text)
        assert UNSAFE.search(shown) is None, repr(shown)
        shown.encode("utf-8")  # surrogates gone: it can be written anywhere
    assert visible("\x1b]0;t\x07") == "\\x1b]0;t\\x07"
    assert visible("a\u202eb") == "a\\u202eb"
    assert visible("\ud800") == "\\ud800"
    assert visible("tag\U000e0041") == "tag\\U000e0041"


def test_layout_keeps_new_lines_and_tabs_only():
    assert visible("a\n\tb\x1b", layout=True) == "a\n\tb\\x1b"
    assert visible("a\nb") == "a\\x0ab"


def test_one_line_cuts_after_escaping():
    assert one_line("\x1b" * 10, 6) == "\\x1b\\…"
    assert one_line("short", 10) == "short"


@given(st.text())
def test_json_visible_keeps_the_value_and_leaves_nothing_unsafe(text):
    raw = json.dumps({"k": text, text: [text]}, ensure_ascii=False)
    safe = json_visible(raw)
    assert UNSAFE.search(safe) is None
    assert json.loads(safe) == json.loads(raw)


@given(st.text())
def test_visible_never_leaves_anything_unsafe(text):
    assert UNSAFE.search(visible(text)) is None
    assert UNSAFE.search(visible(text, layout=True).replace("\n", "").replace("\t", "")) is None
