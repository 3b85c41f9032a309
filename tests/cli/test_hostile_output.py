"""What the headless commands print when the engine or a sender is hostile.

The commands run in this process (``cli.main.main``) against a scripted engine on
its own thread, so each test can say exactly what arrives on the wire.
"""

from __future__ import annotations

import json
import logging
import os
import stat
from pathlib import Path

import pytest

from ensync_tui.cli.logs import setup_logging
from ensync_tui.cli.main import build_parser, main
from ensync_tui.cli.options import settings_from
from ensync_tui.cli.output import keep_secret
from ensync_tui.client import crypto
from ensync_tui.safetext import UNSAFE
from tests import hostile
from tests.cli.conftest import LoopThread
from tests.client.scripted import ScriptedServer, record_frame

KEYS = crypto.generate_keypair()
ACCESS_KEY = "ak-hostile-0123456789abcdef"
ESC = hostile.ESCAPES["title"]


class ThreadedScripted(LoopThread):
    """A ScriptedServer on its own loop in a thread, so the commands can run here."""

    def __init__(self) -> None:
        super().__init__()
        self.server = self.call(ScriptedServer(KEYS[0]).start())

    def argv(self, *args: str) -> list[str]:
        return [*args, "--url", self.server.url, "--access-key", ACCESS_KEY]


@pytest.fixture
def engine(monkeypatch):
    monkeypatch.setenv("ENSYNC_APP_SECRET_KEY", KEYS[1])
    scripted = ThreadedScripted()
    try:
        yield scripted
    finally:
        scripted.close()


def sealed(payload: bytes) -> str:
    return hostile.seal_bytes(payload, KEYS[0])


def assert_safe(text: str) -> list[str]:
    """Each line of ``text`` with nothing a terminal would act on; returns the lines."""
    lines = text.splitlines()
    for line in lines:
        assert UNSAFE.search(line) is None, line
    return lines


def acked(server: ScriptedServer) -> list[str]:
    return [
        f.split("EVENT_IDEM=:", 1)[1].split(";BLOCK=:")[0]
        for f in server.received
        if f.startswith("ACK;")
    ]


# ------------------------------------------------------------------ tail


def test_tail_prints_poison_messages_and_goes_on(engine):
    """Before: ``[`` x 980 made tail exit 1 on a RecursionError, on every restart.

    tail runs in a subprocess here, as in the attack. How deep JSON may nest
    before Python gives up depends on how deep the stack already is, so the
    payloads sweep the depths around the limit: each is printed, with its
    payload or with the reason it cannot be shown, and tail goes on.
    """
    from tests.cli.conftest import run_cli

    depths = [*range(960, 1000), 10_000]
    frames = [hostile.record("a/b", f"d{n}", sealed(hostile.deep_json(n))) for n in depths]
    frames += [
        hostile.record("a/b", "nan", sealed(b'{"v":NaN}')),
        hostile.record("a/b", "huge-block", sealed(b"{}"), block="9" * 5000),
        record_frame("a/b", "good", sealed(b'{"ok":true}')),
    ]
    engine.server.rules["SUB"] = lambda f: ["+PASS:ok", *frames]
    count = str(len(depths) + 2)
    proc = run_cli(
        *engine.argv("tail", "a/b", "--count", count), env={"ENSYNC_APP_SECRET_KEY": KEYS[1]}
    )
    *deep, nan, good = (strict_json(line) for line in assert_safe(proc.stdout))
    assert proc.returncode == 1, proc.stderr
    readable = {"good"}
    for n, line in zip(depths, deep, strict=True):
        assert line["idem"] == f"d{n}"
        if line["decryptError"] is None:
            assert depth_of(line["payload"]) == n
            readable.add(line["idem"])
        else:
            assert line["payload"] is None
            assert "nested too deeply" in line["decryptError"] or (
                line["decryptError"].startswith("cannot be shown as JSON: RecursionError")
            )
    assert deep[-1]["decryptError"] == "decrypted payload is JSON nested too deeply to read"
    assert nan["payload"] is None and "ValueError" in nan["decryptError"]
    assert crypto.decrypt_payload(nan["rawPayload"], KEYS[1]) != {}  # the envelope as it came
    assert good["payload"] == {"ok": True}
    assert set(acked(engine.server)) == readable  # the unreadable ones stay pending
    err_lines = assert_safe(proc.stderr)
    assert any("skipped a malformed frame" in e and "5000 digits" in e for e in err_lines)
    assert sum("(left unacknowledged)" in e for e in err_lines) == len(depths) + 2 - len(readable)
    assert "Traceback" not in proc.stderr


