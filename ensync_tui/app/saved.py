"""Saved payloads: composer drafts kept under a name, per message name, in the user data folder.

One JSON file per message name in ``<user data>/ensync-tui/payloads/``; the file's name is
made from the message name (letters, digits and ``._-`` only, plus a hash of the whole
name), so no message name can make a path. A file is written whole or not at all (a temp
file renamed into place, mode 0600). A file that cannot be read as ours is reported and
left as it is: nothing is written over it.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from ensync_tui.app.export import export_label

__all__ = ["FIELDS", "MAX_SAVE_NAME", "SavedError", "SavedPayloads", "data_folder"]

KIND = "ensync-tui saved payloads"
MAX_SAVE_NAME = 80  # characters in a save name
FIELDS = ("recipients", "payload_text", "headers_text", "persist", "hybrid")  # what is kept


TYPES: dict[str, type] = {"payload_text": str, "headers_text": str, "saved_at": str}
TYPES.update(persist=bool, hybrid=bool, recipients=list)


def _fits(field: str, value: Any) -> bool:
    """Whether a field read back has the type the form takes (a hand-edited file may not)."""
    kind = TYPES.get(field)
    if isinstance(value, list):
        return kind is list and all(isinstance(item, str) for item in value)
    return kind is not None and isinstance(value, kind)


class SavedError(Exception):
    """A saved-payloads file that cannot be read or written; the text is for the user."""


def data_folder() -> Path:
    """Where saved payloads live (platformdirs' user data folder)."""
    import platformdirs

    return platformdirs.user_data_path("ensync-tui") / "payloads"


def name_problem(save_name: str) -> str | None:
    """Why ``save_name`` cannot name a saved payload, or None."""
    if not save_name.strip():
        return "Enter a name to save the payload under."
    if len(save_name) > MAX_SAVE_NAME:
        return f"The name is longer than {MAX_SAVE_NAME} characters."
    return None


class SavedPayloads:
    """The saved payloads of one message name."""

    def __init__(self, message_name: str, folder: Path | None = None) -> None:
        self.message_name = message_name
        self.folder = folder if folder is not None else data_folder()
        digest = hashlib.sha256(message_name.encode("utf-8", "surrogatepass")).hexdigest()
        label = export_label(message_name) if message_name else "unnamed"
        self.path = self.folder / f"{label}-{digest[:16]}.json"

    def load(self) -> dict[str, dict[str, Any]]:
        """Save name -> saved form fields (``{}``: none yet). Raises SavedError."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError) as exc:
            raise SavedError(f"{self.path} cannot be read: {exc}") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SavedError(
                f"{self.path} is not valid JSON (line {exc.lineno}, column {exc.colno}); "
                "it was left as it is"
            ) from None
        if (
            not isinstance(data, dict)
            or data.get("kind") != KIND
            or data.get("message_name") != self.message_name
            or not isinstance(data.get("saved"), dict)
        ):
            raise SavedError(
                f"{self.path} is not a saved-payloads file of this message name; "
                "it was left as it is"
            )
        saved: dict[str, dict[str, Any]] = {}
        for key, entry in data["saved"].items():
            if isinstance(entry, dict) and isinstance(entry.get("payload_text"), str):
                saved[str(key)] = {k: v for k, v in entry.items() if _fits(k, v)}
        return saved

    def save(self, save_name: str, form: dict[str, Any]) -> bool:
        """Keep the form's fields under ``save_name``; True if one was replaced."""
        problem = name_problem(save_name)
        if problem:
            raise SavedError(problem)
        saved = self.load()
        replaced = save_name in saved
        entry = {field: form[field] for field in FIELDS if field in form}
        entry["saved_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        saved[save_name] = entry
        self._write(saved)
        return replaced

    def rename(self, old: str, new: str) -> None:
        problem = name_problem(new)
        if problem:
            raise SavedError(problem)
        saved = self.load()
        if old not in saved:
            raise SavedError("That saved payload is gone.")
        if new != old and new in saved:
            raise SavedError("A saved payload of that name exists already.")
        # keep the order: the renamed one stays where it was
        self._write({new if key == old else key: entry for key, entry in saved.items()})

    def delete(self, save_name: str) -> None:
        saved = self.load()
        if saved.pop(save_name, None) is None:
            raise SavedError("That saved payload is gone.")
        self._write(saved)

    def _write(self, saved: dict[str, dict[str, Any]]) -> None:
        data = {"kind": KIND, "message_name": self.message_name, "saved": saved}
        text = json.dumps(data, indent=2, ensure_ascii=True)
        try:
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            # mkstemp creates the file 0600 before anything is written to it
            fd, part_name = tempfile.mkstemp(
                prefix=f".{self.path.name}.", suffix=".part", dir=self.folder
            )
        except OSError as exc:
            raise SavedError(f"{self.folder} cannot be written: {exc}") from None
        part = Path(part_name)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(text)
                out.flush()
                os.fsync(out.fileno())
            os.replace(part, self.path)
        except OSError as exc:
            part.unlink(missing_ok=True)
            raise SavedError(f"{self.path} cannot be written: {exc}") from None
        except BaseException:
            part.unlink(missing_ok=True)
            raise
