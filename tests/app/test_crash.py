"""A crash of the explorer: a private, redacted report, and one line that says where it is."""

from __future__ import annotations

import stat

import pytest

from ensync_tui.app import EnsyncApp
from ensync_tui.client import crypto
from ensync_tui.settings import Settings
from tests.app.conftest import SIZE, wait_for
from tests.leaks import assert_no_secret

ACCESS_KEY = "access-" + "Q7wZ" * 8


async def test_a_crash_shows_no_locals_and_no_secret_and_says_where_the_report_is(capfd):
    _, secret = crypto.generate_keypair()
    settings = Settings(url="ws://127.0.0.1:9", access_key=ACCESS_KEY, app_secret_key=secret)
    app = EnsyncApp(settings, start_session=False)

    def handler_that_fails() -> None:
        secret_key = app.controller.settings.app_secret_key or ""  # a local Textual used to print
        raise RuntimeError(f"cannot go on with {secret_key[:40]}")

    with pytest.raises(RuntimeError):
        async with app.run_test(size=SIZE) as pilot:
            app.call_later(handler_that_fails)
            await wait_for(pilot, lambda: app.return_code is not None, what="the crash")
    assert app.return_code == 1
    printed = capfd.readouterr().err
    report = app.crash_report
    assert report is not None and report.exists()
    assert str(report) in printed.replace("\n", "")
    assert "RuntimeError" in printed
    assert "─ locals ─" not in printed and "secret_key =" not in printed
    assert_no_secret(printed, [secret, ACCESS_KEY], "the terminal after the crash")
    assert stat.S_IMODE(report.stat().st_mode) == 0o600
    text = report.read_text()
    assert "handler_that_fails" in text and "RuntimeError" in text
    assert_no_secret(text, [secret, ACCESS_KEY], "the crash report")


async def test_only_the_first_error_is_reported():
    app = EnsyncApp(Settings(), start_session=False)

    def fail(n: int) -> None:
        raise ValueError(f"error {n}")

    with pytest.raises(ValueError, match="error 1"):
        async with app.run_test(size=SIZE) as pilot:
            app.call_later(fail, 1)
            app.call_later(fail, 2)
            await wait_for(pilot, lambda: app.return_code is not None, what="the crash")
    reports = list(app.crash_report.parent.iterdir())
    assert reports == [app.crash_report]
    assert "error 1" in app.crash_report.read_text()
