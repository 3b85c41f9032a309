"""What only a real `ensync-tui` process shows: its exit codes and its entry point.
(The other command tests run in this process; signals are tested on real processes
in test_headless, test_failures and test_serve.)"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ensync_tui.cli.main import main
from tests.cli.conftest import ROOT


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


def loaded_after(code: str, prefixes: tuple[str, ...]) -> list[str]:
    """The modules starting with ``prefixes`` that a new process has loaded after ``code``."""
    check = f"import sys\n{code}\nprint([m for m in sys.modules if m.startswith({prefixes!r})])"
    proc = subprocess.run(
        [sys.executable, "-c", check], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    return ast.literal_eval(proc.stdout.strip().splitlines()[-1])


def test_help_imports_neither_the_client_nor_textual():
    """`ensync-tui --help` (and each command's) loads only the command line."""
    code = (
        "import contextlib, io\n"
        "from ensync_tui.cli.main import COMMANDS, main\n"
        "helps = [[], *[c.__name__.rsplit('.', 1)[1].split('_') for c in COMMANDS]]\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        "    codes = [main([*argv, '--help']) for argv in helps]\n"
        "assert codes == [0] * len(helps), codes\n"
        "assert out.getvalue().count('usage: ensync-tui') == len(helps)\n"
    )
    heavy = ("textual", "ensync_tui.app", "ensync_tui.client", "ensync_tui.engine", "websockets")
    assert loaded_after(code, (*heavy, "nacl", "cryptography")) == []


def test_headless_commands_import_no_textual():
    code = (
        "from ensync_tui.cli.main import main\n"
        "main(['keygen']); main(['config', 'show'])\n"
        "main(['replay', 'x', 'i', '--url', 'ws://127.0.0.1:9', '--access-key', 'k'])\n"
        "main(['bench', '--local', '--count', '5'])\n"
    )
    assert loaded_after(code, ("textual", "ensync_tui.app")) == []


def test_the_explorer_paints_before_it_loads_the_client():
    """Cold start: the explorer's modules (and the demo's) leave the client, the engine
    and websockets to the session, which starts after the first frame."""
    code = (
        "import ensync_tui.app, ensync_tui.cli.explorer, ensync_tui.demo\n"
        "demo = ensync_tui.demo.Demo(seed=0)\n"
        "assert 'services' in demo.banner and demo.account_key.startswith('demo-account-')\n"
    )
    heavy = ("ensync_tui.client", "ensync_tui.engine", "websockets")
    assert loaded_after(code, heavy) == []
