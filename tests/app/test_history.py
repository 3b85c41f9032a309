"""The history ring: bounds, states, counters, lazy decryption and filtering (no Textual)."""

from __future__ import annotations

from ensync_tui.app.history import History
from ensync_tui.client import crypto
from ensync_tui.protocol import replies
from tests.app.conftest import SNAP_SECRET, build_records


def message(idem: str, name: str = "a/b", payload: str = "", sender: str = "S") -> replies.Record:
    return replies.Record(name, idem, 1, 0, payload, {"persist": True, "headers": {}}, sender)


def test_ring_is_bounded_and_counts_what_was_received():
    history = History(maxlen=3, clock=lambda: 10.0)
    history.add([message(str(i)) for i in range(5)])
    assert history.held == 3 and history.received == 5
    assert [e.idem for e in history.entries] == ["2", "3", "4"]
    assert set(history.by_idem) == {"2", "3", "4"}
    assert history.pending == 5 and history.stats["a/b"].pending == 5


def test_states_and_redelivery():
    history = History(clock=lambda: 10.0)
    history.add([message("x"), message("y")])
    history.set_state("x", "acked")
    history.set_state("y", "deferred")
    assert history.acked == 1 and history.pending == 0
    # the deferred one comes again: same row, pending again
    again = history.add([message("y")])
    assert again[0] is history.by_idem["y"] and again[0].state == "new"
    assert history.held == 2 and history.received == 2 and history.pending == 1
    assert history.set_state("nope", "acked") is None


def test_replayed_marks_or_adds():
    history = History(clock=lambda: 10.0)
    history.add([message("x")])
    assert history.add_replayed(message("x")).state == "replayed"
    added = history.add_replayed(message("z", name="c/d"))
    assert added.state == "replayed" and history.held == 2
    assert history.received == 1  # a replay is not a delivery


def test_lazy_decryption_is_cached_and_failures_keep_the_record():
    records = build_records(2)
    history = History(secret_key=SNAP_SECRET, clock=lambda: 10.0)
    entries = history.add(records)
    assert not entries[0].decrypted
    value = entries[0].decrypt(SNAP_SECRET)
    assert value["order"]["id"] == 1000 and entries[0].decrypted
    assert entries[0].decrypt("ignored once cached") is value
    _, other = crypto.generate_keypair()
    assert entries[1].decrypt(other) is None
    assert "cannot decrypt" in entries[1].error
    assert entries[1].shown_state == "undecryptable" and entries[1].payload


def test_filter_by_name_text_and_payload_in_slices():
    records = build_records(12)
    history = History(secret_key=SNAP_SECRET, clock=lambda: 10.0)
    history.add(records)
    history.set_filter(name="orders/status")
    while not history.scan(budget=2):
        pass
    assert len(history) == 4 and all(e.name == "orders/status" for e in history.rows(0, 10))
    history.set_filter(text="1007")  # in the payload only
    while not history.scan(budget=5):
        pass
    assert [e.idem for e in history.rows(0, 10)] == [records[7].idem]
    history.set_filter(text="0190E1F2-0003")  # idem, case-insensitive
    history.scan()
    assert len(history) == 1
    # new records that match join the view; evicted ones leave it
    history.set_filter(name="audit/log")
    history.scan()
    assert len(history) == 4
    history.add([message("late", name="audit/log")])
    assert len(history) == 5 and history[4].idem == "late"
    history.set_filter()
    assert len(history) == 13


def test_index_of_follows_evictions():
    history = History(maxlen=4, clock=lambda: 10.0)
    history.add([message(str(i)) for i in range(4)])
    kept = history.by_idem["3"]
    assert history.index_of(kept) == 3
    history.add([message("4"), message("5")])
    assert history.index_of(kept) == 1


def test_rate_is_averaged_over_seconds():
    now = [100.0]
    history = History(clock=lambda: now[0])
    history.add([message(str(i)) for i in range(10)])
    assert history.stats["a/b"].rate(100.5) == 2.0
    assert history.stats["a/b"].rate(120.0) == 0.0


def test_previous_of_finds_the_same_name_before():
    history = History(secret_key=SNAP_SECRET)
    history.add(build_records(7))  # names cycle created, status, audit
    entries = list(history.entries)
    assert history.previous_of(entries[6]) is entries[3]
    assert history.previous_of(entries[3]) is entries[0]
    assert history.previous_of(entries[0]) is None
    assert history.previous_of(entries[6], limit=2) is None  # not within two steps back
