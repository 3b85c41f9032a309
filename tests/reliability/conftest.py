"""Long fault, load and security runs (``make reliability``); ``make test`` leaves them out."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/reliability/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.reliability)


_FIGURES: list[str] = []


@pytest.fixture
def figures(request: pytest.FixtureRequest):
    """``figures("load ..., lost 0, ...")``: one line for the README table, printed at the end."""

    def add(line: str) -> None:
        text = f"{request.node.name}: {line}"
        _FIGURES.append(text)
        print(text, flush=True)

    return add


def pytest_terminal_summary(terminalreporter) -> None:  # type: ignore[no-untyped-def]
    if _FIGURES:
        terminalreporter.section("reliability figures")
        for line in _FIGURES:
            terminalreporter.write_line(line)
