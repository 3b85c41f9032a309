"""`ensync-tui web`: a tab gets an explorer, and no explorer outlives its tab or
the server (closed tab, dropped browser, SIGTERM or Ctrl+C of `web`, a killed
server); the token and the Origin check; no secret in a process's arguments or
environment."""

from __future__ import annotations

import asyncio
import fcntl
import os
import re
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import aiohttp
import pytest

from ensync_tui.cli.web_server import DRIVER
from tests.cli.conftest import ROOT

GONE_WITHIN = 2.0


class Web:
    """A running `ensync-tui web` process and the URL it printed."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        full = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ensync_tui", "web", "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=full,
        )
        assert self.proc.stdout is not None
        self.first = self.proc.stdout.readline()
        found = re.search(r"(http://[^/\s]+)/(\S*)", self.first)
        assert found, self.first + self.proc.stderr.read()  # type: ignore[union-attr]
        self.base, self.query = found.group(1), found.group(2)

    def ws_url(self, token: str = "-") -> str:
        return self.base.replace("http://", "ws://") + f"/ws/{token}?width=100&height=30"

    def children(self) -> list[int]:
        return children_of(self.proc.pid)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        self.proc.send_signal(sig)
        return self.proc.wait(10)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def gone_within(pids: list[int], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not any(alive(p) for p in pids):
            return True
        time.sleep(0.02)
    return not any(alive(p) for p in pids)


async def open_tab(web: Web, session: aiohttp.ClientSession, token: str = "-"):
    """A tab: the websocket open and the explorer drawing (some output seen)."""
    ws = await session.ws_connect(web.ws_url(token))
    seen = b""
    deadline = time.monotonic() + 30
    while b"ensync-tui" not in seen and b"received" not in seen:
        assert time.monotonic() < deadline, "the explorer never drew"
        message = await ws.receive(timeout=30)
        if message.type == aiohttp.WSMsgType.BINARY:
            seen += message.data
        elif message.type != aiohttp.WSMsgType.TEXT:
            raise AssertionError(f"the tab closed: {message}")
    return ws


@pytest.fixture
def web():
    started: list[Web] = []

    def start(*args: str, **kwargs) -> Web:
        one = Web(*args, **kwargs)
        started.append(one)
        return one

    yield start
    for one in started:
        one.close()


@pytest.mark.parametrize("how", ["close", "drop"])
async def test_a_closed_or_dropped_tab_ends_its_explorer(web, how):
    server = web("--demo")
    assert "(loopback only)" in server.first
    async with aiohttp.ClientSession() as session:
        ws = await open_tab(server, session)
        [child] = server.children()
        if how == "close":
            await ws.close()
        else:  # the browser went away without a word
            ws._response.connection.transport.abort()  # type: ignore[union-attr]
        assert await asyncio.to_thread(gone_within, [child], GONE_WITHIN)
    assert server.proc.poll() is None  # the server goes on for the next tab


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_stopping_web_ends_every_explorer(web, sig):
    server = web("--demo")
    async with aiohttp.ClientSession() as session:
        tabs = [await open_tab(server, session) for _ in range(2)]
        children = server.children()
        assert len(children) == 2
        started = time.monotonic()
        code = await asyncio.to_thread(server.stop, sig)
        assert time.monotonic() - started < GONE_WITHIN + 1
        assert code == (143 if sig == signal.SIGTERM else 130)
        assert await asyncio.to_thread(gone_within, children, 0.5)
        for ws in tabs:
            await ws.close()


async def test_an_explorer_whose_server_was_killed_ends(web):
    """The server cannot clean up: the explorer sees its input close and ends
    (Textual's web driver alone lets it run on with no input, writing nowhere)."""
    server = web("--demo")
    async with aiohttp.ClientSession() as session:
        await open_tab(server, session)
        [child] = server.children()
        server.proc.kill()
        server.proc.wait(10)
        assert await asyncio.to_thread(gone_within, [child], GONE_WITHIN)


async def test_sigterm_to_an_explorer_ends_it(web):
    server = web("--demo")
    async with aiohttp.ClientSession() as session:
        ws = await open_tab(server, session)
        [child] = server.children()
        os.kill(child, signal.SIGTERM)
        assert await asyncio.to_thread(gone_within, [child], GONE_WITHIN)
        closing = (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        while (await ws.receive(timeout=5)).type not in closing:  # the tab is told
            pass


async def test_settings_reach_the_explorer_but_no_process_list(web, tmp_path):
    secret_key = "S" * 43 + "="
    access = "access-key-that-is-secret"
    env = {"ENSYNC_URL": "ws://127.0.0.1:9", "ENSYNC_ACCESS_KEY": access}
    env["ENSYNC_APP_SECRET_KEY"] = secret_key
    env["TMPDIR"] = str(tmp_path)
    server = web(env=env)
    async with aiohttp.ClientSession() as session:
        ws = await open_tab(server, session)
        [child] = server.children()
        cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        environ = Path(f"/proc/{child}/environ").read_bytes()
        for secret in (secret_key, access):
            assert secret.encode() not in cmdline and secret.encode() not in environ
        [folder] = tmp_path.glob("ensync-tui-web-*")  # the private folder (0700), left empty
        assert folder.stat().st_mode & 0o777 == 0o700
        deadline = time.monotonic() + 5
        while list(folder.iterdir()):
            assert time.monotonic() < deadline, "the settings file was not removed"
            await asyncio.sleep(0.02)
        await ws.close()
    assert server.stop() == 143
    assert not folder.exists()


async def test_off_the_loopback_every_url_carries_the_token(web):
    server = web("--demo", "--host", "0.0.0.0")
    err = server.proc.stderr
    assert err is not None
    warning = err.readline()
    assert "anyone who can reach port" in warning and "keys" in warning
    token = re.search(r"token=(\S+)", server.query).group(1)  # type: ignore[union-attr]
    base = server.base.replace("0.0.0.0", "127.0.0.1")
    async with aiohttp.ClientSession() as session:
        for url, status in (
            (f"{base}/", 403),
            (f"{base}/?token=wrong", 403),
            (f"{base}/?token={token}", 200),
        ):
            async with session.get(url) as response:
                assert response.status == status, url
                if status == 200:
                    assert f"/ws/{token}" in await response.text()
        with pytest.raises(aiohttp.WSServerHandshakeError):
            await session.ws_connect(base.replace("http", "ws") + "/ws/-")
        server.base = base
        ws = await open_tab(server, session, token)
        await ws.close()


async def test_no_other_site_may_drive_an_explorer(web):
    server = web("--demo")
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(server.ws_url(), headers={"Origin": "http://evil.example"})
        assert refused.value.status == 403
        host = server.base.split("//")[1]
        async with session.get(f"{server.base}/", headers={"Host": "evil.example:1"}) as r:
            assert r.status == 403  # a name rebound to the loopback: not ours
        async with session.get(f"{server.base}/", headers={"Origin": f"http://{host}"}) as r:
            assert r.status == 200
    assert server.children() == []


def test_a_short_token_is_refused(cli):
    proc = cli("web", "--demo", "--token", "short")
    assert proc.returncode == 2 and "at least 16" in proc.stderr


def start_explorer(tmp_path: Path) -> subprocess.Popen:
    """A tab's explorer on its own, as `web` starts it, its output never read."""
    settings = tmp_path / "tab.json"
    settings.write_text('{"demo": {"seed": 0}}')
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TEXTUAL_DRIVER": DRIVER}
    return subprocess.Popen(
        [sys.executable, "-m", "ensync_tui.cli.web_tab", str(settings)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={**env, "COLUMNS": "100", "ROWS": "30"},
        start_new_session=True,
    )


def test_an_explorer_whose_output_nobody_reads_still_ends_on_sigterm(tmp_path):
    """The browser went away and nobody reads the explorer's output: its next
    write blocks the event loop, where Textual's own SIGTERM handler would wait
    for ever (the explorer ignored SIGTERM). It ends within two seconds."""
    proc = start_explorer(tmp_path)
    try:
        assert proc.stdout is not None
        out = proc.stdout.fileno()
        fcntl.fcntl(out, fcntl.F_SETPIPE_SZ, 4096)
        size = fcntl.fcntl(out, fcntl.F_GETPIPE_SZ)
        deadline = time.monotonic() + 30
        while not blocked_writing(proc.pid) and unread(out) < size:
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        assert gone_within([proc.pid], GONE_WITHIN)
    finally:
        os.killpg(proc.pid, signal.SIGKILL) if proc.poll() is None else None
        proc.wait(10)


def test_an_explorer_whose_input_closes_ends(tmp_path):
    proc = start_explorer(tmp_path)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"__GANGLION__\n"  # it started
        assert proc.stdin is not None
        proc.stdin.close()
        assert gone_within([proc.pid], GONE_WITHIN)
    finally:
        os.killpg(proc.pid, signal.SIGKILL) if proc.poll() is None else None
        proc.wait(10)


def blocked_writing(pid: int) -> bool:
    """Whether the process's main thread waits in a write to a full pipe."""
    try:
        return "pipe_write" in Path(f"/proc/{pid}/wchan").read_text()
    except OSError:
        return False


def unread(fd: int) -> int:
    return struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0]


async def test_a_token_given_is_the_one_asked_for(web):
    token = "a-token-of-our-own-1234"
    server = web("--demo", "--token", token)
    assert f"?token={token}" in server.first and "(loopback only)" in server.first
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{server.base}/") as response:
            assert response.status == 403  # on the loopback too, once a token is set
        async with session.get(f"{server.base}/?token={token}") as response:
            assert response.status == 200
        ws = await open_tab(server, session, token)
        await ws.close()
