"""Payload work (decrypting, parsing, pretty-printing) on background threads.

A payload may cost a lot to open: a hybrid envelope with thousands of key
entries, megabytes of JSON. The UI loop never does that work for a payload
that is not small; it hands it to a lane here, one thread per lane, so one
heavy payload at a time competes with the UI for the CPU.

``latest`` is for what the user looks at: a newer request for the same key replaces
one not started yet, and a result comes back only while it is still the
newest. ``bulk`` runs every request in order (rows, the filter, copies).
Results come back on the app's loop as ``Offload.Done`` messages.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from textual.message import Message

from ensync_tui.app.history import Entry

__all__ = ["Offload", "is_small"]


def is_small(*entries: Entry | None) -> bool:
    """Whether every given entry is cheap enough to open on the UI loop (no flicker)."""
    return all(e is None or e.small for e in entries)


class Offload:
    """Background lanes whose results are posted back to the app's loop."""

    class Done(Message):
        """A background job finished: ``deliver()`` runs on the app's loop."""

        def __init__(self, deliver: Callable[[], None]) -> None:
            super().__init__()
            self.deliver = deliver

    def __init__(self, post: Callable[[Message], Any]) -> None:
        self._post = post
        self._pools: dict[str, ThreadPoolExecutor] = {}
        self._newest: dict[str, int] = {}
        self._tokens = itertools.count(1)
        self._closed = False

    def _pool(self, lane: str) -> ThreadPoolExecutor:
        pool = self._pools.get(lane)
        if pool is None:
            pool = self._pools[lane] = ThreadPoolExecutor(1, thread_name_prefix=f"ensync-{lane}")
        return pool

    def latest(
        self,
        key: str,
        work: Callable[[], Any],
        done: Callable[[Any], None],
        failed: Callable[[Exception], None] | None = None,
        lane: str = "latest",
    ) -> None:
        """Run ``work`` on ``lane``; ``done(result)`` on the loop unless a newer
        request for ``key`` came meanwhile (then ``work`` may not even run).

        If ``work`` raises, ``failed(exc)`` runs instead (without it, the error is
        raised on the loop, as a bug in a handler would be).
        """
        token = next(self._tokens)
        self._newest[key] = token

        def current() -> bool:
            return self._newest.get(key) == token and not self._closed

        def run() -> None:
            if current():  # else replaced before it started
                self._run(work, lambda result: done(result) if current() else None, failed)

        self._submit(lane, run)

    def drop(self, key: str) -> None:
        """Forget the request for ``key``: it will not run if not started, nor deliver."""
        self._newest[key] = next(self._tokens)

    def bulk(
        self,
        work: Callable[[], Any],
        done: Callable[[Any], None],
        failed: Callable[[Exception], None] | None = None,
    ) -> None:
        """Run ``work`` after the bulk jobs before it; ``done(result)`` on the loop."""

        def run() -> None:
            if not self._closed:
                self._run(work, done, failed)

        self._submit("bulk", run)

    def _run(
        self,
        work: Callable[[], Any],
        done: Callable[[Any], None],
        failed: Callable[[Exception], None] | None,
    ) -> None:
        try:
            result = work()
        except Exception as exc:
            error = exc

            def report() -> None:
                if failed is None:
                    raise error
                failed(error)

            deliver = report
        else:
            deliver = lambda: done(result)  # noqa: E731
        if not self._closed:
            self._post(self.Done(deliver))

    def _submit(self, lane: str, run: Callable[[], None]) -> None:
        if self._closed:
            return
        try:
            self._pool(lane).submit(run)
        except RuntimeError:  # shutting down
            pass

    def close(self) -> None:
        """Stop taking work; jobs not started are dropped, none is waited for."""
        self._closed = True
        for pool in self._pools.values():
            pool.shutdown(wait=False, cancel_futures=True)
        self._pools.clear()
