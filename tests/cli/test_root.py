"""The root invocation resolves Settings and hands them to the app."""

from __future__ import annotations

import asyncio

import pytest

from ensync_tui.cli.main import main
from ensync_tui.client.crypto import generate_keypair
from ensync_tui.config import user_config_path
from ensync_tui.demo import Demo


@pytest.fixture
def launched(monkeypatch):
    import ensync_tui.app

    calls = []

    def fake_run_app(settings, demo=None, recorder=None, recording=None):
        calls.append((settings, demo))
        return 0

    monkeypatch.setattr(ensync_tui.app, "run_app", fake_run_app)
    return calls


def test_no_engine_passes_incomplete_settings(launched):
    assert main([]) == 0
    [(settings, demo)] = launched
    assert demo is None and not settings.can_connect


def test_flags_become_settings(launched, tmp_path):
    _, secret = generate_keypair()
    (tmp_path / "ca.pem").write_text("x")
    code = main(
        [
            "--url", "wss://engine.example:443", "--access-key", "ak", "--app-secret-key", secret,
            "--subscribe", "orders/created", "orders/status", "--history", "50", "--auto-ack",
            "--ca-file", "ca.pem", "--insecure",
        ]
    )  # fmt: skip
    assert code == 0
    [(s, demo)] = launched
    assert demo is None
    assert (s.url, s.access_key, s.app_secret_key) == ("wss://engine.example:443", "ak", secret)
    assert s.subscribe == ["orders/created", "orders/status"]
    assert (s.history, s.auto_ack, s.insecure, s.ca_file) == (50, True, True, "ca.pem")


def test_profile_from_user_config(launched):
    path = user_config_path()
    path.parent.mkdir(parents=True)
    path.write_text('[profiles.dev]\nurl = "ws://127.0.0.1:8082"\naccess_key = "k"\n')
    assert main(["--profile", "dev"]) == 0
    assert launched[0][0].profile == "dev" and launched[0][0].can_connect


def test_demo_flag(launched):
    assert main(["--demo", "--seed", "7", "--demo-rate", "5"]) == 0
    [(_settings, demo)] = launched
    assert isinstance(demo, Demo) and demo.seed == 7 and demo.rate == 5.0
    assert not demo.running  # the app starts it


def test_bad_config_is_exit_2_before_the_app(launched, tmp_path, capsys):
    (tmp_path / "ensync.toml").write_text("[profiles.x]\nurl = 3\n")
    assert main([]) == 2
    assert not launched
    assert "ensync.toml: profiles.x.url: must be a non-empty string" in capsys.readouterr().err


def test_demo_takes_the_explorer_flags(launched, tmp_path):
    (tmp_path / "ensync.toml").write_text('[keys]\nquit = "ctrl+q"\n')
    code = main(["--demo", "--history", "100", "--auto-ack", "--subscribe", "orders/status"])
    assert code == 0
    [(settings, demo)] = launched
    assert (settings.history, settings.auto_ack) == (100, True)
    assert settings.subscribe == ["orders/status"] and settings.keys == {"quit": "ctrl+q"}
    assert demo.rate == 6.0


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["--demo", "--url", "ws://127.0.0.1:1"], "--url: not used with --demo"),
        (["--demo", "--profile", "dev"], "--profile: not used with --demo"),
        (["--demo", "--access-key", "k"], "--access-key: not used with --demo"),
        (["--demo", "--demo-rate", "1000"], "--demo-rate: must be 0 to 500 messages a second"),
        (["--demo", "--demo-rate", "nan"], "--demo-rate: must be 0 to 500"),
        (["--demo-rate", "10"], "--demo-rate and --seed: only with --demo"),
        (["--seed", "3"], "--demo-rate and --seed: only with --demo"),
    ],
)
def test_flags_the_demo_cannot_honour_are_refused(launched, capsys, argv, said):
    assert main(argv) == 2
    assert not launched
    err = capsys.readouterr().err
    assert said in err and len(err.strip().splitlines()) == 1


async def test_the_demo_keeps_the_history_size_asked_for():
    from ensync_tui.app import EnsyncApp
    from ensync_tui.app.widgets import StatusBar
    from ensync_tui.settings import Settings

    app = EnsyncApp(Settings(history=100, auto_ack=True), Demo(seed=0, rate=20))
    async with app.run_test(size=(160, 45)) as pilot:
        async with asyncio.timeout(20):
            while not (app.controller.subscriptions and app.controller.history.received):
                await pilot.pause(0.05)
        assert app.controller.history.maxlen == 100 and app.controller.auto_ack
        assert "(max 100)" in str(app.query_one(StatusBar).render())


def test_demo_messages_keep_the_rate_asked_for():
    import random

    from ensync_tui.demo.local import MAX_RATE, Pace

    def sent_in(seconds: float, rate: float, cost: float) -> int:
        pace, now, count = Pace(rate, random.Random(1), 0.0), 0.0, 0
        while now < seconds:
            now += pace.wait(now) + cost  # the wait, then the publish takes ``cost``
            count += 1
        return count

    assert 0.9 * 3000 < sent_in(10, 300, 0.0001) < 1.1 * 3000
    assert 0.9 * 5000 < sent_in(10, MAX_RATE, 0.0001) < 1.1 * 5000
    assert 0.9 * 60 < sent_in(10, 6, 0.0001) < 1.1 * 60
    # a machine that publishes 100 a second at most does that, without bursts after
    assert 990 <= sent_in(10, 300, 0.01) <= 1001
