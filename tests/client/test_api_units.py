"""Pure helpers of the client: publish answers, ACK frames, messages."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ensync_tui.client.crypto import encrypt_payload, generate_keypair
from ensync_tui.client.publishing import pub_result
from ensync_tui.client.subscription import ack_frame, to_message
from ensync_tui.protocol import frames, replies


def _slow(body: str) -> tuple[object, object]:
    fields = replies.parse_kv(body)
    block: object = fields.get("block")
    if isinstance(block, str) and block.isdigit():
        block = int(block)
    return fields.get("idem"), block


@given(st.text(alphabet="{}=, abcidemblock0123456789", max_size=40))
def test_publish_answer_reads_like_parse_kv(body):
    result = pub_result("r", body)
    assert (result["idem"], result["block"]) == _slow(body)
    assert result["response"] == "+PASS:" + body


def test_publish_answer_fields():
    assert pub_result("r", "{idem=m1,block=7}") == {
        "recipient": "r",
        "idem": "m1",
        "block": 7,
        "response": "+PASS:{idem=m1,block=7}",
    }


def test_ack_frame_is_what_the_codec_would_write():
    record = replies.Record("a/b", "i-1", 42, 0, "eA==", {}, "")
    frame = ack_frame("cid", record)
    assert frame == frames.Ack("cid", "i-1", "42", "a/b").encode()
    assert frames.parse_request(frame) == frames.Ack("cid", "i-1", "42", "a/b")
    odd = replies.Record("a/b", "x;EVENT_NAME=:y", 1, 0, "eA==", {}, "")
    assert ack_frame("cid", odd) is None  # refused, not sent garbled


def test_to_message_shapes():
    public, secret = generate_keypair()
    record = replies.Record("a/b", "i", 1, 5, encrypt_payload({"k": 1}, [public]), {"h": 1}, "s")
    message = to_message(record, secret)
    assert message == {
        "messageName": "a/b",
        "idem": "i",
        "block": 1,
        "timestamp": 5,
        "payload": {"k": 1},
        "metadata": {"h": 1},
        "sender": "s",
        "record": record,
        "decryptError": None,
    }
    assert to_message(record, None)["decryptError"] == "no secret key to decrypt with"
    assert to_message(record, secret, decrypt=False)["payload"] is None
