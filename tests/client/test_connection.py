"""The sans-I/O core: frames in, events and frames out, time as a number. No sockets."""

from __future__ import annotations

import pytest

from ensync_tui.client.connection import (
    Backoff,
    Connection,
    ConnectionState,
    ConnectionStatus,
    outcome,
)
from ensync_tui.client.errors import (
    EnSyncAckError,
    EnSyncAuthError,
    EnSyncConnectionError,
    EnSyncContinueError,
    EnSyncDeferError,
    EnSyncDiscardError,
    EnSyncError,
    EnSyncPauseError,
    EnSyncPublishError,
    EnSyncReplayError,
    EnSyncSubscriptionError,
    EnSyncTimeoutError,
    error_for_fail,
)
from ensync_tui.client.events import (
    Answer,
    Authenticated,
    Delivery,
    LinkDead,
    Malformed,
    Orphan,
    PingDue,
    Ready,
    ResubscribeFailed,
    Send,
    SetupFailed,
    Wanted,
)
from ensync_tui.protocol import frames, replies

KEY = "ak-0123456789abcdefghijklmnop"
RECORD = replies.Record("a/b", "i1", 3, 5, "cGF5", {"persist": True}, "pk").to_json()
LOGIN = "+PASS:{clientId=c-1,clientHash=pk-1}"


def online(**kwargs) -> Connection:
    """A connection logged in at t=0, with nothing to resubscribe (and no keepalive)."""
    conn = Connection(KEY, **{"ping_interval": None, **kwargs})
    conn.connection_made(0.0)
    events = conn.receive(LOGIN)
    assert events == [Authenticated("c-1", "pk-1"), Ready()]
    return conn


def test_login_sends_conn_and_reads_the_client_id():
    conn = Connection(KEY)
    assert conn.state == ConnectionState(ConnectionStatus.CONNECTING)
    assert conn.connection_made(0.0) == [Send(f"CONN;ACCESS_KEY=:{KEY}")]
    assert not conn.online
    assert conn.receive(LOGIN) == [Authenticated("c-1", "pk-1"), Ready()]
    assert (conn.client_id, conn.client_hash, conn.online) == ("c-1", "pk-1", True)
    assert conn.state.status is ConnectionStatus.CONNECTED and conn.state.status == "connected"


def test_a_refused_login_is_a_setup_failure_that_never_shows_the_key():
    conn = Connection(KEY)
    conn.connection_made(0.0)
    [event] = conn.receive(f"-FAIL:unknown access key {KEY}")
    assert isinstance(event, SetupFailed) and isinstance(event.error, EnSyncAuthError)
    assert event.error.message == "unknown access key [redacted]"
    assert not conn.online


@pytest.mark.parametrize("client_id", ["", "a;EVENT_NAME=:x", "id\x1b[2J", "\u202eid"])
def test_an_unusable_client_id_is_a_setup_failure(client_id):
    conn = Connection(KEY)
    conn.connection_made(0.0)
    [event] = conn.receive(f"+PASS:{{clientId={client_id},clientHash=k}}")
    assert isinstance(event, SetupFailed) and "no usable clientId" in event.error.message


def test_an_unanswered_login_times_out_and_its_late_answer_is_ignored():
    conn = Connection(KEY, request_timeout=5)
    conn.connection_made(100.0)
    assert conn.wake_at == 105.0
    assert conn.deadlines(104.9) == []
    [event] = conn.deadlines(105.0)
    assert isinstance(event, SetupFailed) and isinstance(event.error, EnSyncTimeoutError)
    assert conn.receive(LOGIN) == []  # too late: the link is given up
    assert not conn.online


def test_answers_are_matched_first_in_first_out():
    conn = online()
    first = conn.request_text("PUB", "PUB;...", "w1", 1.0)
    slot, text = conn.request(frames.Sub("c-1", "a/b"), "w2", 1.0)
    assert text == "SUB;CLIENT_ID=:c-1;EVENT_NAME=:a/b"
    [one] = conn.receive("+PASS:{idem=1,block=1}")
    [two] = conn.receive("-FAIL:nope")
    assert one == Answer(first, replies.Pass("{idem=1,block=1}"))
    assert two.slot is slot and isinstance(two.result, EnSyncSubscriptionError)
    assert two.result.message == "nope"
    assert not conn.pending


def test_records_and_pings_never_take_a_pending_answer():
    conn = online()
    slot = conn.request_text("SUB", "SUB;...", "w", 0.0)
    [delivery] = conn.receive("+RECORD:" + RECORD)
    assert isinstance(delivery, Delivery) and delivery.record.idem == "i1"
    assert conn.receive("PING") == [Send("PONG")]
    assert conn.receive(b"PING") == [Send("PONG")]
    assert list(conn.pending) == [slot]
    [answer] = conn.receive("+PASS:ok")
    assert answer.slot is slot


