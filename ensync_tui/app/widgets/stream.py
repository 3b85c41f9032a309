"""The live stream: one row per held record, drawn line by line (cost follows screen height)."""

from __future__ import annotations

import time
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Static

from ensync_tui.app.history import Entry, History
from ensync_tui.app.offload import Offload, is_small
from ensync_tui.protocol.crypto import short_key
from ensync_tui.safetext import visible

# (title, width); the idem column takes what is left
COLUMNS: list[tuple[str, int]] = [
    ("time", 12),
    ("name", 26),
    ("idem", 0),
    ("block", 7),
    ("sender", 16),  # a contact's name, or a short key
    ("size", 7),
    ("state", 13),
]
MIN_IDEM = 12
# How a narrow pane makes room for the idem, in order: (column, its new width (0 hides
# it), applied while the idem would get fewer than this many characters).
NARROWING: list[tuple[str, int, int]] = [
    ("name", 20, 20),
    ("sender", 11, 20),
    ("sender", 0, 20),
    ("size", 0, 20),
    ("block", 0, 20),
    ("name", 16, 18),
    ("time", 0, 16),
    ("name", 12, 14),
]
# j/k/g/G in the stream and the subscriptions list (one id each for both lists)
MOVING = Binding.Group("Subscriptions")  # where help lists them (the Stream group is full)
LIST_KEYS = [
    Binding("j", "cursor(1)", "Down a row", show=False, id="list-down", group=MOVING),
    Binding("k", "cursor(-1)", "Up a row", show=False, id="list-up", group=MOVING),
    Binding("g", "first", "First row", show=False, id="list-first", group=MOVING),
    Binding("G", "last", "Last row (follows)", show=False, id="list-last", group=MOVING),
]
DECRYPTS_PER_FRAME = 6  # a firehose scrolls rows away faster than they are worth opening
DECRYPT_FRAME = 0.05


def column_widths(width: int) -> list[int]:
    """Width of each column for a pane ``width`` wide; 0 hides a column.

    Name, idem and state always show; the others make room in NARROWING's order.
    """
    widths = dict(COLUMNS)

    def idem_room() -> int:
        shown = [w for title, w in widths.items() if w and title != "idem"]
        return width - 1 - sum(shown) - len(shown)  # the leading space and separators

    for title, narrower, wanted in NARROWING:
        if idem_room() < wanted:
            widths[title] = narrower
    widths["idem"] = max(MIN_IDEM, idem_room())
    return [widths[title] for title, _ in COLUMNS]


def fit(text: str, width: int, right: bool = False) -> str:
    if len(text) > width:
        return text[: max(0, width - 1)] + "…"
    return text.rjust(width) if right else text.ljust(width)


def fit_middle(text: str, width: int) -> str:
    """``text`` cut in the middle when too long: both ends of an idem tell it apart."""
    if len(text) <= width:
        return text.ljust(width)
    if width < 3:
        return text[:width]
    head = (width - 1) // 2
    return text[:head] + "…" + text[len(text) - (width - 1 - head) :]


def format_time(ms: int) -> str:
    """Local time of day with milliseconds; dashes for a time that cannot be one."""
    if ms <= 0:
        return "--:--:--.---"
    seconds, millis = divmod(int(ms), 1000)
    try:
        return time.strftime("%H:%M:%S", time.localtime(seconds)) + f".{millis:03d}"
    except (OverflowError, OSError, ValueError):  # a record from a confused engine
        return "--:--:--.---"


def format_size(size: int) -> str:
    if size < 10_000:
        return str(size)
    if size < 10_000_000:
        return f"{size // 1000}k"
    return f"{size // 1_000_000}M"


def header_text(width: int) -> str:
    widths = column_widths(width)
    cells = [
        fit(title, w, right=title in ("block", "size"))
        for (title, _), w in zip(COLUMNS, widths, strict=True)
        if w
    ]
    return " " + " ".join(cells)


class StreamHeader(Static):
    """Column titles above the stream."""

    DEFAULT_CSS = """
    StreamHeader { height: 1; background: $panel; color: $text-muted; text-style: bold; }
    """

    def on_resize(self, event: events.Resize) -> None:
        self.update(header_text(event.size.width))


