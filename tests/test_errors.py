"""errors.py: the exit codes, the one ConfigError, and errors as one line of text."""

from __future__ import annotations

import pytest

from ensync_tui import errors
from ensync_tui.errors import CommandError, ConfigError, UsageError, error_text


def test_exit_codes_are_what_a_shell_reports():
    codes = (errors.EXIT_OK, errors.EXIT_ERROR, errors.EXIT_USAGE)
    assert (*codes, errors.EXIT_INTERRUPTED, errors.EXIT_TERMINATED) == (0, 1, 2, 130, 143)


def test_one_config_error_for_profiles_and_the_engine():
    from ensync_tui import config
    from ensync_tui.engine import config as engine_config

    assert config.ConfigError is engine_config.ConfigError is ConfigError
    assert issubclass(ConfigError, UsageError)  # exit code 2
    assert issubclass(ConfigError, ValueError)  # what the engine's was
    assert not issubclass(CommandError, UsageError)


class WithMessage(Exception):
    def __init__(self, message: str) -> None:
        super().__init__("ignored text")
        self.message = message


@pytest.mark.parametrize(
    ("exc", "text"),
    [
        (WithMessage("-FAIL: not\nallowed"), "-FAIL: not allowed"),
        (WithMessage(""), "ignored text"),
        (ValueError("two\n  lines\tand tabs "), "two lines and tabs"),
        (KeyError("name"), "name"),  # not "'name'"
        (OSError(111, "Connection refused"), "[Errno 111] Connection refused"),
        (ValueError("first", "second"), "first"),
        (ConnectionResetError(), "ConnectionResetError"),
        (RuntimeError("   "), "RuntimeError"),
        (ValueError(3), "3"),
    ],
)
def test_error_text_is_one_line(exc, text):
    assert error_text(exc) == text
