"""Held messages written out as NDJSON, one message a line. Pure, no Textual."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from ensync_tui.app.history import Entry


def entry_json(entry: Entry, secret_key: str | None) -> dict[str, Any]:
    """One held message as ``tail`` prints it, plus its state in the explorer."""
    payload = entry.decrypt(secret_key)
    return {
        "messageName": entry.name,
        "idem": entry.idem,
        "block": entry.block,
        "timestamp": entry.logged_at,
        "sender": entry.sender,
        "metadata": entry.metadata,
        "payload": payload,
        "decryptError": entry.error or None,
        "state": entry.shown_state,
    }


def default_export_path(name: str | None, now: datetime, folder: Path | None = None) -> Path:
    """``ensync-<name or all>-<YYYYmmdd-HHMMSS>.ndjson`` in ``folder`` (the working folder)."""
    label = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") if name else "all"
    return (folder or Path.cwd()) / f"ensync-{label or 'all'}-{now:%Y%m%d-%H%M%S}.ndjson"


def write_export(entries: Iterable[Entry], path: Path, secret_key: str | None) -> int:
    """Write the entries to ``path``; returns how many. Raises OSError with the reason.

    The file appears whole or not at all: it is written next to the target
    and renamed into place.
    """
    path = path.expanduser()
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder")
    part = path.with_name(path.name + ".part")
    count = 0
    try:
        with open(part, "w", encoding="utf-8") as out:
            for entry in entries:
                row = entry_json(entry, secret_key)
                out.write(json.dumps(row, ensure_ascii=False, separators=(",", ":"), default=str))
                out.write("\n")
                count += 1
        os.replace(part, path)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    return count
