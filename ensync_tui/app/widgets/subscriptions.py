"""The subscriptions list: "all", then each subscribed name with its counters."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from textual import on
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from ensync_tui.app.history import History
from ensync_tui.app.rates import KEPT_SECONDS, Rates, columns, spark
from ensync_tui.app.widgets.stream import LIST_KEYS
from ensync_tui.safetext import visible

# the main screen's key for folding this list away and back
FOLD = Binding(
    "b", "fold", "Fold this list", id="fold", show=False, group=Binding.Group("Subscriptions")
)
WIDTH, NARROW_WIDTH, MIN_WIDTH = 34, 24, 20  # columns of the list, with its border
WIDE_SCREEN = 120  # narrower screens give the list at most NARROW_WIDTH
ALL = "\x00all"  # option id of the "all" entry (never a message name)
HINT = "\x00hint"  # option id of the hint shown while there are no subscriptions
SPARKS_NONE, SPARKS_ALL, SPARKS_EVERY = 0, 1, 2  # which entries show a sparkline
_NO_RATES = Rates()  # a name nothing has arrived for yet (never added to)


def count_text(number: int) -> str:
    """A count short enough for the list: 9999, 12.3k, 456k, 1.2M."""
    if number < 10_000:
        return str(number)
    if number < 100_000:
        return f"{number / 1000:.1f}k"
    if number < 1_000_000:
        return f"{number // 1000}k"
    return f"{number / 1_000_000:.1f}M"


def rate_text(rate: float) -> str:
    if rate < 100:
        return f"{rate:.1f}/s"
    return f"{rate:.0f}/s" if rate < 10_000 else f"{rate / 1000:.1f}k/s"


def in_flight_text(pending: int, window: int, auto_ack: bool) -> str:
    """A name whose window is full with manual ack: the engine sends its next record once
    you answer one (a, d or x). "" otherwise, and with no window (0: a recording)."""
    if auto_ack or window <= 0 or pending < window:
        return ""
    return f"  {count_text(pending)} in flight, waiting for you"


def spark_text(rates: Rates, now: float, width: int) -> str:
    """The last two minutes of ``rates`` as ``width`` columns and the peak rate, or ""."""
    for cols in (20, 15, 12, 10, 8):  # each a whole number of seconds a column
        if 2 + cols + 8 <= width:
            values = columns(rates.per_second(now, KEPT_SECONDS), cols)
            return f"  {spark(values)} {rate_text(max(values, default=0.0))}"
    return ""


def _label(name: str, width: int) -> str:
    """A message name as the list shows it: control characters as escapes, cut to fit."""
    name = visible(name)
    return name if len(name) <= width else name[: width - 1] + "…"


class SubscriptionList(OptionList):
    """Selecting an entry filters the stream to that name ("all" shows everything)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        dataclasses.replace(b, action=action)
        for b, action in zip(LIST_KEYS, ("cursor_down", "cursor_up", "first", "last"), strict=True)
    ]

    DEFAULT_CSS = """
    SubscriptionList {
        width: 34; height: 1fr; border: none; border-right: solid $primary;
        text-wrap: nowrap;  /* a line too long is cut, never wrapped under the next name */
    }
    """

    class Chosen(Message):
        def __init__(self, name: str | None) -> None:
            super().__init__()
            self.name = name

    def __init__(self, history: History, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.history = history
        self.names: list[str] = []
        self.paused: dict[str, str] = {}
        self.now = 0.0
        self.empty_hint = ""  # shown under "all" while nothing is subscribed
        self.chosen: str | None = None  # the name the stream is filtered to, marked ▸
        self.auto_ack = False
        self.window = 1  # records the engine keeps in flight per name (EnSync: one)
        self._screen_width = WIDE_SCREEN
        self.room = WIDTH - 4
        # sparklines under: every entry, "all" only, or none (as the list's height allows)
        self.sparks = SPARKS_EVERY

    def fit(self, screen_width: int) -> None:
        """WIDTH columns; on a narrow screen what the names need, up to NARROW_WIDTH
        (the counters line is cut there first), so the stream keeps room for idems."""
        self._screen_width = screen_width
        width = WIDTH
        if screen_width < WIDE_SCREEN:
            longest = max((len(visible(n)) for n in self.names), default=0)
            width = max(MIN_WIDTH, min(NARROW_WIDTH, longest + 6))
        self.styles.width = width
        if width - 4 != self.room:  # what a line may hold inside the border and margins
            self.room = width - 4
            self.update_counts(self.now)

    @property
    def highlighted_name(self) -> str | None:
        """The highlighted message name, None for "all" or nothing."""
        if self.highlighted is None:
            return None
        option_id = self.get_option_at_index(self.highlighted).id
        return None if option_id in (None, ALL, HINT) else option_id

    def show_chosen(self, name: str | None) -> None:
        """Mark the name the stream shows (None: all), whatever is highlighted."""
        if name != self.chosen:
            self.chosen = name
            self.update_counts(self.now)

    def set_auto_ack(self, on: bool) -> None:
        if on != self.auto_ack:
            self.auto_ack = on
            self.update_counts(self.now)

    def set_window(self, window: int) -> None:
        """How many records the engine keeps in flight per name (1 unless known; 0 for
        none, as in a recording, where nothing waits for an answer)."""
        if window != self.window:
            self.window = max(0, window)
            self.update_counts(self.now)

    def set_empty_hint(self, hint: str) -> None:
        """What to say while nothing is subscribed ("" for nothing)."""
        if hint != self.empty_hint:
            self.empty_hint = hint
            if not self.names:
                self._rebuild()

    def set_names(self, names: list[str], paused: dict[str, str]) -> None:
        self.paused = dict(paused)
        if names != self.names:
            self.names = list(names)
            self._rebuild()
            self.fit(self._screen_width)
        else:
            self.update_counts(self.now)

    def _rebuild(self) -> None:
        keep = self.highlighted_name
        self.sparks = self._sparks_fit()
        self.set_options([Option(self._prompt(None), id=ALL)])
        self.add_options(Option(self._prompt(n), id=n) for n in self.names)
        if not self.names and self.empty_hint:
            self.add_option(Option(Content.styled(self.empty_hint, "dim"), id=HINT, disabled=True))
        index = self.names.index(keep) + 1 if keep in self.names else 0
        self.highlighted = index

    def _sparks_fit(self) -> int:
        """Sparklines only live (a recording has no rates), as many as the height allows."""
        if self.window <= 0:
            return SPARKS_NONE
        height = self.size.height
        stats = self.history.stats
        waiting = 0
        if not self.auto_ack:
            for name in self.names:
                stat = stats.get(name)
                waiting += bool(stat and stat.pending >= self.window)
        lines = 2 * (len(self.names) + 1) + waiting
        if not height or lines + len(self.names) + 1 <= height:
            return SPARKS_EVERY
        return SPARKS_ALL if lines + 1 <= height else SPARKS_NONE

    def on_resize(self) -> None:
        self.update_counts(self.now)

    def update_counts(self, now: float) -> None:
        self.now = now
        self.sparks = self._sparks_fit()
        if self.option_count < len(self.names) + 1:
            return
        self.replace_option_prompt_at_index(0, self._prompt(None))
        for i, name in enumerate(self.names, start=1):
            self.replace_option_prompt_at_index(i, self._prompt(name))

    def _prompt(self, name: str | None) -> Content:
        history = self.history
        if name is None:
            top = Content.assemble(("all", "bold"))
            line = f"  {count_text(history.received)} recv · {count_text(history.pending)} pend"
            prompt = Content.assemble(top, "\n", (line, "dim"))
            return self._with_spark(prompt, history.times) if self.sparks else prompt
        stats = history.stats.get(name)
        received = stats.received if stats else 0
        pending = stats.pending if stats else 0
        rate = stats.rate(self.now) if stats else 0.0
        mark = Content.styled(" ⏸ paused", "bold $warning") if name in self.paused else Content("")
        room = self.room - (9 if name in self.paused else 0)
        if name == self.chosen:
            top = Content.assemble(
                ("▸ ", "bold $accent"), (_label(name, room - 2), "bold $accent"), mark
            )
        else:
            top = Content.assemble((_label(name, room), "bold"), mark)
        speed = f"{rate_text(rate)} · " if self.room >= WIDTH - 4 else ""  # narrow: no rate
        line = f"  {count_text(received)} recv · {speed}{count_text(pending)} pend"
        waiting = in_flight_text(pending, self.window, self.auto_ack)
        prompt = Content.assemble(top, "\n", (line, "dim"))
        if self.sparks == SPARKS_EVERY:
            prompt = self._with_spark(prompt, stats.times if stats else _NO_RATES)
        if waiting:
            return Content.assemble(prompt, "\n", (waiting, "$warning"))
        return prompt

    def _with_spark(self, prompt: Content, rates: Rates) -> Content:
        """``prompt`` and, under it, the sparkline of the last two minutes (when there is room)."""
        line = spark_text(rates, self.now, self.room + 2)  # as wide as the counters line
        return Content.assemble(prompt, "\n", (line, "$accent")) if line else prompt

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        option_id = event.option.id
        self.post_message(self.Chosen(None if option_id in (None, ALL) else option_id))
