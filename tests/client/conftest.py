"""Client tests fail on anything the event loop reports as lost (unretrieved errors, etc.)."""

from __future__ import annotations

import asyncio
import gc

import pytest


@pytest.fixture(autouse=True)
async def _loop_reports_nothing():
    loop = asyncio.get_running_loop()
    reports: list[dict] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: reports.append(context))
    yield
    gc.collect()
    await asyncio.sleep(0)
    loop.set_exception_handler(previous)
    assert not reports, [r.get("message") for r in reports]
