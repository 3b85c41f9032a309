"""The HTTP side of `ensync-tui web`: textual-serve's server with a token and an
Origin check in front, and explorers started without a shell, in their own
process group, with their settings in a private file, and always stopped."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import json
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from textual_serve.app_service import AppService
from textual_serve.server import Server, to_int

from ensync_tui.cli.web_page import render

__all__ = ["STOP_WAIT", "serve"]

QUIT_WAIT = 1.0  # seconds an explorer has to quit when asked, before SIGTERM
KILL_WAIT = 0.5  # then before SIGKILL
STOP_WAIT = QUIT_WAIT + KILL_WAIT
DRIVER = "ensync_tui.app.web_driver:WebSessionDriver"
NO_TOKEN = "-"  # the websocket path's token when none is asked for


class Session(AppService):
    """One tab's explorer process."""

    def __init__(self, folder: Path, data: dict[str, Any], **kwargs: Any) -> None:
        super().__init__("ensync-tui", **kwargs)
        self.folder = folder
        self.data = data
        self.settings_file: Path | None = None

    def _build_environment(self, width: int = 80, height: int = 24) -> dict[str, str]:
        env = super()._build_environment(width, height)
        env["TEXTUAL_DRIVER"] = DRIVER
        for name in ("ENSYNC_ACCESS_KEY", "ENSYNC_APP_SECRET_KEY", "ENSYNC_ACCOUNT_KEY"):
            env.pop(name, None)  # the explorer has its settings from the file
        return env

    async def _open_app_process(self, width: int = 80, height: int = 24) -> Any:
        fd, name = tempfile.mkstemp(prefix="tab-", suffix=".json", dir=self.folder)  # 0600
        self.settings_file = Path(name)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(self.data, f)
        self._process = process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "ensync_tui.cli.web_tab",
            name,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self._build_environment(width=width, height=height),
            start_new_session=True,  # its own process group: nothing of it outlives a stop
        )
        assert process.stdin is not None
        self._stdin = process.stdin
        return process

    async def run(self) -> None:
        await super().run()
        with contextlib.suppress(Exception):  # the explorer ended: so does its tab
            await self.remote_close()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    async def stop(self) -> None:
        """Ask the explorer to quit; then close its input; then end its process group."""
        process = self._process
        if process is None:
            return
        if process.returncode is None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.send_meta({"type": "quit"}), 0.2)
            if not await _exited(process, QUIT_WAIT / 2):
                with contextlib.suppress(Exception):
                    self.stdin.close()  # the explorer's driver ends on a closed input
                if not await _exited(process, QUIT_WAIT / 2):
                    _signal_group(process.pid, signal.SIGTERM)
                    if not await _exited(process, KILL_WAIT):
                        _signal_group(process.pid, signal.SIGKILL)
                        await _exited(process, 5)
        _signal_group(process.pid, signal.SIGKILL)  # anything it left in its group
        if self._task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._task, 2)
            self._task = None
        if self.settings_file is not None:
            self.settings_file.unlink(missing_ok=True)


async def _exited(process: Any, seconds: float) -> bool:
    try:
        await asyncio.wait_for(process.wait(), seconds)
    except TimeoutError:
        return False
    return True


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address) is this machine's loopback."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _signal_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


class WebServer(Server):
    """textual-serve's server, each tab an explorer with the same settings."""

    def __init__(self, data: dict[str, Any], host: str, port: int, token: str | None) -> None:
        super().__init__("ensync-tui", host=host, port=port, title="ensync-tui")
        self.data = data
        self.token = token
        self.sessions: set[Session] = set()
        self.folder = Path(tempfile.mkdtemp(prefix="ensync-tui-web-"))  # mode 0700

    async def _make_app(self) -> web.Application:
        app = web.Application(middlewares=[self.guard])
        app.add_routes(
            [
                web.get("/", self.handle_index, name="index"),
                web.get("/ws/{token}", self.handle_websocket, name="websocket"),
                web.get("/download/{key}", self.handle_download, name="download"),
                web.static("/static", self.statics_path, name="static"),
            ]
        )
        app.on_shutdown.append(self.on_shutdown)
        return app

    def token_ok(self, given: str | None) -> bool:
        if self.token is None:
            return True
        return given is not None and hmac.compare_digest(given.encode(), self.token.encode())

    @web.middleware
    async def guard(self, request: web.Request, handler: Callable[..., Any]) -> Any:
        """No other site's page may drive an explorer (Origin), nor a name that is not
        ours (Host, against DNS rebinding on the loopback); the token where one is set."""
        origin = request.headers.get("Origin")
        if origin is not None and urlsplit(origin).netloc != request.host:
            raise web.HTTPForbidden(text="ensync-tui web: a page of another site\n")
        if self.token is None and not is_loopback(urlsplit(f"//{request.host}").hostname or ""):
            raise web.HTTPForbidden(text="ensync-tui web: unknown host name\n")
        path = request.path
        if path == "/" and not self.token_ok(request.query.get("token")):
            raise web.HTTPForbidden(text="ensync-tui web: the URL must carry the token\n")
        if path.startswith("/ws/") and not self.token_ok(request.match_info.get("token")):
            raise web.HTTPForbidden(text="ensync-tui web: the URL must carry the token\n")
        return await handler(request)

    async def handle_index(self, request: web.Request) -> web.Response:
        scheme = "wss" if request.secure else "ws"
        token = self.token or NO_TOKEN
        font_size = max(6, min(48, to_int(request.query.get("fontsize", "16"), 16)))
        page = render(self.title, f"{scheme}://{request.host}/ws/{token}", font_size)
        headers = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
        return web.Response(text=page, content_type="text/html", headers=headers)

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        websocket = web.WebSocketResponse(heartbeat=15)
        width = to_int(request.query.get("width", "80"), 80)
        height = to_int(request.query.get("height", "24"), 24)
        session: Session | None = None
        try:
            await websocket.prepare(request)
            session = Session(
                self.folder,
                self.data,
                write_bytes=websocket.send_bytes,
                write_str=websocket.send_str,
                close=websocket.close,
                download_manager=self.download_manager,
            )
            self.sessions.add(session)
            await session.start(width, height)
            await self._process_messages(websocket, session)
        except (asyncio.CancelledError, ConnectionError):
            pass
        finally:
            if session is not None:
                await session.stop()
                self.sessions.discard(session)
            with contextlib.suppress(Exception):
                await websocket.close()
        return websocket

    async def on_shutdown(self, app: web.Application) -> None:
        await self.stop_sessions()

    async def stop_sessions(self) -> None:
        await asyncio.gather(*(s.stop() for s in list(self.sessions)), return_exceptions=True)
        self.sessions.clear()

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


async def serve(
    data: dict[str, Any],
    host: str,
    port: int,
    token: str | None,
    started: Callable[[str], None],
) -> int:
    """Serve until cancelled (Ctrl+C, SIGTERM); every explorer is stopped first."""
    server = WebServer(data, host, port, token)
    runner = web.AppRunner(await server._make_app(), handle_signals=False, shutdown_timeout=2)
    try:
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as exc:
            from ensync_tui.errors import CommandError

            raise CommandError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        bound = runner.addresses[0]
        shown = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
        started(f"http://{shown}:{bound[1]}")
        await asyncio.Event().wait()
    finally:
        with contextlib.suppress(Exception):
            await asyncio.shield(server.stop_sessions())
        with contextlib.suppress(Exception):
            await asyncio.shield(runner.cleanup())
        server.close()
    return 0
