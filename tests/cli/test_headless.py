"""tail, publish and replay against a local engine, through the real command."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest

from tests.cli.conftest import ROOT


def lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_publish_then_tail_as_recipient(cli, engine):
    bob = engine.ids["bob"].public_key
    proc = cli(
        "publish", "orders/created", "--to", bob,
        "--payload", '{"orderId": "o-1", "total": 12.5}',
        "--header", "traceId=abc", "--header", "content-type=application/json",
        env=engine.env("alice"),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    [out] = lines(proc.stdout)
    assert out["messageName"] == "orders/created" and out["recipient"] == bob
    assert out["idem"] and out["block"] is not None
    assert engine.state(out["idem"], "bob") == "pending"

    proc = cli("tail", "orders/created", "--count", "1", env=engine.env("bob"))
    assert proc.returncode == 0, proc.stderr
    [rec] = lines(proc.stdout)
    assert set(rec) == {
        "messageName", "idem", "block", "timestamp", "sender", "metadata", "payload",
        "decryptError",
    }  # fmt: skip
    assert rec["payload"] == {"orderId": "o-1", "total": 12.5}
    assert rec["decryptError"] is None and rec["idem"] == out["idem"]
    assert rec["sender"] == engine.ids["alice"].public_key
    assert rec["metadata"]["headers"] == {"traceId": "abc", "content-type": "application/json"}
    assert engine.state(out["idem"], "bob") == "acked"  # tail acknowledges what it printed


def test_publish_ndjson_stdin_file_and_contacts(cli, engine, tmp_path):
    bob, carol = engine.ids["bob"].public_key, engine.ids["carol"].public_key
    (tmp_path / "ensync.toml").write_text(
        f'[profiles.test.contacts]\nbob = "{bob}"\ncarol = "{carol}"\n'
    )
    ndjson = "".join(json.dumps({"n": i, "nested": {"x": [i]}}) + "\n" for i in range(3))
    proc = cli(
        "publish", "orders/status", "--to", "bob", "--payload", "-",
        input=ndjson, env=engine.env("alice"),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    out = lines(proc.stdout)
    assert [o["line"] for o in out] == [1, 2, 3]
    assert len({o["idem"] for o in out}) == 3

    (tmp_path / "one.json").write_text('{\n  "n": 3,\n  "nested": {}\n}\n')
    proc = cli(
        "publish", "orders/status", "--to", "bob", "carol", "self", "--payload", "@one.json",
        env=engine.env("alice"),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    out = lines(proc.stdout)
    assert {o["recipient"] for o in out} == {bob, carol, engine.ids["alice"].public_key}

    proc = cli("tail", "orders/status", "--count", "4", env=engine.env("bob"))
    assert proc.returncode == 0, proc.stderr
    assert [r["payload"]["n"] for r in lines(proc.stdout)] == [0, 1, 2, 3]
    proc = cli("tail", "orders/status", "--count", "1", env=engine.env("carol"))
    assert lines(proc.stdout)[0]["payload"] == {"n": 3, "nested": {}}


def test_publish_takes_what_the_composer_takes(cli, engine, tmp_path):
    """The one publishing Draft: contacts in any case, recipients split on spaces,
    commas and new lines, every problem said at once and before connecting."""
    bob, carol = engine.ids["bob"].public_key, engine.ids["carol"].public_key
    (tmp_path / "ensync.toml").write_text(
        f'[profiles.test.contacts]\nBob = "{bob}"\ncarol = "{carol}"\n'
    )
    proc = cli(
        "publish", "orders/status", "--to", "bob,CAROL\nSelf", "BOB", "--payload", "{}",
        "--header", "trace = abc", env=engine.env("alice"),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    out = lines(proc.stdout)
    assert [o["recipient"] for o in out] == [bob, carol, engine.ids["alice"].public_key]
    proc = cli("tail", "orders/status", "--count", "1", env=engine.env("carol"))
    assert lines(proc.stdout)[0]["metadata"]["headers"] == {"trace": "abc"}
    proc = cli(
        "publish", "bad name", "--to", "dave", "eve", "--header", "x", "--payload", "{}",
        "--url", "ws://127.0.0.1:9", "--access-key", "k",
    )  # fmt: skip
    assert proc.returncode == 2
    known = "(known: self, Bob, carol)"
    assert proc.stderr == (
        "ensync-tui: NAME: 'bad name' is not a message name (no spaces or ';'); "
        f"--to: 'dave' is neither a public key nor a contact {known}; "
        f"--to: 'eve' is neither a public key nor a contact {known}; "
        "--header: expected key=value, got 'x'\n"
    )
    # one argument as a shell user quotes it: the known names go, each unknown one is named
    proc = cli(
        "publish", "orders/status", "--to", "self Bob bogus,nobody", "--payload", "{}",
        "--url", "ws://127.0.0.1:9", "--access-key", "k",
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr == (
        f"ensync-tui: --to: 'bogus' is neither a public key nor a contact {known}; "
        f"--to: 'nobody' is neither a public key nor a contact {known}\n"
    )


def test_publish_no_hybrid_and_no_persist(cli, engine):
    bob, carol = engine.ids["bob"].public_key, engine.ids["carol"].public_key
    proc = cli(
        "publish", "orders/status", "--to", bob, carol, "--payload", '{"a": 1}',
        "--no-hybrid", "--no-persist", env=engine.env("alice"),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert len(lines(proc.stdout)) == 2
    proc = cli("tail", "orders/status", "--count", "1", env=engine.env("carol"))
    [rec] = lines(proc.stdout)
    assert rec["payload"] == {"a": 1} and rec["metadata"]["persist"] is False


def test_publish_refused_is_exit_1(cli, engine):
    bob = engine.ids["bob"].public_key
    proc = cli(
        "publish", "orders/created", "--to", bob, "--payload", '{"orderId": 5}',
        env=engine.env("alice"),
    )  # fmt: skip
    assert proc.returncode == 1
    assert proc.stderr.startswith("ensync-tui: error: publish orders/created:")
    assert "schema" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    proc = cli("publish", "no/such", "--to", bob, "--payload", "{}", env=engine.env("alice"))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr


def test_manual_ack_leaves_messages_pending(cli, engine):
    bob = engine.ids["bob"].public_key
    proc = cli("publish", "orders/status", "--to", bob, "--payload", "{}", env=engine.env("alice"))
    idem = lines(proc.stdout)[0]["idem"]
    proc = cli("tail", "orders/status", "--count", "1", "--manual-ack", env=engine.env("bob"))
    assert proc.returncode == 0 and lines(proc.stdout)[0]["idem"] == idem
    assert engine.state(idem, "bob") == "pending"
    proc = cli("tail", "orders/status", "--count", "1", env=engine.env("bob"))
    assert lines(proc.stdout)[0]["idem"] == idem  # delivered again
    assert engine.state(idem, "bob") == "acked"


def test_replay_ok_and_failing_idem(cli, engine):
    bob = engine.ids["bob"].public_key
    proc = cli(
        "publish", "orders/status", "--to", bob, "--payload", '{"k": "v"}', env=engine.env("alice")
    )
    idem = lines(proc.stdout)[0]["idem"]
    proc = cli("replay", "orders/status", idem, env=engine.env("bob"))
    assert proc.returncode == 0, proc.stderr
    assert lines(proc.stdout)[0]["payload"] == {"k": "v"}

    proc = cli("replay", "orders/status", "nope-1", idem, env=engine.env("bob"))
    assert proc.returncode == 1
    assert [r["idem"] for r in lines(proc.stdout)] == [idem]  # the rest still ran
    assert proc.stderr.startswith("ensync-tui: error: replay nope-1:")
    assert "Traceback" not in proc.stderr

    # carol is no party to it: the engine refuses
    proc = cli("replay", "orders/status", idem, env=engine.env("carol"))
    assert proc.returncode == 1 and proc.stdout == ""

    # alice sent it but cannot decrypt it: the record is printed, decryptError set
    proc = cli("replay", "orders/status", idem, env=engine.env("alice"))
    assert proc.returncode == 1
    [rec] = lines(proc.stdout)
    assert rec["payload"] is None and rec["decryptError"]


def test_wrong_access_key_is_exit_1(cli, engine):
    env = engine.env("bob") | {"ENSYNC_ACCESS_KEY": "not-a-key"}
    proc = cli("tail", "orders/status", "--count", "1", env=env, timeout=30)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.startswith("ensync-tui: error: cannot connect")
    assert len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("ignored", [False, True], ids=["foreground", "started-ignoring"])
def test_tail_interrupt_exits_cleanly(cli, engine, ignored):
    import os
    import selectors

    env = dict(os.environ) | {"PYTHONPATH": str(ROOT)} | engine.env("bob")
    # a command started from a script with `&` inherits SIGINT ignored: a Ctrl+C
    # sent on purpose must still stop it
    launcher = ["sh", "-c", 'trap "" INT; exec "$@"', "sh"] if ignored else []
    proc = subprocess.Popen(
        [*launcher, sys.executable, "-m", "ensync_tui", "tail", "orders/status"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        bob = engine.ids["bob"].public_key
        cli("publish", "orders/status", "--to", bob, "--payload", "{}", env=engine.env("alice"))
        with selectors.DefaultSelector() as sel:  # the first record proves it is subscribed
            sel.register(proc.stdout, selectors.EVENT_READ)
            assert sel.select(timeout=20), "tail printed nothing"
        assert json.loads(proc.stdout.readline())["payload"] == {}
        proc.send_signal(signal.SIGINT)
        try:
            _out, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            _out, err = proc.communicate()
            raise AssertionError(f"tail did not stop on Ctrl+C; stderr: {err}") from None
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode in (0, 130), err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err


def test_tail_decrypt_error_is_printed_and_exit_1(cli, engine):
    bob = engine.ids["bob"].public_key
    cli("publish", "orders/status", "--to", bob, "--payload", '{"s": 1}', env=engine.env("alice"))
    env = engine.env("bob") | {"ENSYNC_APP_SECRET_KEY": engine.ids["carol"].secret_key}
    proc = cli("tail", "orders/status", "--count", "1", env=env)
    assert proc.returncode == 1
    [rec] = lines(proc.stdout)
    assert rec["payload"] is None and "decrypt" in rec["decryptError"]
    assert proc.stderr.startswith(f"ensync-tui: error: decrypt {rec['idem']}:")


def test_tail_several_names(cli, engine):
    bob = engine.ids["bob"].public_key
    env = engine.env("alice")
    cli("publish", "orders/status", "--to", bob, "--payload", '{"a": 1}', env=env)
    cli("publish", "orders/created", "--to", bob, "--payload", '{"orderId": "o", "total": 1.5}',
        env=env)  # fmt: skip
    proc = cli("tail", "orders/created", "orders/status", "--count", "2", env=engine.env("bob"))
    assert proc.returncode == 0, proc.stderr
    assert {r["messageName"] for r in lines(proc.stdout)} == {"orders/created", "orders/status"}
