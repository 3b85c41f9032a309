"""The fast path for direct envelopes: the same wire format, fewer key exchanges.

A direct envelope is NaCl ``crypto_box`` from an X25519 key pair whose public
half travels in the envelope (``ephemeralPublicKey``). Making a fresh pair and
the X25519 exchange for every message costs about 100 µs; here a publisher
keeps one pair per recipient for a short while (``ttl`` seconds or
``max_uses`` messages, whichever comes first) and boxes with the precomputed
shared key. Nonces stay random, so reuse is safe for NaCl box; what changes is
that messages in one window share a key that, if this process's memory leaked
within the window, would open them all. ``ttl=0`` (the default) gives a fresh pair per
message, as the official SDKs do.

Readers cache the shared key per (own key, ``ephemeralPublicKey``), so
envelopes from a reusing publisher open at the cost of the symmetric cipher.
Anything that is not a well-formed direct envelope goes to
:func:`crypto.decrypt_payload`, which knows every dialect and its errors.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from nacl import bindings
from nacl.exceptions import CryptoError

from ensync_tui.protocol import crypto

__all__ = ["Opener", "Sealer"]

_NONCE = bindings.crypto_box_NONCEBYTES
_b64encode = base64.b64encode
_b64decode = binascii.a2b_base64


class Sealer:
    """Direct envelopes with a per-recipient key pair reused for a short window."""

    def __init__(
        self,
        ttl: float = 0.0,
        max_uses: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
        max_recipients: int = 4096,
    ) -> None:
        self.ttl = ttl
        self.max_uses = max_uses
        self._clock = clock
        self._max = max_recipients
        # recipient -> [ephemeral public key b64, shared key, expires at, uses left]
        self._keys: OrderedDict[str, list[Any]] = OrderedDict()

    def _key_for(self, recipient_b64: str) -> list[Any]:
        entry = self._keys.get(recipient_b64)
        if entry is not None and entry[3] > 0 and entry[2] > self._clock():
            entry[3] -= 1
            return entry
        curve_pk = crypto.curve_public_key(recipient_b64)
        eph_pk, eph_sk = bindings.crypto_box_keypair()
        shared = bindings.crypto_box_beforenm(curve_pk, eph_sk)
        entry = [_b64encode(eph_pk).decode(), shared, self._clock() + self.ttl, self.max_uses - 1]
        self._keys[recipient_b64] = entry
        self._keys.move_to_end(recipient_b64)
        while len(self._keys) > self._max:
            self._keys.popitem(last=False)
        return entry

    def seal(self, plaintext: bytes, recipient_b64: str) -> str:
        """The base64 direct envelope of ``plaintext`` (UTF-8 JSON) for one recipient."""
        nonce = os.urandom(_NONCE)  # the OS CSPRNG, as libsodium uses
        if self.ttl <= 0:  # a fresh pair per message
            eph_pk, eph_sk = bindings.crypto_box_keypair()
            sealed = bindings.crypto_box(
                plaintext, nonce, crypto.curve_public_key(recipient_b64), eph_sk
            )
            eph_b64 = _b64encode(eph_pk).decode()
        else:
            eph_b64, shared, _, _ = self._key_for(recipient_b64)
            sealed = bindings.crypto_box_afternm(plaintext, nonce, shared)
        envelope = (
            b'{"nonce":"'
            + _b64encode(nonce)
            + b'","ciphertext":"'
            + _b64encode(sealed)
            + b'","ephemeralPublicKey":"'
            + eph_b64.encode()
            + b'"}'
        )
        return _b64encode(envelope).decode()


class Opener:
    """Decrypts envelopes, caching the shared key per ephemeral key seen."""

    def __init__(self, max_keys: int = 4096) -> None:
        self._max = max_keys
        self._shared: OrderedDict[tuple[str, str], bytes] = OrderedDict()

    def open(self, envelope_b64: str, secret_key_b64: str) -> Any:
        """The decrypted JSON value; raises crypto.DecryptError."""
        envelope: Any = None
        try:
            envelope = json.loads(_b64decode(envelope_b64))
            eph_b64 = envelope["ephemeralPublicKey"]
            nonce = _b64decode(envelope["nonce"])
            ciphertext = _b64decode(envelope["ciphertext"])
        except (binascii.Error, ValueError, KeyError, TypeError, RecursionError):
            if isinstance(envelope, dict) and envelope.get("type") == "hybrid":
                return crypto.open_hybrid(envelope, secret_key_b64)  # decoded once, not twice
            return crypto.decrypt_payload(envelope_b64, secret_key_b64)
        curve_sk = crypto.curve_secret_key(secret_key_b64)  # cached; names a bad key
        if not isinstance(eph_b64, str) or len(nonce) != _NONCE:
            return crypto.decrypt_payload(envelope_b64, secret_key_b64)
        cache_key = (secret_key_b64, eph_b64)
        shared = self._shared.get(cache_key)
        if shared is None:
            try:
                eph = _b64decode(eph_b64)
                if len(eph) != 32:
                    raise ValueError
                shared = bindings.crypto_box_beforenm(eph, curve_sk)
            except (binascii.Error, ValueError, CryptoError, TypeError):
                return crypto.decrypt_payload(envelope_b64, secret_key_b64)
            self._shared[cache_key] = shared
            if len(self._shared) > self._max:
                self._shared.popitem(last=False)
        try:
            plaintext = bindings.crypto_box_open_afternm(ciphertext, nonce, shared)
        except (CryptoError, ValueError, TypeError):
            raise crypto.DecryptError("cannot decrypt: wrong key or tampered ciphertext") from None
        try:
            return json.loads(plaintext)
        except ValueError:
            raise crypto.DecryptError("decrypted payload is not JSON") from None
        except RecursionError:
            raise crypto.DecryptError(crypto.TOO_DEEP) from None
