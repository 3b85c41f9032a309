"""The help screen: every key binding, grouped, and what each pane shows."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from ensync_tui.app.screens.common import DIALOG_CSS

__all__ = ["CONNECT_HELP", "PANES_HELP", "HelpScreen", "group_bindings"]

# Group of a binding, found from words in its id or action (first match wins).
_GROUPS: list[tuple[str, tuple[str, ...]]] = [
    ("Subscriptions", ("subscribe", "pause", "resume")),
    ("Messages", ("ack", "defer", "discard", "rollback", "copy")),
    ("Stream", ("follow", "filter", "jump", "scroll", "select", "cursor")),
    ("Tools", ("replay", "compose", "publish", "export", "palette", "command")),
    ("App", ("help", "quit", "theme", "screenshot")),
]

# Bindings listed on one line of help: (their ids, what they do).
JOINED: list[tuple[tuple[str, ...], str]] = [
    (("select-toggle", "select-view", "select-clear"), "Select row / all in view / none"),
    (("list-down", "list-up"), "Down / up a row (both lists)"),
    (("list-first", "list-last"), "First / last row"),
    (tuple(f"tab-{n}" for n in range(1, 6)), "Inspector tab, in order"),
]

# What the main screen shows while there is no engine to connect to.
CONNECT_HELP = """\
[b]Not connected to an EnSync engine.[/b]

Start the explorer with an engine URL, an access key and your app secret key:

    ensync-tui --url ws://localhost:8082 --access-key KEY --app-secret-key SECRET

or put them in a profile (./ensync.toml or the user config file) and pick it with
[b]--profile NAME[/b], or set the environment variables [b]ENSYNC_URL[/b],
[b]ENSYNC_ACCESS_KEY[/b] and [b]ENSYNC_APP_SECRET_KEY[/b] (and [b]ENSYNC_PROFILE[/b]).

No engine at hand? Run [b]ensync-tui serve[/b] for a local one, or try the explorer
with a built-in engine and sample traffic:

    ensync-tui --demo

