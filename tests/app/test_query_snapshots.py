"""Snapshots of the filter's mistake under the input (fixed size, clock, IDs)."""

from __future__ import annotations

from tests.app.test_snapshots import SNAP_SIZE, _utc, feed, snapshot_app

__all__ = ["_utc"]  # the snapshots' time zone, for every test here


def test_filter_error(snap_compare):
    async def before(pilot) -> None:
        await feed(pilot)
        await pilot.press("slash", *'name:orders/* and $.total >= "')
        await pilot.pause()

    assert snap_compare(snapshot_app(), terminal_size=SNAP_SIZE, run_before=before)