def test_a_message_json_cannot_carry_again_gives_its_raw_record():
    from ensync_tui.cli.output import message_line
    from ensync_tui.protocol import replies

    deep: list = []
    for _ in range(5000):  # deeper than any encoder goes
        deep = [deep]
    record = replies.Record("a/b", f"i-{ESC}", 3, 5, "ZW52ZWxvcGU=", {"h": deep}, "pk")
    message = {"messageName": "a/b", "idem": record.idem, "block": 3, "timestamp": 5,
               "sender": "pk", "metadata": {"h": deep}, "payload": deep,
               "record": record}  # fmt: skip
    line, reason = message_line(message)
    shown = strict_json(line)
    assert reason == "cannot be shown as JSON: nested too deeply"  # as the export says
    assert UNSAFE.search(line) is None and shown["idem"] == record.idem
    assert (shown["payload"], shown["metadata"], shown["rawPayload"]) == (
        None,
        None,
        "ZW52ZWxvcGU=",
    )
    assert shown["decryptError"] == reason and shown["sender"] == "pk"
    message.update(payload={"v": float("inf")}, metadata={})
    line, reason = message_line(message)
    assert "ValueError" in reason and strict_json(line)["metadata"] == {}


def depth_of(value) -> int:
    depth = 0
    while isinstance(value, list):
        depth, value = depth + 1, value[0] if value else None
    return depth


def strict_json(line: str):
    """JSON as RFC 8259 has it (no NaN), however deep the line nests."""
    import sys

    def refuse(constant):
        raise AssertionError(f"{constant} is not JSON")

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(limit + 2000)
    try:
        return json.loads(line, parse_constant=refuse)
    finally:
        sys.setrecursionlimit(limit)


def test_tail_escapes_hostile_text_on_stdout_and_stderr(engine, capsys):
    records = [frame for label, frame in hostile.hostile_records("a/b", KEYS[0])
               if label.startswith("fields-")]  # fmt: skip
    other = crypto.generate_keypair()[0]
    records.append(record_frame("a/b", f"undecryptable-{ESC}", "bm90IGFuIGVudmVsb3Bl"))
    records.append(record_frame("a/b", "not-mine", crypto.encrypt_payload({}, [other])))
    after = record_frame("a/b", "after", sealed(b"{}"))

    async def sub_then_close(frame):
        ws = engine.server.connections[-1]
        first = engine.server.conn_count == 1
        for reply in ["+PASS:ok", *(records if first else [after])]:
            await ws.send(reply)
        if first:  # then a close whose reason is hostile too
            await ws.close(1011, f"bye {hostile.ESCAPES['clear']}")
        return []

    engine.server.rules["SUB"] = sub_then_close
    engine.server.rules["ACK"] = lambda f: [f"-FAIL:refused {hostile.ESCAPES['osc52']}"]
    code = main(engine.argv("tail", "a/b", "--count", str(len(records) + 1)))
    out, err = capsys.readouterr()
    shown = [strict_json(line) for line in assert_safe(out)]
    assert code == 1 and len(shown) == len(records) + 1
    for text in hostile.HOSTILE_TEXTS.values():  # shown literally, the same value
        line = next(s for s in shown if s["sender"] == text)
        assert line["payload"] == {text: text, "nested": {text: [text]}}
        assert line["metadata"]["headers"] == {text: text}
    err_lines = assert_safe(err)
    assert any("refused \\x1b]52;c;" in e for e in err_lines)  # -FAIL reasons
    assert any("bye \\x1b[2J" in e for e in err_lines)  # the close reason
    assert any("undecryptable-\\x1b]0;owned\\x07" in e for e in err_lines)  # idems
    assert any("not-mine: cannot decrypt: wrong key" in e for e in err_lines)


# ------------------------------------------------------------------ publish, replay, config


def test_publish_and_replay_escape_what_the_engine_says(engine, capsys):
    idem = f"m-{hostile.ESCAPES['bidi']}-{hostile.ESCAPES['c1-csi']}"
    engine.server.rules["PUB"] = lambda f: [f"+PASS:{{idem={idem},block=7}}"]
    code = main(engine.argv("publish", "a/b", "--to", "self", "--payload", "{}"))
    out, err = capsys.readouterr()
    [line] = assert_safe(out)
    assert code == 0 and json.loads(line)["idem"] == idem and "\\u202e" in line

    stored = record_frame("a/b", idem, sealed(json.dumps({"t": ESC}).encode()), prefix="+REPLAY:")
    answers = iter([[stored], [f"-FAIL:not found {hostile.ESCAPES['clear']}"]])
    engine.server.rules["REPLAY"] = lambda f: next(answers)
    code = main(engine.argv("replay", "a/b", idem, "missing"))
    out, err = capsys.readouterr()
    [line] = assert_safe(out)
    assert code == 1 and json.loads(line)["payload"] == {"t": ESC}
    [problem] = assert_safe(err)
    assert problem.endswith("error: replay missing: not found \\x1b[2J\\x1b[H")


