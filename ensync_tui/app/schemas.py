"""The registered message names and their schemas, as the explorer knows them.

With an account key in the profile, the main screen reads them from the management
API (the local engine's or EnSync's) on a thread, at start, after connecting and
every :data:`REFRESH_EVERY` seconds. Names and schema words come from the wire:
they are shown through ``safetext`` like everything else.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ensync_tui.protocol.schema import field_problems
from ensync_tui.settings import Settings

__all__ = ["MAX_NAMES", "REFRESH_EVERY", "can_read", "problems_of", "read", "summary"]

REFRESH_EVERY = 60.0  # seconds between two reads of the registered names
MAX_NAMES = 20_000  # names kept from one read


def can_read(settings: Settings) -> bool:
    """Whether the settings name a management API and an account key."""
    return bool(settings.account_key and (settings.api_url or settings.url))


def read(settings: Settings) -> dict[str, dict[str, str]]:
    """Every registered name and its schema (``{}``: none). Blocking: run it on a thread."""
    from ensync_tui.client.management import ManagementClient, api_url_for

    url = settings.api_url or settings.url or ""
    api = ManagementClient(
        api_url_for(url), settings.account_key or "", settings.ca_file, settings.insecure
    )
    names: dict[str, dict[str, str]] = {}
    for event in api.events():
        if len(names) >= MAX_NAMES:
            break
        names[event.name] = dict(event.schema)
    return names


def problems_of(schema: Mapping[str, str] | None, value: Any) -> dict[str, str] | None:
    """What does not match ``schema`` in a decrypted payload, by field; None: no schema."""
    if not schema:
        return None
    try:
        return field_problems(schema, value)
    except Exception:  # a payload too strange to walk: it does not match
        return {"": "the payload cannot be checked"}


def summary(problems: dict[str, str]) -> str:
    if not problems:
        return "matches the schema"
    count = len(problems)
    return f"{count} field{'' if count == 1 else 's'} not matching the schema"
