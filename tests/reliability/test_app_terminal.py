"""The explorer in a real terminal (tmux) against a hostile engine.

The terminal's title and clipboard stay untouched and the screen is never
cleared by a record; q followed at once by another key exits cleanly; a crash
leaves one line naming a private report, and no secret on the screen.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ensync_tui.client import crypto
from ensync_tui.safetext import visible
from tests.hostile import HOSTILE_TEXTS, hostile_records
from tests.leaks import assert_no_secret

pytestmark = pytest.mark.skipif(
    shutil.which("tmux") is None, reason="tmux is not installed: the real-terminal checks need it"
)

ROOT = Path(__file__).resolve().parents[2]
NAME = "hostile/feed"
ACCESS_KEY = "terminal-access-key-0123456789abcdef"
TITLE = "ensync-terminal-check"


class Tmux:
    """A tmux server of its own (its own socket), one session 160x45."""

    def __init__(self, folder: Path) -> None:
        self.socket = f"ensync-test-{os.getpid()}-{time.monotonic_ns()}"
        self.folder = folder

    def run(self, *args: str, check: bool = True) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, check=False
        )
        if check and done.returncode:
            raise AssertionError(f"tmux {args[0]} failed: {done.stderr}")
        return done.stdout

    def start(self, command: str, env: dict[str, str]) -> None:
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        script = self.folder / "run.sh"
        script.write_text(
            f'cd {shlex.quote(str(ROOT))}\nexport {exports}\n{command}\necho "exit=$?"\nsleep 600\n'
        )
        self.run("-f", "/dev/null", "new-session", "-d", "-s", "t", "-x", "160", "-y", "45")
        self.run("set-option", "-g", "set-clipboard", "on")  # OSC 52 would make a buffer
        self.run("set-option", "-g", "allow-rename", "on")
        self.run("select-pane", "-t", "t", "-T", TITLE)
        self.run("send-keys", "-t", "t", f"bash {shlex.quote(str(script))}", "Enter")

    def screen(self, escapes: bool = False) -> str:
        return self.run("capture-pane", "-p", *(["-e"] if escapes else []), "-t", "t")

    def history(self) -> str:
        return self.run("capture-pane", "-p", "-S", "-200", "-t", "t")

    def title(self) -> str:
        return self.run("display-message", "-p", "-t", "t", "#{pane_title}").strip()

    def buffers(self) -> str:
        return self.run("list-buffers", check=False).strip()

    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", "t", *keys)

    def wait(self, check: Callable[[str], bool], what: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while True:
            text = self.screen()
            if check(text):
                return text
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; the screen:\n{text}")
            time.sleep(0.05)

    def close(self) -> None:
        self.run("kill-server", check=False)


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    term = Tmux(tmp_path)
    try:
        yield term
    finally:
        term.close()


@pytest.fixture
def keys() -> tuple[str, str]:
    return crypto.generate_keypair()


@pytest.fixture
def hostile_engine(keys: tuple[str, str]) -> Iterator[tuple[int, subprocess.Popen[str]]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.reliability.hostile_engine", keys[0], NAME],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.fullmatch(r"port (\d+)\n", line)
        assert match, f"the engine said {line!r}"
        yield int(match.group(1)), proc
    finally:
        proc.kill()
        proc.wait()


def explorer(port: int) -> str:
    return (
        f"{shlex.quote(sys.executable)} -m ensync_tui --url ws://127.0.0.1:{port}"
        f" --access-key {ACCESS_KEY} --subscribe {NAME}"
    )


def assert_terminal_untouched(term: Tmux, where: str) -> str:
    screen = term.screen()
    assert term.title() == TITLE, f"{where}: the terminal title became {term.title()!r}"
    assert term.buffers() == "", f"{where}: the clipboard was set: {term.buffers()!r}"
    # a cleared screen loses what is only drawn once: the subscription list, the footer
    assert NAME in screen and "Quit" in screen and "time" in screen, f"{where}:\n{screen}"
    return screen


def test_hostile_records_leave_title_clipboard_and_screen_alone(
    tmux, keys, hostile_engine, figures
):
    port, _ = hostile_engine
    tmux.start(explorer(port), {"ENSYNC_APP_SECRET_KEY": keys[1], "TERM": "xterm-256color"})
    tmux.wait(lambda s: "good-2" in s, "the records")
    shown = assert_terminal_untouched(tmux, "after the records arrived")
    assert visible(HOSTILE_TEXTS["title"]) in shown  # the stream shows it, escapes visible
    assert all(f"good-{i}" in shown for i in range(3))
    held = int(re.search(r"received (\d+)", shown).group(1))  # type: ignore[union-attr]
    tmux.keys("Home")
    rows = 0
    for _ in range(held):  # every record, every inspector tab
        tmux.keys("Down")
        time.sleep(0.2)
        tmux.keys("Tab")
        for _tab in range(5):
            tmux.keys("Right")
            time.sleep(0.15)
        tmux.keys("BTab")
        assert_terminal_untouched(tmux, f"row {rows}")
        rows += 1
    for key in ("d", "x"):  # dialogs that name the selected idem
        tmux.keys("Home", key)
        dialog = tmux.wait(lambda s: "Reason (optional)" in s, f"the dialog of {key}")
        assert visible(HOSTILE_TEXTS["title"]) in dialog
        assert tmux.title() == TITLE and tmux.buffers() == ""
        tmux.keys("Escape")
        tmux.wait(lambda s: "Reason (optional)" not in s, "the dialog closed")
    tmux.keys("q")
    final = tmux.wait(lambda s: "exit=" in s, "the exit")
    assert "exit=0" in final and "Traceback" not in tmux.history()
    assert tmux.title() == TITLE and tmux.buffers() == ""
    figures(
        f"{held} records held of {len(hostile_records('a', keys[0])) + 3} sent (3 of 3 good);"
        f" {rows} rows x 5 tabs, defer and discard dialogs in tmux; title, clipboard and"
        " screen untouched; exit 0"
    )


@pytest.mark.parametrize("key", ["s", "n", "r", "?", "d", "x", "p", "e"])
def test_q_then_another_key_exits_cleanly(tmux, key, figures):
    tmux.start(f"{shlex.quote(sys.executable)} -m ensync_tui --demo", {"TERM": "xterm-256color"})
    tmux.wait(lambda s: "connected" in s and "recv" in s, "the demo", timeout=60)
    time.sleep(0.5)
    tmux.keys("q", key)  # one send-keys: the two keys arrive together
    final = tmux.wait(lambda s: "exit=" in s, "the exit")
    history = tmux.history()
    assert "exit=0" in final, history
    assert "Traceback" not in history and "NoMatches" not in history
    figures(f"q then {key} in one write to a real terminal: exit 0, no traceback")


CRASH = """
import sys
from ensync_tui.app.widgets import inspector
from ensync_tui.cli.main import main

