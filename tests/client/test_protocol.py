"""The sans-I/O core: FIFO bookkeeping and frame meaning, without a loop."""

from __future__ import annotations

from ensync_tui.client.errors import (
    EnSyncAuthError,
    EnSyncContinueError,
    EnSyncDeferError,
    EnSyncDiscardError,
    EnSyncError,
    EnSyncPauseError,
    EnSyncPublishError,
    EnSyncReplayError,
    EnSyncSubscriptionError,
    error_for_fail,
)
from ensync_tui.client.protocol import (
    ClientProtocol,
    Delivery,
    Malformed,
    Orphan,
    PingReceived,
    Reply,
    outcome,
)
from ensync_tui.protocol import replies

RECORD = replies.Record("a/b", "i1", 3, 5, "cGF5", {"persist": True}, "pk").to_json()


def test_replies_are_matched_first_in_first_out():
    proto = ClientProtocol()
    first = proto.request("PUB", "w1")
    second = proto.request("SUB", "w2")
    one = proto.receive("+PASS:{idem=1,block=1}")
    two = proto.receive("-FAIL:nope")
    assert isinstance(one, Reply) and one.slot is first
    assert isinstance(two, Reply) and two.slot is second
    assert two.frame == replies.Fail("nope")
    assert not proto.pending


def test_records_and_pings_never_take_a_pending_slot():
    proto = ClientProtocol()
    slot = proto.request("SUB")
    delivery = proto.receive("+RECORD:" + RECORD)
    assert isinstance(delivery, Delivery) and delivery.record.idem == "i1"
    assert isinstance(proto.receive("PING"), PingReceived)
    assert list(proto.pending) == [slot]
    reply = proto.receive("+PASS:ok")
    assert isinstance(reply, Reply) and reply.slot is slot


def test_an_abandoned_slot_still_takes_its_late_answer():
    proto = ClientProtocol()
    late = proto.request("ACK")
    late.abandoned = True
    mine = proto.request("PUB")
    first = proto.receive("+PASS:late")
    second = proto.receive("+PASS:{idem=9}")
    assert isinstance(first, Reply) and first.slot is late and first.slot.abandoned
    assert isinstance(second, Reply) and second.slot is mine


def test_malformed_and_orphan_frames_are_reported_not_raised():
    proto = ClientProtocol()
    for text in ("", "HELLO", "+RECORD:{not json", "+RECORD:[1]", "+REPLAY:{}", b"\xff\xfe"):
        assert isinstance(proto.receive(text), Malformed), text
    assert isinstance(proto.receive("+PASS:nobody asked"), Orphan)
    assert isinstance(proto.receive(b"PING"), PingReceived)


def test_cancel_last_forgets_or_abandons():
    proto = ClientProtocol()
    a = proto.request("PUB")
    proto.cancel_last(a)
    assert not proto.pending
    a = proto.request("PUB")
    b = proto.request("PUB")
    proto.cancel_last(a)
    assert a.abandoned and list(proto.pending) == [a, b]


def test_drop_all_returns_every_pending_slot():
    proto = ClientProtocol()
    slots = [proto.request("PUB") for _ in range(3)]
    assert proto.drop_all() == slots
    assert not proto.pending


def test_outcome_maps_fail_to_the_verbs_error_type():
    expected = {
        "CONN": EnSyncAuthError,
        "PUB": EnSyncPublishError,
        "SUB": EnSyncSubscriptionError,
        "UNSUB": EnSyncSubscriptionError,
        "DEFER": EnSyncDeferError,
        "DISCARD": EnSyncDiscardError,
        "PAUSE": EnSyncPauseError,
        "CONTINUE": EnSyncContinueError,
        "REPLAY": EnSyncReplayError,
    }
    for verb, cls in expected.items():
        err = outcome(verb, replies.Fail("because"))
        assert type(err) is cls and err.message == "because"
        assert err.error_type == cls.__name__
    assert isinstance(outcome("PUB", replies.Pass("x")), replies.Pass)
    assert isinstance(outcome("REPLAY", replies.Pass("x")), EnSyncReplayError)
    replay = replies.ReplayReply(replies.Record.from_json(RECORD))
    assert outcome("REPLAY", replay) is replay
    assert isinstance(outcome("PUB", replay), EnSyncError)


def test_error_str_names_the_type():
    err = error_for_fail("PUB", "unknown name")
    assert str(err) == "EnSyncPublishError: unknown name"
    assert isinstance(err, EnSyncError)


def test_backoff_grows_with_jitter_and_stays_under_the_cap():
    from ensync_tui.client.session import backoff_delay

    for attempt in range(1, 40):
        delay = backoff_delay(attempt, 0.5, 30.0)
        expected = min(30.0, 0.5 * 2 ** (attempt - 1))
        assert expected / 2 <= delay <= expected
    assert len({backoff_delay(3, 1.0, 60.0) for _ in range(20)}) > 1
