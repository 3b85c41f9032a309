"""Payload encryption for scripts: key pairs, envelopes, payload metadata.

The same functions the client uses (they live in :mod:`ensync_tui.protocol.crypto`,
shared with the engine)::

    from ensync_tui.client.crypto import generate_keypair, encrypt_payload, decrypt_payload
"""

from __future__ import annotations

from ensync_tui.protocol.crypto import (
    MAX_OTHER_ENTRIES,
    TOO_DEEP,
    DecryptError,
    EnvelopeInfo,
    InvalidKeyError,
    curve_public_key,
    curve_secret_key,
    decrypt_payload,
    describe_envelope,
    encrypt_payload,
    generate_keypair,
    open_hybrid,
    payload_metadata,
    payload_skeleton,
    public_key_of,
    public_key_problem,
    short_key,
)

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
