"""What the headless commands say when something goes wrong part-way."""

from __future__ import annotations

import json

import pytest

from ensync_tui.cli.publish import parse_payloads
from ensync_tui.cli.running import connect_failure
from ensync_tui.errors import UsageError


def lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


# ------------------------------------------------------------------ publish input


def test_ndjson_keeps_the_input_line_numbers():
    text = '{"n": 1}\n\n{"n": 2}\n'
    assert parse_payloads(text, "f") == [(1, {"n": 1}), (3, {"n": 2})]


def test_ndjson_bad_line_names_its_line_and_that_nothing_was_sent():
    with pytest.raises(UsageError) as err:
        parse_payloads('{"n": 1}\n{"n": 2}\nnot json\n{"n": 4}\n', "bad.ndjson")
    assert str(err.value) == (
        "bad.ndjson: invalid JSON at line 3, column 1: Expecting value (nothing sent)"
    )


def test_pretty_printed_json_reports_the_document_error():
    with pytest.raises(UsageError) as err:
        parse_payloads('{\n  "a": 1,\n}\n', "one.json")
    message = str(err.value)
    assert message.startswith("one.json: invalid JSON: ")
    assert "(line 3, column 1)" in message and "line 1:" not in message


# ------------------------------------------------------------------ publish at run time


