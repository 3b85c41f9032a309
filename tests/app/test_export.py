from __future__ import annotations

import json
from datetime import datetime

import pytest

from ensync_tui.app.export import default_export_path, export_folder, exported_text, write_export
from ensync_tui.app.history import History

from .conftest import SNAP_SECRET, build_records


def held(count: int = 4) -> History:
    history = History(secret_key=SNAP_SECRET)
    history.add(build_records(count))
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


def home(monkeypatch, tmp_path):
    """A user whose folders are all under ``tmp_path``, working in ``tmp_path/work``."""
    for var in ("XDG_DOWNLOAD_DIR", "XDG_DATA_HOME", "XDG_CONFIG_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")


def test_exports_go_to_downloads_or_the_data_folder_not_the_working_folder(tmp_path, monkeypatch):
    home(monkeypatch, tmp_path)
    now = datetime(2026, 1, 2, 3, 4, 5)
    data = tmp_path / ".local" / "share" / "ensync-tui" / "exports"
    assert export_folder() == data  # no downloads folder: the data folder (made when used)
    assert default_export_path(None, now).parent == data
    (tmp_path / "Downloads").mkdir()
    assert export_folder() == tmp_path / "Downloads"
    assert default_export_path("a/b", now) == tmp_path / "Downloads" / (
        "ensync-a-b-20260102-030405.ndjson"
    )


def test_the_export_notice_counts_in_words(tmp_path):
    assert exported_text(1, tmp_path / "x") == f"exported 1 message to {tmp_path / 'x'}"
    assert exported_text(1200, tmp_path) == f"exported 1,200 messages to {tmp_path}"


def test_the_file_is_private_from_its_first_byte(tmp_path, monkeypatch):
    import os
    import stat

    history = held(2)
    path = tmp_path / "out.ndjson"
    old = os.umask(0o022)  # a usual umask would leave a new file 0644
    try:
        modes = []
        real_replace = os.replace

        def replace(src, dst):
            modes.append(stat.S_IMODE(os.stat(src).st_mode))  # the part file, before the rename
            real_replace(src, dst)

        monkeypatch.setattr(os, "replace", replace)
        write_export(history.entries, path, SNAP_SECRET)
        path.write_text("old")  # an existing file is replaced by a private one
        write_export(history.entries, path, SNAP_SECRET)
    finally:
        os.umask(old)
    assert modes == [0o600, 0o600]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    "name",
    ["../../etc/passwd", "..", "a/../../b", "\x1b]0;owned\x07", "x" * 5000, ".hidden", "\u202e"],
)
def test_a_hostile_name_never_makes_a_path(tmp_path, name):
    from ensync_tui.safetext import UNSAFE

    now = datetime(2026, 1, 2, 3, 4, 5)
    path = default_export_path(name, now, tmp_path)
    assert path.parent == tmp_path
    assert "/" not in path.name and ".." not in path.name and not UNSAFE.search(path.name)
    assert path.name.startswith("ensync-") and len(path.name) < 100


def test_a_payload_json_cannot_carry_is_written_as_received_with_the_reason(tmp_path):
    from ensync_tui.app.history import History
    from ensync_tui.client import crypto
    from ensync_tui.protocol import replies
    from tests.hostile import seal_bytes

    me = crypto.public_key_of(SNAP_SECRET)
    history = History(secret_key=SNAP_SECRET)
    records = []
    bodies = (
        ("deep", b"[" * 900 + b"]" * 900),
        ("ok", b'{"s":"\\u009b\\u202e"}'),
        ("nan", b"[NaN]"),
    )
    for idem, body in bodies:
        payload = seal_bytes(body, me)
        record = replies.Record("a/b", idem, 1, 1, payload, {}, "")
        records.append(record)
    history.add(records)
    # deep enough that writing it back as JSON fails where reading it did not
    import sys

    limit = sys.getrecursionlimit()
    try:
        for entry in history.entries:
            entry.decrypt(SNAP_SECRET)
        sys.setrecursionlimit(200)
        path = tmp_path / "out.ndjson"
        assert write_export(history.entries, path, SNAP_SECRET) == 3
    finally:
        sys.setrecursionlimit(limit)
    text = path.read_text(encoding="utf-8")
    assert text.isascii() or "\u202e" not in text  # controls and bidi are JSON escapes

    def strict(constant: str) -> None:
        raise AssertionError(f"{constant} is not JSON")

    deep, ok, nan = (json.loads(line, parse_constant=strict) for line in text.splitlines())
    assert deep["payload"] is None and deep["rawPayload"] == history.entries[0].payload
    assert deep["decryptError"] == "cannot be shown as JSON: nested too deeply"
    assert ok["payload"] == {"s": "\x9b\u202e"}
    assert nan["payload"] is None and "cannot be shown as JSON" in nan["decryptError"]
