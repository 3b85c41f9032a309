"""The runtime's process tuning, without an app."""

from __future__ import annotations

import gc
import sys

from ensync_tui.app import runtime
from ensync_tui.app.runtime import Tuning


def test_a_flood_near_the_freeze_rate_does_not_flip_the_collector(monkeypatch):
    calls: list[str] = []
    monkeypatch.setattr(gc, "freeze", lambda: calls.append("freeze"))
    monkeypatch.setattr(gc, "unfreeze", lambda: calls.append("unfreeze"))
    tuning = Tuning()
    received = 0
    for rate in (1_200, 950, 1_100, 900, 1_050, 50):  # records in each second
        received += rate
        tuning.observe(received, 1.0)
    assert runtime.GC_THAW_RATE < 900
    # frozen from the first busy second, thawed only once the flow really calms down
    assert calls == ["freeze", "freeze", "freeze", "unfreeze"]
    assert not tuning.frozen


def test_tuning_is_undone(monkeypatch):
    calls: list[str] = []
    monkeypatch.setattr(gc, "freeze", lambda: calls.append("freeze"))
    monkeypatch.setattr(gc, "unfreeze", lambda: calls.append("unfreeze"))
    before = sys.getswitchinterval()
    tuning = Tuning()
    try:
        tuning.quick_switch()
        tuning.quick_switch()  # twice: the first value is the one restored
        assert sys.getswitchinterval() == runtime.SWITCH_INTERVAL
        tuning.observe(5_000, 1.0)
        assert tuning.frozen
    finally:
        tuning.restore()
    assert sys.getswitchinterval() == before
    assert calls == ["freeze", "unfreeze"] and not tuning.frozen