def show(self, entry, secret_key):
    key_in_a_local = secret_key
    raise RuntimeError("the inspector failed on purpose")

inspector.Inspector.show = show
sys.exit(main(sys.argv[1:]))  # the command's own start, as `ensync-tui` runs it
"""


def test_a_crash_in_a_terminal_names_the_report_and_shows_no_secret(
    tmux, keys, hostile_engine, tmp_path, figures
):
    port, _ = hostile_engine
    script = tmp_path / "crash.py"
    script.write_text(CRASH)
    state = tmp_path / "state"
    command = (
        f"{shlex.quote(sys.executable)} {shlex.quote(str(script))} --url ws://127.0.0.1:{port}"
        f" --access-key {ACCESS_KEY} --subscribe {NAME}"
    )
    env = {
        "ENSYNC_APP_SECRET_KEY": keys[1],
        "XDG_STATE_HOME": str(state),
        "PYTHONPATH": str(ROOT),
        "TERM": "xterm-256color",
    }
    tmux.start(command, env)
    tmux.wait(lambda s: "exit=" in s, "the crash")
    history = tmux.history()
    assert "exit=1" in history
    reports = list((state / "ensync-tui" / "crashes").glob("crash-*.log"))
    assert len(reports) == 1
    flat = history.replace("\n", "")
    assert str(reports[0]) in flat and "RuntimeError" in flat
    assert "key_in_a_local" not in history and "Traceback" not in history
    assert_no_secret(history, [keys[1], ACCESS_KEY], "the terminal after a crash")
    assert_no_secret(reports[0].read_text(), [keys[1], ACCESS_KEY], "the crash report")
    assert oct(reports[0].stat().st_mode & 0o777) == "0o600"
    figures("crash in tmux: one line naming a 0600 report; no locals, no secret run of 12")
