"""Re-publishing (redriving) held messages: what the composer starts from, and the
draft that sends one again as it was. Plain Python, no Textual.

A message goes again to the keys its hybrid envelope lists (by contact name where
known, ``self`` for ours); a direct envelope names nobody, so it goes to ourselves.
Its name, payload, headers and persist flag are kept; the engine gives it a new idem.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ensync_tui.app.history import Entry
from ensync_tui.client.publishing import Draft, Message
from ensync_tui.protocol.crypto import describe_envelope

__all__ = ["Redrive", "redrive_of"]


@dataclass(slots=True)
class Redrive:
    """One message as the composer shows it to be sent again."""

    name: str
    recipients: list[str]
    payload: str
    headers: str
    persist: bool
    hybrid: bool

    def form(self) -> dict[str, Any]:
        """The composer's form state (``ComposerScreen`` loads it)."""
        return {
            "name": self.name,
            "recipients": list(self.recipients),
            "payload_text": self.payload,
            "headers_text": self.headers,
            "persist": self.persist,
            "hybrid": self.hybrid,
        }

    def draft(self, contacts: Mapping[str, str], self_key: str) -> Draft:
        return Draft(
            name=self.name,
            recipients="\n".join(self.recipients),
            payload=self.payload,
            headers=self.headers,
            persist=self.persist,
            hybrid=self.hybrid,
            contacts=contacts,
            self_key=self_key,
        )

    def message(self, contacts: Mapping[str, str], self_key: str) -> Message:
        """The message to send (``DraftError`` saying what is wrong otherwise)."""
        return self.draft(contacts, self_key).message()


def redrive_of(
    entry: Entry, secret_key: str | None, contacts: Mapping[str, str], self_key: str
) -> Redrive:
    """What re-publishing ``entry`` sends; ValueError when its payload cannot be read."""
    value = entry.decrypt(secret_key)
    if entry.error:
        raise ValueError(f"cannot re-publish {entry.idem}: {entry.error}")
    try:
        payload = json.dumps(value, indent=2, ensure_ascii=False)
    except Exception:  # nested too deeply to write back
        raise ValueError(f"cannot re-publish {entry.idem}: its payload cannot be written") from None
    metadata = entry.metadata if isinstance(entry.metadata, dict) else {}
    headers = metadata.get("headers")
    headers_text = ""
    if isinstance(headers, dict) and headers:
        headers_text = json.dumps(headers, ensure_ascii=False)
    info = describe_envelope(entry.payload)
    names = {key: name for name, key in contacts.items()}
    recipients: list[str] = []
    for key in info.recipients or (self_key,):
        label = "self" if key == self_key else names.get(key, key)
        if label and label not in recipients:
            recipients.append(label)
    return Redrive(
        entry.name,
        recipients or ["self"],
        payload,
        headers_text,
        metadata.get("persist", True) is not False,
        info.kind == "hybrid",
    )
