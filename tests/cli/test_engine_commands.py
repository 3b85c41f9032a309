"""`ensync-tui engine init` and `ensync-tui serve`, and engine.toml errors."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import stat
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect as ws_connect

from ensync_tui.cli.main import main
from ensync_tui.engine import ConfigError, load_config
from ensync_tui.engine.config import parse_config

REPO = Path(__file__).resolve().parents[2]
KEY = "Hwm7eqjY62WhRLlSYQVkutSEpTXeZ2iFvWjpyN0bs34="


def test_init_writes_engine_config_and_private_profiles(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "local"
    assert main(["engine", "init", str(folder), "--clients", "alice,bob,carol"]) == 0
    out = capsys.readouterr().out
    cfg = load_config(folder / "engine.toml")
    assert [c.name for c in cfg.clients] == ["alice", "bob", "carol"]
    assert [m.name for m in cfg.messages] == ["orders/created", "orders/status"]
    assert cfg.port == 8082 and cfg.db == str(folder.resolve() / "ensync.db")
    profiles = folder / "ensync.toml"
    assert stat.S_IMODE(profiles.stat().st_mode) == 0o600
    text = profiles.read_text()
    engine_text = (folder / "engine.toml").read_text()
    for client in cfg.clients:
        assert client.access_key in text
        assert f"[profiles.{client.name}]" in text
    assert "app_secret_key" not in engine_text and "secret" not in engine_text.split("#")[0]
    assert f"ensync-tui serve --config {folder / 'engine.toml'}" in out
    assert f"ensync-tui --config {profiles} --profile alice" in out
    assert "app_secret_key" not in out
    [account] = cfg.accounts
    assert account.name == "admin" and account.access_key not in out
    assert "management API at http://127.0.0.1:8082/api/v1/ensync" in out


def test_init_profiles_load_as_client_profiles(tmp_path: Path) -> None:
    config = pytest.importorskip("ensync_tui.config")
    assert main(["engine", "init", str(tmp_path), "--clients", "a,b"]) == 0
    loaded = config.load_file(tmp_path / "ensync.toml")
    a = loaded.profiles["a"]
    engine = load_config(tmp_path / "engine.toml")
    assert a["url"] == "ws://127.0.0.1:8082"
    assert a["access_key"] == engine.clients[0].access_key
    assert a["contacts"] == {"b": engine.clients[1].public_key}
    # the explorer starts subscribed to every name the identity may receive
    assert a["subscribe"] == ["orders/created", "orders/status"] == a["message_names"]
    assert engine.clients[0].receive == ["*"]


def test_init_refuses_to_overwrite_and_bad_names(tmp_path: Path, capsys) -> None:
    assert main(["engine", "init", str(tmp_path)]) == 0
    assert main(["engine", "init", str(tmp_path)]) == 1
    assert "already exists (use --force to overwrite)" in capsys.readouterr().err
    assert main(["engine", "init", str(tmp_path), "--force"]) == 0
    assert main(["engine", "init", str(tmp_path / "x"), "--clients", "a,a"]) == 2
    assert main(["engine", "init", str(tmp_path / "x"), "--clients", "bad name"]) == 2
    assert "'bad name' must be letters" in capsys.readouterr().err


def test_serve_without_config_explains(tmp_path: Path, capsys) -> None:
    assert main(["serve"]) == 2
    assert "engine init" in capsys.readouterr().err


def test_serve_reports_config_errors(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "engine.toml"
    bad.write_text('[[clients]]\nname = "a"\naccess_key = "k"\npublic_key = "short"\n')
    assert main(["serve", "--config", str(bad)]) == 2
    assert "engine.toml: clients[0].public_key: not a 32-byte base64 key" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("[engine\n", "engine.toml: not valid TOML"),
        ("colour = 1\n", "engine.toml: colour: unknown key"),
        ("[engine]\nport = 'x'\n", "engine.toml: engine.port: must be an integer 0 to 65535"),
        ("[engine]\nping_interval = 0\n", "engine.toml: engine.ping_interval: must be seconds"),
        ("[engine]\nspeed = 1\n", "engine.toml: engine.speed: unknown key"),
        (
            f'[[clients]]\nname = "a"\naccess_key = "k"\npublic_key = "{KEY}"\n'
            f'[[clients]]\nname = "b"\naccess_key = "k2"\npublic_key = "nope"\n',
            "engine.toml: clients[1].public_key: not a 32-byte base64 key",
        ),
        ('[[clients]]\nname = "a"\n', "engine.toml: clients[0].access_key: missing"),
        (
            f'[[clients]]\nname = "a"\naccess_key = "k"\npublic_key = "{KEY}"\nsend = 3\n',
            "engine.toml: clients[0].send: must be a list of message names or patterns",
        ),
        (
            f'[[clients]]\nname = "a"\naccess_key = "k"\npublic_key = "{KEY}"\n'
            f'[[clients]]\nname = "a"\naccess_key = "k2"\npublic_key = "{KEY}"\n',
            "engine.toml: clients[1].name: 'a' is also the name of another key",
        ),
        (
            '[[messages]]\nname = "x"\nschema = { a = "text" }\n',
            "engine.toml: messages[0].schema.a: unknown type 'text'",
        ),
        (
            '[[messages]]\nname = "x"\n[[messages]]\nname = "x"\n',
            "messages[1].name: 'x' is registered twice",
        ),
        ("clients = 3\n", "engine.toml: clients: must be an array of tables"),
    ],
)
def test_config_errors_name_file_and_key(text: str, error: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "engine.toml", tmp_path)
    assert error in str(info.value)


def test_config_reads_every_field(tmp_path: Path) -> None:
    text = (
        '[engine]\nhost = "0.0.0.0"\nport = 9000\ndb = "data/e.db"\nping_interval = 2.5\n'
        f'[[clients]]\nname = "svc"\naccess_key = "hush-hush"\npublic_key = "{KEY}"\n'
        'send = ["orders/*"]\nreceive = "billing/invoice"\n'
        '[[messages]]\nname = "orders/status"\nschema = { id = "string", n = "long" }\n'
    )
    cfg = parse_config(text, "engine.toml", tmp_path)
    assert (cfg.host, cfg.port, cfg.ping_interval) == ("0.0.0.0", 9000, 2.5)
    assert cfg.db == str(tmp_path / "data/e.db")
    svc = cfg.clients[0]
    assert svc.send == ["orders/*"] and svc.receive == ["billing/invoice"]
    assert svc.may_send("orders/status") and not svc.may_send("billing/invoice")
    assert svc.may_receive("billing/invoice") and not svc.may_receive("orders/status")
    assert cfg.messages[0].schema == {"id": "string", "n": "long"}
    assert "hush-hush" not in repr(svc)
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "missing.toml")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
async def test_serve_runs_logs_and_stops_cleanly(tmp_path: Path, sig: signal.Signals) -> None:
    assert main(["engine", "init", str(tmp_path), "--port", "0"]) == 0
    engine = load_config(tmp_path / "engine.toml")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ensync_tui",
        "serve",
        "--config",
        str(tmp_path / "engine.toml"),
        "--db",
        ":memory:",
        stderr=subprocess.PIPE,
        env=env,
    )
    assert proc.stderr is not None
    lines: list[str] = []
    try:
        port = None
        while port is None:
            line = (await asyncio.wait_for(proc.stderr.readline(), 15)).decode()
            assert line, "serve exited early: " + "".join(lines)
            lines.append(line)
            found = re.search(r"ws://127\.0\.0\.1:(\d+)/message", line)
            port = found and int(found.group(1))
        async with ws_connect(f"ws://127.0.0.1:{port}/message") as ws:
            await ws.send(f"CONN;ACCESS_KEY=:{engine.clients[0].access_key}")
            assert (await ws.recv()).startswith("+PASS:{clientId=")
            await ws.send("CONN;ACCESS_KEY=:wrong")
            assert await ws.recv() == "-FAIL:invalid access key"
        names = await asyncio.to_thread(
            _get_json,
            f"http://127.0.0.1:{port}/api/v1/ensync/event",
            engine.accounts[0].access_key,
        )
        assert {e["name"] for e in names["results"]} == {"orders/created", "orders/status"}
        await asyncio.sleep(0.2)
        proc.send_signal(sig)
        _, rest = await asyncio.wait_for(proc.communicate(), 15)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0
    log = "".join(lines) + rest.decode()
    assert "alice (127.0.0.1:" in log and "authenticated" in log and "disconnected" in log
    assert "-FAIL invalid access key" in log and "engine stopped" in log
    assert f"management API on http://127.0.0.1:{port}/api/v1/ensync" in log
    assert "GET /api/v1/ensync/event -> 200" in log
    for client in [*engine.clients, *engine.accounts]:
        assert client.access_key not in log


def _get_json(url: str, key: str) -> Any:
    request = urllib.request.Request(url, headers={"X-ACCESS-KEY": key})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())


async def test_serve_reports_a_busy_port(tmp_path: Path) -> None:
    assert main(["engine", "init", str(tmp_path)]) == 0
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "ensync_tui",
            "serve",
            "--config",
            str(tmp_path / "engine.toml"),
            "--port",
            str(port),
            "--db",
            ":memory:",
            stderr=subprocess.PIPE,
            env=env,
        )
        _, err = await asyncio.wait_for(proc.communicate(), 15)
    finally:
        server.close()
    assert proc.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in err.decode()


def test_config_reads_the_connection_limits(tmp_path: Path) -> None:
    text = "[engine]\nconn_timeout = 2.5\nmax_connections = 50\noutbox_mib = 4\n"
    cfg = parse_config(text, "engine.toml", tmp_path)
    assert (cfg.conn_timeout, cfg.max_connections, cfg.outbox_mib) == (2.5, 50, 4.0)
    for bad, says in (
        ("conn_timeout = 0", "engine.conn_timeout: must be seconds"),
        ("max_connections = 0", "engine.max_connections: must be an integer 1 to 1000000"),
        ("max_connections = true", "engine.max_connections: must be an integer"),
        ("outbox_mib = 0.5", "engine.outbox_mib: must be MiB, 1 <= n <= 1024"),
    ):
        with pytest.raises(ConfigError, match=says):
            parse_config(f"[engine]\n{bad}\n", "engine.toml", tmp_path)


def test_serve_flags_override_the_limits(tmp_path: Path) -> None:
    import argparse

    from ensync_tui.cli.serve import _serve_config

    assert main(["engine", "init", str(tmp_path)]) == 0
    args = argparse.Namespace(
        engine_config=str(tmp_path / "engine.toml"),
        **dict.fromkeys(
            ("host", "port", "db", "tls_cert", "tls_key", "ping_interval", "outbox_mib"), None
        ),
        conn_timeout=1.5,
        max_connections=7,
    )
    cfg = _serve_config(args)
    assert (cfg.conn_timeout, cfg.max_connections, cfg.outbox_mib) == (1.5, 7, 8)
