"""Payload crypto: our envelopes, every dialect of the official clients, and failure modes."""

from __future__ import annotations

import base64
import json

import ensync_core
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nacl import bindings

from ensync_tui.protocol.crypto import (
    DecryptError,
    InvalidKeyError,
    decrypt_payload,
    describe_envelope,
    encrypt_payload,
    generate_keypair,
    payload_metadata,
    public_key_of,
    short_key,
)

ALICE = generate_keypair()
BOB = generate_keypair()
EVE = generate_keypair()
PAYLOAD = {"order_id": "o-17", "lines": [{"sku": "A", "qty": 2}], "total": 19.5, "paid": False}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def wrap(envelope: dict) -> str:
    return b64(json.dumps(envelope).encode())


def test_keypair_shape():
    public, secret = generate_keypair()
    assert len(base64.b64decode(public)) == 32
    assert len(base64.b64decode(secret)) == 64
    assert public_key_of(secret) == public
    assert short_key(public).count("…") == 1


def test_direct_round_trip_any_json_value():
    for value in (PAYLOAD, [1, 2], "text", 3, None, {"ü": "ß"}):
        envelope = encrypt_payload(value, [ALICE[0]])
        assert decrypt_payload(envelope, ALICE[1]) == value
    info = describe_envelope(encrypt_payload(PAYLOAD, [ALICE[0]]))
    assert (info.kind, info.recipients) == ("direct", ())


def test_hybrid_round_trip_for_each_recipient():
    envelope = encrypt_payload(PAYLOAD, [ALICE[0], BOB[0]])
    assert decrypt_payload(envelope, ALICE[1]) == PAYLOAD
    assert decrypt_payload(envelope, BOB[1]) == PAYLOAD
    with pytest.raises(DecryptError, match="not for this key: 2 recipients, ours not among them"):
        decrypt_payload(envelope, EVE[1])
    info = describe_envelope(envelope)
    assert info.kind == "hybrid"
    assert set(info.recipients) == {ALICE[0], BOB[0]}
    raw = json.loads(base64.b64decode(envelope))
    for entry in raw["keys"].values():  # written in both dialects' field names
        assert entry["ciphertext"] == entry["encryptedKey"]


def test_hybrid_false_with_several_recipients_is_refused():
    with pytest.raises(ValueError, match="exactly one recipient"):
        encrypt_payload(PAYLOAD, [ALICE[0], BOB[0]], hybrid=False)
    single_hybrid = encrypt_payload(PAYLOAD, [ALICE[0]], hybrid=True)
    assert decrypt_payload(single_hybrid, ALICE[1]) == PAYLOAD


def test_official_direct_envelopes_open_with_ours_and_ours_with_theirs():
    theirs = ensync_core.encrypt_ed25519(json.dumps(PAYLOAD).encode(), ALICE[0])
    assert decrypt_payload(wrap(theirs), ALICE[1]) == PAYLOAD
    ours = json.loads(base64.b64decode(encrypt_payload(PAYLOAD, [ALICE[0]])))
    assert json.loads(ensync_core.decrypt_ed25519(ours, ALICE[1])) == PAYLOAD


def test_official_python_sdk_hybrid_envelope_opens():
    keys = [base64.b64decode(ALICE[0]), base64.b64decode(BOB[0])]
    made = ensync_core.hybrid_encrypt(json.dumps(PAYLOAD).encode(), keys)
    envelope = wrap(
        {"type": "hybrid", "payload": made["encryptedPayload"], "keys": made["encryptedKeys"]}
    )
    assert decrypt_payload(envelope, BOB[1]) == PAYLOAD
    info = describe_envelope(envelope)
    assert info.dialect == "python-sdk"
    assert set(info.recipients) == {ALICE[0], BOB[0]}


