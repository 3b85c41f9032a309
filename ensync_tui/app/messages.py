"""Facts the runtime tells the main screen, as Textual messages."""

from __future__ import annotations

from textual.message import Message

from ensync_tui.app.history import Entry
from ensync_tui.settings import Settings


class RecordsReceived(Message):
    """A batch of delivered records, as entries made on the runtime's thread, and the
    auto-acks answered since the last batch: (name, idem, block) acked, (idem, error)
    refused or lost."""

    def __init__(
        self,
        records: list[Entry],
        acked: list[tuple[str, str, int]] | None = None,
        failures: list[tuple[str, Exception]] | None = None,
    ) -> None:
        super().__init__()
        self.records = records
        self.acked = acked or []
        self.failures = failures or []


class ConnectionChanged(Message):
    """The connection state changed (a client ConnectionState or alike)."""

    def __init__(self, status: str, attempt: int = 0, delay: float = 0.0, reason: str = "") -> None:
        super().__init__()
        self.status = status
        self.attempt = attempt
        self.delay = delay
        self.reason = reason

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, ConnectionChanged)


class RttMeasured(Message):
    """A ping round trip, in seconds."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, RttMeasured)


class SessionReady(Message):
    """Connected as ``public_key`` (settings may come from a demo)."""

    def __init__(self, settings: Settings, public_key: str) -> None:
        super().__init__()
        self.settings = settings
        self.public_key = public_key


class DemoStarted(Message):
    """A demo is running; its settings, banner and window (records in flight per name)."""

    def __init__(self, settings: Settings, banner: str, window: int = 1) -> None:
        super().__init__()
        self.settings = settings
        self.banner = banner
        self.window = window


class NeedsConnection(Message):
    """There is nothing to connect to: the main screen shows how to connect."""


class SubscriptionsChanged(Message):
    """The set of subscribed names or their paused flags changed."""

    def __init__(self, names: list[str], paused: dict[str, str]) -> None:
        super().__init__()
        self.names = names
        self.paused = paused


class Notice(Message):
    """Something the user should read (a failure in the background)."""

    def __init__(self, text: str, severity: str = "warning") -> None:
        super().__init__()
        self.text = text
        self.severity = severity


class RegistryRead(Message):
    """The registered message names and their schemas (``{}``: none), just read."""

    def __init__(self, names: dict[str, dict[str, str]]) -> None:
        super().__init__()
        self.names = names


class RegistryFailed(Message):
    """The registered names could not be read; why."""

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason
