"""Appending to a recording: lines as things happen, out to the file at least
every half second, so a crash or a kill loses at most the last second.

The file is created readable by its owner only (mode 0600: names, metadata and
headers are in clear) and only ever appended to, whole lines at a time; one
left with a torn last line (a kill in mid-write) gets a new line before the
next writer's first, so every line but a torn one stays readable.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ensync_tui.protocol import crypto
from ensync_tui.protocol.replies import Record
from ensync_tui.recording import lines

__all__ = ["FLUSH_EVERY", "Recorder"]

FLUSH_EVERY = 0.5  # seconds between two writes to the file, at most
FLUSH_SIZE = 1 << 20  # bytes waiting that are written at once


def now_ms() -> int:
    return int(time.time() * 1000)


class Recorder:
    """One recording file, appended to from any thread. Raises OSError on open."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        url: str = "",
        identity: str = "",
        secret_key: str | None = None,
        clock: Callable[[], int] = now_ms,
        flush_every: float = FLUSH_EVERY,
    ) -> None:
        self.path = Path(path).expanduser()
        self.clock = clock
        self.error = ""  # why writing stopped, once it has
        self.count = 0  # lines written
        self._own_key = ""
        if secret_key:
            try:
                self._own_key = crypto.public_key_of(secret_key)
            except Exception:
                self._own_key = ""
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._lock = threading.Lock()
        self._waiting: list[str] = []
        self._size = 0
        self._closed = False
        try:
            if os.fstat(self._fd).st_size and not self._ends_with_newline():
                self._waiting.append("")  # a torn last line stays alone on its line
            self._add(lines.header_line(self.clock(), url, identity))
            self.flush()
        except BaseException:
            os.close(self._fd)
            raise
        if self.error:
            os.close(self._fd)
            raise OSError(self.error)
        self._stop = threading.Event()
        self._flusher = threading.Thread(
            target=self._flush_loop, args=(flush_every,), name="recording", daemon=True
        )
        self._flusher.start()

    def _ends_with_newline(self) -> bool:
        with open(self.path, "rb") as f:
            f.seek(-1, os.SEEK_END)
            return f.read(1) == b"\n"

    def know(self, url: str, identity: str, secret_key: str | None) -> None:
        """The session's engine and identity, once known (a demo's, say): a new first line."""
        if secret_key:
            try:
                self._own_key = crypto.public_key_of(secret_key)
            except Exception:
                self._own_key = ""
        self._add(lines.header_line(self.clock(), url, identity or self._own_key))

    # -- what is recorded ------------------------------------------------------
    def record(self, record: Record, replayed: bool = False) -> None:
        """A record as received (its payload stays encrypted)."""
        self._add(lines.record_line(record, self.clock(), replayed))

    def state(
        self, name: str, idem: str, state: str, reason: str = "", delay_ms: int | None = None
    ) -> None:
        """An action's outcome on a record: acked, deferred, discarded."""
        self._add(lines.state_line(self.clock(), name, idem, state, reason, delay_ms))

    def published(
        self,
        name: str,
        recipients: list[str],
        payload: Any,
        metadata: Any,
        answers: list[dict[str, Any]],
    ) -> None:
        """A message sent from this session; its payload sealed to our own key."""
        sealed = None
        if self._own_key:
            try:
                sealed = crypto.encrypt_payload(payload, [self._own_key])
            except Exception:
                sealed = None
        keep = ("idem", "block", "recipient")
        shown: list[dict[str, Any]] = [{k: a[k] for k in keep if k in a} for a in answers]
        self._add(lines.published_line(self.clock(), name, recipients, shown, metadata, sealed))

    def connection(self, status: str, reason: str = "") -> None:
        self._add(lines.connection_line(self.clock(), status, reason))

    # -- the file --------------------------------------------------------------
    def _add(self, line: str) -> None:
        with self._lock:
            if self._closed or self.error:
                return
            self._waiting.append(line)
            self._size += len(line) + 1
            big = self._size >= FLUSH_SIZE
        if big:
            self.flush()

    def flush(self) -> None:
        """Write what waits (whole lines, appended)."""
        with self._lock:
            if not self._waiting or self.error:
                return
            todo, self._waiting, self._size = self._waiting, [], 0
            data = ("\n".join(todo) + "\n").encode("utf-8", "surrogatepass")
            try:
                view = memoryview(data)
                while view:
                    written = os.write(self._fd, view)
                    view = view[written:]
            except OSError as exc:
                self.error = f"cannot write to {self.path}: {exc.strerror or exc}"
                return
            self.count += len(todo) - (1 if todo[0] == "" else 0)

    def _flush_loop(self, every: float) -> None:
        while not self._stop.wait(every):
            self.flush()

    def close(self) -> None:
        """Write what waits and close the file (idempotent)."""
        if self._closed:
            return
        self._stop.set()
        if self._flusher is not threading.current_thread():
            self._flusher.join(timeout=5)
        self.flush()
        with self._lock:
            self._closed = True
            os.close(self._fd)

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