def _box_for(message: bytes, public_b64: str) -> dict[str, str]:
    curve = bindings.crypto_sign_ed25519_pk_to_curve25519(base64.b64decode(public_b64))
    eph_pk, eph_sk = bindings.crypto_box_keypair()
    nonce = bindings.randombytes(24)
    return {
        "nonce": b64(nonce),
        "ciphertext": b64(bindings.crypto_box(message, nonce, curve, eph_sk)),
        "ephemeralPublicKey": b64(eph_pk),
    }


def _hybrid(dialect: str, boxed_as_text: bool) -> str:
    key = bindings.randombytes(32)
    nonce = bindings.randombytes(24)
    body = {
        "nonce": b64(nonce),
        "ciphertext": b64(bindings.crypto_secretbox(json.dumps(PAYLOAD).encode(), nonce, key)),
    }
    boxed = b64(key).encode() if boxed_as_text else key
    keys = {}
    for public, _ in (ALICE, BOB):
        entry = _box_for(boxed, public)
        if dialect == "node":
            entry["encryptedKey"] = entry.pop("ciphertext")
            keys[public] = entry
        elif dialect == "python":
            keys[base64.b64decode(public).hex()] = entry
        else:  # go
            keys[public] = entry
    return wrap({"type": "hybrid", "payload": body, "keys": keys})


@pytest.mark.parametrize("dialect", ["node", "go", "python"])
@pytest.mark.parametrize("boxed_as_text", [False, True])
def test_hybrid_dialects_open(dialect, boxed_as_text):
    envelope = _hybrid(dialect, boxed_as_text)
    assert decrypt_payload(envelope, ALICE[1]) == PAYLOAD
    assert decrypt_payload(envelope, BOB[1]) == PAYLOAD


def test_x25519_secret_key_is_accepted():
    curve_sk = bindings.crypto_sign_ed25519_sk_to_curve25519(base64.b64decode(ALICE[1]))
    envelope = encrypt_payload(PAYLOAD, [ALICE[0]])
    assert decrypt_payload(envelope, b64(curve_sk)) == PAYLOAD


def test_wrong_key_fails_cleanly():
    envelope = encrypt_payload(PAYLOAD, [ALICE[0]])
    with pytest.raises(DecryptError, match="wrong key"):
        decrypt_payload(envelope, BOB[1])


@pytest.mark.parametrize("hybrid", [False, True])
def test_tampering_any_byte_fails_cleanly(hybrid):
    recipients = [ALICE[0], BOB[0]] if hybrid else [ALICE[0]]
    envelope = json.loads(base64.b64decode(encrypt_payload(PAYLOAD, recipients)))
    targets = (
        [("payload", "ciphertext"), ("payload", "nonce")]
        if hybrid
        else [("ciphertext",), ("nonce",), ("ephemeralPublicKey",)]
    )
    for path in targets:
        holder = envelope
        for part in path[:-1]:
            holder = holder[part]
        original = base64.b64decode(holder[path[-1]])
        for i in range(len(original)):
            bad = bytearray(original)
            bad[i] ^= 0x01
            holder[path[-1]] = b64(bytes(bad))
            with pytest.raises(DecryptError):
                decrypt_payload(wrap(envelope), ALICE[1])
        holder[path[-1]] = b64(original)
    assert decrypt_payload(wrap(envelope), ALICE[1]) == PAYLOAD


@pytest.mark.parametrize(
    ("envelope", "says"),
    [
        ("%%%", "not valid base64"),
        (b64(b"not json"), "not JSON"),
        (b64(b"[1,2]"), "not a JSON object"),
        (wrap({"nonce": "AAAA"}), "no ciphertext"),
        (wrap({"type": "hybrid", "payload": {}, "keys": {}}), "no keys"),
        (wrap({"type": "hybrid", "payload": 3, "keys": {"a": {}}}), "not an object"),
    ],
)
def test_malformed_envelopes(envelope, says):
    with pytest.raises(DecryptError, match=says):
        decrypt_payload(envelope, ALICE[1])


