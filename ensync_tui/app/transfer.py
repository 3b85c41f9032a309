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
import contextlib
import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from ensync_tui.app.export import default_export_path, export_folder, exported_text, write_export
from ensync_tui.app.history import Entry
from ensync_tui.app.views import why
from ensync_tui.safetext import json_visible, visible

if TYPE_CHECKING:
    from ensync_tui.app.screens.main import MainScreen

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


def copy_payload(main: MainScreen, entry: Entry) -> None:
    key = main.controller.history.secret_key

    def done(text: str) -> None:
        copy(main, text, "payload")

    def failed(exc: Exception) -> None:
        main.say(f"cannot copy the payload: {exc}", "warning")

    if entry.small:
        try:
            text = payload_clip(entry, key)
        except ValueError as exc:
            failed(exc)
        else:
            done(text)
    else:
        main.say("opening the payload to copy it…")
        main.offload.bulk(lambda: payload_clip(entry, key), done, failed)


def copy_idem(main: MainScreen, entry: Entry) -> None:
    text = safe_clip(entry.idem)
    note = "" if text == entry.idem else " (control characters written as escapes)"
    copy(main, text, "idem", note)


def copy(main: MainScreen, text: str, what: str, note: str = "") -> None:
    from ensync_tui.app.clipboard import copy_text

    how = copy_text(main.app, text)
    if how == "none":
        main.say(f"cannot copy the {what}: no clipboard is reachable", "error")
    elif how == "osc52":
        main.say(f"copied the {what}{note} (through the terminal, OSC 52)")
    else:
        main.say(f"copied the {what}{note}")


def export_view(main: MainScreen, chosen: list[Entry] | None = None, label: str = "") -> None:
    """Ask where, then write the messages in view, or those ``chosen`` (described by
    ``label``), decrypted where the key allows."""
    from ensync_tui.app.screens.export import ExportScreen

    history = main.controller.history
    # the view now; later arrivals stay out
    entries = list(history.rows(0, len(history))) if chosen is None else chosen
    if not entries:
        main.say("nothing to export: no messages in view", "warning")
        return
    current = history.filter
    what = visible(current.name or "all names")
    if current.text:
        what += f", matching {visible(repr(current.text))}"
    if chosen is not None:
        what = label
    key = history.secret_key

    def done(path: Path | None) -> None:
        if path is None:
            return

        async def export() -> None:
            try:
                count = await asyncio.to_thread(write_export, entries, path, key)
            except OSError as exc:
                main.say(f"export failed: {exc.strerror or exc}: {path}", "error")
                return
            except Exception as exc:  # never expected: each message is written or says why
                main.say(f"export failed: {why(exc)}: {path}", "error")
                return
            main.say(exported_text(count, path))

        main.run_worker(export(), group="export", exit_on_error=False)

    folder = export_folder()
    with contextlib.suppress(OSError):  # the data folder is made when first used
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    default = default_export_path(current.name, datetime.now(), folder)
    main.app.push_screen(ExportScreen(len(entries), what, default), done)
