"""What a hostile sender or engine can put on the wire: one catalogue for every suite.

The strings are the ones that broke the explorer and ``tail`` in the attack
(terminal escapes, markup and action injection, bidi overrides, lone
surrogates); the payloads are the ones that cost the most to decode (deep
JSON, a hybrid envelope with thousands of key entries). Records are built as
raw frames so that a fake engine can send what no honest engine would.
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any

from nacl import bindings

from ensync_tui.client import crypto
from ensync_tui.client.sealing import Sealer

# text a terminal or Textual's markup would act on, and what it would do
ESCAPES: dict[str, str] = {
    "title": "\x1b]0;owned\x07",
    "osc52": "\x1b]52;c;ZWNobyBvd25lZA==\x07",
    "clear": "\x1b[2J\x1b[H",
    "c1-csi": "\x9b31m",
    "bidi": "abc\u202edcba",
    "del": "x\x7fy",
}
MARKUP: dict[str, str] = {
    "click-quit": "x[ @click=app.quit]CLICK[/]",
    "click-screenshot": "[ @click=app.screenshot('x.svg','/tmp')]shot[/]",
    "link": '[ link="file:///etc/passwd"]passwd[/]',
    "variable": "[$accent]accent[/]",
    "upper": "[Red on White]red[/]",
    "plain-tag": "[b]bold[/b]",
}
HOSTILE_TEXTS: dict[str, str] = {**ESCAPES, **MARKUP}
LONE_SURROGATE_JSON = '"\\ud800"'  # a JSON escape that decodes to a lone surrogate


def deep_json(depth: int) -> bytes:
    """``[[[...]]]``: valid JSON that recursion-based code cannot walk."""
    return b"[" * depth + b"]" * depth


def seal_bytes(plaintext: bytes, recipient_public_key: str) -> str:
    """A direct envelope (base64) of any bytes, JSON or not, for one recipient."""
    return Sealer().seal(plaintext, recipient_public_key)


def wide_hybrid(recipient_public_key: str, entries: int, plaintext: bytes = b"{}") -> str:
    """A hybrid envelope with ``entries`` key entries, none of which opens it
    unless ``recipient_public_key``'s is among them (it is the last one)."""
    key = os.urandom(32)
    nonce = os.urandom(bindings.crypto_secretbox_NONCEBYTES)
    payload = {
        "nonce": base64.b64encode(nonce).decode(),
        "ciphertext": base64.b64encode(bindings.crypto_secretbox(plaintext, nonce, key)).decode(),
    }
    keys: dict[str, Any] = {}
    junk_eph = base64.b64encode(bindings.crypto_box_keypair()[0]).decode()
    for i in range(entries - 1):
        keys[f"k{i}"] = {
            "nonce": base64.b64encode(os.urandom(24)).decode(),
            "ciphertext": base64.b64encode(os.urandom(48)).decode(),
            "ephemeralPublicKey": junk_eph,
        }
    # the real message key, boxed for the recipient, comes last (keyed by its
    # public key, as our client and the Node and Go SDKs write it)
    curve_pk = crypto.curve_public_key(recipient_public_key)
    eph_pk, eph_sk = bindings.crypto_box_keypair()
    box_nonce = os.urandom(24)
    boxed = bindings.crypto_box(key, box_nonce, curve_pk, eph_sk)
    own_entry = {
        "nonce": base64.b64encode(box_nonce).decode(),
        "ciphertext": base64.b64encode(boxed).decode(),
        "ephemeralPublicKey": base64.b64encode(eph_pk).decode(),
    }
    keys[recipient_public_key] = own_entry
    out = {"type": "hybrid", "payload": payload, "keys": keys}
    return base64.b64encode(json.dumps(out).encode()).decode()


def record(
    name: str,
    idem: str,
    payload: str,
    *,
    block: Any = 1,
    sender: str = "",
    metadata: Any = None,
    logged_at: Any = 1_700_000_000_000,
    prefix: str = "+RECORD:",
) -> str:
    """A record frame with any field values, even ones no honest engine sends."""
    body = {
        "name": name,
        "idem": idem,
        "block": block,
        "loggedAt": logged_at,
        "payload": payload,
        "metadata": {"persist": True, "headers": {}} if metadata is None else metadata,
        "sender": sender,
    }
    return prefix + json.dumps(body, ensure_ascii=False)


def hostile_records(name: str, recipient_public_key: str) -> list[tuple[str, str]]:
    """(label, frame) for each hostile record of ``name`` addressed to the recipient.

    Every field a screen shows carries hostile text in one of them; the
    payloads include a deep-JSON poison message and a wide hybrid envelope.
    """
    sealed = seal_bytes
    out: list[tuple[str, str]] = []
    for label, text in HOSTILE_TEXTS.items():
        body = json.dumps({text: text, "nested": {text: [text]}}).encode()
        out.append(
            (
                f"fields-{label}",
                record(
                    name,
                    f"idem-{label}-{text}",
                    sealed(body, recipient_public_key),
                    sender=text,
                    metadata={"persist": True, "headers": {text: text}, text: text},
                ),
            )
        )
    out.append(
        ("deep-json", record(name, "idem-deep", sealed(deep_json(10_000), recipient_public_key)))
    )
    out.append(
        (
            "deep-json-tail",
            record(name, "idem-deep-980", sealed(deep_json(980), recipient_public_key)),
        )
    )
    out.append(
        ("not-json", record(name, "idem-not-json", sealed(b"\xff\xfe[", recipient_public_key)))
    )
    out.append(
        (
            "surrogate-payload",
            record(name, "idem-surrogate", sealed(b'{"s":"\\ud800"}', recipient_public_key)),
        )
    )
    out.append(
        ("nan-payload", record(name, "idem-nan", sealed(b'{"v":NaN}', recipient_public_key)))
    )
    out.append(
        (
            "huge-block",
            record(name, "idem-huge-block", sealed(b"{}", recipient_public_key), block="9" * 5000),
        )
    )
    out.append(
        (
            "huge-time",
            record(name, "idem-huge-time", sealed(b"{}", recipient_public_key), logged_at=10**30),
        )
    )
    out.append(("not-base64", record(name, "idem-not-b64", "%%%not base64%%%")))
    out.append(
        ("wide-hybrid", record(name, "idem-wide", wide_hybrid(recipient_public_key, 15_000)))
    )
    return out


# field names and values that read as filter syntax: a filter built from them (the
# Tree tab's "filter by this value") must still match them as data, never as syntax
QUERY_INJECTION: dict[str, str] = {
    "close-and-or": '") or name:* or ("',
    "single-close": "'] || $..*",
    "bracket": "a]['b",
    "dollar": "$..*",
    "regex": "re:/(a+)+$/",
    "backslash": "a\\\\\\",
    "newline": "line1\nline2",
    "keyword": "not",
    "nul": "x\x00y",
    "exists": "exists($.a)",
}