def test_config_show_escapes_text_from_the_files(capsys, tmp_path):
    (tmp_path / "ensync.toml").write_text(
        '[profiles.dev]\nurl = "ws://127.0.0.1:1"\n'
        'message_names = ["a\\u001b]0;owned\\u0007"]\n'
        f'[profiles.dev.contacts]\n"bob\\u202e" = "{KEYS[0]}"\n'
    )
    for extra in ([], ["--json"]):
        assert main(["config", "show", "--profile", "dev", *extra]) == 0
        out = capsys.readouterr().out
        assert_safe(out)
        assert "\\x1b]0;owned" in out or "\\u001b]0;owned" in out
    shown = json.loads(out)
    assert shown["message_names"] == ["a\x1b]0;owned\x07"] and "contacts.bob\u202e" in shown


# ------------------------------------------------------------------ crashes and secrets


def test_an_unexpected_error_gives_a_crash_report_and_one_line(monkeypatch, capsys):
    """Before: the one line was the exception text, secret and all."""
    from ensync_tui.cli import replay

    async def explode(settings, name, idems):
        secret = settings.app_secret_key  # a local holding the secret, as in the attack
        raise RuntimeError(f"boom with {secret} and {settings.access_key}")

    monkeypatch.setattr(replay, "_replay", explode)
    monkeypatch.setenv("ENSYNC_APP_SECRET_KEY", KEYS[1])
    argv = ["replay", "a/b", "i", "--url", "ws://127.0.0.1:9", "--access-key", ACCESS_KEY]
    assert main(argv) == 1
    out, err = capsys.readouterr()
    [line] = err.splitlines()
    assert out == "" and line.startswith("ensync-tui: error: replay failed unexpectedly (")
    assert "RuntimeError: boom with [redacted] and [redacted]" in line
    path = Path(line.rsplit("crash report: ", 1)[1])
    report = path.read_text()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert "Traceback" in report and "in explode" in report
    for secret in (KEYS[1], ACCESS_KEY):
        for text in (err, report):
            assert secret[:12] not in text and secret[-12:] not in text


def test_logs_are_redacted_and_escaped(capsys):
    keep_secret(ACCESS_KEY)
    try:
        setup_logging(verbose=True)
        log = logging.getLogger("ensync_tui.client")
        try:
            raise ValueError(f"inside {ACCESS_KEY}")
        except ValueError:
            log.exception("CONN failed: %s %s", ACCESS_KEY, hostile.ESCAPES["osc52"])
        err = capsys.readouterr().err
        assert ACCESS_KEY[:12] not in err and "[redacted]" in err
        assert "\\x1b]52;c;" in err and "\x1b" not in err
        assert "Traceback" in err and "ValueError: inside [redacted]" in err
        setup_logging(verbose=False)
        logging.getLogger("ensync_tui").setLevel(logging.NOTSET)
        log.warning("quiet without -v: %s", ESC)
        logging.getLogger("websockets.client").warning("theirs %s %s", ACCESS_KEY, ESC)
        assert capsys.readouterr().err == (
            "ensync-tui: websockets.client: theirs [redacted] \\x1b]0;owned\\x07\n"
        )
    finally:
        logging.getLogger("ensync_tui").setLevel(logging.NOTSET)


def test_settings_and_config_reprs_never_carry_a_secret(tmp_path):
    from ensync_tui.config import Overrides, config_files

    (tmp_path / "ensync.toml").write_text(
        f'[profiles.dev]\nurl = "ws://127.0.0.1:1"\naccess_key = "{ACCESS_KEY}"\n'
        f'app_secret_key = "{KEYS[1]}"\n'
    )
    args = build_parser().parse_args(["config", "show", "--profile", "dev"])
    settings = settings_from(args)
    assert settings.access_key == ACCESS_KEY and settings.app_secret_key == KEYS[1]
    overrides = Overrides(access_key=ACCESS_KEY, app_secret_key=KEYS[1])
    for text in (repr(settings), repr(overrides), repr(config_files(None))):
        assert ACCESS_KEY[:12] not in text and KEYS[1][:12] not in text, text


def test_a_background_failure_prints_no_traceback():
    """A task that fails unawaited is logged (shown with -v), never a bare traceback."""
    import subprocess
    import sys

    from tests.cli.conftest import ROOT

    code = f"""
import asyncio, gc
from ensync_tui.cli.running import run

async def main():
    async def fails():
        raise RuntimeError("lost {ACCESS_KEY}")

    task = asyncio.create_task(fails())
    await asyncio.sleep(0.01)
    del task  # never awaited: the loop reports it when it is collected
    gc.collect()
    await asyncio.sleep(0)
    return 0

raise SystemExit(run(main))
"""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert proc.returncode == 0 and proc.stderr == ""
