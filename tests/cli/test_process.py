"""What only a real `ensync-tui` process shows: its exit codes and its entry point.
(The other command tests run in this process; signals are tested on real processes
in test_headless, test_failures and test_serve.)"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ensync_tui.cli.main import main


def test_exit_codes_of_the_process(cli_process, tmp_path):
    proc = cli_process("keygen", "--json")
    assert (proc.returncode, proc.stderr) == (0, "")
    proc = cli_process("nosuch")
    assert proc.returncode == 2 and "invalid choice" in proc.stderr
    proc = cli_process("replay", "x", "i", "--url", "ws://127.0.0.1:9", "--access-key", "k")
    assert proc.returncode == 1 and proc.stderr.startswith("ensync-tui: error: cannot connect")
    (tmp_path / "ensync.toml").write_text("[profiles.x]\nurl = 3\n")
    proc = cli_process("config", "show")
    assert (proc.returncode, proc.stderr) == (
        2,
        "ensync-tui: ensync.toml: profiles.x.url: must be a non-empty string\n",
    )


def test_the_console_script_is_the_entry_point():
    from importlib.metadata import entry_points

    (script,) = entry_points(group="console_scripts", name="ensync-tui")
    assert script.value == "ensync_tui.cli.main:main" and script.load() is main
    installed = Path(sys.executable).parent / "ensync-tui"
    if not installed.exists():
        pytest.skip("the ensync-tui script is not installed next to this Python")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run(
        [str(installed), "--version"], capture_output=True, text=True, env=env, timeout=60
    )
    assert proc.returncode == 0 and proc.stdout.startswith("ensync-tui ")
