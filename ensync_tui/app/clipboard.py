"""Copy text to the system clipboard, or to the terminal's (OSC 52) when there is none."""

from __future__ import annotations

from typing import Any

__all__ = ["copy_text"]


def copy_text(app: Any, text: str) -> str:
    """Copy ``text``; return the method used: "clipboard", "osc52", or "none" if both failed.

    pyperclip reaches the desktop clipboard. Over SSH or on a headless box it raises,
    and the terminal's own clipboard (OSC 52, via ``app.copy_to_clipboard``) is used.
    Never raises.
    """
    try:
        import pyperclip

        pyperclip.copy(text)
    except Exception:
        pass
    else:
        return "clipboard"
    try:
        app.copy_to_clipboard(text)
    except Exception:
        return "none"
    return "osc52"
