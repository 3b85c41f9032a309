"""Copying a record and exporting the view, with the payload work off the UI loop.

What goes to the clipboard is safe to paste into a terminal: a payload is
copied as JSON whose control and invisible characters are written as JSON
escapes (the same value, so it still parses to what was sent), an idem with
those characters written as ``\\x1b``-style escapes (an idem that needs them is
hostile: pasting it raw into a shell could end bracketed paste and run what
follows).
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from ensync_tui.app.export import default_export_path, write_export
from ensync_tui.app.history import Entry
from ensync_tui.app.views import why
from ensync_tui.safetext import json_visible, visible

if TYPE_CHECKING:
    from ensync_tui.app.app import EnsyncApp

__all__ = ["copy_idem", "copy_payload", "export_view", "payload_clip", "safe_clip"]


def payload_clip(entry: Entry, secret_key: str | None) -> str:
    """The payload as indented JSON for the clipboard; raises ValueError saying why not."""
    value = entry.decrypt(secret_key)
    if entry.error:
        raise ValueError(entry.error)
    try:
        text = json.dumps(value, indent=2, ensure_ascii=False)
    except Exception as exc:  # nested too deeply to write back
        raise ValueError(why(exc)) from None
    # inside JSON strings new lines are escapes: each line is made safe on its own
    return "\n".join(json_visible(line) for line in text.split("\n"))


def safe_clip(text: str) -> str:
    """Plain text for the clipboard with control characters written as escapes."""
    return visible(text)


def copy_payload(app: EnsyncApp, entry: Entry) -> None:
    key = app.history.secret_key

    def done(text: str) -> None:
        copy(app, text, "payload")

    def failed(exc: Exception) -> None:
        app.say(f"cannot copy the payload: {exc}", "warning")

    if entry.small:
        try:
            text = payload_clip(entry, key)
        except ValueError as exc:
            failed(exc)
        else:
            done(text)
    else:
        app.say("opening the payload to copy it…")
        app.offload.bulk(lambda: payload_clip(entry, key), done, failed)


def copy_idem(app: EnsyncApp, entry: Entry) -> None:
    text = safe_clip(entry.idem)
    note = "" if text == entry.idem else " (control characters written as escapes)"
    copy(app, text, "idem", note)


def copy(app: EnsyncApp, text: str, what: str, note: str = "") -> None:
    from ensync_tui.app.clipboard import copy_text

    how = copy_text(app, text)
    if how == "none":
        app.say(f"cannot copy the {what}: no clipboard is reachable", "error")
    elif how == "osc52":
        app.say(f"copied the {what}{note} (through the terminal, OSC 52)")
    else:
        app.say(f"copied the {what}{note}")


def export_view(app: EnsyncApp) -> None:
    """Ask where, then write the messages in view (decrypted where the key allows)."""
    from ensync_tui.app.screens.export import ExportScreen

    history = app.history
    entries = list(history.rows(0, len(history)))  # the view now; later arrivals stay out
    if not entries:
        app.say("nothing to export: no messages in view", "warning")
        return
    current = history.filter
    what = visible(current.name or "all names")
    if current.text:
        what += f", matching {visible(repr(current.text))}"
    key = history.secret_key

    def done(path: Path | None) -> None:
        if path is None:
            return

        async def export() -> None:
            try:
                count = await asyncio.to_thread(write_export, entries, path, key)
            except OSError as exc:
                app.say(f"export failed: {exc.strerror or exc}: {path}", "error")
                return
            except Exception as exc:  # never expected: each message is written or says why
                app.say(f"export failed: {why(exc)}: {path}", "error")
                return
            app.say(f"exported {count:,} messages to {path}")

        app.run_worker(export(), group="export", exit_on_error=False)

    default = default_export_path(current.name, datetime.now())
    app.push_screen(ExportScreen(len(entries), what, default), done)
