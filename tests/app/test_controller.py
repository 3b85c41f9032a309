"""The explorer's state and the status projection, without an app (no Textual)."""

from __future__ import annotations

from ensync_tui.app.controller import MAX_NOTICES, Controller
from ensync_tui.app.history import Entry, MessageState
from ensync_tui.protocol import replies
from ensync_tui.settings import Settings
from tests.app.conftest import SNAP_SECRET, ManualClock, build_records


def controller(clock: ManualClock | None = None, **settings: object) -> Controller:
    values: dict[str, object] = {
        "url": "ws://127.0.0.1:8082",
        "access_key": "k",
        "app_secret_key": SNAP_SECRET,
        "message_names": ["billing/paid"],
    }
    values.update(settings)
    return Controller(Settings(**values), clock or ManualClock())  # type: ignore[arg-type]


def test_it_starts_connecting_or_offline() -> None:
    assert controller().status.state == "connecting"
    nothing = Controller(Settings())
    assert nothing.status.state == "offline"
    assert nothing.offline_reason() == "not connected to the engine (not set up)"
    assert Controller(Settings(), demo=True).status.state == "connecting"


def test_received_records_and_the_auto_acks_of_the_same_batch() -> None:
    state = controller(auto_ack=True)
    records = build_records(3)
    items = [(r.name, r.idem, r.block) for r in records]
    # the runtime acked the first two as they came, before the batch reached the UI
    entries, problem = state.receive([Entry(r) for r in records], items[:2], [])
    assert [e.idem for e in entries] == [r.idem for r in records]
    assert problem is None
    assert [e.state for e in state.history.entries] == ["acked", "acked", "new"]
    assert state.history.acked == 2 and state.history.pending == 1
    # delivered again after an ack: new again, until its ack is answered
    _, problem = state.receive(records[:1], [], [(records[2].idem, ValueError("gone"))])
    assert problem == "auto-ack failed for 1: gone"
    assert [e.state for e in state.history.entries] == ["new", "acked", "new"]
    state.receive([], items[:1])
    assert state.history.entries[0].state == "acked" and state.history.pending == 1
    assert set(state.known_names()) >= {r.name for r in records} | {"billing/paid"}


def test_the_shared_queue_notice_once_with_manual_ack_never_in_the_demo() -> None:
    state = controller()
    assert not state.auto_ack
    notice = state.connected_notice()
    assert notice is not None and "holds back that name's queue" in notice
    assert "running service" in notice
    assert state.connected_notice() is None  # a reconnect does not say it again
    assert controller(auto_ack=True).connected_notice() is None
    assert Controller(Settings(url="ws://x", access_key="k"), demo=True).connected_notice() is None


def test_auto_acks_are_marked_and_failures_said() -> None:
    state = controller()
    records = build_records(3)
    state.receive(records)
    items = [(r.name, r.idem, r.block) for r in records]
    problem = state.acked(items, [(records[1].idem, ValueError("refused\nby the engine"))])
    assert problem == "auto-ack failed for 1: refused by the engine"
    assert [e.state for e in state.history.entries] == ["acked", "new", "acked"]
    assert state.acked(items[1:2], []) is None and state.history.acked == 3


def test_connection_states_the_countdown_and_the_reconnected_notice() -> None:
    clock = ManualClock(500.0)
    state = controller(clock)
    assert state.connection("reconnecting", 2, 8.0, "closed by the server") is None
    assert state.offline_reason() == "not connected to the engine (reconnecting)"
    assert state.refusal("ack") == "ack failed: not connected to the engine (reconnecting)"
    clock.advance(3)
    status = state.project(follow=True)
    assert (status.state, status.attempt, status.delay) == ("reconnecting", 2, 5.0)
    clock.advance(30)
    assert state.project(follow=True).delay == 0.0
    assert state.connection("connected", 0, 0.0, "") == "reconnected"
    assert state.offline_reason() is None and state.refusal("ack") is None
    assert state.retry_at is None
    state.measured(0.004)
    assert state.status.rtt == 0.004
    # a round trip measured before the connection went away is not shown after
    assert state.connection("closed", 0, 0.0, "bye") is None and state.status.rtt is None
    state.offline()
    assert state.status.state == "offline"


def test_the_projection_counts_and_names_the_view() -> None:
    state = controller()
    state.receive(build_records(6))
    state.history.set_state(state.history.entries[0].idem, MessageState.ACKED)
    status = state.project(follow=False)
    assert (status.received, status.held, status.acked, status.pending) == (6, 6, 1, 5)
    assert status.view == "" and status.shown == 0 and not status.follow
    state.set_filter(name="orders/created", text="ann")
    assert state.project(follow=True).searching
    while not state.history.scan():
        pass
    status = state.project(follow=True)
    assert status.view == "orders/created /ann" and status.shown == 2 and not status.searching
    state.set_filter(text="")  # the name stays
    assert state.project(follow=True).view == "orders/created"
    state.set_filter(name=None)  # all names
    assert state.project(follow=True).view == ""


def test_subscriptions_replays_and_what_the_dialogs_recall() -> None:
    state = controller(keys={"subscribe": "S"})
    state.connection("connected", 0, 0.0, "")
    assert state.lacks_subscriptions()
    assert state.no_subscriptions_hint() == "No subscriptions yet:\npress S to subscribe"
    state.subscribed(["orders/created", "audit/log"], {"audit/log": "maintenance"})
    assert not state.lacks_subscriptions() and state.paused == {"audit/log": "maintenance"}
    record = replies.Record("orders/status", "r-1", 1, 0, "", {}, "")
    entry = state.replayed(record)
    state.replayed(record)  # searched twice: recalled once
    assert entry.state == "replayed" and state.replay_history == [("orders/status", "r-1")]
    assert "orders/status" in state.known_names()
    state.receive(build_records(3))
    recent = state.recent_idems(2)
    assert recent == [(e.name, e.idem) for e in reversed(list(state.history.entries))][:2]


def test_a_demo_takes_over_the_settings_and_sizes_the_history() -> None:
    state = controller()
    demo = Settings(url="ws://127.0.0.1:9999", history=50, auto_ack=True, app_secret_key="s")
    assert state.demo_started(demo)
    assert state.history.maxlen == 50 and state.status.capacity == 50
    assert state.auto_ack and state.status.url == "ws://127.0.0.1:9999"
    state.receive(build_records(1))
    assert not state.demo_started(Settings(history=70))  # records held: kept as it is
    assert state.history.maxlen == 50


def test_contacts_and_readiness() -> None:
    state = controller(contacts={"billing": "KEY-B", "nobody": ""})
    assert state.senders() == {"KEY-B": "billing"}
    ready = Settings(url="ws://elsewhere:1", message_names=["late/name"])
    state.ready(ready, "PUBLIC")
    assert state.public_key == state.status.public_key == "PUBLIC"
    assert state.status.url == "ws://elsewhere:1" and "late/name" in state.known_names()


def test_notices_are_kept_visible_and_bounded() -> None:
    state = controller()
    assert state.note("bad \x1b]0;title\x07 name", "warning") == "bad \\x1b]0;title\\x07 name"
    for number in range(MAX_NOTICES + 5):
        state.note(f"n{number}")
    assert len(state.notices) == MAX_NOTICES
    assert state.notices[-1] == ("information", f"n{MAX_NOTICES + 4}")
