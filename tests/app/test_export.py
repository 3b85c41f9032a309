from __future__ import annotations

import json
from datetime import datetime

import pytest

from ensync_tui.app.export import default_export_path, write_export
from ensync_tui.app.history import History

from .conftest import SNAP_SECRET, build_records


def held(count: int = 4) -> History:
    history = History(secret_key=SNAP_SECRET)
    history.add_messages(build_records(count))
    return history


def test_export_writes_one_decrypted_message_a_line(tmp_path):
    history = held(4)
    path = tmp_path / "out.ndjson"
    assert write_export(history.rows(0, len(history)), path, SNAP_SECRET) == 4
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [row["idem"] for row in lines] == [e.idem for e in history.entries]
    first = lines[0]
    assert first["payload"]["order"]["id"] == 1000
    assert first["messageName"] == "orders/created" and first["block"] == 1
    assert first["metadata"]["headers"] == {"trace": "t-0"}
    assert first["decryptError"] is None and first["state"] == "new"
    assert not list(tmp_path.glob("*.part"))


def test_an_undecryptable_message_keeps_its_reason(tmp_path):
    history = held(1)
    path = tmp_path / "out.ndjson"
    write_export(history.entries, path, None)
    [row] = [json.loads(line) for line in path.read_text().splitlines()]
    assert row["payload"] is None
    assert "no app secret key" in row["decryptError"]
    assert row["state"] == "undecryptable"


def test_a_failed_export_leaves_nothing_behind(tmp_path):
    history = held(2)
    with pytest.raises(OSError):
        write_export(history.entries, tmp_path / "missing" / "out.ndjson", SNAP_SECRET)
    with pytest.raises(IsADirectoryError):
        write_export(history.entries, tmp_path, SNAP_SECRET)
    target = tmp_path / "keep.ndjson"
    target.write_text("old\n")

    def boom():
        yield history.entries[0]
        raise RuntimeError("stop")

    with pytest.raises(RuntimeError):
        write_export(boom(), target, SNAP_SECRET)
    assert target.read_text() == "old\n"  # the earlier file is untouched
    assert not list(tmp_path.glob("*.part"))


def test_default_export_path_is_safe_for_any_name(tmp_path):
    now = datetime(2026, 1, 2, 3, 4, 5)
    assert default_export_path(None, now, tmp_path).name == "ensync-all-20260102-030405.ndjson"
    assert default_export_path("orders/status", now, tmp_path).name == (
        "ensync-orders-status-20260102-030405.ndjson"
    )
    assert default_export_path("../..", now, tmp_path).parent == tmp_path
