"""What the inspector's tabs show, built from a record without touching a widget.

Everything here may run on a background thread, and nothing here raises: a
payload too deep, too large or too strange to show becomes a "Cannot display"
line, and the raw record stays in the Raw tab. Text from the wire is shown with
its control characters made visible (``safetext``), never as markup.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from rich.text import Text
from textual.content import Content
from textual.highlight import highlight

from ensync_tui.app.history import Entry
from ensync_tui.app.readers import reader_lines, verdict
from ensync_tui.app.schemas import problems_of, summary
from ensync_tui.errors import error_text
from ensync_tui.protocol.crypto import EnvelopeInfo, describe_envelope
from ensync_tui.safetext import json_visible, visible

MAX_NODES = 500  # nodes in the tree: adding them costs the UI loop; the JSON tab has it all
MAX_DEPTH = 32  # tree levels shown; deeper ones are in the JSON tab
MAX_TEXT = 1_000_000  # characters of pretty JSON shown
MAX_LINE = 20_000  # characters of one line shown (a long string value is cut)
HIGHLIGHT_LINE = 5_000  # longer lines are shown without colours
MAX_LABEL = 200  # characters of one tree label or metadata value
MAX_RECIPIENTS = 20

# A tab's lines: Content as it is, or a line of JSON text (highlighted when drawn)
Lines = list[Content | str]
TABS = ("tab-tree", "tab-json", "tab-diff", "tab-meta", "tab-raw")


@dataclass(slots=True)
class TreeView:
    """The Tree tab: a root label and nodes as (parent position or -1, label, branch);
    ``keys`` holds each node's path in the payload (None for a note, not a field)."""

    root: Text
    nodes: list[tuple[int, Text, bool]] = field(default_factory=list)
    keys: list[tuple[str | int, ...] | None] = field(default_factory=list)


def why(exc: BaseException) -> str:
    """A failure as a short reason for the user."""
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    if isinstance(exc, MemoryError):
        return "too large to show"
    text = visible(error_text(exc))
    return text if len(text) <= 200 else text[:199] + "…"


def cannot_display(exc: BaseException) -> Lines:
    return [
        Content.styled(f" Cannot display: {why(exc)}", "$text-error"),
        Content(""),
        Content(" The raw record is in the Raw tab."),
    ]


def guarded(build: Callable[[], Lines]) -> Lines:
    """``build()``, or why it could not be built."""
    try:
        return build()
    except Exception as exc:  # RecursionError and MemoryError included
        return cannot_display(exc)


def cut(text: str, width: int = MAX_LABEL) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def pretty(value: Any) -> str:
    """``value`` as indented JSON, cut to MAX_TEXT characters."""
    text = json.dumps(value, indent=2, ensure_ascii=False)
    if len(text) > MAX_TEXT:
        text = text[:MAX_TEXT] + "\n… (cut)"
    return text


def json_lines(text: str) -> Lines:
    """Indented JSON text as lines with a one-cell left margin, highlighted as drawn.

    Inside JSON strings new lines are escapes, so each line can be made safe on
    its own and stays valid JSON (and is highlighted on its own).
    """
    return [" " + cut(json_visible(line), MAX_LINE) for line in text.split("\n")]


def json_line_content(line: str) -> Content:
    """One line of JSON text (as ``json_lines`` makes them), highlighted."""
    if len(line) > HIGHLIGHT_LINE or not line.strip():
        return Content(line)
    return highlight(line, language="json")


def scalar(value: Any) -> str:
    """A JSON scalar, safe to show and cut to MAX_LABEL."""
    return cut(json_visible(json.dumps(value, ensure_ascii=False)))


# -- the status line ------------------------------------------------------------------------
def envelope_info(entry: Entry) -> EnvelopeInfo:
    try:
        return describe_envelope(entry.payload)
    except Exception as exc:  # never expected: the envelope is the sender's choice
        return EnvelopeInfo("malformed", "unknown", (), why(exc))