Press [b]q[/b] to quit.
"""

PANES_HELP = """\
[b]Status bar[/b]  engine URL, connection state and round trip, your identity (short public \
key), totals received / held / acked / pending, and auto-ack or manual mode.
[b]Subscriptions[/b]  each subscribed message name with its received count, rate and \
pending acks; paused ones are marked. Select one to filter the stream; "all" shows everything. \
Under each, a sparkline of its messages per second over the last two minutes (its peak \
at the right); a short list keeps only the one under "all", or none. \
"1 in flight, waiting for you": the engine sends that name's next message once you answer \
this one.
[b]Delivery[/b]  EnSync pushes one message at a time per name: with manual ack, [b]a[/b], \
[b]d[/b] or [b]x[/b] bring the next; with auto-ack each is acked as it arrives. Subscribing \
with the identity of a running service competes with it for messages, and a message you \
leave unanswered holds back that name's queue for everyone using the identity, until you \
answer it or the engine's ack_wait passes.
[b]Stream[/b]  one row per record: time, name, idem, block, sender, size and state. Follow \
mode keeps the newest in view and stops when you move up; [b]f[/b] jumps back.
[b]Inspector[/b]  the selected record: decrypted payload as a tree and as text, what \
changed since the previous message of its name, metadata, headers and the states it went \
through, the raw record and its \
encryption envelope, and why decryption failed if it did.
[b]Filter[/b]  / then words, name:orders/*, sender:, idem:, state:acked, header:k=v, \
re:/…/i, $.status == "failed", $.amount > 100, exists($.refund); and, or, not, ( ); \
↑/↓ recall recent filters, Escape clears.
[b]Moving[/b]  ↑/↓ or j/k, PgUp/PgDn, Home/End or g/G in the stream and the list; \
Tab/Shift+Tab from pane to pane; Enter on a subscription filters by it; 1-5 choose the \
inspector's tab and z zooms it; b folds the subscriptions list; Escape closes a dialog, \
else clears the filter (then the chosen name's view) and the cursor stays on its message.
[b]Composer[/b]  ctrl+k saves the draft under a name; ctrl+o lists its name's saved payloads \
(Enter loads, r renames, del deletes).
[b]Mouse[/b]  click to select and focus, scroll anywhere."""


def _group_of(binding: Binding) -> str:
    if binding.group is not None and binding.group.description:
        return binding.group.description
    words = f"{binding.id or ''} {binding.action}".casefold()
    for group, needles in _GROUPS:
        if any(needle in words for needle in needles):
            return group
    return "Other"


def _as_binding(item: Any) -> Binding | None:
    if isinstance(item, Binding):
        return item
    if isinstance(item, tuple) and len(item) >= 2:
        return Binding(*item)
    return None


def group_bindings(bindings: Iterable[Any]) -> dict[str, list[Binding]]:
    """Bindings by group, in a fixed group order, each listed once."""
    order = [group for group, _ in _GROUPS] + ["Other"]
    grouped: dict[str, list[Binding]] = {}
    seen: set[tuple[str, str]] = set()
    for item in bindings:
        binding = _as_binding(item)
        if binding is None or (binding.key, binding.action) in seen:
            continue
        seen.add((binding.key, binding.action))
        grouped.setdefault(_group_of(binding), []).append(binding)
    return {group: grouped[group] for group in sorted(grouped, key=_order_key(order))}


def _order_key(order: list[str]) -> Any:
    def key(group: str) -> tuple[int, str]:
        return (order.index(group) if group in order else len(order) - 1, group)

    return key


class KeyList(Static):
    """Keys and what they do, one binding a line, keys in a column."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"key-list--key"}
    DEFAULT_CSS = """
    KeyList { height: auto; padding-left: 1; }
    KeyList > .key-list--key { color: $text-accent; text-style: bold; }
    """

    def __init__(self, rows: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._rows = rows

    def render(self) -> Text:
        style = self.get_component_rich_style("key-list--key", partial=True)
        width = max((len(key) for key, _ in self._rows), default=0) + 2
        text = Text()
        for index, (key, description) in enumerate(self._rows):
            if index:
                text.append("\n")
            text.append(key.ljust(width), style=style)
            text.append(description)
        return text


class HelpScreen(ModalScreen[None]):
    """Every key binding and a short tour of the panes."""

    DEFAULT_CSS = (
        "HelpScreen {"
        + DIALOG_CSS
        + """
        & > .dialog { height: 90%; max-width: 100; }
        & #body { height: 1fr; }
        & .group-title { color: $accent; text-style: bold; margin-top: 1; }
        & #groups { grid-size: 2; grid-rows: auto; grid-gutter: 0 2; height: auto; }
        & .group { height: auto; }
        & #panes-title { color: $accent; text-style: bold; margin-top: 1; }
        & #panes { height: auto; }
        & #ids-title { color: $accent; text-style: bold; margin-top: 1; }
        & #ids { height: auto; }
    }
    """
    )

    BINDINGS = [
        Binding("escape,question_mark,q", "close", "Close", id="help.close"),
    ]

    def __init__(self, app_bindings: list[Binding]) -> None:
        super().__init__()
        self._app_bindings = list(app_bindings)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as dialog:
            dialog.border_title = "Help"
            with VerticalScroll(id="body"):
                with Grid(id="groups"):
                    for group, bindings in group_bindings(self._app_bindings).items():
                        with Vertical(classes="group"):
                            yield Static(group, classes="group-title")
                            yield KeyList(self.rows(bindings))
                yield Static("Panes", id="panes-title")
                yield Static(PANES_HELP, id="panes")
                yield Static(Text("Binding ids, for the config's [keys] table"), id="ids-title")
                ids = [f"{b.id} = {b.key}" for b in self._app_bindings if b.id]
                yield Static(Text(" · ".join(ids)), id="ids")
            with Horizontal(classes="buttons"):
                yield Button("Close", id="close")
            yield Static("esc, ? or q close · arrows or the mouse scroll", classes="hint")

    def on_mount(self) -> None:
        self.query_one("#body").focus()

    def rows(self, bindings: list[Binding]) -> list[tuple[str, str]]:
        """(keys, what they do), one a binding; the JOINED ones share a line."""
        by_id = {b.id: b for b in bindings if b.id}
        rows: list[tuple[str, str]] = []
        done: set[str] = set()
        for b in bindings:
            if b.id in done:
                continue
            joined = next((j for j in JOINED if b.id in j[0] and set(j[0]) <= set(by_id)), None)
            if joined is None:
                rows.append((self.key_display(b), b.description or b.action))
                continue
            ids, description = joined
            done.update(ids)
            rows.append((" ".join(self.key_display(by_id[i]) for i in ids), description))
        return rows

    def key_display(self, binding: Binding) -> str:
        """How the keys of a binding read, e.g. "^s / alt+↑"."""
        if binding.key_display:
            return binding.key_display
        keys = [key.strip() for key in binding.key.split(",") if key.strip()]
        return " / ".join(self.app.get_key_display(binding.with_key(key)) for key in keys)

    @on(Button.Pressed, "#close")
    def action_close(self) -> None:
        self.dismiss(None)