def test_bad_secret_keys():
    envelope = encrypt_payload(PAYLOAD, [ALICE[0]])
    with pytest.raises(DecryptError, match=r"64 .* or 32"):
        decrypt_payload(envelope, b64(b"short"))
    with pytest.raises(DecryptError, match="base64"):
        decrypt_payload(envelope, "not base64 !")


def test_bad_recipient_keys():
    with pytest.raises(InvalidKeyError, match="32 bytes"):
        encrypt_payload(PAYLOAD, [b64(b"x" * 31)])
    with pytest.raises(InvalidKeyError, match="base64"):
        encrypt_payload(PAYLOAD, ["@@"])


def test_payload_metadata_matches_the_official_skeleton():
    payload = {"s": "x", "i": 7, "l": 2**40, "d": 1.5, "b": True, "o": {}, "a": [], "n": None}
    ours = payload_metadata(payload)
    assert ours["skeleton"] == ensync_core.get_payload_skeleton(payload)
    assert ours["byte_size"] == len(json.dumps(payload, separators=(",", ":")).encode())
    assert payload_metadata([1, 2])["skeleton"] == {}


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_envelopes_only_raise_decrypt_error(data):
    for text in (b64(data), data.decode("latin-1")):
        try:
            decrypt_payload(text, ALICE[1])
        except DecryptError:
            pass
        describe_envelope(text)  # never raises


# ------------------------------------------------------------------ bounded work


class CountedOpens:
    """Counts the key exchanges a decryption attempt costs."""

    def __init__(self, monkeypatch):
        self.calls = 0
        real = bindings.crypto_box_open

        def counted(*args):
            self.calls += 1
            return real(*args)

        monkeypatch.setattr(bindings, "crypto_box_open", counted)


def _box_key_for(key: bytes, public: str) -> dict:
    from ensync_tui.protocol.crypto import curve_public_key

    eph_pk, eph_sk = bindings.crypto_box_keypair()
    nonce = bindings.randombytes(24)
    return {
        "nonce": b64(nonce),
        "ciphertext": b64(bindings.crypto_box(key, nonce, curve_public_key(public), eph_sk)),
        "ephemeralPublicKey": b64(eph_pk),
    }


def _wide(own_id: str | None, entries: int, public: str = ALICE[0]) -> str:
    """A hybrid envelope with ``entries - 1`` junk entries, then ours filed under ``own_id``."""
    key, nonce = bindings.randombytes(32), bindings.randombytes(24)
    body = {
        "nonce": b64(nonce),
        "ciphertext": b64(bindings.crypto_secretbox(b'{"v":1}', nonce, key)),
    }
    junk = _box_key_for(bindings.randombytes(32), EVE[0])
    keys = {f"k{i}": junk for i in range(entries - 1)}
    if own_id is not None:
        keys[own_id] = _box_key_for(key, public)
    return wrap({"type": "hybrid", "payload": body, "keys": keys})


def test_a_wide_envelope_not_for_us_costs_a_bounded_number_of_attempts(monkeypatch):
    """Before: each of 15,000 entries was tried (0.55 s); now ours and 8 others at most."""
    from ensync_tui.protocol.crypto import MAX_OTHER_ENTRIES

    envelope = _wide(None, 15_000)
    opens = CountedOpens(monkeypatch)
    with pytest.raises(DecryptError, match="not for this key: 14999 recipients, ours not among"):
        decrypt_payload(envelope, ALICE[1])
    assert opens.calls == MAX_OTHER_ENTRIES == 8


def _ids(public: str) -> dict[str, str]:
    raw = base64.b64decode(public)
    curve = bindings.crypto_sign_ed25519_pk_to_curve25519(raw)
    return {
        "base64": public,
        "base64-unpadded": public.rstrip("="),
        "base64url": base64.urlsafe_b64encode(raw).decode(),
        "hex": raw.hex(),
        "HEX": raw.hex().upper(),
        "x25519-base64": b64(curve),
        "x25519-hex": curve.hex(),
    }