def test_a_timed_out_request_keeps_its_place_and_its_late_answer():
    conn = online(request_timeout=2)
    late = conn.request_text("ACK", "ACK;...", "w1", 10.0)
    assert conn.wake_at == 12.0
    [expired] = conn.deadlines(12.0)
    assert expired.slot is late and isinstance(expired.result, EnSyncTimeoutError)
    assert expired.result.message == "no answer to ACK within 2 s"
    mine = conn.request_text("CONTINUE", "CONTINUE;...", "w2", 12.5)
    assert conn.receive("+PASS:late-ack") == []  # consumed by the abandoned slot
    [answer] = conn.receive("+PASS:continued")
    assert answer.slot is mine and answer.result == replies.Pass("continued")


def test_each_request_keeps_its_own_deadline_and_one_sweep_serves_many():
    conn = online(request_timeout=30)
    slow = conn.request_text("PAUSE", "PAUSE;...", "w1", 0.0, timeout=3)
    quick = conn.request_text("CONTINUE", "CONTINUE;...", "w2", 0.0, timeout=0.1)
    assert conn.wake_at == 0.1
    [event] = conn.deadlines(0.1)
    assert event.slot is quick and event.result.message == "no answer to CONTINUE within 0.1 s"
    assert conn.wake_at == 3.0
    [event] = conn.deadlines(3.0)
    assert event.slot is slow
    assert conn.deadlines(100.0) == []


def test_expiry_sweeps_are_spaced_when_deadlines_crowd():
    conn = online(request_timeout=20)
    conn.request_text("PUB", "PUB;...", "w1", 0.0, timeout=1.0)
    conn.request_text("PUB", "PUB;...", "w2", 0.0, timeout=1.001)
    [_] = conn.deadlines(1.0)
    assert conn.wake_at == 2.0  # not 1.001: at most one sweep a second (request_timeout / 20)
    [_] = conn.deadlines(2.0)


def test_a_request_nobody_waits_for_has_no_deadline_and_its_failure_is_reported():
    conn = online()
    slot = conn.request_text("ACK", "ACK;...", None, 0.0)
    assert slot.deadline == float("inf") and conn.deadlines(10**9) == []
    [answer] = conn.receive("-FAIL:already acked")
    assert answer.slot.waiter is None and isinstance(answer.result, EnSyncAckError)


def test_cancel_forgets_the_last_or_abandons_one_in_the_middle():
    conn = online()
    a = conn.request_text("PUB", "PUB;...", "w", 0.0)
    conn.cancel(a)
    assert not conn.pending
    a = conn.request_text("PUB", "PUB;...", "w", 0.0)
    b = conn.request_text("PUB", "PUB;...", "w", 0.0)
    conn.cancel(a)
    assert a.abandoned and list(conn.pending) == [a, b]


def test_a_lost_link_fails_every_pending_request():
    conn = online()
    slots = [conn.request_text("PUB", "PUB;...", f"w{i}", 0.0) for i in range(3)]
    events = conn.connection_lost("connection closed by the engine (code 1001)")
    assert [e.slot for e in events] == slots
    for event in events:
        assert isinstance(event.result, EnSyncConnectionError)
        assert event.result.message == (
            "connection lost before the PUB answer: connection closed by the engine (code 1001)"
        )
    assert not conn.pending and not conn.online and conn.wake_at == float("inf")


def test_malformed_and_orphan_frames_are_reported_not_raised():
    conn = online()
    for text in ("", "HELLO", "+RECORD:{not json", "+RECORD:[1]", "+REPLAY:{}", b"\xff\xfe", None):
        [event] = conn.receive(text)
        assert isinstance(event, Malformed) and event.error, text
    [orphan] = conn.receive("+PASS:nobody asked")
    assert orphan == Orphan(replies.Pass("nobody asked"))


