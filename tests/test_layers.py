"""client/ and engine/ never import Textual or the app."""

import subprocess
import sys

import pytest


@pytest.mark.parametrize("module", ["ensync_tui.client", "ensync_tui.engine", "ensync_tui.cli"])
def test_no_textual_in(module):
    code = (
        f"import sys, {module}\n"
        "bad = [m for m in sys.modules if m == 'textual' or m.startswith(('textual.', "
        "'ensync_tui.app'))]\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
