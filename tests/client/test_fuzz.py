"""Arbitrary server frames and records: an event or a WireError, never anything else.

The long run of the same idea is ``tests/fuzz/fuzz_client.py`` (``make fuzz``).
"""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ensync_tui.client.connection import Connection
from ensync_tui.client.events import Answer, Delivery, Malformed, Orphan, Send
from ensync_tui.protocol import frames, replies

INT64 = range(-(2**63), 2**63)

any_text = st.text(alphabet=st.characters(), max_size=30)  # lone surrogates included
numbers = (
    st.integers()
    | st.integers(-(2**70), 2**70)
    | st.floats()
    | st.integers(0, 6000).map(lambda n: "9" * n)
    | st.sampled_from(["", "-1", "١٢", "²", " 1", "1e3", "0x10"])
)
deep = st.integers(1, 3000).map(lambda n: "[" * n + "]" * n)
json_values = st.recursive(
    st.none() | st.booleans() | numbers | any_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(any_text, inner, max_size=3),
    max_leaves=8,
)
fields = {
    "name": any_text | json_values,
    "idem": any_text | numbers,
    "id": any_text | numbers,
    "block": numbers | json_values,
    "loggedAt": numbers | json_values,
    "payload": any_text | json_values,
    "metadata": json_values | deep | any_text.map(json.dumps) | st.just('"{\\"a\\":1}"'),
    "sender": any_text | json_values,
}
record_dicts = st.fixed_dictionaries(
    {"name": st.just("a/b") | fields["name"], "idem": st.just("i") | fields["idem"]},
    optional={k: v for k, v in fields.items() if k not in ("name", "idem")},
)


@st.composite
def server_frames(draw) -> str | bytes:
    prefix = draw(st.sampled_from(["+RECORD:", "+REPLAY:", "+PASS:", "-FAIL:", "PING", ""]))
    body = draw(
        record_dicts.map(lambda d: json.dumps(d, ensure_ascii=False))
        | deep
        | any_text
        | json_values.map(json.dumps)
    )
    text = prefix + body
    cut = draw(st.integers(0, len(text)))
    choice = draw(st.sampled_from(["whole", "cut", "spliced", "bytes"]))
    if choice == "cut":
        return text[:cut]
    if choice == "spliced":
        return text[:cut] + draw(any_text) + text[cut:]
    if choice == "bytes":
        return text.encode("utf-8", "surrogatepass")
    return text


def check_record(record: replies.Record) -> None:
    for text in (record.name, record.idem):
        assert isinstance(text, str) and text
        text.encode()  # can go back to the engine in an ACK
    assert record.block in INT64 and record.logged_at in INT64
    assert isinstance(record.metadata, dict) and isinstance(record.sender, str)
    assert isinstance(record.payload, str)


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(server_frames(), st.booleans())
def test_receive_gives_an_event_for_any_frame(frame, pending):
    conn = Connection("key")
    if pending:
        conn.request_text("REPLAY", "REPLAY;...", "waiter", 0.0)
    events = conn.receive(frame)
    assert len(events) == 1
    event = events[0]
    assert isinstance(event, Answer | Delivery | Send | Orphan | Malformed)
    if isinstance(event, Delivery):
        check_record(event.record)
    if isinstance(event, Malformed):
        assert isinstance(event.error, str) and event.error


@settings(max_examples=500, deadline=None)
@given(record_dicts | json_values)
def test_record_from_dict_only_raises_wire_error(data):
    try:
        record = replies.Record.from_dict(data) if isinstance(data, dict) else None
    except frames.WireError:
        return
    if record is not None:
        check_record(record)


@settings(max_examples=500, deadline=None)
@given(server_frames())
def test_record_from_json_only_raises_wire_error(frame):
    text = frame.decode("utf-8", "replace") if isinstance(frame, bytes) else frame
    try:
        check_record(replies.Record.from_json(text.partition(":")[2] or text))
    except frames.WireError:
        pass