def status_content(
    entry: Entry, info: EnvelopeInfo | None, schema: Mapping[str, str] | None = None
) -> Content:
    """Two lines: name, idem, block and state; then decrypted or why not, and how the
    payload fits the name's schema when one is known."""
    title = Content.assemble(
        (visible(entry.name), "bold"),
        f"  idem {visible(entry.idem)}  block {cut(visible(str(entry.block)), 40)}",
        f"  [{entry.shown_state}]",
    )
    if entry.error:
        second = Content.assemble("✗ ", visible(entry.error))
    elif info is None:
        second = Content("… decrypting")
    else:
        second = Content(f"✓ decrypted ({info.kind}, {info.dialect})")
        problems = problems_of(schema, entry.value)
        if problems is not None:
            style = "$text-error" if problems else "$text-success"
            mark = "✗" if problems else "✓"
            second += Content.assemble("  ", (f"{mark} {summary(problems)}", style))
    # the lines carry their own left margin: CSS padding would lose the "…" of a cut line
    return Content.assemble(" ", title, "\n ", second)


# -- the tabs -------------------------------------------------------------------------------
Child = tuple[Text, str | int, Any]


def _children(value: Any, marks: Mapping[str, str] | None = None) -> Iterator[Child]:
    """(label key, key, value) of each child; ``marks`` (schema problems by field) at the top."""
    if isinstance(value, dict):
        for k, v in value.items():
            key = Text(cut(visible(str(k))), "bold")
            if marks and str(k) in marks:
                key.append(f" ✗ {visible(marks[str(k)])}", "red")
            yield key, k, v
        return
    yield from ((Text(f"[{i}]", "bold"), i, v) for i, v in enumerate(value))


def _branch_label(key: Text, value: Any) -> Text:
    kind = "{}" if isinstance(value, dict) else "[]"
    return Text.assemble(key, f" {kind} {len(value)}")


def tree_view(entry: Entry, schema: Mapping[str, str] | None = None) -> TreeView:
    """The payload as a tree: at most MAX_NODES nodes and MAX_DEPTH levels; with the
    name's schema, the top-level fields that do not match it are marked."""
    if entry.error:
        return TreeView(Text("payload: cannot decrypt", "red"))
    try:
        return _tree_view(entry.value, problems_of(schema, entry.value))
    except Exception as exc:
        return TreeView(Text(f"payload: cannot display: {why(exc)}", "red"))


def _tree_view(value: Any, marks: dict[str, str] | None = None) -> TreeView:
    if not isinstance(value, dict | list):
        return TreeView(Text.assemble(("payload", "bold"), ": ", scalar(value)))
    view = TreeView(_branch_label(Text("payload", "bold"), value))
    nodes, keys = view.nodes, view.keys
    # depth first, without recursion: a stack of (parent position, its path, children left)
    stack: list[tuple[int, tuple[str | int, ...], Iterator[Child]]] = [
        (-1, (), _children(value, marks))
    ]
    while stack:
        parent, path, children = stack[-1]
        item = next(children, None)
        if item is None:
            stack.pop()
            continue
        if len(nodes) >= MAX_NODES:
            nodes.append((parent, Text("… (more in the JSON tab)", "dim"), False))
            keys.append(None)
            break
        label, key, child = item
        keys.append((*path, key))
        if isinstance(child, dict | list):
            nodes.append((parent, _branch_label(label, child), True))
            here = len(nodes) - 1
            if len(stack) >= MAX_DEPTH:
                if child:
                    nodes.append((here, Text("… (deeper levels in the JSON tab)", "dim"), False))
                    keys.append(None)
            else:
                stack.append((here, (*path, key), _children(child)))
        else:
            nodes.append((parent, Text.assemble(label, ": ", scalar(child)), False))
    lacking = [(f, p) for f, p in (marks or {}).items() if p.startswith("missing")]
    if isinstance(value, dict) and len(nodes) < MAX_NODES:
        for field_name, problem in lacking:  # fields the schema has and the payload lacks
            label = Text(cut(visible(field_name)), "bold")
            label.append(f" ✗ {visible(problem)}", "red")
            nodes.append((-1, label, False))
            keys.append(None)
    return view


def json_view(entry: Entry) -> Lines:
    if entry.error:
        return [
            Content(f" Cannot decrypt: {visible(entry.error)}"),
            Content(""),
            Content(" The raw record is in the Raw tab."),
        ]
    return guarded(lambda: json_lines(pretty(entry.value)))


def decoded_envelope(payload: str) -> Any:
    """The envelope as JSON when it is base64 of JSON, else the payload text itself."""
    try:
        return json.loads(base64.b64decode(payload, validate=True))
    except Exception:  # not base64, not JSON, or nested too deeply to read
        return payload


