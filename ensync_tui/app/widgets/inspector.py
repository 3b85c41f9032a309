"""The payload inspector: the payload as a tree, as JSON and as changes; metadata; raw record.

A small payload is opened at once; a larger one is decrypted, parsed and laid
out on a background thread (``Offload``) while the tab says so, and a result
that comes back after the cursor moved on is dropped. Nothing a payload holds
can stop the inspector: what cannot be shown says why.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Static, TabbedContent, TabPane, Tree
from textual.widgets.tree import TreeNode

from ensync_tui.app.history import Entry
from ensync_tui.app.offload import Offload, is_small
from ensync_tui.app.readers import our_key
from ensync_tui.app.views import (
    TABS,
    Lines,
    TreeView,
    cannot_display,
    envelope_info,
    json_line_content,
    json_view,
    meta_view,
    raw_view,
    status_content,
    tree_view,
    why,
)
from ensync_tui.app.widgets.changes import changes_view
from ensync_tui.app.widgets.lines import LinesView
from ensync_tui.protocol.crypto import EnvelopeInfo

__all__ = ["INSPECTOR_KEYS", "Inspector", "build_tab"]

_TAB_TITLES = ("Tree", "JSON", "Changes", "Metadata", "Raw")  # in the order of TABS
INSPECTOR = Binding.Group("Stream")  # listed in help with the stream's keys
# the main screen's keys for the inspector: 1-5 choose a tab, z zooms it
INSPECTOR_KEYS = [
    *(
        Binding(str(n), f"tab({n})", f"{title} tab", show=False, id=f"tab-{n}", group=INSPECTOR)
        for n, title in enumerate(_TAB_TITLES, 1)
    ),
    Binding(
        "z", "zoom", "Zoom the inspector (z or esc back)", show=False, id="zoom", group=INSPECTOR
    ),
]

_PANES = {
    "tab-json": "#payload-json",
    "tab-diff": "#payload-diff",
    "tab-meta": "#payload-meta",
    "tab-raw": "#payload-raw",
}
_WORKING: Lines = [Content.styled(" … opening the payload", "$text-muted")]


def build_tab(
    tab: str,
    entry: Entry,
    previous: Entry | None,
    secret_key: str | None,
    senders: dict[str, str],
    info: EnvelopeInfo,
    schema: Mapping[str, str] | None = None,
    by: str | None = None,
) -> TreeView | Lines:
    """What ``tab`` shows for ``entry`` (decrypted already). Never raises."""
    try:
        if tab == "tab-tree":
            return tree_view(entry, schema)
        if tab == "tab-json":
            return json_view(entry)
        if tab == "tab-diff":
            return changes_view(entry, previous, secret_key, by)
        if tab == "tab-meta":
            return meta_view(entry, info, senders, schema, our_key(secret_key))
        return raw_view(entry)
    except Exception as exc:  # each view guards itself; this is the last resort
        if tab == "tab-tree":
            return TreeView(Text(f"payload: cannot display: {why(exc)}", "red"))
        return cannot_display(exc)


def open_entry(entry: Entry, secret_key: str | None) -> EnvelopeInfo:
    """Decrypt ``entry`` (cached on it) and describe its envelope."""
    entry.decrypt(secret_key)
    return envelope_info(entry)


class Inspector(Vertical):
    """Shows one record in detail."""

    ALLOW_MAXIMIZE = True

    DEFAULT_CSS = """
    Inspector { height: 1fr; border-top: solid $primary; }
    Inspector #inspector-status {
        height: 2; text-wrap: nowrap; text-overflow: ellipsis;
    }
    Inspector #inspector-status.-error { color: $error; }
    Inspector #inspector-status.-ok { color: $success; }
    Inspector TabbedContent { height: 1fr; }
    Inspector TabPane { padding: 0; }
    Inspector Tree { height: 1fr; }
    Inspector LinesView { height: 1fr; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.entry: Entry | None = None
        self._secret: str | None = None
        self._stale: set[str] = set()
        self._info: EnvelopeInfo | None = None
        self._generation = 0
        self._drawn: dict[str, Entry] = {}  # tab -> the entry it shows
        self._pending: set[str] = set()  # tabs being prepared in the background
        self.senders: dict[str, str] = {}  # public key -> contact name
        self.schemas: Mapping[str, Mapping[str, str]] = {}  # registered name -> schema
        # the held message of the same name before an entry, for the Changes tab
        self.previous: Callable[[Entry], Entry | None] | None = None
        self.compare_by: dict[str, str] = {}  # name -> the key path Changes compares by
        self.offload: Offload | None = None  # background threads; None: all on the loop

    def compose(self) -> ComposeResult:
        yield Static(" No record selected.", id="inspector-status")
        with TabbedContent(id="inspector-tabs"):
            with TabPane(_TAB_TITLES[0], id="tab-tree"):
                yield Tree[Any]("payload", id="payload-tree")
            with TabPane(_TAB_TITLES[1], id="tab-json"):
                yield LinesView(id="payload-json")
            with TabPane(_TAB_TITLES[2], id="tab-diff"):
                yield LinesView(id="payload-diff")
            with TabPane(_TAB_TITLES[3], id="tab-meta"):
                yield LinesView(id="payload-meta")
            with TabPane(_TAB_TITLES[4], id="tab-raw"):
                yield LinesView(id="payload-raw")

    def choose_tab(self, number: int) -> None:
        """Show tab ``number`` (1: Tree ... 5: Raw)."""
        if 1 <= number <= len(TABS):
            self.query_one(TabbedContent).active = TABS[number - 1]

    @property
    def busy(self) -> bool:
        """Whether a tab is still being prepared in the background."""
        return bool(self._pending)

    def show(self, entry: Entry | None, secret_key: str | None) -> None:
        """Show ``entry`` (decrypting it if needed), or nothing.

        Only the visible tab is drawn now; the others are drawn when opened.
        """
        self.entry = entry
        self._secret = secret_key
        self._stale = set(TABS)
        self._generation += 1
        self._info = None
        self._pending.clear()
        if self.offload is not None:
            for tab in TABS:
                self.offload.drop(f"inspect:{tab}")
        if entry is not None and (self.offload is None or is_small(entry)):
            self._info = open_entry(entry, secret_key)
        self._show_status()
        self._draw(self.query_one(TabbedContent).active)

    def _show_status(self) -> None:
        status = self.query_one("#inspector-status", Static)
        status.remove_class("-error", "-ok")
        entry = self.entry
        if entry is None:
            status.update(" No record selected.", layout=False)
            return
        if entry.error:
            status.add_class("-error")
        elif self._info is not None:
            status.add_class("-ok")
        status.update(status_content(entry, self._info, self._schema()), layout=False)

    def _schema(self) -> Mapping[str, str] | None:
        """The registered schema of the shown record's name, if one is known."""
        entry = self.entry
        return None if entry is None else (self.schemas.get(entry.name) or None)

    @on(TabbedContent.TabActivated)
    def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id:
            self._draw(event.pane.id)

    def _draw(self, tab: str) -> None:
        if tab not in self._stale:
            return
        self._stale.discard(tab)
        entry = self.entry
        if entry is None:
            self._drawn.pop(tab, None)
            self._apply(tab, TreeView(Text("payload")) if tab == "tab-tree" else [], None)
            return
        previous = self.previous(entry) if tab == "tab-diff" and self.previous else None
        info, schema = self._info, self._schema()
        if self.offload is None or is_small(entry, previous):
            assert info is not None  # opened by show()
            by = self.compare_by.get(entry.name)
            view = build_tab(tab, entry, previous, self._secret, self.senders, info, schema, by)
            self._apply(tab, view, entry)
            return
        if self._drawn.get(tab) is not entry:  # else the old view stays until the new one
            self._drawn.pop(tab, None)
            working = TreeView(Text("… opening the payload", "dim"))
            self._apply(tab, working if tab == "tab-tree" else _WORKING, None)
        generation, secret, senders = self._generation, self._secret, dict(self.senders)
        self._pending.add(tab)

        def work() -> tuple[EnvelopeInfo, TreeView | Lines]:
            found = open_entry(entry, secret)
            by = self.compare_by.get(entry.name)
            return found, build_tab(tab, entry, previous, secret, senders, found, schema, by)

        def done(result: tuple[EnvelopeInfo, TreeView | Lines]) -> None:
            if generation != self._generation or not self.is_attached:
                return  # the cursor moved on
            self._pending.discard(tab)
            found, view = result
            if self._info is None:
                self._info = found
                self._show_status()
            self._apply(tab, view, entry)

        def failed(exc: Exception) -> None:
            if generation == self._generation and self.is_attached:
                self._pending.discard(tab)
                self._apply(tab, cannot_display(exc), entry)

        self.offload.latest(f"inspect:{tab}", work, done, failed, lane="inspect")

    def _apply(self, tab: str, view: TreeView | Lines, entry: Entry | None) -> None:
        if entry is not None:
            self._drawn[tab] = entry
        key = None if entry is None else entry.seq
        if isinstance(view, TreeView):
            self._fill_tree(view)
        else:
            self.query_one(_PANES[tab], LinesView).show(view, key, json_line_content)

    def _fill_tree(self, view: TreeView) -> None:
        tree = self.query_one("#payload-tree", Tree)
        tree.clear()
        tree.root.set_label(view.root)
        made: list[TreeNode[Any]] = []
        keys = view.keys
        for i, (parent, label, branch) in enumerate(view.nodes):
            node = tree.root if parent < 0 else made[parent]
            data = keys[i] if i < len(keys) else None
            added = node.add(label, data, expand=True) if branch else node.add_leaf(label, data)
            made.append(added)
        tree.root.expand()

    def chosen_field(self) -> tuple[tuple[str | int, ...], Any] | None:
        """The path and value of the field under the Tree tab's cursor, if it is one."""
        entry = self.entry
        if entry is None or entry.error or self._drawn.get("tab-tree") is not entry:
            return None
        node = self.query_one("#payload-tree", Tree).cursor_node
        keys = None if node is None else node.data
        if not keys:
            return None
        value = entry.value
        for key in keys:  # the path was made from this value: it is there
            value = value[key]
        return keys, value
