"""Cold start: `ensync-tui --demo` to its first frame and first record, beside a one-widget app.

Each program runs in a fresh process on a pseudo-terminal of 80x24 (TERM
xterm-256color, an empty HOME), started the same way: the virtualenv's Python
running an entry point. The clock runs from the spawn to the moment the
terminal has been sent the text that marks the frame: the one-widget Textual
app's label; the explorer's empty stream pane (its first frame); a demo record
in the stream (its first record). Then "q" is typed and the process waits to
exit. The programs take turns for ``ROUNDS`` rounds; each figure is a median,
each ratio the median of the per-round ratios. ``ensync-tui --help`` is timed
the same way, with the modules it imported counted.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import re
import select
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time

ROUNDS = int(os.environ.get("BENCH_START_ROUNDS", "5"))
TIMEOUT = 30.0
ONE_WIDGET = """\
from textual.app import App
from textual.widgets import Static

class One(App):
    BINDINGS = [("q", "quit", "Quit")]

    def compose(self):
        yield Static("one widget ready")

One().run()
"""
HELP_MODULES = """\
import sys
from ensync_tui.cli.main import main
try:
    main(["--help"])
except SystemExit:
    pass
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("textual", "websockets", "nacl")
               or m.startswith("ensync_tui.client"))
print("HEAVY", len(heavy), " ".join(heavy[:5]))
"""
FRAME = re.compile(rb"No messages yet")  # the stream pane, in the explorer's first frame
# a stream row of the demo: a name, then the start of its idem
RECORD = re.compile(rb"[a-z]+/[a-z-]+ +[0-9a-f]{6}")


def _spawn(argv: list[str], marks: dict[str, re.Pattern[bytes]], home: str) -> dict[str, float]:
    """Seconds from the spawn to each mark seen on the terminal."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": home,
        "XDG_CONFIG_HOME": os.path.join(home, ".config"),
        "TERM": "xterm-256color",
        "LANG": "C.UTF-8",
    }
    start = time.perf_counter()
    proc = subprocess.Popen(
        argv, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True
    )
    os.close(slave)
    seen = b""
    found: dict[str, float] = {}
    deadline = start + TIMEOUT
    try:
        while len(found) < len(marks) and time.perf_counter() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if not ready:
                continue
            try:
                chunk = os.read(master, 1 << 16)
            except OSError:
                break
            now = time.perf_counter()
            seen = seen[-4096:] + chunk
            for label, mark in marks.items():
                if label not in found and mark.search(seen):
                    found[label] = now - start
        with contextlib.suppress(OSError):
            os.write(master, b"q")
        end = time.perf_counter() + 10
        while proc.poll() is None and time.perf_counter() < end:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                with contextlib.suppress(OSError):
                    os.read(master, 1 << 16)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        os.close(master)
    missing = set(marks) - set(found)
    if missing:
        raise RuntimeError(f"{argv[-1]}: never saw {', '.join(sorted(missing))}")
    return found


def main() -> None:
    python = sys.executable
    script = os.path.join(os.path.dirname(python), "ensync-tui")
    runs: dict[str, list[float]] = {"one": [], "frame": [], "record": [], "help": []}
    with tempfile.TemporaryDirectory() as home:
        for _ in range(ROUNDS):
            one = _spawn(
                [python, "-c", ONE_WIDGET], {"one": re.compile(rb"one widget ready")}, home
            )
            runs["one"].append(one["one"])
            demo = _spawn(
                [python, script, "--demo"],
                {"frame": FRAME, "record": RECORD},
                home,
            )
            runs["frame"].append(demo["frame"])
            runs["record"].append(demo["record"])
            start = time.perf_counter()
            subprocess.run([python, script, "--help"], capture_output=True, check=True)
            runs["help"].append(time.perf_counter() - start)
    heavy = subprocess.run([python, "-c", HELP_MODULES], capture_output=True, text=True)
    heavy_line = next((ln for ln in heavy.stdout.splitlines() if ln.startswith("HEAVY")), "?")

    def ms(label: str) -> str:
        return f"{statistics.median(runs[label]) * 1000:5.0f} ms"

    def ratio(label: str) -> float:
        return statistics.median(a / b for a, b in zip(runs[label], runs["one"], strict=True))

    print(f"   {ROUNDS} rounds, each program in a fresh process on an 80x24 pseudo-terminal")
    print(f"   one-widget Textual app, first frame  {ms('one')}")
    for label, what, goal in (("frame", "first frame", 1.25), ("record", "first record", 1.6)):
        print(f"   ensync-tui --demo, {what:17} {ms(label)}   {ratio(label):.2f}x   goal <= {goal}")
    print(f"   ensync-tui --help                    {ms('help')}")
    count = heavy_line.split()[1] if len(heavy_line.split()) > 1 else "?"
    print(f"   --help imports {count} modules of textual, websockets, nacl or ensync_tui.client")


if __name__ == "__main__":
    main()