def raw_view(entry: Entry) -> Lines:
    """The record as the engine sent it, with its envelope decoded; at worst the payload text."""
    try:
        raw = {"record": entry.record_dict(), "envelope": decoded_envelope(entry.payload)}
        return json_lines(pretty(raw))
    except Exception as exc:
        head = Content.styled(f" Cannot display the record as JSON: {why(exc)}", "$text-error")
        payload = cut(visible(str(entry.payload)), MAX_TEXT)
        return [head, Content(""), Content(" payload:"), Content(" " + payload)]


def _sender(sender: str, senders: dict[str, str]) -> str:
    name = senders.get(sender)
    shown = visible(sender)
    return f"{shown} ({visible(name)})" if name else shown or "-"


def meta_view(
    entry: Entry,
    info: EnvelopeInfo,
    senders: dict[str, str],
    schema: Mapping[str, str] | None = None,
    me: str = "",
) -> Lines:
    """The Metadata tab; ``me`` (our public key) tells who of the recipients we are."""
    return guarded(lambda: _meta_view(entry, info, senders, me) + schema_lines(entry, schema))


def schema_lines(entry: Entry, schema: Mapping[str, str] | None) -> Lines:
    """The name's registered schema, each field marked as the payload fits it."""
    if not schema:
        return []
    problems = {} if entry.error else (problems_of(schema, entry.value) or {})
    lines: Lines = [Content.styled(" Schema (registered)", "bold")]
    for name, kind in schema.items():
        problem = problems.get(name)
        mark = ("  ✓", "$text-success") if problem is None else ("  ✗", "$text-error")
        text = f" {cut(visible(name))}  {cut(visible(kind))}"
        if entry.error:
            lines.append(Content(f"   {text.strip()}"))
            continue
        lines.append(
            Content.assemble(" ", mark, text, f"  ({visible(problem)})" if problem else "")
        )
    for name, problem in problems.items():
        if name not in schema:
            shown = cut(visible(name)) if name else "payload"
            lines.append(Content.assemble(" ", ("  ✗", "$text-error"), f" {shown}  {problem}"))
    return lines


def when_text(seconds: float) -> str:
    """A local date and time to the millisecond; dashes for one that cannot be."""
    try:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(seconds))
    except (OverflowError, OSError, ValueError):  # a record from a confused engine
        return "----------  --:--:--.---"
    return f"{stamp}.{int(seconds * 1000) % 1000:03d}"


def _compact(value: Any) -> str:
    return cut(json_visible(json.dumps(value, ensure_ascii=False, default=str)))


def _meta_view(entry: Entry, info: EnvelopeInfo, senders: dict[str, str], me: str) -> Lines:
    metadata = entry.metadata if isinstance(entry.metadata, dict) else {}
    headers = metadata.get("headers") if isinstance(metadata.get("headers"), dict) else {}
    lines: list[Content | str] = [
        Content.styled("Record", "bold"),
        f"  name     {visible(entry.name)}",
        f"  idem     {visible(entry.idem)}",
        f"  block    {cut(visible(str(entry.block)))}",
        f"  sender   {_sender(entry.sender, senders)}",
        f"  size     {entry.size} bytes (encrypted)",
        f"  state    {entry.shown_state}",
        Content.styled("History", "bold"),
        *(f"  {when_text(when)}  {event}" for event, when in entry.states()),
        Content.styled("Metadata", "bold"),
        f"  persist  {_compact(metadata.get('persist', True))}",
    ]
    other = {k: v for k, v in metadata.items() if k not in ("persist", "headers")}
    for key, value in other.items():
        lines.append(f"  {cut(visible(str(key)))}  {_compact(value)}")
    lines.append(Content.styled("Headers", "bold"))
    if headers:
        for key in sorted(headers, key=str):
            lines.append(f"  {cut(visible(str(key)))}: {_compact(headers[key])}")
    else:
        lines.append("  (none)")
    lines.append(Content.styled("Envelope", "bold"))
    lines.append(f"  kind     {info.kind}")
    lines.append(f"  dialect  {info.dialect}")
    lines.extend(reader_lines(info, senders, me, not entry.error))
    if info.error:
        lines.append(f"  error    {visible(info.error)}")
    lines.append(Content.styled("Decryption", "bold"))
    lines.append(f"  ✗ {visible(entry.error)}" if entry.error else "  ✓ decrypted")
    if entry.error:
        lines.append(f"  {verdict(info, me)}")
    return [Content(" ") + (line if isinstance(line, Content) else Content(line)) for line in lines]
