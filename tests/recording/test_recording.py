"""Recordings: the writer appends readable lines, flushed within a second; the
reader and the index read them back, torn lines and hostile text included."""

from __future__ import annotations

import json
import os
import stat
import time

import pytest

from ensync_tui.protocol import crypto
from ensync_tui.protocol.replies import Record
from ensync_tui.recording import lines
from ensync_tui.recording.index import CHUNK, Index
from ensync_tui.recording.reader import parse_line
from ensync_tui.recording.writer import Recorder
from ensync_tui.safetext import UNSAFE
from tests.hostile import HOSTILE_TEXTS

PUBLIC, SECRET = crypto.generate_keypair()


def make_record(i: int, name: str = "orders/status", payload: object = None) -> Record:
    sealed = crypto.encrypt_payload(payload if payload is not None else {"n": i}, [PUBLIC])
    return Record(name, f"idem-{i}", i, 1_700_000_000_000 + i, sealed, {"persist": True}, "pk")


def index_of(path) -> Index:
    index = Index(path)
    while not index.done:
        index.build()
    return index


def test_the_file_is_private_and_every_line_strict_json(tmp_path):
    path = tmp_path / "rec.ndjson"
    with Recorder(path, url="ws://x", identity="me", secret_key=SECRET) as rec:
        rec.record(make_record(1))
        rec.state("orders/status", "idem-1", "acked")
        rec.state("orders/status", "idem-1", "deferred", reason="later", delay_ms=5000)
        rec.connection("reconnecting", "connection lost")
        rec.published("orders/status", [PUBLIC], {"secret": "plain"}, {"persist": True}, [])
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    text = path.read_text()
    assert "plain" not in text  # what was published stays sealed, to our own key
    kinds = [json.loads(line)["type"] for line in text.splitlines()]
    assert kinds == ["recording", "record", "state", "state", "connection", "published"]
    published = json.loads(text.splitlines()[-1])
    assert crypto.decrypt_payload(published["payload"], SECRET) == {"secret": "plain"}
    record = json.loads(text.splitlines()[1])["record"]
    assert crypto.decrypt_payload(record["payload"], SECRET) == {"n": 1}  # still encrypted
    deferred = json.loads(text.splitlines()[3])
    assert (deferred["delayMs"], deferred["reason"]) == (5000, "later")


def test_lines_reach_the_file_within_a_second_without_a_close(tmp_path):
    path = tmp_path / "rec.ndjson"
    rec = Recorder(path, flush_every=0.2)
    try:
        rec.record(make_record(1))
        deadline = time.monotonic() + 1.0
        while "idem-1" not in path.read_text():
            assert time.monotonic() < deadline, "not flushed within a second"
            time.sleep(0.02)
    finally:
        rec.close()


def test_a_torn_last_line_is_skipped_and_the_next_writer_starts_a_new_line(tmp_path):
    path = tmp_path / "rec.ndjson"
    with Recorder(path) as rec:
        rec.record(make_record(1))
    with open(path, "ab") as f:  # a kill in mid-write
        f.write(lines.record_line(make_record(2), 5).encode()[:40])
    index = index_of(path)
    assert len(index) == 1 and index.done
    with Recorder(path) as rec:
        rec.record(make_record(3))
    index = index_of(path)
    assert [index.row(i).record.idem for i in range(len(index))] == ["idem-1", "idem-3"]
    assert index.skipped == 1  # the torn line, alone on its line


def test_hostile_text_is_escaped_and_read_back_the_same(tmp_path):
    path = tmp_path / "rec.ndjson"
    names = [f"n/{t}" for t in HOSTILE_TEXTS.values()] + ['q"\\', "x\u2028y"]
    with Recorder(path) as rec:
        for i, name in enumerate(names):
            meta = {"h": {"k": name, "lone": "\ud800"}}
            record = Record(name, f"i-{name}-{i}", i, 0, "e30=", meta, name + "\udfff")
            rec.record(record)
            rec.state(name, record.idem, "discarded", reason=name)
    raw = path.read_bytes().decode("utf-8")  # valid UTF-8: lone surrogates are escapes
    assert all(UNSAFE.search(line) is None for line in raw.splitlines())
    index = index_of(path)
    assert index.names == names and index.skipped == 0
    for i, name in enumerate(names):
        row = index.row(i)
        assert (row.record.name, row.record.sender) == (name, name + "\udfff")
        assert row.record.metadata["h"] == {"k": name, "lone": "\ud800"}
        assert index.state(i) == "discarded"


