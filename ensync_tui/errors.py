"""The errors every part reports the same way, and the exit codes (imports nothing of ours)."""

from __future__ import annotations

EXIT_OK = 0
EXIT_ERROR = 1  # a failure at run time
EXIT_USAGE = 2  # bad arguments or configuration
EXIT_INTERRUPTED = 130  # 128 + SIGINT (Ctrl+C), as a shell reports it
EXIT_TERMINATED = 143  # 128 + SIGTERM


class UsageError(Exception):
    """Bad arguments: reported on stderr in one line, exit code 2."""


class CommandError(Exception):
    """A failure at run time: reported on stderr in one line, exit code 1."""


class ConfigError(UsageError, ValueError):
    """Invalid configuration (a profile file or engine.toml): the text names the
    file and the key, ``FILE: KEY: problem``; exit code 2."""


def error_text(exc: BaseException) -> str:
    """What went wrong, as one line of text without the exception class noise:
    an EnSyncError's ``message``, else its first argument when that is text, else
    its text, else its class name."""
    message = getattr(exc, "message", None)
    if not (isinstance(message, str) and message.strip()):
        first = exc.args[0] if exc.args else None
        message = first if isinstance(first, str) and first.strip() else str(exc)
    return " ".join(message.split()) or type(exc).__name__