def test_after_login_the_wanted_subscriptions_are_sent_again_and_paused_ones_paused():
    conn = Connection(KEY, request_timeout=5, ping_interval=None)
    conn.want("a/b")
    paused = conn.want("c/d", Wanted(paused=True, pause_reason="maintenance"))
    conn.want("gone")
    conn.forget("gone")
    conn.connection_made(0.0)
    events = conn.receive(LOGIN)
    assert events == [
        Authenticated("c-1", "pk-1"),
        Send("SUB;CLIENT_ID=:c-1;EVENT_NAME=:a/b"),
        Send("SUB;CLIENT_ID=:c-1;EVENT_NAME=:c/d"),
        Send("PAUSE;CLIENT_ID=:c-1;EVENT_NAME=:c/d;REASON=:maintenance"),
    ]
    assert not conn.online  # not before the plan is answered
    [failed] = conn.receive("-FAIL:not allowed to receive a/b")
    assert isinstance(failed, ResubscribeFailed) and failed.name == "a/b"
    assert str(failed.error) == "EnSyncSubscriptionError: not allowed to receive a/b"
    assert conn.receive("+PASS:{subscribed=c/d}") == []
    assert paused.confirmed and not conn.subscriptions["a/b"].confirmed
    assert conn.receive("+PASS:{paused=c/d}") == [Ready()]
    assert conn.online and conn.state.status == "connected"


def test_a_resubscribe_that_goes_unanswered_fails_and_the_link_gets_ready():
    conn = Connection(KEY, request_timeout=5, ping_interval=None)
    conn.want("a/b")
    conn.connection_made(0.0)
    conn.receive(LOGIN)
    assert conn.deadlines(9.9) == []
    events = conn.deadlines(10.0)  # a timeout after the CONN's own deadline
    assert [type(e) for e in events] == [ResubscribeFailed, Ready]
    assert isinstance(events[0].error, EnSyncTimeoutError)


def test_a_name_that_cannot_be_sent_again_is_reported_not_sent():
    conn = Connection(KEY)
    conn.want("a\udc80")
    conn.connection_made(0.0)
    events = conn.receive(LOGIN)
    assert [type(e) for e in events] == [Authenticated, ResubscribeFailed, Ready]


def test_keepalive_pings_each_interval_and_a_late_pong_means_a_dead_link():
    conn = Connection(KEY, request_timeout=100, ping_interval=10)
    conn.connection_made(0.0)
    conn.receive(LOGIN)
    assert conn.wake_at == 10.0
    assert conn.deadlines(9.99) == []
    assert conn.deadlines(10.0) == [PingDue()]
    conn.ping_sent(10.0)
    assert conn.wake_at == 15.0
    assert conn.deadlines(14.9) == []
    conn.pong_received()
    assert conn.wake_at == 20.0  # an interval after the last ping
    assert conn.deadlines(20.0) == [PingDue()]
    conn.ping_sent(20.0)
    [dead] = conn.deadlines(25.0)  # the link went silent after t=20: given up at 25
    assert dead == LinkDead("no answer to a keepalive ping within 5 s")
    assert conn.deadlines(1000.0) == []


def test_no_pings_when_the_interval_is_off():
    conn = Connection(KEY, ping_interval=None)
    conn.connection_made(0.0)
    conn.receive(LOGIN)
    assert conn.wake_at == float("inf")
    conn.pong_received()  # a stray pong changes nothing
    assert conn.deadlines(10**6) == []


def test_the_backoff_schedule_doubles_with_jitter_up_to_the_cap():
    low = Backoff(0.5, 30.0, random=lambda: 0.0)
    high = Backoff(0.5, 30.0, random=lambda: 0.999999)
    assert [low.delay(n) for n in (1, 2, 3, 4)] == [0.25, 0.5, 1.0, 2.0]
    assert [round(high.delay(n), 3) for n in (1, 2, 3)] == [0.5, 1.0, 2.0]
    assert low.delay(40) == 15.0 and round(high.delay(40), 3) == 30.0
    assert not Backoff(1, 2).exhausted(10**6)  # attempts 0: forever
    assert Backoff(1, 2, attempts=2).exhausted(3) and not Backoff(1, 2, attempts=2).exhausted(2)


def test_reconnect_states_follow_the_schedule_then_give_up():
    conn = Connection(KEY, backoff=Backoff(1.0, 10.0, attempts=2, random=lambda: 0.5))
    assert conn.retry(1, "refused") == ConnectionState("reconnecting", 1, 0.75, "refused")
    assert conn.connecting(1) == ConnectionState("connecting", 1)
    assert conn.retry(2, "refused again").delay == 1.5
    closed = conn.retry(3, "still refused")
    assert closed == ConnectionState("closed", reason="gave up after 2 attempts: still refused")
    assert conn.state is closed


def test_states_are_a_str_enum():
    state = ConnectionState("reconnecting", 1, 0.5, "gone")  # plain text is taken
    assert state.status is ConnectionStatus.RECONNECTING and state.status == "reconnecting"
    assert [s.value for s in ConnectionStatus] == [
        "connecting",
        "connected",
        "reconnecting",
        "closed",
    ]
    with pytest.raises(ValueError):
        ConnectionState("asleep")


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
