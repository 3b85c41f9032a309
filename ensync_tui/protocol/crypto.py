"""End-to-end payload encryption as EnSync clients do it: keys, envelopes, skeletons. No I/O.

Identities are Ed25519 key pairs; payloads are sealed with NaCl ``crypto_box``
to the recipient's key converted to X25519. Several recipients share one
``secretbox`` payload whose key is boxed per recipient ("hybrid").
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain, islice
from typing import Any

from nacl import bindings
from nacl.exceptions import CryptoError

from ensync_tui.protocol.limits import INT32

__all__ = [
    "MAX_OTHER_ENTRIES",
    "TOO_DEEP",
    "DecryptError",
    "EnvelopeInfo",
    "InvalidKeyError",
    "curve_public_key",
    "curve_secret_key",
    "decrypt_payload",
    "describe_envelope",
    "encrypt_payload",
    "generate_keypair",
    "open_hybrid",
    "payload_metadata",
    "payload_skeleton",
    "public_key_of",
    "public_key_problem",
    "short_key",
]

_BOX_NONCE = bindings.crypto_box_NONCEBYTES
_SECRETBOX_NONCE = bindings.crypto_secretbox_NONCEBYTES


class DecryptError(ValueError):
    """A payload that cannot be opened: wrong key, tampered or malformed."""


class InvalidKeyError(ValueError):
    """A key that is not valid base64 of the right length."""


def _b64decode(text: Any, what: str, exc: type[ValueError]) -> bytes:
    try:
        return binascii.a2b_base64(text, strict_mode=True)
    except (binascii.Error, ValueError, TypeError):
        raise exc(f"{what} is not valid base64") from None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def generate_keypair() -> tuple[str, str]:
    """A new Ed25519 identity: (public key, 64-byte secret key), both base64."""
    public, secret = bindings.crypto_sign_keypair()
    return _b64(public), _b64(secret)


def public_key_of(secret_key_b64: str) -> str:
    """The Ed25519 public key (base64) of a 64-byte secret key."""
    secret = _b64decode(secret_key_b64, "secret key", InvalidKeyError)
    if len(secret) != 64:
        raise InvalidKeyError("an Ed25519 secret key is 64 bytes")
    return _b64(secret[32:])


def short_key(key: str, width: int = 8) -> str:
    """A key shortened for display, e.g. ``Xk3f…9a2Q``."""
    if len(key) <= width + 1:
        return key
    half = max(2, width // 2)
    return f"{key[:half]}…{key[-half:]}"


@lru_cache(maxsize=4096)
def _public_key_check(key: str) -> bytes | str:
    """The X25519 form of an Ed25519 public key, or (as text) why it is not one."""
    try:
        raw = binascii.a2b_base64(key, strict_mode=True)
    except (binascii.Error, ValueError, TypeError):
        return "is not valid base64"
    if len(raw) != 32:
        return f"decodes to {len(raw)} bytes, a public key is 32 bytes"
    try:
        return bindings.crypto_sign_ed25519_pk_to_curve25519(raw)
    except (CryptoError, ValueError):
        return "is not a valid Ed25519 public key"


def public_key_problem(key: Any) -> str | None:
    """None when ``key`` is a usable base64 Ed25519 public key, else why not."""
    if not isinstance(key, str):
        return "is not a base64 string"
    checked = _public_key_check(key)
    return checked if isinstance(checked, str) else None


def curve_public_key(public_key_b64: str) -> bytes:
    """The key converted to X25519 (cached); InvalidKeyError when it is not usable."""
    checked = (
        _public_key_check(public_key_b64)
        if isinstance(public_key_b64, str)
        else "is not a base64 string"
    )
    if isinstance(checked, str):
        raise InvalidKeyError(f"recipient public key {checked}")
    return checked


@lru_cache(maxsize=256)
def curve_secret_key(secret_key_b64: str) -> bytes:
    raw = _b64decode(secret_key_b64, "secret key", DecryptError)
    if len(raw) == 64:
        try:
            return bindings.crypto_sign_ed25519_sk_to_curve25519(raw)
        except (CryptoError, ValueError):
            raise DecryptError("secret key is not a valid Ed25519 key") from None
    if len(raw) == 32:
        return raw
    raise DecryptError(f"secret key must be 64 (Ed25519) or 32 (X25519) bytes, got {len(raw)}")


def _box(message: bytes, recipient_b64: str) -> dict[str, str]:
    curve_pk = curve_public_key(recipient_b64)
    eph_pk, eph_sk = bindings.crypto_box_keypair()
    nonce = bindings.randombytes(_BOX_NONCE)
    ciphertext = bindings.crypto_box(message, nonce, curve_pk, eph_sk)
    return {
        "nonce": _b64(nonce),
        "ciphertext": _b64(ciphertext),
        "ephemeralPublicKey": _b64(eph_pk),
    }


def encrypt_payload(payload: Any, recipients: list[str], hybrid: bool | None = None) -> str:
    """The base64 envelope for ``PUB``: a direct box for one recipient, else hybrid.

    With several recipients and ``hybrid=False`` this raises: a direct box has
    one recipient; call once per recipient instead.
    """
    if not recipients:
        raise ValueError("at least one recipient is needed")
    plaintext = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    use_hybrid = len(recipients) > 1 if hybrid is None else hybrid
    if not use_hybrid:
        if len(recipients) != 1:
            raise ValueError("a direct envelope has exactly one recipient")
        envelope: dict[str, Any] = _box(plaintext, recipients[0])
    else:
        key = bindings.randombytes(bindings.crypto_secretbox_KEYBYTES)
        nonce = bindings.randombytes(_SECRETBOX_NONCE)
        sealed = bindings.crypto_secretbox(plaintext, nonce, key)
        keys: dict[str, Any] = {}
        for recipient in recipients:
            entry = _box(key, recipient)
            entry["encryptedKey"] = entry["ciphertext"]  # the Node dialect's name
            keys[recipient] = entry
        envelope = {
            "type": "hybrid",
            "payload": {"nonce": _b64(nonce), "ciphertext": _b64(sealed)},
            "keys": keys,
        }
    return _b64(json.dumps(envelope, separators=(",", ":")).encode())


def _load_envelope(envelope_b64: str) -> dict[str, Any]:
    raw = _b64decode(envelope_b64, "envelope", DecryptError)
    try:
        envelope = json.loads(raw.decode())
    except (ValueError, RecursionError):
        raise DecryptError("envelope is not JSON") from None
    if not isinstance(envelope, dict):
        raise DecryptError("envelope is not a JSON object")
    return envelope


def _field(entry: Any, *names: str) -> bytes:
    if not isinstance(entry, dict):
        raise DecryptError("envelope entry is not an object")
    for name in names:
        if name in entry:
            return _b64decode(entry[name], name, DecryptError)
    raise DecryptError(f"envelope has no {names[0]}")


def _open_box(entry: Any, curve_sk: bytes) -> bytes:
    nonce = _field(entry, "nonce")
    ciphertext = _field(entry, "ciphertext", "encryptedKey")
    eph = _field(entry, "ephemeralPublicKey")
    if len(nonce) != _BOX_NONCE or len(eph) != 32:
        raise DecryptError("envelope nonce or ephemeral key has the wrong length")
    try:
        return bindings.crypto_box_open(ciphertext, nonce, eph, curve_sk)
    except (CryptoError, ValueError, TypeError):
        raise DecryptError("cannot decrypt: wrong key or tampered ciphertext") from None


def _decode_json(plaintext: bytes) -> Any:
    try:
        return json.loads(plaintext.decode())
    except ValueError:
        raise DecryptError("decrypted payload is not JSON") from None
    except RecursionError:
        raise DecryptError(TOO_DEEP) from None


TOO_DEEP = "decrypted payload is JSON nested too deeply to read"


def _message_key(boxed: bytes) -> bytes:
    if len(boxed) == 32:
        return boxed
    try:  # the Python SDK boxes the key's base64 text
        key = base64.b64decode(boxed, validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != 32:
        raise DecryptError("hybrid message key has the wrong length")
    return key


def decrypt_payload(envelope_b64: str, secret_key_b64: str) -> Any:
    """Open a direct or hybrid envelope of any known dialect; returns the JSON value."""
    curve_sk = curve_secret_key(secret_key_b64)
    envelope = _load_envelope(envelope_b64)
    if envelope.get("type") != "hybrid":
        return _decode_json(_open_box(envelope, curve_sk))
    return open_hybrid(envelope, secret_key_b64)


def open_hybrid(envelope: dict[str, Any], secret_key_b64: str) -> Any:
    """The JSON value of a decoded hybrid envelope.

    Only the entries filed under our own key (in any id form the SDKs write)
    are tried, then at most MAX_OTHER_ENTRIES others: an envelope with
    thousands of entries costs a few key exchanges, not thousands.
    """
    curve_sk = curve_secret_key(secret_key_b64)
    keys = envelope.get("keys")
    if not isinstance(keys, dict) or not keys:
        raise DecryptError("hybrid envelope has no keys")
    body = envelope.get("payload")
    nonce = _field(body, "nonce")
    sealed = _field(body, "ciphertext")
    if len(nonce) != _SECRETBOX_NONCE:
        raise DecryptError("hybrid nonce has the wrong length")
    ids = _own_ids(secret_key_b64)
    own = [keys[i] for i in ids if i in keys]
    others = islice((v for k, v in keys.items() if k not in ids), MAX_OTHER_ENTRIES)
    for entry in chain(own, others):
        try:
            key = _message_key(_open_box(entry, curve_sk))
        except DecryptError:
            continue
        try:
            return _decode_json(bindings.crypto_secretbox_open(sealed, nonce, key))
        except (CryptoError, ValueError, TypeError):
            raise DecryptError("cannot decrypt: tampered hybrid payload") from None
    if own:
        raise DecryptError("cannot decrypt: wrong key or tampered: the entry for this key fails")
    count = f"{len(keys)} recipient{'s' if len(keys) != 1 else ''}"
    raise DecryptError(f"cannot decrypt: not for this key: {count}, ours not among them")


MAX_OTHER_ENTRIES = 8  # hybrid entries tried beyond the ones filed under our own key


@lru_cache(maxsize=256)
def _own_ids(secret_key_b64: str) -> frozenset[str]:
    """Every id a hybrid envelope may file our key under: the Ed25519 public key
    (and its X25519 form) in base64 with or without padding, URL-safe base64, hex."""
    raw = binascii.a2b_base64(secret_key_b64)
    keys: list[bytes] = []
    try:
        if len(raw) == 64:
            keys.append(raw[32:])
            keys.append(bindings.crypto_sign_ed25519_pk_to_curve25519(raw[32:]))
        elif len(raw) == 32:
            keys.append(bindings.crypto_scalarmult_base(raw))
    except (CryptoError, ValueError):  # not a valid point: the ids found so far
        pass
    ids: set[str] = set()
    for key in keys:
        text = _b64(key)
        url = base64.urlsafe_b64encode(key).decode("ascii")
        ids.update((text, text.rstrip("="), url, url.rstrip("="), key.hex(), key.hex().upper()))
    return frozenset(ids)


@dataclass(frozen=True, slots=True)
class EnvelopeInfo:
    """What can be told about an envelope without opening it."""

    kind: str  # "direct", "hybrid" or "malformed"
    dialect: str  # "nacl-box", "node", "go/python", "python-sdk", "unknown"
    recipients: tuple[str, ...]
    error: str = ""


def describe_envelope(envelope_b64: str) -> EnvelopeInfo:
    try:
        envelope = _load_envelope(envelope_b64)
    except DecryptError as exc:
        return EnvelopeInfo("malformed", "unknown", (), str(exc))
    if envelope.get("type") != "hybrid":
        return EnvelopeInfo("direct", "nacl-box", ())
    keys = envelope.get("keys")
    if not isinstance(keys, dict):
        return EnvelopeInfo("malformed", "unknown", (), "hybrid envelope has no keys")
    entries = [v for v in keys.values() if isinstance(v, dict)]
    has_enc = any("encryptedKey" in v for v in entries)
    has_ct = any("ciphertext" in v for v in entries)
    hex_ids = bool(keys) and all(len(k) == 64 and _is_hex(k) for k in keys)
    if has_enc and has_ct:
        dialect = "ensync-tui"
    elif has_enc:
        dialect = "node"
    elif hex_ids:
        dialect = "python-sdk"
    else:
        dialect = "go"
    recipients = tuple(_hex_to_b64(k) if hex_ids else k for k in keys)
    return EnvelopeInfo("hybrid", dialect, recipients)


def _is_hex(text: str) -> bool:
    try:
        bytes.fromhex(text)
    except ValueError:
        return False
    return True


def _hex_to_b64(text: str) -> str:
    return _b64(bytes.fromhex(text))


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer" if value in INT32 else "long"
    if isinstance(value, float):
        return "double"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def payload_skeleton(payload: Any) -> dict[str, str]:
    """The JSON type name of each top-level field (``{}`` for a non-object)."""
    if not isinstance(payload, dict):
        return {}
    return {str(k): _type_name(v) for k, v in payload.items()}


def payload_metadata(payload: Any) -> dict[str, Any]:
    """``{"byte_size": N, "skeleton": {field: type}}`` for ``PAYLOAD_METADATA``."""
    size = len(json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode())
    return {"byte_size": size, "skeleton": payload_skeleton(payload)}
