"""A hostile engine feeding every catalogued record into `ensync-tui tail` (a real process).

Nothing may crash; every good record after the hostile ones must arrive, in
order, and be acknowledged; stdout must stay valid NDJSON and stderr one safe
line per event, with nothing a terminal would act on in either.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path

from ensync_tui.client import crypto
from ensync_tui.safetext import UNSAFE
from tests import hostile
from tests.client.scripted import ScriptedServer, record_frame

ROOT = Path(__file__).resolve().parents[2]
GOOD = 20


def strict_json(line: str):
    def refuse(constant):
        raise AssertionError(f"{constant} in the output is not JSON")

    return json.loads(line, parse_constant=refuse)


async def test_tail_survives_a_hostile_engine(tmp_path):
    keys = crypto.generate_keypair()
    catalogue = hostile.hostile_records("a/b", keys[0])
    good = [f"good-{i}" for i in range(GOOD)]
    frames = [frame for _, frame in catalogue]
    frames += [
        record_frame("a/b", idem, crypto.encrypt_payload({"i": idem}, [keys[0]])) for idem in good
    ]
    async with ScriptedServer(keys[0]) as server:
        server.rules["SUB"] = lambda f: ["+PASS:ok", *frames]
        env = dict(os.environ) | {
            "PYTHONPATH": str(ROOT),
            "ENSYNC_URL": server.url,
            "ENSYNC_ACCESS_KEY": "hostile-engine-access-key",
            "ENSYNC_APP_SECRET_KEY": keys[1],
        }
        start = time.monotonic()
        tail = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "ensync_tui", "tail", "a/b",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
            limit=64 * 1024 * 1024,
        )  # fmt: skip
        assert tail.stdout is not None and tail.stderr is not None
        lines: list[str] = []
        try:
            async with asyncio.timeout(120):
                while not lines or strict_json(lines[-1])["idem"] != good[-1]:
                    line = await tail.stdout.readline()
                    assert line, "tail stopped: " + (await tail.stderr.read()).decode()
                    lines.append(line.decode().rstrip("\n"))
                await server.wait_for(
                    lambda: sum(f.startswith("ACK;") for f in server.received) >= GOOD, 30
                )
            seconds = time.monotonic() - start
            tail.send_signal(signal.SIGINT)
            rest, err = await asyncio.wait_for(tail.communicate(), 30)
        finally:
            if tail.returncode is None:
                tail.kill()
                await tail.wait()
    lines += rest.decode().splitlines()
    err_lines = err.decode().splitlines()
    shown = [strict_json(line) for line in lines]
    for line in lines + err_lines:  # nothing a terminal would act on
        assert UNSAFE.search(line) is None, line[:200]
    assert tail.returncode == 130, err.decode()
    assert [s["idem"] for s in shown if s["idem"].startswith("good-")] == good
    assert all(s["payload"] == {"i": s["idem"]} for s in shown if s["idem"].startswith("good-"))
    acked = {
        f.split("EVENT_IDEM=:")[1].split(";")[0] for f in server.received if f.startswith("ACK;")
    }
    unreadable = {s["idem"] for s in shown if s["decryptError"]}
    assert set(good) <= acked and not acked & unreadable
    assert "Traceback" not in err.decode() and "crash report" not in err.decode()
    crashes = list((Path.home() / ".local" / "state").rglob("crash-*.log"))
    assert not crashes
    skipped = sum("skipped a malformed frame" in e for e in err_lines)
    print(
        f"\nhostile engine -> tail: {len(catalogue)} hostile records and {GOOD} good ones in"
        f" {seconds:.1f} s; {len(shown)} lines of valid NDJSON, {len(unreadable)} unreadable"
        f" left pending, {skipped} malformed skipped and said, all {GOOD} good ones printed"
        " and acked; nothing unsafe on stdout or stderr, no crash"
    )
