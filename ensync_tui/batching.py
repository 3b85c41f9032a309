"""A socket transport whose writes within one loop tick leave in one system call.

websockets writes every frame it sends with its own ``transport.write``; on an
idle socket each is a ``send`` system call. :class:`BatchedTransport` stands
between a websockets connection and the socket's transport: a write is kept
and the writes of the tick go out together at its end (or at once past
:data:`FLUSH_BYTES`), so a burst of small frames costs one system call. It is
an ``asyncio.Transport`` like any other; flow control stays the socket's (the
socket transport still pauses and resumes the connection).
"""

from __future__ import annotations

import asyncio
from typing import Any

__all__ = ["FLUSH_BYTES", "BatchedTransport"]

FLUSH_BYTES = 256 * 1024  # written at once from this much waiting


class BatchedTransport(asyncio.Transport):
    """Wraps ``inner``; the protocol stays set on ``inner`` (its callbacks come from there)."""

    def __init__(self, inner: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self.inner = inner
        self._loop = loop
        self._parts: list[bytes] = []
        self._size = 0
        self._scheduled = False

    # ---- writing

    def write(self, data: Any) -> None:
        if not data:
            return
        self._parts.append(bytes(data))
        self._size += len(data)
        if self._size >= FLUSH_BYTES:
            self.flush()
        elif not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self._tick)

    def writelines(self, list_of_data: Any) -> None:
        for data in list_of_data:
            self.write(data)

    def _tick(self) -> None:
        self._scheduled = False
        self.flush()

    def flush(self) -> None:
        """Write what waits now."""
        if not self._parts:
            return
        parts, self._parts, self._size = self._parts, [], 0
        if self.inner.is_closing():
            return
        self.inner.write(parts[0] if len(parts) == 1 else b"".join(parts))

    def get_write_buffer_size(self) -> int:
        return self._size + self.inner.get_write_buffer_size()

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self.inner.get_write_buffer_limits()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self.inner.set_write_buffer_limits(high, low)

    def can_write_eof(self) -> bool:
        return self.inner.can_write_eof()

    def write_eof(self) -> None:
        self.flush()
        self.inner.write_eof()

    # ---- the rest is the socket's

    def close(self) -> None:
        self.flush()
        self.inner.close()

    def abort(self) -> None:
        self._parts, self._size = [], 0
        self.inner.abort()

    def is_closing(self) -> bool:
        return self.inner.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.inner.get_extra_info(name, default)

    def pause_reading(self) -> None:
        self.inner.pause_reading()

    def resume_reading(self) -> None:
        self.inner.resume_reading()

    def is_reading(self) -> bool:
        return self.inner.is_reading()

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self.inner.set_protocol(protocol)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self.inner.get_protocol()
