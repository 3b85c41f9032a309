"""The client API's argument checks: each returns the value for the wire or raises
EnSyncValidationError saying what is wrong."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from ensync_tui.client.errors import EnSyncValidationError
from ensync_tui.protocol import crypto
from ensync_tui.protocol.limits import MAX_DEFER_MS, MIN_DEFER_MS

__all__ = [
    "check_block",
    "check_delay",
    "check_idem",
    "check_name",
    "check_reason",
    "check_recipient",
    "check_secret",
]


def check_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise EnSyncValidationError("message name must be a non-empty string")
    return name


def check_idem(idem: Any) -> str:
    if isinstance(idem, int) and not isinstance(idem, bool):
        idem = str(idem)
    if not isinstance(idem, str) or not idem:
        raise EnSyncValidationError("message idem must be a non-empty string")
    return idem


def check_block(block: Any) -> str:
    text = str(block) if isinstance(block, int) and not isinstance(block, bool) else block
    if not isinstance(text, str) or not text.isascii() or not text.isdigit():
        raise EnSyncValidationError(f"block must be a whole number, got {block!r}")
    return text


def check_reason(reason: Any) -> str:
    if reason is None:
        return ""
    if not isinstance(reason, str):
        raise EnSyncValidationError("reason must be a string")
    return reason


def check_delay(delay_ms: Any) -> int:
    if (
        isinstance(delay_ms, bool)
        or not isinstance(delay_ms, int)
        or not MIN_DEFER_MS <= delay_ms <= MAX_DEFER_MS
    ):
        raise EnSyncValidationError(
            f"defer delay must be {MIN_DEFER_MS}..{MAX_DEFER_MS} ms, got {delay_ms!r}"
        )
    return delay_ms


def check_recipient(key: Any) -> str:
    problem = crypto.public_key_problem(key)  # cached per key
    if problem is not None:
        shown = crypto.short_key(key) if isinstance(key, str) else repr(key)
        raise EnSyncValidationError(f"recipient {shown} {problem}")
    return key


def check_secret(key: Any) -> str | None:
    if key is None or key == "":
        return None
    if not isinstance(key, str):
        raise EnSyncValidationError("appSecretKey must be base64 text")
    try:
        raw = base64.b64decode(key, validate=True)
    except (binascii.Error, ValueError):
        raise EnSyncValidationError("appSecretKey is not valid base64") from None
    if len(raw) not in (32, 64):
        raise EnSyncValidationError(f"appSecretKey must be 64 (or 32) bytes, got {len(raw)}")
    return key
