"""The wire codec: every frame both ways, the field rule, and fuzzing."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ensync_tui.protocol import frames, replies
from ensync_tui.protocol.frames import (
    REQUEST_TYPES,
    Ack,
    Conn,
    Continue,
    Defer,
    Discard,
    Pause,
    Pong,
    Pub,
    Replay,
    Rollback,
    Sub,
    Unsub,
    WireError,
    parse_request,
)
from ensync_tui.protocol.replies import (
    Fail,
    Pass,
    Ping,
    Record,
    RecordFrame,
    ReplayReply,
    parse_kv,
    parse_server_frame,
)

# -------------------------------------------------------------- examples


def test_conn_frame_is_exact():
    assert Conn("key-123").encode() == "CONN;ACCESS_KEY=:key-123"
    assert parse_request("CONN;ACCESS_KEY=:key-123") == Conn("key-123")


def test_conn_repr_hides_the_access_key():
    assert "abcdefgh" not in repr(Conn("abcdefgh"))


def test_pub_frame_field_order_and_compact_json():
    pub = Pub(
        client_id="c1",
        event_name="orders/status",
        payload="ZW52",
        delivery_to="a2V5PQ==",
        metadata={"persist": True, "headers": {}},
        payload_metadata={"byte_size": 2, "skeleton": {}},
    )
    assert pub.encode() == (
        "PUB;CLIENT_ID=:c1;EVENT_NAME=:orders/status;PAYLOAD=:ZW52;DELIVERY_TO=:a2V5PQ==;"
        'METADATA=:{"persist":true,"headers":{}};PAYLOAD_METADATA=:{"byte_size":2,"skeleton":{}}'
    )
    assert parse_request(pub.encode()) == pub


def test_pub_without_payload_metadata_as_the_official_sdk_sends_it():
    frame = (
        "PUB;CLIENT_ID=:c1;EVENT_NAME=:a/b;PAYLOAD=:cA==;DELIVERY_TO=:k;"
        'METADATA=:{"persist": true, "headers": {"x": "1"}}'
    )
    pub = parse_request(frame)
    assert isinstance(pub, Pub)
    assert pub.payload_metadata is None
    assert pub.metadata == {"persist": True, "headers": {"x": "1"}}
    assert ";PAYLOAD_METADATA=:" not in pub.encode()


def test_metadata_containing_a_field_marker_still_parses():
    meta = {"headers": {"note": "a;CLIENT_ID=:b"}}
    pub = Pub("c", "n", "p", "d", meta, {"byte_size": 1, "skeleton": {}})
    assert parse_request(pub.encode()) == pub


def test_every_verb_parses_to_its_type():
    cases = {
        "SUB;CLIENT_ID=:c;EVENT_NAME=:n": Sub("c", "n"),
        "UNSUB;CLIENT_ID=:c;EVENT_NAME=:n": Unsub("c", "n"),
        "ACK;CLIENT_ID=:c;EVENT_IDEM=:i;BLOCK=:7;EVENT_NAME=:n": Ack("c", "i", "7", "n"),
        "ROLLBACK;CLIENT_ID=:c;EVENT_IDEM=:i;BLOCK=:7": Rollback("c", "i", "7"),
        "DEFER;CLIENT_ID=:c;EVENT_IDEM=:i;EVENT_NAME=:n;DELAY=:1500;REASON=:later": Defer(
            "c", "i", "n", 1500, "later"
        ),
        "DISCARD;CLIENT_ID=:c;EVENT_IDEM=:i;EVENT_NAME=:n;REASON=:bad": Discard(
            "c", "i", "n", "bad"
        ),
        "PAUSE;CLIENT_ID=:c;EVENT_NAME=:n;REASON=:": Pause("c", "n", ""),
        "CONTINUE;CLIENT_ID=:c;EVENT_NAME=:n": Continue("c", "n"),
        "REPLAY;CLIENT_ID=:c;EVENT_IDEM=:i;EVENT_NAME=:n": Replay("c", "i", "n"),
        "PONG": Pong(),
    }
    for frame, expected in cases.items():
        assert parse_request(frame) == expected
        assert expected.encode() == frame


def test_last_field_runs_to_the_end_of_the_frame():
    req = parse_request("PAUSE;CLIENT_ID=:c;EVENT_NAME=:n;REASON=:a;B=:c")
    assert isinstance(req, Pause)
    assert req.reason == "a;B=:c"


@pytest.mark.parametrize(
    ("frame", "says"),
    [
        ("", "empty frame"),
        ("HELLO;X=:1", "unknown verb 'HELLO'"),
        ("SUB;CLIENT_ID=:c", "expected field EVENT_NAME"),
        ("SUB;EVENT_NAME=:n;CLIENT_ID=:c", "expected field CLIENT_ID"),
        ("PONG;X=:1", "unexpected text"),
        ("DEFER;CLIENT_ID=:c;EVENT_IDEM=:i;EVENT_NAME=:n;DELAY=:soon;REASON=:", "DELAY"),
        (
            "DEFER;CLIENT_ID=:c;EVENT_IDEM=:i;EVENT_NAME=:n;DELAY=:" + "9" * 5000 + ";REASON=:",
            "too large",
        ),
        ("PUB;CLIENT_ID=:c;EVENT_NAME=:n;PAYLOAD=:p;DELIVERY_TO=:d;METADATA=:{", "METADATA"),
        ("PUB;CLIENT_ID=:c;EVENT_NAME=:n;PAYLOAD=:p;DELIVERY_TO=:d;METADATA=:[1]", "JSON object"),
    ],
)
def test_malformed_requests_say_what_is_wrong(frame, says):
    with pytest.raises(WireError, match=says):
        parse_request(frame)


def test_encode_refuses_a_value_that_would_cut_the_frame():
    with pytest.raises(WireError, match="must not contain"):
        Sub("c;EVENT_NAME=:x", "n").encode()


def test_pass_bodies():
    frame = parse_server_frame("+PASS:{clientId=abc,clientHash=q83vEjRWeJA=}")
    assert isinstance(frame, Pass)
    assert frame.fields() == {"clientId": "abc", "clientHash": "q83vEjRWeJA="}
    assert parse_kv("ok") == {}
    assert parse_kv("idem=x,block=3") == {"idem": "x", "block": "3"}


def test_server_frames_round_trip():
    rec = Record("a/b", "id-1", 3, 1700000000000, "cGF5", {"persist": True}, "c2Vu")
    for frame in (
        Pass("{idem=1,block=2}"),
        Fail("nope"),
        ReplayReply(rec),
        RecordFrame(rec),
        Ping(),
    ):
        assert parse_server_frame(frame.encode()) == frame


def test_record_dialects():
    old = {
        "name": "a",
        "id": "x1",
        "block": "12",
        "loggedAt": 5,
        "payload": "p",
        "metadata": json.dumps({"persist": False, "headers": {"k": "v"}}),
        "sender": "s",
    }
    rec = Record.from_dict(old)
    assert (rec.idem, rec.block, rec.metadata["headers"]) == ("x1", 12, {"k": "v"})
    new = dict(old, idem="y2", block=13, metadata={"persist": True})
    rec = Record.from_dict(new)
    assert (rec.idem, rec.block, rec.metadata) == ("y2", 13, {"persist": True})


@pytest.mark.parametrize(
    "frame",
    [
        "+RECORD:not json",
        "+RECORD:[]",
        '+RECORD:{"idem":"1","payload":"p"}',
        '+RECORD:{"name":"a","payload":"p"}',
        '+RECORD:{"name":"a","idem":"1","payload":5}',
        '+RECORD:{"name":"a","idem":"1","payload":"p","block":"x"}',
        '+RECORD:{"name":"a","idem":"1","payload":"p","block":true}',
        '+RECORD:{"name":"a","idem":"1","payload":"p","metadata":"[1"}',
        '+REPLAY:{"name":"a","idem":"1","payload":"p","metadata":7}',
        "+WHAT:x",
        "",
    ],
)
def test_malformed_server_frames(frame):
    with pytest.raises(WireError):
        parse_server_frame(frame)


# --------------------------------------------------------------- properties

# values that cannot contain a field marker of the frame they sit in
plain = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters=";"), max_size=40
)
json_leaf = st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.text(max_size=10)
json_obj = st.dictionaries(
    st.text(max_size=8),
    st.recursive(
        json_leaf,
        lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3),
        max_leaves=6,
    ),
    max_size=4,
)


@st.composite
def requests(draw):
    cls = draw(st.sampled_from(sorted(REQUEST_TYPES.values(), key=lambda c: c.VERB)))
    kwargs = {}
    for _key, attr in cls.FIELDS:
        if attr in ("metadata",):
            kwargs[attr] = draw(json_obj)
        elif attr == "payload_metadata":
            kwargs[attr] = draw(st.none() | json_obj)
        elif attr == "delay_ms":
            kwargs[attr] = draw(st.integers(0, 10**9))
        else:
            kwargs[attr] = draw(plain)
    return cls(**kwargs)


@settings(max_examples=400, deadline=None)
@given(requests())
def test_every_request_round_trips(req):
    assert parse_request(req.encode()) == req


records = st.builds(
    Record,
    name=plain.filter(bool),
    idem=plain.filter(bool),
    block=st.integers(0, 2**53),
    logged_at=st.integers(0, 2**45),
    payload=st.text(max_size=60),
    metadata=json_obj,
    sender=st.text(max_size=44),
)


@settings(max_examples=200, deadline=None)
@given(records, st.booleans())
def test_records_round_trip(rec, replay):
    frame = (ReplayReply(rec) if replay else RecordFrame(rec)).encode()
    parsed = parse_server_frame(frame)
    assert parsed.record == rec  # type: ignore[union-attr]


fuzz_text = st.text(max_size=200) | st.sampled_from(
    ["PUB;", "SUB;CLIENT_ID=:", "+RECORD:{", "DEFER;CLIENT_ID=:a", "+PASS:", "-FAIL:", "PING"]
).flatmap(lambda p: st.text(max_size=80).map(lambda t: p + t))


@settings(max_examples=1500, deadline=None)
@given(fuzz_text)
def test_arbitrary_text_only_ever_raises_wire_error(text):
    for parse in (parse_request, parse_server_frame):
        try:
            parse(text)
        except WireError:
            pass


@settings(max_examples=300, deadline=None)
@given(
    st.recursive(
        json_leaf,
        lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3),
        max_leaves=10,
    )
)
def test_arbitrary_json_records_only_raise_wire_error(value):
    try:
        parse_server_frame("+RECORD:" + json.dumps(value))
    except WireError:
        pass


def test_module_exports_are_real():
    for module in (frames, replies):
        for name in module.__all__:
            assert hasattr(module, name)


marked = st.lists(
    st.sampled_from([";", "=:", ";BLOCK=:", ";EVENT_NAME=:", ";METADATA=:", "a", "é", ""]),
    max_size=4,
).map("".join)


def _encoded(make):
    try:
        return make()
    except WireError as exc:
        return f"refused: {exc}"


@settings(max_examples=300, deadline=None)
@given(marked, marked, marked, marked)
def test_the_short_ack_encoder_writes_what_the_general_one_does(client_id, idem, block, name):
    ack = Ack(client_id, idem, block, name)
    assert _encoded(ack.encode) == _encoded(lambda: frames.Request.encode(ack))


@settings(max_examples=300, deadline=None)
@given(marked, marked, st.lists(st.tuples(marked, marked), min_size=1, max_size=3), marked)
def test_pub_frames_sharing_their_fields_are_what_each_pub_encodes_to(cid, name, pairs, meta):
    meta_json, pm_json = frames.compact_json({"h": meta}), frames.compact_json({"s": meta})
    got = _encoded(lambda: frames.encode_pubs(cid, name, pairs, meta_json, pm_json))
    one_by_one = [
        _encoded(lambda r=r, e=e: Pub(cid, name, e, r, {"h": meta}, {"s": meta}).encode())
        for r, e in pairs
    ]
    refused = [text for text in one_by_one if text.startswith("refused")]
    if refused:
        assert got == refused[0]
    else:
        assert got == one_by_one
