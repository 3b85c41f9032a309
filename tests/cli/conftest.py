"""Helpers for the command-line tests.

``cli`` runs a command in this process (``ensync_tui.cli.main.main``), with its
own environment, folder, stdin and captured output, so that coverage sees the
commands. ``cli_process`` runs `python -m ensync_tui` in a subprocess: for
what only a real process shows (signals, exit codes, what it imports).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_cli(
    *args: str,
    input: str | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 60,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    full_env = dict(os.environ)
    full_env["PYTHONPATH"] = str(ROOT)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "ensync_tui", *args],
        input=input,
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        cwd=cwd,
    )


def run_in_process(
    monkeypatch: pytest.MonkeyPatch,
    *args: str,
    input: str | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 60,  # the subprocess's; here pytest-timeout stops a hang
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """`ensync-tui ARGS` as a fresh process would run it, in this process."""
    from ensync_tui.cli import output
    from ensync_tui.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    known = set(output.secrets)
    output.secrets.clear()  # what a new process knows: nothing yet
    try:
        with monkeypatch.context() as m:
            for key, value in (env or {}).items():
                m.setenv(key, value)
            if cwd is not None:
                m.chdir(cwd)
            m.setattr(sys, "stdin", io.StringIO(input or ""))
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = main(list(args))
    finally:
        output.secrets.clear()
        output.secrets.update(known)
    return subprocess.CompletedProcess(["ensync-tui", *args], code, out.getvalue(), err.getvalue())


@pytest.fixture
def cli(monkeypatch):
    """Run a command in this process; same arguments as run_cli."""

    def run(*args: str, **kwargs) -> subprocess.CompletedProcess[str]:
        return run_in_process(monkeypatch, *args, **kwargs)

    return run


@pytest.fixture
def cli_process():
    return run_cli


@pytest.fixture(autouse=True)
def _logging_as_before():
    """A command run in this process installs log handlers: take them away after."""
    import logging

    from ensync_tui.cli.logs import remove_handlers

    yield
    remove_handlers()
    logging.getLogger("ensync_tui").setLevel(logging.NOTSET)


class LoopThread:
    """An event loop running on its own thread, with a server on it (``server``
    has async ``stop``), so that a command can run its own loop in this one."""

    server: Any

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def call(self, coro, timeout: float = 20):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        try:
            self.call(self.server.stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
            self.loop.close()


class ThreadedEngine(LoopThread):
    """A local EnSyncServer on its own loop in a thread."""

    def __init__(self, names: list[str], messages: list, **cfg) -> None:
        from ensync_tui.engine import EngineServer
        from ensync_tui.engine.sandbox import make_identities, sandbox_config

        super().__init__()
        self.ids = make_identities(names)
        self.server = EngineServer(sandbox_config(self.ids, messages, port=0, db=":memory:", **cfg))
        self.call(self.server.start())
        self.url = self.server.url

    def state(self, idem: str, name: str) -> str | None:
        return self.server.store.delivery_state(idem, self.ids[name].public_key)

    def env(self, name: str) -> dict[str, str]:
        ident = self.ids[name]
        return {
            "ENSYNC_URL": self.url,
            "ENSYNC_ACCESS_KEY": ident.access_key,
            "ENSYNC_APP_SECRET_KEY": ident.secret_key,
        }


@pytest.fixture
def engine():
    from ensync_tui.engine import MessageSpec

    messages = [
        MessageSpec("orders/created", {"orderId": "string", "total": "double"}),
        MessageSpec("orders/status"),
        MessageSpec("bench/load"),
    ]
    eng = ThreadedEngine(["alice", "bob", "carol"], messages)
    try:
        yield eng
    finally:
        eng.close()
