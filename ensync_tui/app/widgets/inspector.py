"""The payload inspector: the payload as a tree, as JSON and as changes; metadata; raw record."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.highlight import highlight
from textual.widgets import Static, TabbedContent, TabPane, Tree
from textual.widgets.tree import TreeNode

from ensync_tui.app.history import Entry
from ensync_tui.app.widgets.changes import changes_content
from ensync_tui.client.crypto import describe_envelope, short_key

MAX_NODES = 2_000  # a huge payload still opens quickly; the JSON tab has it all
MAX_TEXT = 200_000


def _scalar(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def fill_tree(node: TreeNode[Any], value: Any, budget: list[int]) -> None:
    """Add ``value``'s children under ``node``, at most ``budget[0]`` nodes in all."""
    items: list[tuple[str, Any]]
    if isinstance(value, dict):
        items = [(str(k), v) for k, v in value.items()]
    elif isinstance(value, list):
        items = [(f"[{i}]", v) for i, v in enumerate(value)]
    else:
        return
    for key, child in items:
        if budget[0] <= 0:
            node.add_leaf(Text("… (more in the JSON tab)", "dim"))
            return
        budget[0] -= 1
        if isinstance(child, dict):
            sub = node.add(Text.assemble((key, "bold"), f" {{}} {len(child)}"), expand=True)
            fill_tree(sub, child, budget)
        elif isinstance(child, list):
            sub = node.add(Text.assemble((key, "bold"), f" [] {len(child)}"), expand=True)
            fill_tree(sub, child, budget)
        else:
            node.add_leaf(Text.assemble((key, "bold"), ": ", _scalar(child)))


def pretty(value: Any) -> str:
    text = json.dumps(value, indent=2, ensure_ascii=False)
    if len(text) > MAX_TEXT:
        text = text[:MAX_TEXT] + "\n… (cut)"
    return text


def decoded_envelope(payload: str) -> Any:
    try:
        return json.loads(base64.b64decode(payload, validate=True))
    except (binascii.Error, ValueError):
        return payload