@pytest.mark.parametrize("dialect", list(_ids(ALICE[0])))
def test_our_entry_is_found_under_every_id_dialect_at_once(dialect, monkeypatch):
    envelope = _wide(_ids(ALICE[0])[dialect], 2_000)  # ours last, after 1,999 others
    opens = CountedOpens(monkeypatch)
    assert decrypt_payload(envelope, ALICE[1]) == {"v": 1}
    assert opens.calls == 1


def test_an_unknown_id_dialect_still_opens_among_a_few_entries():
    envelope = _wide("recipient-7", 5)  # an id we cannot know, in a small envelope
    assert decrypt_payload(envelope, ALICE[1]) == {"v": 1}


def test_the_error_says_which_case_it_was():
    wrong_entry = json.loads(base64.b64decode(_wide(ALICE[0], 3)))
    wrong_entry["keys"][ALICE[0]] = _box_key_for(bindings.randombytes(32), BOB[0])
    with pytest.raises(DecryptError, match="wrong key or tampered: the entry for this key"):
        decrypt_payload(wrap(wrong_entry), ALICE[1])
    with pytest.raises(DecryptError, match="not for this key: 1 recipient, ours not among them"):
        decrypt_payload(encrypt_payload(PAYLOAD, [BOB[0]], hybrid=True), ALICE[1])
    curve_sk = bindings.crypto_sign_ed25519_sk_to_curve25519(base64.b64decode(ALICE[1]))
    wrong_entry["keys"][_ids(ALICE[0])["x25519-base64"]] = wrong_entry["keys"].pop(ALICE[0])
    with pytest.raises(DecryptError, match="wrong key or tampered"):  # an X25519 secret key
        decrypt_payload(wrap(wrong_entry), b64(curve_sk))


def test_the_opener_decodes_a_hybrid_envelope_once(monkeypatch):
    from ensync_tui.client.sealing import Opener
    from ensync_tui.protocol import crypto

    envelope = encrypt_payload(PAYLOAD, [ALICE[0], BOB[0]])
    monkeypatch.setattr(crypto, "_load_envelope", lambda *a: pytest.fail("decoded twice"))
    assert Opener().open(envelope, BOB[1]) == PAYLOAD


# ------------------------------------------------------------------ arbitrary input

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
_b64_text = st.one_of(
    st.binary(max_size=64).map(b64),
    st.text(max_size=40),
    st.sampled_from(["", "=", "AAAA", b64(bytes(24)), b64(bytes(32)), b64(bytes(48))]),
)
_entry = st.dictionaries(
    st.sampled_from(["nonce", "ciphertext", "encryptedKey", "ephemeralPublicKey", "x"]),
    _b64_text | _json_values,
    max_size=4,
)
_envelopes = st.one_of(
    _entry,
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(["hybrid", "direct", 1, None]),
            "payload": _entry | _json_values,
            "keys": st.dictionaries(
                st.sampled_from([ALICE[0], _ids(ALICE[0])["hex"], "k", ""]) | st.text(max_size=8),
                _entry | _json_values,
                max_size=12,
            )
            | _json_values,
        }
    ),
    _json_values,
)


@settings(max_examples=300, deadline=None)
@given(_envelopes, st.sampled_from([ALICE[1], b64(bytes(32)), "AAAA", ""]))
def test_structured_envelopes_only_raise_decrypt_error(envelope, secret):
    from ensync_tui.client.sealing import Opener

    try:
        text = wrap(envelope)
    except ValueError:  # a float NaN key and the like: not an envelope anyone can send
        return
    for opener in (decrypt_payload, Opener().open):
        try:
            opener(text, secret)
        except DecryptError:
            pass
    describe_envelope(text)  # never raises


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_through_the_opener_only_raises_decrypt_error(text):
    from ensync_tui.client.sealing import Opener

    for candidate in (text, b64(text.encode("utf-8", "surrogatepass"))):
        try:
            Opener().open(candidate, ALICE[1])
        except DecryptError:
            pass
        describe_envelope(candidate)