def test_states_redelivery_and_replay(tmp_path):
    path = tmp_path / "rec.ndjson"
    with Recorder(path) as rec:
        for i in range(4):
            rec.record(make_record(i))
        rec.state("orders/status", "idem-0", "acked")
        rec.state("orders/status", "idem-1", "deferred", delay_ms=1000)
        rec.record(make_record(1))  # delivered again after the defer: new again
        rec.state("orders/status", "idem-2", "discarded")
        rec.record(make_record(3), replayed=True)
        rec.record(make_record(9), replayed=True)  # a replay of one not held: a row
        rec.state("orders/status", "unknown", "acked")  # of no row: ignored
    index = index_of(path)
    assert len(index) == 5
    assert [index.state(i) for i in range(5)] == [
        "acked",
        "new",
        "discarded",
        "replayed",
        "replayed",
    ]
    assert index.received == [5] and index.acked == 1 and index.pending == [1]


def test_the_fast_reading_agrees_with_a_full_parse(tmp_path):
    """Lines in the writer's shape are indexed without a parse; the same lines
    written by another tool (keys in another order) give the same index."""
    ours, theirs = tmp_path / "ours.ndjson", tmp_path / "theirs.ndjson"
    records = [make_record(i, name=f"n{i % 3}/\u00e9\\") for i in range(50)]
    with Recorder(ours) as rec:
        for r in records:
            rec.record(r)
        for r in records[::4]:
            rec.state(r.name, r.idem, "acked")
    with open(theirs, "w") as f:
        for line in ours.read_text().splitlines():
            obj = json.loads(line)
            f.write(json.dumps(dict(reversed(obj.items())), indent=None) + "\n")
    a, b = index_of(ours), index_of(theirs)
    assert a.names == b.names and list(a.name_of) == list(b.name_of)
    assert a.states == b.states and a.acked == b.acked == 13
    assert [a.row(i).record for i in range(50)] == [b.row(i).record for i in range(50)]


def test_exports_and_tail_output_open_as_plain_rows(tmp_path):
    path = tmp_path / "export.ndjson"
    row = lines.message_row("a/b", "i1", 3, 5, "pk", {"persist": True}, {"x": 1}, None)
    bad = lines.message_row("a/b", "i2", 4, 6, "pk", {}, None, "cannot decrypt: wrong key")
    path.write_text(
        lines.message_line({**row, "state": "acked"}, None)[0]
        + "\n"
        + lines.message_line(bad, None)[0]
        + "\nnot json\n[1]\n"
    )
    index = index_of(path)
    assert len(index) == 2 and index.skipped == 2
    first, second = index.row(0), index.row(1)
    assert first.plain and first.value == {"x": 1} and index.state(0) == "acked"
    assert second.error == "cannot decrypt: wrong key" and index.state(1) == "new"
    assert first.record.logged_at == 5 and first.record.block == 3


def test_a_line_longer_than_a_chunk_and_a_growing_file(tmp_path):
    path = tmp_path / "rec.ndjson"
    big = {"blob": "x" * (CHUNK + 1000)}
    with Recorder(path) as rec:
        rec.record(make_record(1, payload=big))
    index = Index(path)
    while not index.done:
        index.build()
    assert len(index) == 1
    assert crypto.decrypt_payload(index.row(0).record.payload, SECRET) == big
    with Recorder(path) as rec:  # the file grows: the index reads on
        rec.record(make_record(2))
    index.done = False
    while not index.done:
        index.build()
    assert len(index) == 2 and index.row(1).record.idem == "idem-2"


@pytest.mark.parametrize(
    "line",
    [b"", b"{", b'{"type":"record","at":1,"record":{"name":"a"}}', b'{"type":"record"}', b"\xff"],
)
def test_unreadable_lines_are_none(line):
    assert parse_line(line) is None


def test_a_row_the_client_would_refuse_is_found_but_not_read(tmp_path):
    """A name with a lone surrogate (never delivered by the client; a file can
    hold one): indexed, and reading it says so instead of making a record."""
    path = tmp_path / "rec.ndjson"
    line = lines.dumps({"type": "record", "at": 1, "record": make_record(1).to_dict()})
    path.write_text(line.replace("orders/status", "\\ud800") + "\n")
    index = index_of(path)
    assert len(index) == 1
    with pytest.raises(ValueError, match="not readable"):
        index.row(0)


def test_cannot_record_to_a_folder(tmp_path):
    with pytest.raises(OSError):
        Recorder(tmp_path)