class Inspector(Vertical):
    """Shows one record in detail."""

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
    Inspector VerticalScroll { height: 1fr; }
    Inspector .inspector-text { padding: 0 1; width: 100%; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.entry: Entry | None = None
        self._secret: str | None = None
        self._stale: set[str] = set()
        self.senders: dict[str, str] = {}  # public key -> contact name
        # the held message of the same name before an entry, for the Changes tab
        self.previous: Callable[[Entry], Entry | None] | None = None

    def compose(self) -> ComposeResult:
        yield Static(" No record selected.", id="inspector-status")
        with TabbedContent(id="inspector-tabs"):
            with TabPane("Tree", id="tab-tree"):
                yield Tree[Any]("payload", id="payload-tree")
            with TabPane("JSON", id="tab-json"), VerticalScroll():
                yield Static("", id="payload-json", classes="inspector-text")
            with TabPane("Changes", id="tab-diff"), VerticalScroll():
                yield Static("", id="payload-diff", classes="inspector-text")
            with TabPane("Metadata", id="tab-meta"), VerticalScroll():
                yield Static("", id="payload-meta", classes="inspector-text")
            with TabPane("Raw", id="tab-raw"), VerticalScroll():
                yield Static("", id="payload-raw", classes="inspector-text")

    def show(self, entry: Entry | None, secret_key: str | None) -> None:
        """Show ``entry`` (decrypting it if needed), or nothing.

        Only the visible tab is drawn now; the others are drawn when opened.
        """
        self.entry = entry
        self._secret = secret_key
        self._stale = {"tab-tree", "tab-json", "tab-diff", "tab-meta", "tab-raw"}
        status = self.query_one("#inspector-status", Static)
        status.remove_class("-error", "-ok")
        # the lines carry their own left margin: CSS padding would lose the "…" of a cut line
        if entry is None:
            status.update(" No record selected.", layout=False)
        else:
            entry.decrypt(secret_key)
            info = describe_envelope(entry.payload)
            title = Content.assemble(
                (entry.name, "bold"),
                f"  idem {entry.idem}  block {entry.block}  [{entry.shown_state}]",
            )
            if entry.error:
                status.add_class("-error")
                status.update(Content.assemble(" ", title, "\n ✗ ", entry.error), layout=False)
            else:
                status.add_class("-ok")
                line = f"✓ decrypted ({info.kind}, {info.dialect})"
                status.update(Content.assemble(" ", title, "\n ", line), layout=False)
        self._draw(self.query_one(TabbedContent).active)

    @on(TabbedContent.TabActivated)
    def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id:
            self._draw(event.pane.id)

    def _draw(self, tab: str) -> None:
        if tab not in self._stale:
            return
        self._stale.discard(tab)
        entry = self.entry
        if tab == "tab-tree":
            tree = self.query_one("#payload-tree", Tree)
            tree.clear()
            if entry is None:
                tree.root.set_label("payload")
            elif entry.error:
                tree.root.set_label(Text("payload: cannot decrypt", "red"))
            else:
                self._fill_tree(tree, entry.value)
            return
        widget = self.query_one(
            {
                "tab-json": "#payload-json",
                "tab-diff": "#payload-diff",
                "tab-meta": "#payload-meta",
                "tab-raw": "#payload-raw",
            }[tab],
            Static,
        )
        if entry is None:
            widget.update("")
        elif tab == "tab-json":
            if entry.error:
                widget.update(
                    Content(f"Cannot decrypt: {entry.error}\n\nThe raw record is in the Raw tab.")
                )
            else:
                widget.update(highlight(pretty(entry.value), language="json"))
        elif tab == "tab-diff":
            previous = self.previous(entry) if self.previous is not None else None
            widget.update(changes_content(entry, previous, self._secret))
        elif tab == "tab-meta":
            widget.update(self._meta_text(entry, describe_envelope(entry.payload)))
        else:
            raw = {"record": entry.record_dict(), "envelope": decoded_envelope(entry.payload)}
            widget.update(highlight(pretty(raw), language="json"))

    def _fill_tree(self, tree: Tree[Any], value: Any) -> None:
        if isinstance(value, dict | list):
            kind = "{}" if isinstance(value, dict) else "[]"
            tree.root.set_label(Text.assemble(("payload", "bold"), f" {kind} {len(value)}"))
            fill_tree(tree.root, value, [MAX_NODES])
        else:
            tree.root.set_label(Text.assemble(("payload", "bold"), ": ", _scalar(value)))
        tree.root.expand()

    def _sender(self, sender: str) -> str:
        name = self.senders.get(sender)
        return f"{sender} ({name})" if name else sender or "-"

    def _meta_text(self, entry: Entry, info: Any) -> Content:
        metadata = entry.metadata if isinstance(entry.metadata, dict) else {}
        headers = metadata.get("headers") if isinstance(metadata.get("headers"), dict) else {}
        lines: list[Content | str] = [
            Content.styled("Record", "bold"),
            f"  name     {entry.name}",
            f"  idem     {entry.idem}",
            f"  block    {entry.block}",
            f"  sender   {self._sender(entry.sender)}",
            f"  size     {entry.size} bytes (encrypted)",
            f"  state    {entry.shown_state}",
            Content.styled("Metadata", "bold"),
            f"  persist  {json.dumps(metadata.get('persist', True))}",
        ]
        other = {k: v for k, v in metadata.items() if k not in ("persist", "headers")}
        for key, value in other.items():
            lines.append(f"  {key}  {json.dumps(value, ensure_ascii=False)}")
        lines.append(Content.styled("Headers", "bold"))
        if headers:
            lines.extend(
                f"  {k}: {json.dumps(v, ensure_ascii=False)}" for k, v in sorted(headers.items())
            )
        else:
            lines.append("  (none)")
        lines.append(Content.styled("Envelope", "bold"))
        lines.append(f"  kind     {info.kind}")
        lines.append(f"  dialect  {info.dialect}")
        if info.recipients:
            shown = ", ".join(short_key(r) for r in info.recipients)
            lines.append(f"  recipients ({len(info.recipients)})  {shown}")
        if info.error:
            lines.append(f"  error    {info.error}")
        lines.append(Content.styled("Decryption", "bold"))
        lines.append(f"  ✗ {entry.error}" if entry.error else "  ✓ decrypted")
        return Content("\n").join(
            line if isinstance(line, Content) else Content(line) for line in lines
        )
