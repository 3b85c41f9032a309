"""Who can read a message: the recipient keys its envelope lists, by contact name
where known, the one that opened with our key marked; for a message we cannot
open, whether our key is among its recipients ("not for you" is not "wrong key").
Plain Python, no Textual."""

from __future__ import annotations

from collections.abc import Mapping

from ensync_tui.protocol.crypto import EnvelopeInfo, public_key_of, short_key
from ensync_tui.safetext import visible

__all__ = ["MAX_RECIPIENTS", "our_key", "reader_lines", "verdict"]

MAX_RECIPIENTS = 20


def our_key(secret_key: str | None) -> str:
    """Our public key, or "" without a (valid) secret key."""
    if not secret_key:
        return ""
    try:
        return public_key_of(secret_key)
    except Exception:  # a malformed key: nothing to compare with
        return ""


def _label(key: str, names: Mapping[str, str], me: str) -> str:
    if key == me:
        return f"self ({visible(short_key(key))})"
    name = names.get(key)
    shown = visible(short_key(key))
    return f"{visible(name)} ({shown})" if name else shown


def reader_lines(info: EnvelopeInfo, names: Mapping[str, str], me: str, opened: bool) -> list[str]:
    """The recipients of a hybrid envelope, one a line; ours marked when it opened."""
    if info.kind != "hybrid":
        return []
    keys = info.recipients
    lines = [f"  recipients ({len(keys):,})"]
    # ours first: with many recipients it is the one that matters here
    ordered = sorted(keys[: MAX_RECIPIENTS * 50], key=lambda k: k != me)
    for key in ordered[:MAX_RECIPIENTS]:
        mark = "  ← opened with our key" if key == me and opened else ""
        lines.append(f"    {_label(key, names, me)}{mark}")
    if len(keys) > MAX_RECIPIENTS:
        lines.append(f"    … {len(keys) - MAX_RECIPIENTS:,} more")
    return lines


def verdict(info: EnvelopeInfo, me: str) -> str:
    """Why a message could not be opened, as far as the envelope tells."""
    if info.kind == "hybrid":
        count = len(info.recipients)
        if me and me in info.recipients:
            return "our key is among its recipients: the envelope is damaged or sealed wrongly"
        return f"not for us: our key is not among its {count:,} recipients"
    if info.kind == "direct":
        return "a direct envelope names no recipient: sealed for another key, or damaged"
    return "the envelope cannot be read"
