"""The client's errors: one ``EnSyncError`` base, a subclass per error type.

The type names are the official SDK's (``EnSyncPublishError`` and so on), so
code written against the SDK that checks ``error.error_type`` keeps working.
"""

from __future__ import annotations

__all__ = [
    "ERROR_TYPES",
    "EnSyncAckError",
    "EnSyncAuthError",
    "EnSyncConnectionError",
    "EnSyncContinueError",
    "EnSyncDeferError",
    "EnSyncDiscardError",
    "EnSyncError",
    "EnSyncPauseError",
    "EnSyncPublishError",
    "EnSyncReplayError",
    "EnSyncRollbackError",
    "EnSyncSubscriptionError",
    "EnSyncTimeoutError",
    "EnSyncValidationError",
    "error_for_fail",
]


class EnSyncError(Exception):
    """Any EnSync client failure. ``error_type`` names the kind, as the SDK does."""

    default_type = "EnSyncError"

    def __init__(self, message: str = "EnSync error", error_type: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.error_type = error_type or self.default_type

    def __str__(self) -> str:
        return f"{self.error_type}: {self.message}"


class EnSyncConnectionError(EnSyncError):
    default_type = "EnSyncConnectionError"


class EnSyncAuthError(EnSyncError):
    default_type = "EnSyncAuthError"


class EnSyncPublishError(EnSyncError):
    default_type = "EnSyncPublishError"

    def __init__(
        self,
        message: str = "publish failed",
        error_type: str | None = None,
        results: list[dict[str, object]] | None = None,
    ) -> None:
        super().__init__(message, error_type)
        # per recipient: the answer, or the error for those that failed
        self.results: list[dict[str, object]] = results or []


class EnSyncSubscriptionError(EnSyncError):
    default_type = "EnSyncSubscriptionError"


class EnSyncTimeoutError(EnSyncError):
    default_type = "EnSyncTimeoutError"


class EnSyncReplayError(EnSyncError):
    default_type = "EnSyncReplayError"


class EnSyncDeferError(EnSyncError):
    default_type = "EnSyncDeferError"


class EnSyncDiscardError(EnSyncError):
    default_type = "EnSyncDiscardError"


class EnSyncPauseError(EnSyncError):
    default_type = "EnSyncPauseError"


class EnSyncContinueError(EnSyncError):
    default_type = "EnSyncContinueError"


class EnSyncValidationError(EnSyncError):
    default_type = "EnSyncValidationError"


class EnSyncAckError(EnSyncError):
    default_type = "EnSyncAckError"


class EnSyncRollbackError(EnSyncError):
    default_type = "EnSyncRollbackError"


# which error a -FAIL answer to each verb becomes
ERROR_TYPES: dict[str, type[EnSyncError]] = {
    "CONN": EnSyncAuthError,
    "PUB": EnSyncPublishError,
    "SUB": EnSyncSubscriptionError,
    "UNSUB": EnSyncSubscriptionError,
    "ACK": EnSyncAckError,
    "ROLLBACK": EnSyncRollbackError,
    "DEFER": EnSyncDeferError,
    "DISCARD": EnSyncDiscardError,
    "PAUSE": EnSyncPauseError,
    "CONTINUE": EnSyncContinueError,
    "REPLAY": EnSyncReplayError,
}


def error_for_fail(verb: str, reason: str) -> EnSyncError:
    """The error for a ``-FAIL:<reason>`` answer to ``verb``."""
    cls = ERROR_TYPES.get(verb, EnSyncError)
    return cls(reason or f"{verb} failed")