class StreamView(ScrollView, can_focus=True):
    """Virtual list of records with a cursor and follow mode."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "first", "First", show=False),
        Binding("end", "last", "Last", show=False),
        *LIST_KEYS,
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "stream-view--cursor",
        "stream-view--new",
        "stream-view--acked",
        "stream-view--deferred",
        "stream-view--discarded",
        "stream-view--undecryptable",
        "stream-view--replayed",
        "stream-view--muted",
    }

    DEFAULT_CSS = """
    StreamView { background: $surface; overflow-x: hidden; }
    StreamView > .stream-view--cursor { background: $accent 40%; text-style: bold; }
    StreamView:focus > .stream-view--cursor { background: $accent; color: $text; }
    StreamView > .stream-view--new { color: $text; }
    StreamView > .stream-view--acked { color: $success; }
    StreamView > .stream-view--deferred { color: $warning; }
    StreamView > .stream-view--discarded { color: $text-muted; text-style: strike; }
    StreamView > .stream-view--undecryptable { color: $error; }
    StreamView > .stream-view--replayed { color: $secondary; text-style: bold; }
    StreamView > .stream-view--muted { color: $text-muted; }
    """

    follow: reactive[bool] = reactive(True)

    class Selected(Message):
        """The cursor moved to another record (None when the view is empty)."""

        def __init__(self, entry: Entry | None) -> None:
            super().__init__()
            self.entry = entry

    class FollowChanged(Message):
        def __init__(self, follow: bool) -> None:
            super().__init__()
            self.follow = follow

    class Behind(Message):
        """Following a paced view: newer rows wait for ``catch_up`` to move the cursor."""

    def __init__(
        self, history: History, selection: dict[int, Entry] | None = None, **kwargs: object
    ) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.history = history
        self.senders: dict[str, str] = {}  # public key -> contact name
        self.selection = {} if selection is None else selection  # seq -> entry, marked ●
        self.cursor = -1
        self.selected: Entry | None = None
        # the record the cursor was put on: a filter that hides it for a while (or
        # empties the view) does not lose it, and clearing the filter comes back to it
        self.kept: Entry | None = None
        self._styles: dict[tuple[str, bool], Style] = {}
        self._budget = 0
        self._budget_at = 0.0
        self._catch_up = False
        self.offload: Offload | None = None  # where large payloads are opened
        self._opening: set[int] = set()  # seqs of entries being decrypted in the background
        # following, the cursor stays on its row until ``catch_up``: the screen moves it
        # together with the inspector, so the highlighted row is the one inspected
        self.paced = False

    # -- data ------------------------------------------------------------------
    def data_changed(self) -> None:
        """Rows were added, evicted or the filter changed: keep the cursor on its record."""
        count = len(self.history)
        self._set_rows(count)
        if count == 0:
            self._set_cursor(-1, anchor=False)
        elif self.follow:
            held = self.history.index_of(self.selected) if self.selected is not None else None
            if not self.paced or held is None:
                self._set_cursor(count - 1)
            else:
                self._set_cursor(held)
                if held != count - 1:
                    self.post_message(self.Behind())
        elif self.kept is not None:
            # its row, or the next one held; once a filter has found every match, the
            # record the cursor shows is the one it stays on
            row = min(self.history.row_near(self.kept), count - 1)
            self._set_cursor(row, anchor=not self.history.scanning)
        else:
            self._set_cursor(min(max(self.cursor, 0), count - 1), anchor=False)
        self.refresh()

    def _set_rows(self, count: int) -> None:
        size = Size(self.size.width, count)
        if size == self.virtual_size:
            return
        height = self.scrollable_content_region.height
        same_bars = (self.virtual_size.height > height) == (count > height)
        if same_bars and self.is_mounted and height:
            # no layout pass needed: only the scrollbar's range changes
            self.set_reactive(StreamView.virtual_size, size)
            self._scroll_update(size)
        else:
            self.virtual_size = size

    def catch_up(self) -> None:
        """Following: the cursor moves to the newest row."""
        if self.follow:
            self._set_cursor(len(self.history) - 1)

    def select_entry(self, entry: Entry) -> bool:
        """Move the cursor to an entry held in the view; False when it is filtered out."""
        index = self.history.index_of(entry)
        if index is None:
            return False
        if index != len(self.history) - 1:
            self.follow = False
        self._set_cursor(index)
        return True

    def _set_cursor(self, index: int, anchor: bool = True) -> None:
        count = len(self.history)
        index = min(max(index, -1 if count == 0 else 0), count - 1)
        old = self.selected
        self.cursor = index
        self.selected = self.history[index] if index >= 0 else None
        if anchor:
            self.kept = self.selected
        self._scroll_to_cursor()
        self.refresh()
        if self.selected is not old:
            self.post_message(self.Selected(self.selected))

    def _scroll_to_cursor(self) -> None:
        height = max(1, self.scrollable_content_region.height)
        if self.follow:
            target = max(0, len(self.history) - height)
        elif self.cursor < self.scroll_y:
            target = self.cursor
        elif self.cursor >= self.scroll_y + height:
            target = self.cursor - height + 1
        else:
            return
        self.scroll_to(y=target, animate=False, immediate=True)

    def watch_follow(self, follow: bool) -> None:
        self.post_message(self.FollowChanged(follow))

    # -- keys and mouse ----------------------------------------------------------
    def action_cursor(self, delta: int) -> None:
        if delta < 0:
            self.follow = False
        self._set_cursor(self.cursor + delta)

    def action_page(self, direction: int) -> None:
        height = max(1, self.scrollable_content_region.height - 1)
        self.action_cursor(direction * height)

    def action_first(self) -> None:
        self.follow = False
        self._set_cursor(0)

    def action_last(self) -> None:
        self.resume_follow()

    def resume_follow(self) -> None:
        self.follow = True
        self._set_cursor(len(self.history) - 1)

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        row = int(self.scroll_y) + offset.y
        if 0 <= row < len(self.history):
            if row < len(self.history) - 1:
                self.follow = False
            self._set_cursor(row)

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        self.follow = False

    # -- drawing ---------------------------------------------------------------
    def on_resize(self, event: events.Resize) -> None:
        self.virtual_size = Size(event.size.width, len(self.history))
        self._scroll_to_cursor()

    def render_line(self, y: int) -> Strip:
        row = int(self.scroll_y) + y
        width = self.size.width
        if row >= len(self.history) or row < 0:
            if y == 0 and not len(self.history):
                return Strip(
                    [Segment(fit(self.empty_text(), width), self._row_style("muted", False))]
                )
            return Strip.blank(width, self.rich_style)
        entry = self.history[row]
        if not entry.decrypted and not entry.error:
            self._decrypt_some(entry)
        style = self._row_style(entry.shown_state, row == self.cursor)
        text = self.row_text(entry, width)
        if self.selection and entry.seq in self.selection:
            text = "●" + text[1:]
        return Strip([Segment(text, style)], width)

    def empty_text(self) -> str:
        """What an empty stream says instead of nothing."""
        if self.history.filter.active:
            if self.history.scanning:
                return " Searching…"
            return " No held message matches the filter."
        return " No messages yet."

    def _decrypt_some(self, entry: Entry) -> None:
        """Decrypt visible rows lazily (so undecryptable ones show as such), a few per frame.

        A large payload is decrypted in the background; the row is redrawn after.
        """
        if self.offload is not None and not is_small(entry):
            self._open_later(entry)
            return
        now = time.monotonic()
        if now - self._budget_at > DECRYPT_FRAME:
            self._budget_at = now
            self._budget = DECRYPTS_PER_FRAME
        if self._budget > 0:
            self._budget -= 1
            entry.decrypt(self.history.secret_key)
        elif not self._catch_up:
            self._catch_up = True  # the rest on a later frame
            self.set_timer(DECRYPT_FRAME * 2, self._caught_up)

    def _open_later(self, entry: Entry) -> None:
        if entry.seq in self._opening or self.offload is None:
            return
        self._opening.add(entry.seq)
        secret = self.history.secret_key

        def opened(_: object) -> None:
            self._opening.discard(entry.seq)
            self.refresh()

        self.offload.bulk(lambda: entry.decrypt(secret), opened, opened)

    def _caught_up(self) -> None:
        self._catch_up = False
        self.refresh()

    def _row_style(self, state: str, cursor: bool) -> Style:
        key = (state, cursor)
        style = self._styles.get(key)
        if style is None:
            style = self.rich_style + self.get_component_rich_style(
                f"stream-view--{state}", partial=True
            )
            if cursor:
                style += self.get_component_rich_style("stream-view--cursor", partial=True)
            self._styles[key] = style
        return style

    def notify_style_update(self) -> None:
        self._styles.clear()
        super().notify_style_update()

    def on_focus(self, event: events.Focus) -> None:
        self._styles.clear()
        self.refresh()

    def on_blur(self, event: events.Blur) -> None:
        self._styles.clear()
        self.refresh()

    def sender_label(self, sender: str) -> str:
        """A contact's name for a known key, else the short key."""
        if not sender:
            return "-"
        return visible(self.senders.get(sender) or short_key(sender))

    def row_text(self, entry: Entry, width: int) -> str:
        w = column_widths(width)
        cells = (
            fit(format_time(entry.logged_at), w[0]) if w[0] else None,
            fit(visible(entry.name), w[1]),
            fit_middle(visible(entry.idem), w[2]),
            fit(visible(str(entry.block)), w[3], right=True) if w[3] else None,
            fit(self.sender_label(entry.sender), w[4]) if w[4] else None,
            fit(format_size(entry.size), w[5], right=True) if w[5] else None,
            fit(entry.shown_state, w[6]),
        )
        return fit(" " + " ".join(cell for cell in cells if cell is not None), width)