def test_ndjson_failure_midway_says_what_was_sent(cli, engine, tmp_path):
    bob = engine.ids["bob"].public_key
    good = '{"orderId": "o", "total": 1.5}'
    (tmp_path / "orders.ndjson").write_text(f'{good}\n\n{good}\n{{"orderId": 3}}\n{good}\n')
    proc = cli(
        "publish", "orders/created", "--to", bob, "--payload", "@orders.ndjson",
        env=engine.env("alice"), cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 1
    out = lines(proc.stdout)
    assert [o["line"] for o in out] == [1, 3]  # the input's own line numbers
    assert all(engine.state(o["idem"], "bob") == "pending" for o in out)
    err = proc.stderr.splitlines()
    assert err[0].startswith("ensync-tui: error: publish orders/created: line 4: schema")
    assert err[1] == (
        "ensync-tui: 2 of 4 messages sent; stopped at line 4 (nothing after it was sent)"
    )
    assert "Traceback" not in proc.stderr


def test_delivered_recipients_are_printed_when_another_fails(cli, engine):
    from ensync_tui.client.crypto import generate_keypair

    bob = engine.ids["bob"].public_key
    stranger, _ = generate_keypair()  # a valid key the engine does not know
    proc = cli(
        "publish", "orders/status", "--to", bob, stranger, "--payload", '{"a": 1}',
        "--no-hybrid", env=engine.env("alice"),
    )  # fmt: skip
    assert proc.returncode == 1
    [out] = lines(proc.stdout)
    assert out["recipient"] == bob and engine.state(out["idem"], "bob") == "pending"
    assert "unknown recipient" in proc.stderr
    assert "(delivered to 1 of 2 recipients)" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_oversize_payload_explains_the_limit(cli, engine):
    bob = engine.ids["bob"].public_key
    payload = json.dumps({"d": "x" * (3 * 1024 * 1024)}, separators=(",", ":"))
    proc = cli(
        "publish", "orders/status", "--to", bob, "--payload", "-",
        input=payload, env=engine.env("alice"),
    )  # fmt: skip
    assert proc.returncode == 1 and proc.stdout == ""
    assert "over the 4194304-byte limit" in proc.stderr
    assert f"this JSON is {len(payload)} bytes" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


# ------------------------------------------------------------------ tail


def test_tail_leaves_undecryptable_messages_pending(cli, engine):
    bob = engine.ids["bob"].public_key
    proc = cli("publish", "orders/status", "--to", bob, "--payload", "{}", env=engine.env("alice"))
    idem = lines(proc.stdout)[0]["idem"]
    env = engine.env("bob") | {"ENSYNC_APP_SECRET_KEY": engine.ids["carol"].secret_key}
    proc = cli("tail", "orders/status", "--count", "1", env=env)
    assert proc.returncode == 1 and lines(proc.stdout)[0]["idem"] == idem
    assert "(left unacknowledged)" in proc.stderr
    assert engine.state(idem, "bob") == "pending"  # the right key can still read it
    proc = cli("tail", "orders/status", "--count", "1", env=engine.env("bob"))
    assert proc.returncode == 0 and lines(proc.stdout)[0]["payload"] == {}
    assert engine.state(idem, "bob") == "acked"


def test_tail_without_a_secret_key_says_so_first(cli, engine):
    bob = engine.ids["bob"].public_key
    cli("publish", "orders/status", "--to", bob, "--payload", "{}", env=engine.env("alice"))
    env = engine.env("bob") | {"ENSYNC_APP_SECRET_KEY": ""}
    proc = cli("tail", "orders/status", "--count", "1", env=env)
    assert proc.returncode == 1
    assert proc.stderr.startswith("ensync-tui: no app secret key: payloads cannot be decrypted")


def test_tail_empty_name_is_a_usage_error(cli):
    proc = cli("tail", " ", "--url", "ws://127.0.0.1:9", "--access-key", "k")
    assert proc.returncode == 2
    assert proc.stderr == "ensync-tui: tail: a message name cannot be empty\n"


async def test_tail_reports_a_drop_then_each_failed_attempt(capsys):
    from ensync_tui.cli.tail import _watch
    from ensync_tui.client import ConnectionState

    states = [
        ConnectionState("reconnecting", 1, 0.5, "connection closed by the engine (code 1001)"),
        ConnectionState("connecting", 1),
        ConnectionState("reconnecting", 2, 1.25, "cannot connect to ws://h/message: refused"),
        ConnectionState("connecting", 2),
        ConnectionState("connected"),
    ]

    class Client:
        async def state_changes(self):
            for state in states:
                yield state

    await _watch(Client())
    assert capsys.readouterr().err.splitlines() == [
        "ensync-tui: connection lost: connection closed by the engine (code 1001); "
        "reconnecting in 0.5s",
        "ensync-tui: reconnect attempt 1 failed: cannot connect to ws://h/message: refused; "
        "retrying in 1.2s",
        "ensync-tui: reconnected",
    ]


# ------------------------------------------------------------------ connecting and replay


def test_connect_failure_text():
    from ensync_tui.client import EnSyncConnectionError

    dup = EnSyncConnectionError("cannot connect to ws://h:1/message: refused")
    assert connect_failure("ws://h:1", dup) == "cannot connect to ws://h:1/message: refused"
    auth = EnSyncConnectionError("invalid access key")
    # both name the engine by the URL the client dialed, whoever wrote the reason
    assert (
        connect_failure("ws://h:1", auth)
        == "cannot connect to ws://h:1/message: invalid access key"
    )
    assert connect_failure("http://h:1/", auth).startswith("cannot connect to ws://h:1/message: ")


def test_wss_url_to_a_plain_engine_says_why(cli, engine):
    env = engine.env("bob") | {"ENSYNC_URL": engine.url.replace("ws://", "wss://")}
    proc = cli("tail", "orders/status", "--count", "1", env=env, timeout=30)
    assert proc.returncode == 1
    assert "does it serve plain ws:// instead?" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_replay_by_the_sender_says_why_it_cannot_decrypt(cli, engine):
    bob = engine.ids["bob"].public_key
    proc = cli("publish", "orders/status", "--to", bob, "--payload", "{}", env=engine.env("alice"))
    idem = lines(proc.stdout)[0]["idem"]
    proc = cli("replay", "orders/status", idem, env=engine.env("alice"))
    assert proc.returncode == 1 and lines(proc.stdout)[0]["idem"] == idem
    assert "this identity sent it: it is encrypted for its recipients only" in proc.stderr


# ------------------------------------------------------------------ config show --json


def test_config_show_json_has_json_types(cli, tmp_path):
    (tmp_path / "ensync.toml").write_text('[profiles.dev]\nsubscribe = ["a", "b"]\n')
    env = {"ENSYNC_URL": "ws://127.0.0.1:1", "ENSYNC_ACCESS_KEY": "k" * 20}
    proc = cli("config", "show", "--json", env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    shown = json.loads(proc.stdout)
    assert shown["subscribe"] == ["a", "b"] and shown["insecure"] is False
    assert shown["history"] == 100000 and shown["auto_ack"] is False
    assert shown["ca_file"] is None and shown["app_secret_key"] is None
    assert shown["access_key"].startswith("kkkk") and "k" * 20 not in proc.stdout


async def test_tail_interrupted_still_acknowledges_what_it_printed(monkeypatch, capsys):
    import asyncio
    from contextlib import asynccontextmanager

    from ensync_tui.cli import running, tail
    from ensync_tui.settings import Settings

    release, started = asyncio.Event(), asyncio.Event()
    acked: list[str] = []

    class Sub:
        def handler(self, func):
            self.deliver = func

        def __await__(self):
            yield from asyncio.sleep(0).__await__()
            return self

        async def ack(self, idem, block):
            started.set()
            await release.wait()  # an ack whose answer is still on its way
            acked.append(idem)

    sub = Sub()

    class Client:
        def subscribe(self, name, auto_ack):
            return sub

        async def state_changes(self):
            await asyncio.Event().wait()
            yield

    @asynccontextmanager
    async def connect(settings, reconnect=False):
        yield Client()

    monkeypatch.setattr(running, "connect", connect)
    settings = Settings(url="ws://x", access_key="k", app_secret_key="s")
    task = asyncio.create_task(tail._tail(settings, ["n"], False, None))
    while not hasattr(sub, "deliver"):
        await asyncio.sleep(0)
    sub.deliver({"messageName": "n", "idem": "i-1", "block": 1, "payload": {}})
    await asyncio.wait_for(started.wait(), 5)
    task.cancel()  # Ctrl+C while the ack is in flight
    asyncio.get_running_loop().call_later(0.05, release.set)
    with pytest.raises(asyncio.CancelledError):
        await task
    assert acked == ["i-1"]
    assert json.loads(capsys.readouterr().out)["idem"] == "i-1"


def test_config_show_names_the_environment_it_used(cli):
    proc = cli("config", "show", env={"ENSYNC_URL": "ws://127.0.0.1:1"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[:2] == [
        "# files read: (none)",
        "# from the environment: ENSYNC_URL",
    ]


def test_replay_empty_idem_is_a_usage_error(cli):
    proc = cli("replay", "orders/status", "", "--url", "ws://127.0.0.1:9", "--access-key", "k")
    assert proc.returncode == 2
    assert proc.stderr == "ensync-tui: replay: a message name or idem cannot be empty\n"


def test_help_explains_payload_and_config_show(cli):
    proc = cli("publish", "--help")
    assert "NDJSON input publishes one message a line" in " ".join(proc.stdout.split())
    proc = cli("config", "show", "--help")
    assert "secrets redacted" in " ".join(proc.stdout.split())


async def test_acks_lost_with_the_connection_are_said_once(capsys):
    from ensync_tui.cli.tail import _ack, _watch
    from ensync_tui.client import ConnectionState, EnSyncConnectionError

    class Sub:
        async def ack(self, idem, block):
            raise EnSyncConnectionError("connection lost before the ACK answer: ")

    lost = [0]
    for i in range(3):
        await _ack(Sub(), f"i-{i}", i, lost)
    assert lost == [3] and capsys.readouterr().err == ""

    class Client:
        async def state_changes(self):
            yield ConnectionState("reconnecting", 1, 0.5, "gone")
            yield ConnectionState("connected")

    await _watch(Client(), lost)
    assert capsys.readouterr().err.splitlines()[-1] == (
        "ensync-tui: reconnected (3 acknowledgements lost with the connection: "
        "those messages come again)"
    )
    assert lost == [0]


def test_tail_stops_on_sigterm_like_on_ctrl_c(cli, engine):
    import os
    import signal
    import subprocess
    import sys

    from tests.cli.conftest import ROOT

    env = dict(os.environ) | {"PYTHONPATH": str(ROOT)} | engine.env("bob")
    tail = subprocess.Popen(
        [sys.executable, "-m", "ensync_tui", "tail", "orders/status"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        assert tail.stdout is not None
        bob = engine.ids["bob"].public_key
        proc = cli(
            "publish", "orders/status", "--to", bob, "--payload", "{}", env=engine.env("alice")
        )
        idem = lines(proc.stdout)[0]["idem"]
        assert json.loads(tail.stdout.readline())["idem"] == idem
        tail.send_signal(signal.SIGTERM)
        _out, err = tail.communicate(timeout=30)
    finally:
        if tail.poll() is None:
            tail.kill()
    assert tail.returncode == 143 and err == ""
    assert engine.state(idem, "bob") == "acked"
