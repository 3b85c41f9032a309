"""Held messages written out as NDJSON, one message a line. Pure, no Textual.

The file holds decrypted payloads: it is created readable by its owner only
(mode 0600), written next to the target and renamed into place. Control and
invisible characters are written as JSON escapes.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from ensync_tui.app.history import Entry
from ensync_tui.recording import lines

MAX_LABEL = 60  # characters of a message name in a default file name


def entry_json(entry: Entry, secret_key: str | None) -> dict[str, Any]:
    """One held message as ``tail`` prints it, plus its state in the explorer."""
    payload = entry.decrypt(secret_key)
    row = lines.message_row(
        entry.name,
        entry.idem,
        entry.block,
        entry.logged_at,
        entry.sender,
        entry.metadata,
        payload,
        entry.error,
    )
    row["state"] = entry.shown_state
    return row


def entry_line(entry: Entry, secret_key: str | None) -> str:
    """One NDJSON line, as ``tail`` prints it (``recording.lines.message_line``)."""
    return lines.message_line(entry_json(entry, secret_key), entry.payload or None)[0]


def export_label(name: str | None) -> str:
    """A message name made into a piece of a file name: letters, digits, ``._-`` only,
    no ``..``, no leading dot, at most MAX_LABEL characters; "all" for none."""
    if not name:
        return "all"
    label = re.sub(r"[^A-Za-z0-9._-]+", "-", name)
    label = re.sub(r"\.{2,}", ".", label).strip("-.")
    return label[:MAX_LABEL].strip("-.") or "all"


def export_folder() -> Path:
    """Where an export goes unless a path is typed: the user's downloads folder when
    there is one, else the explorer's data folder (never the working folder, which
    may be a checkout)."""
    import platformdirs

    downloads = platformdirs.user_downloads_path()
    if downloads.is_dir():
        return downloads
    return platformdirs.user_data_path("ensync-tui") / "exports"


def default_export_path(name: str | None, now: datetime, folder: Path | None = None) -> Path:
    """``ensync-<name or all>-<YYYYmmdd-HHMMSS>.ndjson`` in ``folder`` (``export_folder()``)."""
    return (folder or export_folder()) / f"ensync-{export_label(name)}-{now:%Y%m%d-%H%M%S}.ndjson"


def exported_text(count: int, path: Path) -> str:
    return f"exported {count:,} message{'' if count == 1 else 's'} to {path}"


def write_export(entries: Iterable[Entry], path: Path, secret_key: str | None) -> int:
    """Write the entries to ``path`` (mode 0600); returns how many. Raises OSError.

    The file appears whole or not at all: it is written next to the target
    and renamed into place.
    """
    path = path.expanduser()
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder")
    # mkstemp creates the file 0600 before anything is written to it
    fd, part_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    part = Path(part_name)
    count = 0
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            for entry in entries:
                out.write(entry_line(entry, secret_key))
                out.write("\n")
                count += 1
        os.replace(part, path)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    return count
