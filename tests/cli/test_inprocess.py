"""Commands run in this process, where a subprocess test cannot reach: serve until a
signal, a signal stopping tail, and the entry point's last guards."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ensync_tui.cli import keygen
from ensync_tui.cli.main import main


def run_until(
    argv: list[str],
    ready: Callable[[str, str], bool],
    then: Callable[[], None] = lambda: None,
    sig: signal.Signals = signal.SIGTERM,
) -> tuple[int, str, str]:
    """Run ``main(argv)`` here; once ``ready(stdout, stderr)``, call ``then`` on a thread
    and send this process ``sig`` (the command's own handler takes it)."""
    out, err = io.StringIO(), io.StringIO()
    failures: list[BaseException] = []

    def watch() -> None:
        try:
            deadline = time.monotonic() + 30
            while not ready(out.getvalue(), err.getvalue()):
                assert time.monotonic() < deadline, "never ready: " + err.getvalue()
                time.sleep(0.02)
            then()
        except BaseException as exc:
            failures.append(exc)
        finally:
            os.kill(os.getpid(), sig)

    watcher = threading.Thread(target=watch, daemon=True)
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        watcher.start()
        code = main(argv)
    watcher.join(10)
    if failures:
        raise failures[0]
    return code, out.getvalue(), err.getvalue()


def test_serve_runs_until_sigterm(tmp_path: Path) -> None:
    from websockets.sync.client import connect

    from ensync_tui.engine import load_config

    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["engine", "init", str(tmp_path), "--port", "0"]) == 0
    access_key = load_config(tmp_path / "engine.toml").clients[0].access_key
    url: list[str] = []
    answers: list[object] = []

    def ready(out: str, err: str) -> bool:
        found = re.search(r"EnSync engine on (ws://127\.0\.0\.1:\d+/message)", err)
        url[:] = [found.group(1)] if found else []
        return bool(found)

    def log_in() -> None:
        with connect(url[0]) as ws:
            ws.send(f"CONN;ACCESS_KEY=:{access_key}")
            answers.append(ws.recv(timeout=10))

    argv = ["serve", "--config", str(tmp_path / "engine.toml"), "--db", ":memory:"]
    code, _, err = run_until(argv, ready, log_in)
    assert code == 0, err
    assert str(answers[0]).startswith("+PASS:{clientId=")
    assert "(2 clients: alice, bob; 2 message names; db :memory:)" in err
    assert "stopping…" in err and access_key not in err


@pytest.mark.parametrize(("sig", "expected"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_tail_stopped_by_a_signal_acknowledges_what_it_printed(
    cli, engine, monkeypatch, sig, expected
):
    bob = engine.ids["bob"].public_key
    args = ["publish", "orders/status", "--to", bob, "--payload", '{"n": 1}']
    idem = json.loads(cli(*args, env=engine.env("alice")).stdout)["idem"]
    for key, value in engine.env("bob").items():
        monkeypatch.setenv(key, value)
    code, out, err = run_until(["tail", "orders/status"], lambda out, err: "\n" in out, sig=sig)
    assert code == expected, err
    assert json.loads(out)["idem"] == idem and err == ""
    assert engine.state(idem, "bob") == "acked"


# ------------------------------------------------------------------ the last guards


@pytest.mark.parametrize(
    ("raised", "code", "said"),
    [
        (KeyboardInterrupt(), 130, ""),
        (BrokenPipeError(), 0, ""),
        (SystemExit("stopped: no room"), 1, "ensync-tui: error: stopped: no room\n"),
        (SystemExit(3), 3, ""),
        (SystemExit(None), 0, ""),
    ],
)
def test_what_escapes_a_command_becomes_an_exit_code(cli, monkeypatch, raised, code, said):
    def run(args):
        raise raised

    monkeypatch.setattr(keygen, "run", run)
    proc = cli("keygen")
    assert (proc.returncode, proc.stderr) == (code, said)


def test_a_command_that_cannot_start_says_so(cli, monkeypatch):
    from ensync_tui.cli import explorer

    def broken(parser):
        raise RuntimeError("no parser today")

    monkeypatch.setattr(explorer, "add_options", broken)
    proc = cli("keygen")
    assert proc.returncode == 1
    assert proc.stderr.startswith("ensync-tui: error: start failed unexpectedly (RuntimeError")
    assert "crash report: " in proc.stderr and "Traceback" not in proc.stderr


def test_explorer_refuses_a_negative_demo_rate_and_says_when_it_cannot_start(cli, monkeypatch):
    proc = cli("--demo", "--demo-rate", "-1")
    assert (proc.returncode, proc.stderr) == (
        2,
        "ensync-tui: --demo-rate: must be 0 to 500 messages a second\n",
    )
    monkeypatch.setitem(sys.modules, "ensync_tui.app", None)  # importing it fails
    proc = cli()
    assert proc.returncode == 1
    assert proc.stderr.startswith("ensync-tui: error: the terminal UI cannot start:")


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--ping-interval", "x"], "--ping-interval: must be seconds, got 'x'"),
        (["--ping-interval", "0"], "--ping-interval: must be more than 0 and at most 86400, got 0"),
        (["--max-connections", "0"], "--max-connections: must be a positive integer, got '0'"),
        (["--sub-grace", "11"], "--sub-grace: must be 0 to 10 seconds, got 11"),
        (["--sub-grace", "soon"], "--sub-grace: must be seconds, got 'soon'"),
        (["--port", "70000"], "--port: must be a port number (0 to 65535), got '70000'"),
    ],
)
def test_serve_flag_errors(cli, args, said):
    proc = cli("serve", *args)
    assert proc.returncode == 2 and said in proc.stderr


def test_serve_needs_an_engine_config_with_identities(cli, tmp_path):
    proc = cli("serve")
    assert proc.returncode == 2
    assert "no engine.toml here: pass --config FILE, or create one with" in proc.stderr
    (tmp_path / "engine.toml").write_text("[engine]\nport = 0\n")
    proc = cli("serve")
    assert (proc.returncode, proc.stderr) == (
        2,
        "ensync-tui: engine.toml: no identities ([[clients]]) and no account keys ([[accounts]])\n",
    )


def test_serve_on_a_busy_port_is_exit_1(cli, tmp_path):
    import socket

    assert cli("engine", "init", str(tmp_path)).returncode == 0
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = cli("serve", "--port", str(port), "--db", ":memory:")
    assert proc.returncode == 1
    assert f"ensync-tui: error: cannot listen on 127.0.0.1:{port}" in proc.stderr


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--clients", " , "], "--clients: give at least one name"),
        (["--clients", "ann,ann"], "--clients: a name is given twice"),
        (["--messages", ","], "--messages: give at least one name"),
    ],
)
def test_engine_init_name_errors(cli, args, said):
    proc = cli("engine", "init", "dev", *args)
    assert proc.returncode == 2 and said in proc.stderr
    assert not Path("dev").exists()


def test_engine_init_into_a_file_says_it_cannot_write(cli, tmp_path):
    (tmp_path / "taken").write_text("a file, not a folder")
    proc = cli("engine", "init", "taken/dev")
    assert proc.returncode == 1
    assert proc.stderr.startswith("ensync-tui: error: cannot write to taken/dev:")


def test_engine_without_a_command_says_which(cli):
    proc = cli("engine")
    assert (proc.returncode, proc.stderr) == (
        2,
        "ensync-tui: engine: choose a command: init, names, add-name, keys, add-key"
        " (see `ensync-tui engine --help`)\n",
    )
