"""`serve` as a user runs it: TLS file errors, and no stored message lost on a stop."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.cli.conftest import ROOT
from tests.tls import self_signed


def init(cli, folder: Path) -> dict[str, dict[str, str]]:
    """engine init into ``folder``; the profiles it wrote, by name."""
    proc = cli("engine", "init", str(folder), "--port", "0")
    assert proc.returncode == 0, proc.stderr
    return tomllib.loads((folder / "ensync.toml").read_text())["profiles"]


def test_tls_file_errors_name_the_file(cli, tmp_path):
    init(cli, tmp_path / "dev")
    config = str(tmp_path / "dev" / "engine.toml")
    proc = cli("serve", "--config", config, "--tls-cert", "nope.pem", "--tls-key", "nope.key")
    assert proc.returncode == 1
    assert proc.stderr == "ensync-tui: error: TLS certificate not found: nope.pem\n"

    proc = cli("serve", "--config", config, "--tls-cert", config, "--tls-key", config)
    assert proc.returncode == 1
    assert "cannot load the TLS certificate" in proc.stderr
    assert "not a PEM certificate and its matching key" in proc.stderr
    assert "cannot listen" not in proc.stderr and len(proc.stderr.splitlines()) == 1

    cert, _key = self_signed(tmp_path)
    _other_cert, other_key = self_signed(tmp_path / "dev")
    proc = cli("serve", "--config", config, "--tls-cert", cert, "--tls-key", other_key)
    assert proc.returncode == 1 and "matching key" in proc.stderr


class Serve:
    """`ensync-tui serve` in a subprocess on a free loopback port."""

    def __init__(self, config: Path, *args: str) -> None:
        env = dict(os.environ) | {"PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ensync_tui", "serve", "--config", str(config), *args],
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert self.proc.stderr is not None
        self.log = ""
        while True:
            line = self.proc.stderr.readline()
            assert line, "serve exited early: " + self.log
            self.log += line
            found = re.search(r"(ws://127\.0\.0\.1:\d+)/message", line)
            if found:
                self.url = found.group(1)
                break

    def stop(self, sig: int) -> int:
        self.proc.send_signal(sig)
        _, rest = self.proc.communicate(timeout=30)
        self.log += rest
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_messages_answered_before_a_stop_replay_after_restart(cli, tmp_path, sig):
    profiles = init(cli, tmp_path / "dev")
    alice, bob = profiles["alice"], profiles["bob"]
    config = tmp_path / "dev" / "engine.toml"
    engine = Serve(config)
    env = dict(os.environ) | {"PYTHONPATH": str(ROOT), "ENSYNC_URL": engine.url}
    env["ENSYNC_ACCESS_KEY"] = alice["access_key"]
    (tmp_path / "many.ndjson").write_text(
        "".join(json.dumps({"i": i, "pad": "x" * 100}) + "\n" for i in range(20000))
    )
    publish = subprocess.Popen(
        [sys.executable, "-m", "ensync_tui", "publish", "orders/status", "--to", "bob",
         "--payload", "@many.ndjson", "--config", str(tmp_path / "dev" / "ensync.toml")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
    )  # fmt: skip
    try:
        assert publish.stdout is not None
        answered: list[str] = []
        while len(answered) < 300:  # stop the engine mid-stream
            line = publish.stdout.readline()
            assert line, "publish ended early: " + publish.stderr.read()  # type: ignore[union-attr]
            answered.append(json.loads(line)["idem"])
        assert engine.stop(sig) == 0, engine.log
        # read through the stream readline used, not communicate(), which reads the
        # pipe itself and would miss the lines readline has already buffered
        out = publish.stdout.read()
        err = publish.stderr.read()  # type: ignore[union-attr]
        publish.wait(30)
    finally:
        engine.kill()
        if publish.poll() is None:
            publish.kill()
    answered += [json.loads(line)["idem"] for line in out.splitlines()]
    assert publish.returncode == 1 and len(answered) < 20000, (publish.returncode, err)
    assert "Traceback" not in err and "messages sent; stopped at line" in err, err

    engine = Serve(config)
    try:
        env = {
            "ENSYNC_URL": engine.url,
            "ENSYNC_ACCESS_KEY": bob["access_key"],
            "ENSYNC_APP_SECRET_KEY": bob["app_secret_key"],
        }
        proc = cli("replay", "orders/status", *answered, env=env)
        assert proc.returncode == 0, proc.stderr[-2000:]
        replayed = [json.loads(line) for line in proc.stdout.splitlines()]
        assert [r["idem"] for r in replayed] == answered
        assert [r["payload"]["i"] for r in replayed] == list(range(len(answered)))
    finally:
        engine.stop(signal.SIGTERM)
        engine.kill()


def test_a_second_engine_on_the_same_database_is_refused(cli, tmp_path):
    init(cli, tmp_path / "dev")
    config = tmp_path / "dev" / "engine.toml"
    engine = Serve(config)
    try:
        proc = cli("serve", "--config", str(config), "--port", "0", timeout=30)
        assert proc.returncode == 1
        assert proc.stderr == (
            f"ensync-tui: error: {tmp_path / 'dev' / 'ensync.db'} is in use by another "
            "running engine (stop it, or pass --db)\n"
        )
    finally:
        assert engine.stop(signal.SIGINT) == 0
        engine.kill()
    again = Serve(config)  # the lock goes with the engine
    assert again.stop(signal.SIGTERM) == 0


def test_engine_init_keeps_the_access_keys_private(cli, tmp_path):
    import stat

    init(cli, tmp_path / "dev")
    engine_toml = tmp_path / "dev" / "engine.toml"
    assert stat.S_IMODE(engine_toml.stat().st_mode) == 0o600
    assert "keep this file private" in engine_toml.read_text()


def test_engine_and_profile_files_swapped_say_which_is_which(cli, tmp_path):
    init(cli, tmp_path / "dev")
    engine_toml, profiles = tmp_path / "dev" / "engine.toml", tmp_path / "dev" / "ensync.toml"
    proc = cli("tail", "orders/status", "--config", str(engine_toml))
    assert proc.returncode == 2
    assert "this is an engine config (for `ensync-tui serve --config`)" in proc.stderr
    proc = cli("serve", "--config", str(profiles))
    assert proc.returncode == 2
    assert proc.stderr == (
        "ensync-tui: ensync.toml: this is a client profile file (for `ensync-tui --config`); "
        "serve needs the engine.toml `engine init` writes next to it\n"
    )


def test_engine_init_counts_read_right(cli, tmp_path):
    proc = cli("engine", "init", "one", "--clients", "solo", "--messages", "orders/created")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == (
        "wrote one/engine.toml (1 identity, 1 message name; access keys inside, mode 0600)"
    )


def test_serve_on_every_interface_says_so(cli, tmp_path):
    init(cli, tmp_path / "dev")
    engine = Serve(tmp_path / "dev" / "engine.toml", "--host", "0.0.0.0", "--port", "0")
    try:
        port = engine.url.rsplit(":", 1)[1]
        assert "/message, every interface (db" in engine.log  # the engine's own log line
        engine.log += engine.proc.stderr.readline() if engine.proc.stderr else ""
        assert f"and every other interface on port {port}" in engine.log
    finally:
        assert engine.stop(signal.SIGINT) == 0
        engine.kill()
