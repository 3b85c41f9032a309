"""The status bar: connection, identity, round trip and totals (``Status``, from the
controller)."""

from __future__ import annotations

import re

from textual.content import Content
from textual.widget import Widget

from ensync_tui.app.controller import Status
from ensync_tui.protocol.crypto import short_key
from ensync_tui.safetext import visible

_URL_IN_REASON = re.compile(r"\s+to\s+wss?://\S+?:(?=\s)")


def short_reason(reason: str) -> str:
    """A connection failure without the engine URL (the bar shows it already),
    its control characters shown as escapes (a close reason is the engine's text)."""
    return visible(_URL_IN_REASON.sub(":", reason.strip()))


def state_text(status: Status) -> Content:
    reason = short_reason(status.reason)
    if status.state == "connected":
        return Content.styled("● connected", "bold $success")
    if status.state == "reconnecting":
        text = f"◌ reconnecting {status.attempt} in {status.delay:.1f}s"
        if reason:
            text += f" ({reason})"
        return Content.styled(text, "bold $warning")
    if status.state == "closed":
        return Content.styled(f"✗ closed: {reason or 'no connection'}", "bold $error")
    if status.state == "recording":
        text = "▤ recording, read only" + (f" ({reason})" if reason else "")
        return Content.styled(text, "bold $accent")
    if status.state == "offline":
        return Content.styled("○ not connected", "bold $text-muted")
    text = "◌ connecting"
    if reason:
        text += f" ({reason})"
    return Content.styled(text, "bold $warning")


def count_text(number: int) -> str:
    """A capacity for reading: 100000 -> "100k", 2000000 -> "2M"."""
    for size, suffix in ((1_000_000, "M"), (1_000, "k")):
        if number >= size and number % size == 0:
            return f"{number // size}{suffix}"
    return str(number)


def render_status(status: Status) -> Content:
    rtt = "—" if status.rtt is None else f"{status.rtt * 1000:.0f} ms"
    me = visible(short_key(status.public_key)) if status.public_key else "—"
    mode = (
        Content.styled("auto-ack", "bold $warning")
        if status.auto_ack
        else Content.styled("manual ack", "bold")
    )
    follow = "following" if status.follow else "browsing"  # f follows again
    line1 = Content.assemble(
        state_text(status),
        "  ",
        (visible(status.url) or "(no engine)", "bold"),
        f"  rtt {rtt}  me {me}",
    )
    view: Content | str = ""
    if status.view:
        more = "…" if status.searching else ""
        view = Content.assemble(
            "  view ", (visible(status.view), "bold $accent"), f" ({status.shown:,}{more})"
        )
    if status.state == "recording":  # a file: nothing is received, acked or dropped now
        line2 = Content.assemble(
            f"records {status.received:,}  acked {status.acked:,}  pending {status.pending:,}",
            f"  {follow}",
            view,
        )
        return Content.assemble(" ", line1, "\n ", line2)
    line2 = Content.assemble(
        f"received {status.received}  held {status.held}/{status.received}",
        f" (max {count_text(status.capacity)})  acked {status.acked}  pending {status.pending}  ",
        mode,
        f"  {follow}",
        view,
    )
    # the lines carry their own left margin: CSS padding would lose the "…" of a cut line
    return Content.assemble(" ", line1, "\n ", line2)


class StatusBar(Widget):
    """Two fixed lines; updating them repaints only this bar (no layout pass).

    A line too long for the terminal is cut short (…), never wrapped onto the next.
    """

    DEFAULT_CSS = """
    StatusBar {
        height: 2; background: $panel;
        text-wrap: nowrap; text-overflow: ellipsis;
    }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._content = Content("")

    def show_status(self, status: Status) -> None:
        content = render_status(status)
        if content != self._content:
            self._content = content
            self.refresh()

    def render(self) -> Content:
        return self._content
