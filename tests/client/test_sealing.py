"""Direct envelopes with reused box keys: same wire format, readable by every reader."""

from __future__ import annotations

import base64
import json

import ensync_core
import pytest

from ensync_tui.client import crypto
from ensync_tui.client.sealing import Opener, Sealer

PAYLOAD = {"order_id": "o-1", "note": "ünïcode ✓", "n": 3}
PLAINTEXT = json.dumps(PAYLOAD, separators=(",", ":"), ensure_ascii=False).encode()


@pytest.fixture(scope="module")
def alice():
    return crypto.generate_keypair()


@pytest.fixture(scope="module")
def bob():
    return crypto.generate_keypair()


def envelope(sealed: str) -> dict:
    return json.loads(base64.b64decode(sealed))


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_sealed_envelopes_open_with_every_reader(alice):
    sealed = Sealer().seal(PLAINTEXT, alice[0])
    assert set(envelope(sealed)) == {"nonce", "ciphertext", "ephemeralPublicKey"}
    assert crypto.decrypt_payload(sealed, alice[1]) == PAYLOAD
    assert Opener().open(sealed, alice[1]) == PAYLOAD
    # the official SDK's reader
    assert json.loads(ensync_core.decrypt_ed25519(envelope(sealed), alice[1])) == PAYLOAD


def test_key_pair_is_reused_within_the_window_then_rotated(alice, bob):
    clock = Clock()
    sealer = Sealer(ttl=10, max_uses=3, clock=clock)
    keys = [envelope(sealer.seal(PLAINTEXT, alice[0]))["ephemeralPublicKey"] for _ in range(4)]
    assert keys[0] == keys[1] == keys[2] != keys[3]  # max_uses
    first = envelope(sealer.seal(PLAINTEXT, alice[0]))
    clock.now = 11
    second = envelope(sealer.seal(PLAINTEXT, alice[0]))
    assert first["ephemeralPublicKey"] != second["ephemeralPublicKey"]  # ttl
    assert first["nonce"] != second["nonce"]
    other = envelope(sealer.seal(PLAINTEXT, bob[0]))
    assert other["ephemeralPublicKey"] != second["ephemeralPublicKey"]  # per recipient


def test_ttl_zero_means_a_fresh_pair_per_message(alice):
    sealer = Sealer(ttl=0)
    keys = {envelope(sealer.seal(PLAINTEXT, alice[0]))["ephemeralPublicKey"] for _ in range(3)}
    assert len(keys) == 3


def test_bad_recipient_keys_are_refused(alice):
    with pytest.raises(crypto.InvalidKeyError):
        Sealer().seal(PLAINTEXT, base64.b64encode(b"short").decode())


def test_opener_handles_every_dialect_and_reports_errors(alice, bob):
    opener = Opener()
    hybrid = crypto.encrypt_payload(PAYLOAD, [alice[0], bob[0]])
    assert opener.open(hybrid, bob[1]) == PAYLOAD
    theirs = base64.b64encode(
        json.dumps(ensync_core.encrypt_ed25519(PLAINTEXT, alice[0])).encode()
    ).decode()
    assert opener.open(theirs, alice[1]) == PAYLOAD
    sealed = Sealer().seal(PLAINTEXT, alice[0])
    with pytest.raises(crypto.DecryptError):
        opener.open(sealed, bob[1])  # not for bob
    tampered = envelope(sealed)
    tampered["ciphertext"] = base64.b64encode(b"\x00" * 40).decode()
    with pytest.raises(crypto.DecryptError):
        opener.open(base64.b64encode(json.dumps(tampered).encode()).decode(), alice[1])
    for junk in ("", "not base64", base64.b64encode(b"[1,2]").decode()):
        with pytest.raises(crypto.DecryptError):
            opener.open(junk, alice[1])
    with pytest.raises(crypto.DecryptError):
        opener.open(sealed, "bad key")
