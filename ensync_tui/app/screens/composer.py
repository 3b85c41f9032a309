"""The publish composer: name, recipients, JSON payload, metadata; send and recall history.

The form is read as the client's publishing ``Draft``, the one ``ensync-tui publish``
reads too: the same input is accepted (contact names in any case, recipients
separated by spaces, commas or new lines) and refused with the same words, every
problem at once."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widgets import Button, Checkbox, Input, Label, Static, Switch, TextArea

from ensync_tui.app.drafts import Drafts, untouched
from ensync_tui.app.screens.common import DIALOG_CSS, shown_names
from ensync_tui.app.screens.composer_keys import DEFAULT_PAYLOAD, INSIDE, PayloadKeys
from ensync_tui.app.screens.json_area import JsonTextArea
from ensync_tui.app.screens.saved import ComposerSaved
from ensync_tui.client.publishing import Draft, Message, Problem, split_recipients
from ensync_tui.errors import error_text
from ensync_tui.protocol.crypto import short_key
from ensync_tui.protocol.schema import template
from ensync_tui.safetext import visible

__all__ = ["DEFAULT_PAYLOAD", "ComposerScreen", "SendFunc"]

SendFunc = Callable[[Message], Awaitable[list[dict]]]
FIELDS = {  # a draft's field: the widget that holds it, and its label
    "name": ("#name", "Message name"),
    "recipients": ("#recipients", "Recipients"),
    "payload": ("#payload", "Payload"),
    "headers": ("#headers", "Headers"),
}


class ComposerScreen(PayloadKeys, ComposerSaved, ModalScreen[None]):
    """Compose and publish a message; shows the engine's answer per recipient."""

    DEFAULT_CSS = (
        "ComposerScreen {"
        + DIALOG_CSS
        + """
        & > .dialog { height: 95%; }
        & .row { height: auto; }
        & .row > Label { width: 14; padding-top: 1; color: $text-muted; }
        & #name { width: 1fr; }
        & #recipients { height: 4; width: 1fr; }
        & #recipients-status { margin-left: 14; height: auto; color: $text-muted; }
        & #payload-label { color: $text-muted; }
        & #form { height: 1fr; }
        & #payload { height: 1fr; min-height: 6; width: 100%; }
        & #schema-status { margin-left: 14; height: auto; color: $text-muted; }
        & #json-status { height: 1; color: $text-success; }
        & #json-status.-error { color: $text-error; }
        & #headers { height: 4; width: 1fr; }
        & .toggles { width: 30; height: auto; padding-left: 1; }
        & .toggles Checkbox { margin: 0; }
        & .toggles Horizontal { height: auto; }
        & .toggles Horizontal Label { padding: 1 0 0 1; }
        & #result { height: auto; max-height: 8; padding: 0 1; display: none; margin-top: 1; }
        & #result.-shown { display: block; }
        & #result.-ok { border-left: wide $success; }
        & #result.-error { border-left: wide $error; }
        & #result.-pending { border-left: wide $warning; }
        & #history-pos { width: 1fr; color: $text-muted; padding-top: 1; }
    }
    """
    )

    BINDINGS = [
        Binding("ctrl+s", "send", "Send", id="composer.send", priority=True),
        Binding(
            "ctrl+up,alt+up", "history(-1)", "Older", id="composer.history_back", priority=True
        ),
        Binding(
            "ctrl+down,alt+down",
            "history(1)",
            "Newer",
            id="composer.history_forward",
            priority=True,
        ),
        Binding("ctrl+t", "template", "From schema", id="composer.template", priority=True),
        Binding(
            "ctrl+e", "from_selected", "From selected", id="composer.from-selected", priority=True
        ),
        Binding("ctrl+l", "clear_payload", "Clear", id="composer.clear-payload", priority=True),
        Binding("ctrl+k", "save_payload", "Save as", id="composer.save-payload", priority=True),
        Binding("ctrl+o", "saved_payloads", "Saved", id="composer.saved-payloads", priority=True),
        Binding("escape", "close", "Close", id="composer.close"),
    ]

    def __init__(
        self,
        names: list[str],
        contacts: dict[str, str],
        self_key: str,
        history: list[dict],
        send: SendFunc,
        schemas: Mapping[str, Mapping[str, str]] | None = None,
        form: dict[str, Any] | None = None,
        drafts: Drafts | None = None,
        selected: tuple[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self._form = form  # a form to start from (a message to re-publish)
        self._drafts = drafts if drafts is not None else Drafts()  # unsent forms, by name
        self._selected = selected  # (name, payload) of the message selected in the stream
        self._schemas = dict(schemas or {})  # registered name -> schema
        self._names = list(names)
        self._contacts = dict(contacts)
        self._self_key = self_key
        self._history = history
        self._send = send
        self._history_pos: int | None = None
        self._unsent: dict[str, Any] | None = None  # the form before history was recalled
        self._hybrid_touched = False
        self._sending = False
        self._refused: dict[str, Any] | None = None

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as dialog:
            dialog.border_title = "Publish"
            with VerticalScroll(id="form"):
                with Horizontal(classes="row"):
                    yield Label("Message name")
                    yield Input(
                        placeholder="e.g. orders/created",
                        suggester=SuggestFromList(shown_names(self._names), case_sensitive=False),
                        id="name",
                    )
                yield Static("", id="schema-status")
                with Horizontal(classes="row"):
                    yield Label("Recipients")
                    yield TextArea("self" if self._self_key else "", id="recipients")
                yield Static("", id="recipients-status")
                yield Label("Payload (JSON)", id="payload-label")
                yield JsonTextArea(DEFAULT_PAYLOAD, id="payload")
                yield Static("", id="json-status")
                with Horizontal(classes="row"):
                    yield Label("Headers")
                    yield TextArea("", id="headers")
                    with Vertical(classes="toggles"):
                        yield Checkbox("Persist", value=True, id="persist")
                        with Horizontal():
                            yield Switch(value=False, id="hybrid")
                            yield Label("Hybrid (auto)", id="hybrid-label")
            yield Static("", id="result")
            with Horizontal(classes="buttons"):
                yield Static("", id="history-pos")
                yield Button("Send", variant="primary", id="send")
                yield Button("Close", id="close")
            yield Static(
                "^s send · ^t schema · ^e selected · ^l clear · ^k save · ^o saved"
                " · ^↑/↓ history · esc keeps draft",
                classes="hint",
            )

    def on_mount(self) -> None:
        self.query_one("#headers", TextArea).placeholder = "key=value per line, or a JSON object"
        self.query_one("#recipients", TextArea).placeholder = "self, contact names or public keys"
        self.query_one(
            "#hybrid", Switch
        ).tooltip = "Encrypt once for all recipients (on by default for several recipients)"
        if self._form is not None:
            self._load_state(self._form)
            self.query_one(".dialog").border_title = "Re-publish"
        self._refresh_recipients()
        self._refresh_schema()
        self._refresh_json()
        self._refresh_history_pos()
        # typing after the prefilled "self" adds a recipient, not "billingself"
        recipients = self.query_one("#recipients", TextArea)
        recipients.move_cursor(recipients.document.end)
        self.query_one("#payload", TextArea).move_cursor(INSIDE)
        kept = self._drafts.latest() if self._form is None else None
        if kept is not None:  # the form as Esc left it (a re-publish starts from its own)
            self._load_state(kept)
            self.query_one("#history-pos", Static).update("draft kept from last time")
        self.query_one("#name", Input).focus()

    # ---- live validation ------------------------------------------------------------------

    @on(Input.Submitted, "#name")
    def _name_submitted(self) -> None:
        self.query_one("#payload", TextArea).focus()

    @on(TextArea.Changed, "#payload")
    def _payload_changed(self) -> None:
        self._refresh_json()

    @on(Input.Changed, "#name")
    def _name_changed(self) -> None:
        state = self._form_state()
        kept = self._drafts.get(state["name"])
        if kept is not None and untouched(state):  # that name's unsent payload
            self.query_one("#payload", TextArea).load_text(kept.get("payload_text", ""))
            self.query_one("#headers", TextArea).load_text(kept.get("headers_text", ""))
        self._refresh_schema()
        self._refresh_json()

    def _schema(self) -> Mapping[str, str] | None:
        """The registered schema of the name typed, if one is known."""
        return self._schemas.get(self.query_one("#name", Input).value.strip()) or None

    def _refresh_schema(self) -> None:
        status = self.query_one("#schema-status", Static)
        schema = self._schema()
        status.display = schema is not None  # no line at all without one
        if schema is None:
            return
        fields = ", ".join(f"{visible(k)} {visible(v)}" for k, v in schema.items())
        status.update(Content(f"schema: {fields} · ctrl+t starts the payload from it"))

    def action_template(self) -> None:
        """Start the payload from the name's schema: every field, a placeholder of its type."""
        schema = self._schema()
        if schema is None:
            name = self.query_one("#name", Input).value.strip()
            about = f"for {visible(name)}" if name else "without a message name"
            self.notify(f"No registered schema {about}.", severity="warning", markup=False)
            return
        text = json.dumps(template(schema), indent=2, ensure_ascii=False)
        payload = self.query_one("#payload", TextArea)
        payload.load_text(text)
        payload.focus()

    @on(TextArea.Changed, "#recipients")
    def _recipients_changed(self) -> None:
        self._refresh_recipients()

    @on(Input.Changed)
    @on(TextArea.Changed)
    def _form_edited(self) -> None:
        # a refusal from the last ctrl+s is stale once the form changes (the fields
        # explain their own problems as you type)
        result = self.query_one("#result", Static)
        if result.has_class("-error") and self._form_state() != self._refused:
            result.remove_class("-shown", "-error")

    @on(Switch.Changed, "#hybrid")
    def _hybrid_changed(self) -> None:
        self._hybrid_touched = True
        self.query_one("#hybrid-label", Label).update("Hybrid")

    def _refresh_json(self) -> None:
        status = self.query_one("#json-status", Static)
        draft = self._read()
        value, problems = draft.parse_payload()
        status.set_class(bool(problems), "-error")
        if problems:
            status.update(Content("✗ " + visible(problems[0][1])))
            return
        size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
        text = f"✓ valid JSON object, {size} bytes"
        resolved, _ = draft.resolve()
        keys = [key for _, key in resolved] or ([self._self_key] if self._self_key else [])
        over = draft.schema_problems(value) + draft.size_problems(value, keys)
        if over:
            status.add_class("-error")
            more = f" (and {len(over) - 1} more)" if len(over) > 1 else ""
            text = f"✗ valid JSON object, {size} bytes, but {over[0][1]}{more}"
        elif draft.schema:
            text += ", matches the schema"
        status.update(Content(visible(text)))

    def _refresh_recipients(self) -> None:
        draft = self._read()
        resolved, problems = draft.resolve()
        status = self.query_one("#recipients-status", Static)
        typed = bool(split_recipients(draft.recipients))
        status.set_class(typed and bool(problems), "field-error")
        if not typed:
            status.update("no recipients yet")
        elif problems:  # each unknown name on its own line
            status.update(Content("\n".join("✗ " + visible(what) for _, what in problems)))
        else:
            shown = [
                f"{label} ({short_key(key)})" if label else short_key(key)
                for label, key in resolved
            ]
            status.update(Content(visible("→ " + ", ".join(shown))))
        if not self._hybrid_touched:
            switch = self.query_one("#hybrid", Switch)
            with switch.prevent(Switch.Changed):
                switch.value = len(resolved) > 1  # as `ensync-tui publish` does

    # ---- the form as data -----------------------------------------------------------------

    def _form_state(self) -> dict[str, Any]:
        return {
            "name": self.query_one("#name", Input).value.strip(),
            "recipients": split_recipients(self.query_one("#recipients", TextArea).text),
            "payload_text": self.query_one("#payload", TextArea).text,
            "headers_text": self.query_one("#headers", TextArea).text,
            "persist": self.query_one("#persist", Checkbox).value,
            "hybrid": self.query_one("#hybrid", Switch).value,
        }

    def _load_state(self, state: dict[str, Any]) -> None:
        recipients = state.get("recipients", [])
        if isinstance(recipients, str):
            recipients = split_recipients(recipients)
        self.query_one("#name", Input).value = str(state.get("name", ""))
        self.query_one("#recipients", TextArea).load_text("\n".join(recipients))
        self.query_one("#payload", TextArea).load_text(str(state.get("payload_text", "")))
        self.query_one("#headers", TextArea).load_text(str(state.get("headers_text", "")))
        self.query_one("#persist", Checkbox).value = bool(state.get("persist", True))
        switch = self.query_one("#hybrid", Switch)
        with switch.prevent(Switch.Changed):
            switch.value = bool(state.get("hybrid", False))
        self._hybrid_touched = True
        self.query_one("#hybrid-label", Label).update("Hybrid")
        self._refresh_recipients()
        self._refresh_json()

    def _read(self) -> Draft:
        """The form as the client's publishing draft."""
        return Draft(
            name=self.query_one("#name", Input).value,
            recipients=self.query_one("#recipients", TextArea).text,
            payload=self.query_one("#payload", TextArea).text,
            headers=self.query_one("#headers", TextArea).text,
            persist=self.query_one("#persist", Checkbox).value,
            hybrid=self.query_one("#hybrid", Switch).value,
            contacts=self._contacts,
            self_key=self._self_key,
            schema=self._schema(),
        )

    def _refusal(self, problems: list[Problem]) -> Content:
        """Every problem, one a line, and focus on the first field with one."""
        self.query_one(FIELDS[problems[0][0]][0]).focus()
        lines = [
            Content.assemble(("✗", "$text-error"), f" {FIELDS[field][1]}: {visible(what)}.")
            for field, what in problems
        ]
        return Content("\n").join([*lines, Content("Nothing was sent.")])

    # ---- results --------------------------------------------------------------------------

    def _show_result(self, content: Content, kind: str) -> None:
        # the form as it was refused: edits made since (not keys still queued) clear it
        self._refused = self._form_state() if kind == "error" else None
        result = self.query_one("#result", Static)
        result.update(content)
        result.remove_class("-ok", "-error", "-pending")
        result.add_class("-shown", f"-{kind}")

    def _label_for(self, key: str) -> str:
        if key == self._self_key:
            return "self"
        for name, contact_key in self._contacts.items():
            if contact_key == key:
                return name
        return short_key(key)

    def _reply_lines(self, replies: list[dict]) -> list[Content]:
        # the engine's answers are wire text: built as Content, never as markup
        ok, failed = ("✓", "$text-success"), ("✗", "$text-error")
        lines = []
        for reply in replies:
            who = visible(self._label_for(str(reply.get("recipient", ""))))
            if reply.get("error") is not None:
                error = reply["error"]
                text = error_text(error) if isinstance(error, BaseException) else str(error)
                lines.append(Content.assemble("  ", failed, f" {who}  {visible(text)}"))
            elif reply.get("idem") is not None:
                lines.append(
                    Content.assemble(
                        "  ",
                        ok,
                        f" {who}  idem ",
                        (visible(str(reply["idem"])), "bold"),
                        "  block ",
                        (visible(str(reply.get("block"))), "bold"),
                    )
                )
            else:
                response = visible(str(reply.get("response")))
                lines.append(Content.assemble("  ", ok, f" {who}  {response}"))
        return lines

    def _describe_replies(self, name: str, replies: list[dict]) -> Content:
        head = Content.styled(f"Published {visible(name)}", "bold")
        head += f" to {len(replies)} recipient(s):"
        return Content("\n").join([head, *self._reply_lines(replies)])

    def _describe_failure(self, exc: Exception) -> Content:
        head = Content.assemble(("✗ Send failed:", "$text-error"), " ", visible(error_text(exc)))
        lines = [head]
        results = getattr(exc, "results", None)
        if isinstance(results, list) and results:
            lines.extend(self._reply_lines([r for r in results if isinstance(r, dict)]))
        return Content("\n").join(lines)

    # ---- actions --------------------------------------------------------------------------

    @on(Button.Pressed, "#send")
    def _send_pressed(self) -> None:
        self.action_send()

    @on(Button.Pressed, "#close")
    def _close_pressed(self) -> None:
        self.action_close()

    def action_close(self) -> None:
        if not self._sending:
            self._drafts.keep(self._form_state())
        self.dismiss(None)

    def action_send(self) -> None:
        if self._sending:
            return
        draft = self._read()
        problems = draft.validate()
        if problems:
            self._show_result(self._refusal(problems), "error")
            return
        message = draft.message()
        self._sending = True
        self.query_one("#send", Button).disabled = True
        self._show_result(Content(f"Sending {visible(message.name)}…"), "pending")
        # The app runs the send, so closing the composer does not cut it short.
        self.app.run_worker(
            self._send_message(message, self._form_state()),
            name="composer-send",
            group="composer-send",
            exit_on_error=False,
        )

    async def _send_message(self, message: Message, state: dict[str, Any]) -> None:
        try:
            replies = await self._send(message)
        except Exception as exc:
            self._report(self._describe_failure(exc), "error")
        else:
            self._history.append(state)
            self._drafts.drop(state["name"])
            self._history_pos = None
            self._unsent = None
            shown = [reply for reply in replies or [] if isinstance(reply, dict)]
            self._report(self._describe_replies(message.name, shown), "ok")
        finally:
            self._sending = False
            if self._is_open():
                self.query_one("#send", Button).disabled = False
                self._refresh_history_pos()

    def _is_open(self) -> bool:
        return self.is_attached and self in self.app.screen_stack

    def _report(self, content: Content, kind: str) -> None:
        """Show the outcome here, or as a notification once the composer is closed."""
        if self._is_open():
            self._show_result(content, kind)
        else:
            if kind == "error":
                self.app.notify(content.plain, title="Publish", severity="error", markup=False)
            else:
                self.app.notify(content.plain, title="Publish", markup=False)

    def action_history(self, step: int) -> None:
        if not self._history:
            self.notify("No messages sent yet.", severity="information", timeout=2)
            return
        last = len(self._history) - 1
        if self._history_pos is None:
            if step > 0:
                return
            self._unsent = self._form_state()
            self._history_pos = last
        else:
            position = self._history_pos + step
            if position > last:
                self._history_pos = None
                if self._unsent is not None:
                    self._load_state(self._unsent)
                self._refresh_history_pos()
                return
            self._history_pos = max(0, position)
        self._load_state(self._history[self._history_pos])
        self._refresh_history_pos()

    def _refresh_history_pos(self) -> None:
        label = self.query_one("#history-pos", Static)
        if self._history_pos is None:
            count = len(self._history)
            label.update(f"{count} sent · ctrl+↑ to recall" if count else "")
        else:
            label.update(f"history {self._history_pos + 1}/{len(self._history)}")
