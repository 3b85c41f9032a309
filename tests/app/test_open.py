"""The explorer on a recording (`ensync-tui open`): stream, inspector, filters,
Changes and export from the file; actions that need the engine say why not."""

from __future__ import annotations

import json

from ensync_tui.app import EnsyncApp
from ensync_tui.app.recorded import READ_ONLY
from ensync_tui.app.widgets import Inspector, StreamView, SubscriptionList
from ensync_tui.protocol import crypto
from ensync_tui.protocol.replies import Record
from ensync_tui.recording import lines
from ensync_tui.recording.index import Index
from ensync_tui.recording.writer import Recorder
from ensync_tui.settings import Settings
from tests.app.conftest import SIZE, wait_for

PUBLIC, SECRET = crypto.generate_keypair()


def pane_text(app: EnsyncApp, name: str) -> str:
    """What the subscriptions pane says under ``name``."""
    subs = app.query_one(SubscriptionList)
    return str(subs.get_option_at_index(subs.names.index(name) + 1).prompt)


def recording(path, count: int = 30) -> list[Record]:
    records = []
    with Recorder(path, secret_key=SECRET) as rec:
        for i in range(count):
            name = "orders/created" if i % 2 else "orders/status"
            payload = {"n": i, "status": "shipped" if i % 4 == 1 else "packed"}
            sealed = crypto.encrypt_payload(payload, [PUBLIC])
            record = Record(name, f"idem-{i:03}", i, 1_700_000_000_000 + i, sealed, {}, "pk")
            records.append(record)
            rec.record(record)
            if i % 3 == 0:
                rec.state(name, record.idem, "acked")
        rec.published("orders/status", [PUBLIC], {"sent": 1}, {}, [{"idem": "p1", "block": 1}])
    return records


async def test_a_recording_is_browsed_inspected_and_filtered(tmp_path):
    path = tmp_path / "rec.ndjson"
    records = recording(path)
    app = EnsyncApp(Settings(app_secret_key=SECRET), recording=Index(path))
    async with app.run_test(size=SIZE) as pilot:
        history = app.controller.history
        stream = app.query_one(StreamView)
        await wait_for(pilot, lambda: history.index.done and stream.cursor >= 0, what="rows")
        assert len(history) == 30 and app.controller.status.state == "recording"
        assert not stream.follow and stream.selected.idem == "idem-000"  # from the top
        assert history.acked == 10 and history.pending == 20
        assert stream.selected.state == "acked"
        assert sorted(app.controller.subscriptions) == ["orders/created", "orders/status"]
        await wait_for(pilot, lambda: "pend" in pane_text(app, "orders/status"), what="pane")
        assert "in flight" not in pane_text(app, "orders/status")  # nothing waits in a file
        inspector = app.query_one(Inspector)
        stream.select_entry(history[5])
        app.main.inspect_now(history[5])
        assert inspector.entry.idem == "idem-005"
        assert inspector.entry.decrypt(SECRET) == {"n": 5, "status": "shipped"}
        previous = history.previous_of(history[5])
        assert previous is not None and previous.idem == "idem-003"  # Changes compares with it

        app.main.apply_filter(name="orders/created")
        await wait_for(pilot, lambda: not history.scanning, what="name filter")
        assert len(history) == 15 and all(e.name == "orders/created" for e in history.rows(0, 15))
        app.main.apply_filter(text='"status":"shipped"')
        await wait_for(pilot, lambda: not history.scanning, what="text filter")
        assert [e.idem for e in history.rows(0, len(history))] == [
            r.idem for r in records if r.name == "orders/created" and int(r.idem[-3:]) % 4 == 1
        ]
        assert history.index_of(history[0]) == 0

        await pilot.press("a")  # needs the engine: refused, saying why
        await pilot.pause()
        assert any(READ_ONLY in text for _, text in app.controller.notices)


async def test_export_from_a_recording_and_an_export_opened_again(tmp_path, monkeypatch):
    from ensync_tui.app.export import write_export

    path = tmp_path / "rec.ndjson"
    recording(path, count=12)
    out = tmp_path / "out.ndjson"
    app = EnsyncApp(Settings(app_secret_key=SECRET), recording=Index(path))
    async with app.run_test(size=SIZE) as pilot:
        history = app.controller.history
        await wait_for(pilot, lambda: history.index.done and len(history) == 12, what="rows")
        assert write_export(history.rows(0, len(history)), out, SECRET) == 12
    exported = [json.loads(line) for line in out.read_text().splitlines()]
    assert [e["payload"]["n"] for e in exported] == list(range(12))
    assert [e["state"] for e in exported][:4] == ["acked", "new", "new", "acked"]

    # the export opens too, without any key: its payloads are already decrypted
    app = EnsyncApp(Settings(), recording=Index(out))
    async with app.run_test(size=SIZE) as pilot:
        history = app.controller.history
        await wait_for(pilot, lambda: history.index.done and len(history) == 12, what="rows")
        assert history[4].decrypt(None) == {"n": 4, "status": "packed"}
        assert history.acked == 4 and history[3].state == "acked"


async def test_without_the_key_each_row_says_why(tmp_path):
    path = tmp_path / "rec.ndjson"
    recording(path, count=3)
    other = crypto.generate_keypair()[1]
    app = EnsyncApp(Settings(app_secret_key=other), recording=Index(path))
    async with app.run_test(size=SIZE) as pilot:
        history = app.controller.history
        await wait_for(pilot, lambda: len(history) == 3, what="rows")
        assert history[0].decrypt(other) is None and history[0].error
        assert history[1].decrypt(other) is None
        assert history[0].shown_state == "acked" and history[1].shown_state == "undecryptable"


def test_message_lines_from_tail_are_rows(tmp_path):
    path = tmp_path / "tail.ndjson"
    row = lines.message_row("a/b", "i1", 1, 2, "pk", {}, {"x": 1}, None)
    path.write_text(lines.message_line(row, None)[0] + "\n")
    index = Index(path)
    index.build()
    assert len(index) == 1 and index.row(0).value == {"x": 1}
