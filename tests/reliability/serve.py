"""`ensync-tui serve` in a subprocess on 127.0.0.1, port 0, with its memory measured.

Shared by the reliability tests and the engine fuzzer. The engine's log goes
to a file (a pipe nobody reads would block it).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect

from ensync_tui.engine.sandbox import Identity
from ensync_tui.protocol import frames, replies

ROOT = Path(__file__).resolve().parents[2]


def engine_toml(
    identities: Iterable[tuple[Identity, list[str], list[str]]],
    messages: Iterable[str],
    engine: dict[str, Any] | None = None,
) -> str:
    """An engine.toml: (identity, send, receive) per client, plain registered names."""
    lines = ["[engine]"]
    for key, value in (engine or {}).items():
        lines.append(f"{key} = {json.dumps(value)}")
    for ident, send, receive in identities:
        lines += [
            "",
            "[[clients]]",
            f"name = {json.dumps(ident.name)}",
            f"access_key = {json.dumps(ident.access_key)}",
            f"public_key = {json.dumps(ident.public_key)}",
            f"send = {json.dumps(send)}",
            f"receive = {json.dumps(receive)}",
        ]
    for name in messages:
        lines += ["", "[[messages]]", f"name = {json.dumps(name)}"]
    return "\n".join(lines) + "\n"


class Engine:
    """One engine process; ``start()`` again after ``kill()`` restarts it on the same port."""

    def __init__(self, folder: Path, config_text: str, *args: str, files: int | None = None):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.config = folder / "engine.toml"
        self.config.write_text(config_text)
        self.config.chmod(0o600)
        self.args = list(args)
        self.files = files
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = folder / "engine.log"
        self.starts = 0

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/message"

    def start(self, timeout: float = 30) -> None:
        env = dict(os.environ) | {"PYTHONPATH": str(ROOT)}
        log = self.log_path.open("ab")
        offset = self.log_path.stat().st_size
        files = self.files

        def limits() -> None:
            if files is not None:
                import resource

                resource.setrlimit(resource.RLIMIT_NOFILE, (files, files))

        cmd = [sys.executable, "-m", "ensync_tui", "serve", "--config", str(self.config)]
        cmd += ["--port", str(self.port), *self.args]
        self.proc = subprocess.Popen(
            cmd, stderr=log, stdout=log, env=env, preexec_fn=limits, cwd=self.folder
        )
        log.close()
        self.starts += 1
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            text = self.log_path.read_bytes()[offset:].decode(errors="replace")
            found = re.search(r"ws://127\.0\.0\.1:(\d+)/message", text)
            if found:
                self.port = int(found.group(1))
                return
            if self.proc.poll() is not None:
                raise RuntimeError("serve exited early:\n" + text[-3000:])
            time.sleep(0.02)
        raise RuntimeError("serve did not start in time")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def rss(self) -> int:
        """Resident memory of the engine process, bytes (0 if it is not running)."""
        if self.proc is None:
            return 0
        try:
            text = Path(f"/proc/{self.proc.pid}/status").read_text()
        except OSError:
            return 0
        found = re.search(r"VmRSS:\s+(\d+) kB", text)
        return int(found.group(1)) * 1024 if found else 0

    def kill(self) -> None:
        if self.alive():
            assert self.proc is not None
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> int:
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def log(self) -> str:
        return self.log_path.read_bytes().decode(errors="replace")

    def __enter__(self) -> Engine:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


async def login(url: str, who: Identity, **kw: Any) -> tuple[ClientConnection, str]:
    """A raw connection after CONN, and its client ID."""
    ws = await ws_connect(url, max_size=None, compression=None, **kw)
    await ws.send(frames.Conn(who.access_key).encode())
    while True:
        reply = await asyncio.wait_for(ws.recv(), 10)
        if reply != "PING":
            break
    assert isinstance(reply, str) and reply.startswith("+PASS:"), reply
    return ws, replies.parse_kv(reply[6:])["clientId"]


def mib(n: int) -> str:
    return f"{n / (1 << 20):.0f} MiB"
