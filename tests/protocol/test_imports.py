"""What importing the engine and the protocol loads: nothing of the client, no sockets."""

from __future__ import annotations

import subprocess
import sys

import pytest


def _loaded(module: str) -> list[str]:
    code = f"import sys, {module}\nprint('\\n'.join(sorted(sys.modules)))\n"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split()


def test_the_engine_loads_nothing_of_the_client() -> None:
    loaded = _loaded("ensync_tui.engine")
    assert "ensync_tui.engine.session" in loaded  # the engine itself did load
    assert [m for m in loaded if m.startswith("ensync_tui.client")] == []
    assert "websockets.asyncio.client" not in loaded


@pytest.mark.parametrize(
    "module",
    [
        "ensync_tui.protocol.frames",
        "ensync_tui.protocol.replies",
        "ensync_tui.protocol.crypto",
        "ensync_tui.protocol.limits",
    ],
)
def test_the_protocol_does_no_io(module: str) -> None:
    loaded = _loaded(module)
    ours = [m for m in loaded if m.startswith("ensync_tui.")]
    assert all(m.startswith("ensync_tui.protocol") for m in ours), ours
    assert not [m for m in loaded if m.startswith(("websockets", "asyncio"))]
