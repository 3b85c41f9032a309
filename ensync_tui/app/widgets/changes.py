"""The inspector's Changes tab: a payload against the previous one of the same name."""

from __future__ import annotations

from textual.content import Content

from ensync_tui.app.diff import ADDED, REMOVED, diff, short_json
from ensync_tui.app.history import Entry
from ensync_tui.app.views import Lines, guarded
from ensync_tui.app.widgets.stream import format_time
from ensync_tui.safetext import json_visible, visible

_MARK = {ADDED: ("+", "$text-success"), REMOVED: ("-", "$text-error")}


def changes_view(
    entry: Entry, previous: Entry | None, secret_key: str | None, by: str | None = None
) -> Lines:
    """What changed in ``entry``'s payload since ``previous`` (decrypting both as needed);
    ``by`` is the key path ``previous`` was chosen by (same value), if one was."""
    return [
        Content(" ") + line for line in guarded(lambda: _changes(entry, previous, secret_key, by))
    ]


def _changes(entry: Entry, previous: Entry | None, secret_key: str | None, by: str | None) -> Lines:
    name = visible(entry.name)
    which = ""
    if by:
        from ensync_tui.app.compare import describe

        which = f" with {visible(describe(entry, by, secret_key))}"
    if previous is None:
        hint = "  (K chooses the key path)" if by else ""
        return [
            Content(f"No earlier {name} message{which} is held: nothing to compare with.{hint}")
        ]
    head = Content.assemble(
        "Since the previous ",
        (name, "bold"),
        which,
        f"  idem {visible(previous.idem)}  block {visible(str(previous.block))[:40]}",
        f"  at {format_time(previous.logged_at)}",
    )
    value = entry.decrypt(secret_key)
    before = previous.decrypt(secret_key)
    if entry.error or previous.error:
        which = "this message" if entry.error else "the previous one"
        reason = visible(entry.error or previous.error)
        return [head, Content(f"Cannot compare: {which}: {reason}")]
    changes, cut = diff(before, value)
    if not changes:
        return [head, Content("Same payload.")]
    lines: Lines = [head, Content(f"{len(changes)}{'+' if cut else ''} changed")]
    for change in changes:
        path = visible(change.path) or "(the whole payload)"
        if change.kind in _MARK:
            mark, style = _MARK[change.kind]
            shown = change.new if change.kind == ADDED else change.old
            lines.append(Content.assemble((f"{mark} {path}", style), "  ", _short(shown)))
        else:
            lines.append(
                Content.assemble(
                    ("~ " + path, "$text-warning"),
                    "  ",
                    _short(change.old, 40),
                    " → ",
                    _short(change.new, 40),
                )
            )
    if cut:
        lines.append(Content("… more changes not shown"))
    return lines


def _short(value: object, width: int = 60) -> str:
    return json_visible(short_json(value, width))
