"""`--record FILE`: tail records what it received and acked, as it happens."""

from __future__ import annotations

import json
import os
import stat

from ensync_tui.protocol import crypto


def test_tail_records_each_record_encrypted_and_each_ack(cli, engine, tmp_path):
    bob = engine.ids["bob"].public_key
    for n in range(3):
        proc = cli(
            "publish", "orders/status", "--to", bob, "--payload", json.dumps({"n": n}),
            env=engine.env("alice"),
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
    path = tmp_path / "rec.ndjson"
    proc = cli(
        "tail", "orders/status", "--count", "3", "--record", str(path), env=engine.env("bob")
    )
    assert proc.returncode == 0, proc.stderr
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert rows[0]["type"] == "recording" and rows[0]["identity"] == bob
    records = [r for r in rows if r["type"] == "record"]
    assert len(records) == 3
    secret = engine.ids["bob"].secret_key
    assert [crypto.decrypt_payload(r["record"]["payload"], secret) for r in records] == [
        {"n": 0},
        {"n": 1},
        {"n": 2},
    ]
    acked = [r["idem"] for r in rows if r["type"] == "state" and r["state"] == "acked"]
    assert sorted(acked) == sorted(r["record"]["idem"] for r in records)


def test_a_recording_that_cannot_be_opened_stops_before_connecting(cli, tmp_path):
    proc = cli(
        "tail", "a/b", "--record", str(tmp_path), env={"ENSYNC_URL": "ws://127.0.0.1:9",
        "ENSYNC_ACCESS_KEY": "k"},
    )  # fmt: skip
    assert proc.returncode == 1
    assert f"cannot record to {tmp_path}" in proc.stderr


def test_open_says_when_the_file_cannot_be_read(cli, tmp_path):
    proc = cli("open", str(tmp_path / "missing.ndjson"))
    assert proc.returncode == 1
    assert "cannot open" in proc.stderr and "missing.ndjson" in proc.stderr
    proc = cli("open", "--help")
    assert proc.returncode == 0 and "--app-secret-key" in proc.stdout


def test_open_where_prints_the_matching_records_as_ndjson(cli, tmp_path):
    from tests.app.test_open import SECRET, recording

    path = tmp_path / "rec.ndjson"
    recording(path, count=12)
    env = {"ENSYNC_APP_SECRET_KEY": SECRET}
    proc = cli("open", str(path), "--where", "shipped", env=env)
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["payload"]["n"] for r in rows] == [1, 5, 9]  # decrypted, in the file's order
    assert {r["idem"] for r in rows} == {"idem-001", "idem-005", "idem-009"}
    assert rows[0]["messageName"] == "orders/created" and rows[0]["state"] == "new"
    assert rows[2]["state"] == "acked"  # idem-009 was acked in the recording
    both = cli("open", str(path), "--where", '$.status == "shipped" and state:acked', env=env)
    assert [json.loads(line)["idem"] for line in both.stdout.splitlines()] == ["idem-009"]
    mine = cli("open", str(path), "--where", "sender:alice and $.n > 9", env=env)
    assert mine.returncode == 0 and mine.stdout == ""  # no contact of that name: no sender
    wrong = cli("open", str(path), "--where", "($.n >", env=env)
    assert wrong.returncode == 2 and "--where: column" in wrong.stderr and not wrong.stdout
    everything = cli("open", str(path), "--where", "", env=env)
    assert len(everything.stdout.splitlines()) == 12
    nothing = cli("open", str(path), "--where", "no-such-text", env=env)
    assert nothing.returncode == 0 and nothing.stdout == ""
    keyless = cli("open", str(path), "--where", "idem-001")  # no key: found, not decrypted
    [row] = [json.loads(line) for line in keyless.stdout.splitlines()]
    assert row["payload"] is None and row["decryptError"]


def test_a_killed_tail_has_recorded_what_it_received_a_second_before(cli, engine, tmp_path):
    """SIGKILL, no chance to flush: what arrived more than a second before is in the
    file, and the file opens."""
    import subprocess
    import sys
    import time

    from ensync_tui.recording.index import Index
    from tests.cli.conftest import ROOT

    path = tmp_path / "rec.ndjson"
    env = {**os.environ, "PYTHONPATH": str(ROOT), **engine.env("bob")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "ensync_tui", "tail", "orders/status", "--record", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        bob = engine.ids["bob"].public_key
        for n in range(3):
            sent = cli(
                "publish", "orders/status", "--to", bob, "--payload", json.dumps({"n": n}),
                env=engine.env("alice"),
            )  # fmt: skip
            assert sent.returncode == 0, sent.stderr
        assert proc.stdout is not None
        idems = [json.loads(proc.stdout.readline())["idem"] for _ in range(3)]
        printed = time.monotonic()
        while not all(idem in path.read_text() for idem in idems):
            assert time.monotonic() - printed < 1.0, "not in the file a second after"
            time.sleep(0.02)
    finally:
        proc.kill()
        proc.wait(10)
    index = Index(path)
    try:
        while not index.done:
            index.build()
        assert sorted(index.row(i).record.idem for i in range(len(index))) == sorted(idems)
    finally:
        index.close()
