"""Who can read a message: the Metadata tab's recipients, and "not for us" vs damaged."""

from __future__ import annotations

import base64
import json

from ensync_tui.app.history import Entry
from ensync_tui.app.readers import MAX_RECIPIENTS, our_key, verdict
from ensync_tui.app.views import meta_view
from ensync_tui.protocol import crypto
from ensync_tui.protocol.replies import Record
from tests.app.conftest import SNAP_SECRET
from tests.app.test_snapshots import SNAP_SIZE, _utc, feed, snapshot_app

__all__ = ["_utc"]

ME = crypto.public_key_of(SNAP_SECRET)


def fixed_key(byte: int) -> str:
    """A public key made from a fixed seed (snapshots need the same keys every run)."""
    from nacl.signing import SigningKey

    return base64.b64encode(bytes(SigningKey(bytes([byte]) * 32).verify_key)).decode()


BOB, CAROL = fixed_key(1), fixed_key(2)
NAMES = {BOB: "bob\x1b[31m"}  # a contact name with an escape: shown literally


def entry_of(payload: str) -> Entry:
    return Entry(Record("orders/created", "i-1", 1, 0, payload, {}, "pk"))


def text_of(entry: Entry, me: str = ME) -> str:
    entry.decrypt(SNAP_SECRET)
    info = crypto.describe_envelope(entry.payload)
    return "\n".join(str(line) for line in meta_view(entry, info, NAMES, None, me))


def swapped(envelope: str) -> str:
    """Our key's entry (the first) holds bob's sealed key: listed, yet it cannot open."""
    doc = json.loads(base64.b64decode(envelope))
    keys = doc["keys"]
    ids = list(keys)
    keys[ids[0]] = keys[ids[1]]
    return base64.b64encode(json.dumps(doc).encode()).decode()


def test_the_recipients_are_named_and_ours_is_marked():
    text = text_of(entry_of(crypto.encrypt_payload({"a": 1}, [BOB, ME, CAROL])))
    assert "recipients (3)" in text
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if "recipients (3)" in line)
    assert "self (" in lines[at + 1] and "← opened with our key" in lines[at + 1]
    assert "bob\\x1b[31m (" in text and "\x1b" not in text
    assert crypto.short_key(CAROL) in text
    assert "✓ decrypted" in text


def test_not_for_us_and_damaged_are_told_apart():
    not_ours = entry_of(crypto.encrypt_payload({"a": 1}, [BOB, CAROL]))
    text = text_of(not_ours)
    assert "not for us: our key is not among its 2 recipients" in text
    assert "← opened" not in text
    damaged = entry_of(swapped(crypto.encrypt_payload({"a": 1}, [ME, BOB])))
    text = text_of(damaged)
    assert damaged.error and "our key is among its recipients" in text
    assert "← opened" not in text
    direct = entry_of(crypto.encrypt_payload({"a": 1}, [BOB]))
    assert "a direct envelope names no recipient" in text_of(direct)


def test_many_recipients_are_cut_with_ours_first():
    keys = [crypto.generate_keypair()[0] for _ in range(MAX_RECIPIENTS + 5)] + [ME]
    text = text_of(entry_of(crypto.encrypt_payload({"a": 1}, keys)))
    assert f"recipients ({MAX_RECIPIENTS + 6})" in text and "… 6 more" in text
    assert "← opened with our key" in text


def test_our_key_and_verdict_never_raise():
    assert our_key(None) == "" and our_key("not a key") == ""
    assert our_key(SNAP_SECRET) == ME
    info = crypto.describe_envelope("%%%")
    assert verdict(info, ME) == "the envelope cannot be read"


def test_recipients_view(snap_compare):
    async def before(pilot) -> None:
        from ensync_tui.app.messages import RecordsReceived
        from ensync_tui.app.pacing import INSPECT_DELAY
        from tests.app.conftest import settled

        await feed(pilot)
        app = pilot.app
        sealed = crypto.encrypt_payload({"orderId": "ord-1"}, [BOB, ME, CAROL])
        hybrid = Record(
            "orders/created",
            "0190e1f2-hybr-7a3b",
            9,
            1_767_225_700_000,
            sealed,
            {"persist": True, "headers": {}},
            BOB,
        )
        app.main.post_message(RecordsReceived([hybrid]))
        await pilot.pause()
        app.main.stream.select_entry(app.controller.history.by_idem[hybrid.idem])
        app.main.inspect_now(app.controller.history.by_idem[hybrid.idem])
        app.query_one("#inspector-tabs").active = "tab-meta"
        await settled(pilot, INSPECT_DELAY)
        app.query_one("#payload-meta").scroll_end(animate=False)  # the Envelope section
        await pilot.pause()

    assert snap_compare(snapshot_app(), terminal_size=SNAP_SIZE, run_before=before)
