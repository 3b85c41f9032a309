"""The composer's form as data: recipients, headers, payload size. No Textual."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from ensync_tui.app.screens.json_area import check_json
from ensync_tui.client import crypto
from ensync_tui.client.crypto import short_key
from ensync_tui.protocol.limits import MAX_PAYLOAD

__all__ = [
    "DEFAULT_PAYLOAD",
    "JSON_KINDS",
    "PAYLOAD_LIMIT",
    "Draft",
    "parse_headers",
    "resolve_recipients",
    "sealed_size",
    "split_recipients",
    "too_large",
]

DEFAULT_PAYLOAD = "{\n  \n}"
PAYLOAD_LIMIT = MAX_PAYLOAD  # EnSync refuses a larger (encrypted, base64) payload
_BOX_MAC = 16
JSON_KINDS: dict[type, str] = {
    dict: "object",
    list: "array",
    str: "string",
    int: "number",
    float: "number",
    bool: "boolean",
    type(None): "null",
}


@dataclass(slots=True)
class Draft:
    """A validated form, ready to send."""

    name: str
    keys: list[str]
    payload: Any
    metadata: dict[str, Any]
    hybrid: bool


def split_recipients(text: str) -> list[str]:
    """Recipients as typed: one per line or comma separated, blanks and repeats dropped."""
    tokens: list[str] = []
    for line in text.replace(",", "\n").splitlines():
        token = line.strip()
        if token and token not in tokens:
            tokens.append(token)
    return tokens


def _known(contacts: dict[str, str], self_key: str, limit: int = 8) -> str:
    others = sorted(name for name in contacts if not (self_key and name.casefold() == "self"))
    names = (["self"] if self_key else []) + others
    if not names:
        return "none"
    more = f", … {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def resolve_recipients(
    tokens: list[str], contacts: dict[str, str], self_key: str
) -> tuple[list[tuple[str, str]], list[str]]:
    """Map "self", contact names and public keys to (label, key); also return the errors."""
    folded = {name.casefold(): (name, key) for name, key in contacts.items()}
    resolved: list[tuple[str, str]] = []
    errors: list[str] = []
    unknown: list[str] = []
    for token in tokens:
        if token.casefold() == "self" and self_key:
            label, key = "self", self_key
        elif token in contacts:
            label, key = token, contacts[token]
        elif token.casefold() in folded:
            label, key = folded[token.casefold()]
        else:
            problem = crypto.public_key_problem(token)
            if problem is None:
                label, key = "", token
            elif len(token) < 40:
                unknown.append(repr(token))
                continue
            else:
                errors.append(f"{short_key(token, 12)!r} {problem}")
                continue
        if all(key != seen for _, seen in resolved):
            resolved.append((label, key))
    if unknown:
        what = "unknown contact" if len(unknown) == 1 else "unknown contacts"
        errors.append(f"{what} {', '.join(unknown)} (known: {_known(contacts, self_key)})")
    return resolved, errors


def _b64_len(size: int) -> int:
    return 4 * ((size + 2) // 3)


def sealed_size(plain_size: int, keys: list[str], hybrid: bool) -> int:
    """Bytes of the encrypted payload the engine gets for ``plain_size`` bytes of JSON.

    The envelope around the ciphertext has a fixed size for given recipients: it is
    measured once on an empty object, so nothing big is encrypted twice.
    """
    probe_keys = keys if hybrid else keys[:1]  # without hybrid, each recipient gets a box
    probe = crypto.encrypt_payload({}, probe_keys, hybrid or None)
    around = len(base64.b64decode(probe)) - _b64_len(2 + _BOX_MAC)
    return _b64_len(around + _b64_len(plain_size + _BOX_MAC))


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MiB"


def too_large(plain_size: int, keys: list[str], hybrid: bool) -> str | None:
    """Why a payload of ``plain_size`` JSON bytes is over EnSync's limit, or None."""
    if plain_size < PAYLOAD_LIMIT // 2 or not keys:
        return None  # encryption and base64 grow a payload less than twofold
    size = sealed_size(plain_size, keys, hybrid)
    if size <= PAYLOAD_LIMIT:
        return None
    return f"{_mib(size)} once encrypted, over the {_mib(PAYLOAD_LIMIT)} the engine takes"


def parse_headers(text: str) -> dict[str, Any]:
    """Headers as ``key=value`` lines or one JSON object; raise ValueError saying what is wrong."""
    stripped = text.strip()
    if not stripped:
        return {}
    if stripped.startswith("{"):
        checked = check_json(text, "headers")
        if not checked.ok:
            raise ValueError(f"headers JSON, {checked.error}")
        return dict(checked.value)
    headers: dict[str, Any] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"headers line {number}: expected key=value, got {line.strip()!r}")
        headers[key.strip()] = value.strip()
    return headers
