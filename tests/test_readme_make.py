"""Every `make X` that README.md tells people to type is a target of the Makefile."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def makefile_targets(text: str) -> set[str]:
    targets: set[str] = set()
    for line in text.splitlines():
        match = re.match(r"^([A-Za-z0-9_.%/-]+(?:\s+[A-Za-z0-9_.%/-]+)*)\s*:(?!=)", line)
        if match and not line.startswith(("\t", "#")):
            targets.update(t for t in match.group(1).split() if not t.startswith((".", "$")))
    return targets


def readme_make_commands(text: str) -> set[str]:
    # `make X` in code blocks and inline code, e.g. "make demo" or "`make test`"
    code = re.findall(r"```.*?```", text, flags=re.S) + re.findall(r"`[^`\n]+`", text)
    found: set[str] = set()
    for chunk in code:
        found.update(re.findall(r"(?:^|[\s;&|(`$])make\s+([A-Za-z][\w.-]*)", chunk, flags=re.M))
    return found


def test_parsers():
    mk = "X := 1\n.PHONY: a b\n$(BIN)/python:\n\tcmd\na: $(STAMP)\n\tcmd\nb c: a\n"
    assert makefile_targets(mk) == {"a", "b", "c"}
    md = "Run `make demo`.\n```bash\nmake test   # all\ncd x && make bench\n```\nmake-believe"
    assert readme_make_commands(md) == {"demo", "test", "bench"}


def test_readme_make_commands_are_makefile_targets():
    targets = makefile_targets((ROOT / "Makefile").read_text())
    commands = readme_make_commands((ROOT / "README.md").read_text())
    assert commands, "README.md names no make command"
    missing = sorted(commands - targets)
    assert not missing, f"README.md mentions make {missing}, not targets of the Makefile"
