"""`email.send_campaign`: one personalised message per consenting member of a list, resumable, at a steady rate.

Each recipient is recorded in the delivery journal right after the server accepted their message, under the
step's idempotency key: a retried or resumed step skips them, so nobody gets the campaign twice (the one
message in flight when a process dies may be repeated; it carries the same Message-ID). One SMTP connection
serves the whole batch; a 5xx for one recipient is reported and the campaign goes on; a login failure stops it.
"""
from __future__ import annotations

import builtins
from contextlib import ExitStack
from email.message import EmailMessage
from email.utils import formataddr
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from beffroi import (
    HTML,
    ActionError,
    ActionSpec,
    ContactDirectory,
    DocumentRef,
    ListNotFound,
    Services,
    delivered_targets,
    record_delivery,
)

from . import attachments
from .attachments import Attached, AttachmentFacts, attachments_field
from .channels import Sender, open_channel, sender_of
from .message import build, describe, domain_of, message_id, one_line, parse_addresses
from .pacing import Pacer
from .personalise import (
    FIELD_HELP,
    Personaliser,
    TemplateError,
    contact_fields,
    footer_html,
    footer_text,
    places_unsubscribe,
    problems,
)
from .smtp import Disconnected, Refused

MAX_FAILURES_SHOWN = 200


class CampaignInput(BaseModel):
    """A campaign to a contact list; give `text`, `html` or both."""

    model_config = ConfigDict(extra="forbid")
    list_: str = Field(alias="list", min_length=1, description="Name of the contact list, e.g. press")
    subject: str = Field(min_length=1, max_length=998, description="Subject line. " + FIELD_HELP)
    text: str | None = Field(None, description="Plain-text body. " + FIELD_HELP +
                             " The unsubscribe link is added at the end unless [[ unsubscribe_url ]] is placed.")
    html: str | None = Field(None, description="HTML body (fields are HTML-escaped; |safe keeps one as is). "
                             + FIELD_HELP, json_schema_extra=HTML)
    reply_to: str | None = Field(None, description="Address that replies go to, when not the sender")
    rate_per_minute: int = Field(120, ge=1, le=6000, description=(
        "At most this many messages per minute (mail providers throttle or block faster senders). A long "
        "campaign needs a long enough step timeout: 1,200 recipients at 120/min take 10 minutes (timeout: 15m); "
        "a step stopped by its timeout continues with the remaining recipients when it is retried"))
    languages: list[str] | None = Field(None, min_length=1, description=(
        "Languages of the list, its main one first, e.g. [nl, fr]: the message ends with an unsubscribe link in "
        "each, and the unsubscribe page is shown in the main one unless the reader's browser asks for another "
        "of them. Default: every language of the unsubscribe page (fr, nl, de, en)"))
    attachments: builtins.list[DocumentRef] = attachments_field()
    unsubscribe_label: str | None = Field(None, min_length=1, max_length=200, description=(
        "Your own text for the unsubscribe link added to each message (one link instead of one per language)"))

    @field_validator("subject", "text", "html")
    @classmethod
    def _fields(cls, value: str | None) -> str | None:
        found = problems(value) if value else []
        if found:
            raise ValueError("; ".join(found))
        return value

    @field_validator("languages")
    @classmethod
    def _languages(cls, value: list[str] | None, info: ValidationInfo) -> list[str] | None:
        if value is None:
            return None
        chosen = list(dict.fromkeys(lang.strip().lower() for lang in value))
        services = Services.of(info)
        if services is None:  # validated outside a recipe: checked when the recipe is
            return chosen
        try:
            offered = services.get(ContactDirectory).languages()
        except ActionError as exc:  # no plugin provides a contact directory
            raise ValueError(str(exc)) from None
        unknown = [lang for lang in chosen if lang not in offered]
        if unknown:
            raise ValueError(f"the unsubscribe page has no {', '.join(unknown)} version; choose among "
                             f"{', '.join(offered)}")
        return chosen

    @field_validator("reply_to")
    @classmethod
    def _reply_to(cls, value: str | None) -> str | None:
        found = parse_addresses(value) if value and value.strip() else []
        if len(found) > 1:
            raise ValueError("give one address")
        return found[0] if found else None

    @model_validator(mode="after")
    def _body(self):
        if self.text is None and self.html is None:
            raise ValueError("give text, html or both")
        return self


class Failure(BaseModel):
    """A recipient who did not get the message, and why."""

    email: str = Field(description="the recipient's address")
    error: str = Field(description="why the message did not reach them (the server's reply)")


class CampaignOutput(BaseModel):
    """Counts of the campaign; `outbox: true` when messages were only recorded."""

    list: Annotated[str, Field(description="The contact list")]  # Annotated: `list` stays the builtin below
    recipients: int = Field(description="Members subscribed with consent")
    sent: int = Field(description="Sent by this attempt (in a dry run: how many would be sent)")
    already_sent: int = Field(description="Sent by an earlier attempt of this step (not sent again)")
    skipped: int = Field(description="Members unsubscribed or without consent (never sent to)")
    failed: int = Field(description="Recipients who did not get it (0 in a dry run)")
    failures: builtins.list[Failure] = Field(description=f"Who failed and why (the first {MAX_FAILURES_SHOWN})")
    connection: str = Field(description="The connection it went through (`outbox` when the step names none)")
    outbox: bool = Field(description="True when the messages were only recorded in the outbox, not sent")
    note: str | None = Field(None, description="Why nothing was sent, for an outbox")
    warnings: builtins.list[str] = Field([], description="What to fix before sending for real")
    attachments: builtins.list[AttachmentFacts] = Field(
        default_factory=builtins.list, description="The documents attached to every message (what they are, never "
                                                   "their bytes)")


class Composer:
    """Renders the campaign's message for one contact: fields, unsubscribe link and headers."""

    def __init__(self, payload: CampaignInput, sender: Sender, ctx, attached: Attached | None = None):
        self.payload, self.sender, self.ctx, self.attached = payload, sender, ctx, attached
        self.directory = ctx.services.get(ContactDirectory)
        self.languages = payload.languages or list(self.directory.languages())
        self.footers = {lang: self.directory.footer_texts(lang) for lang in self.languages}
        self.personaliser = Personaliser()
        self.add_text_link = payload.text is not None and not places_unsubscribe(payload.text)
        self.add_html_link = payload.html is not None and not places_unsubscribe(payload.html)

    def text_lines(self, url: str) -> list[str]:
        """The footer's lines: the officer's own label, or one line per language of the list."""
        if self.payload.unsubscribe_label:
            return [f"{self.payload.unsubscribe_label}: {url}"]
        return [line % {"url": f"{url}?lang={lang}"} for lang, (_, line) in self.footers.items()]

    def html_links(self, url: str) -> list[tuple[str, str, str | None]]:
        """The footer's links (url, label, language): the officer's own label, or one per language of the list."""
        if self.payload.unsubscribe_label:
            return [(url, self.payload.unsubscribe_label, None)]
        return [(f"{url}?lang={lang}", label, lang) for lang, (label, _) in self.footers.items()]

    def compose(self, contact: dict[str, Any]) -> EmailMessage:
        """The message for this contact; TemplateError naming the field that cannot be filled."""
        payload, sender, fill = self.payload, self.sender, self.personaliser.fill
        url = self.directory.unsubscribe_url(self.ctx, contact["id"], payload.list_, self.languages[0])
        data = {"contact": contact_fields(contact), "unsubscribe_url": url}
        parts: dict[str, str | None] = {}
        for field in ("subject", "text", "html"):
            try:
                parts[field] = fill(getattr(payload, field), data, as_html=field == "html")
            except TemplateError as exc:
                raise TemplateError(f"{field}: {exc}") from None
        if self.add_text_link and parts["text"] is not None:  # add_*_link: that part is given
            parts["text"] = footer_text(parts["text"], self.text_lines(url))
        if self.add_html_link and parts["html"] is not None:
            parts["html"] = footer_html(parts["html"], self.html_links(url))
        name = one_line(" ".join(filter(None, (contact.get("first_name"), contact.get("last_name")))))
        list_domain = domain_of(sender.from_address)
        unsubscribe = f"<{url}>"
        if sender.unsubscribe_mailto:
            unsubscribe += f", <mailto:{sender.unsubscribe_mailto}?subject=unsubscribe%20{payload.list_}>"
        headers = {"List-Id": f"{payload.list_} <{payload.list_}.{list_domain}>", "List-Unsubscribe": unsubscribe,
                   "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
        message = build(sender=sender.header, to=[formataddr((name, contact["email"])) if name else contact["email"]],
                        subject=parts["subject"] or "", text=parts["text"], html=parts["html"],
                        reply_to=payload.reply_to, headers=headers,
                        msg_id=message_id(f"{self.ctx.idempotency_key}:{contact['email']}", sender.from_address))
        return self.attached.add_to(message) if self.attached is not None else message


def _audience(payload: CampaignInput, ctx) -> tuple[list[dict[str, Any]], int]:
    """(recipients with consent, members skipped) of the list; ActionError for an unknown list or no directory."""
    try:
        return ctx.services.get(ContactDirectory).audience(ctx, payload.list_)
    except ValueError as exc:  # ListNotFound, or a name that cannot be a list's: a message for the officer
        raise ActionError(str(exc), retryable=False) from None


def _warnings(ctx, sender: Sender) -> list[str]:
    """What the officer should know before sending for real (unsubscribe links nobody outside could open)."""
    url = ctx.public_url or ""
    if sender.outbox or (url.startswith("https://") and not any(h in url for h in ("//127.", "//localhost"))):
        return []
    return [f"unsubscribe links point to {url}, which recipients may not be able to open: set BEFFROI_PUBLIC_URL "
            "to the public https address of this Beffroi"]


def run(payload: CampaignInput, ctx) -> dict[str, Any]:
    """Send to every consenting member not yet served by an earlier attempt; returns the counts."""
    sender = sender_of(ctx)
    people, skipped = _audience(payload, ctx)
    done = delivered_targets(ctx.db, ctx.idempotency_key)
    with ExitStack() as stack:  # the attachments, read once for every message, removed when the step ends
        attached = Attached(ctx, payload.attachments, stack)
        return _campaign(payload, ctx, sender, people, skipped, done, attached)


def _campaign(payload: CampaignInput, ctx, sender: Sender, people: builtins.list[dict[str, Any]], skipped: int,
              done: set[str], attached: Attached) -> dict[str, Any]:
    """Send to each person not done yet, journaling each one as the server accepts it."""
    composer, channel = Composer(payload, sender, ctx, attached), open_channel(ctx)
    pacer = Pacer(ctx, payload.rate_per_minute, paced=not channel.outbox)
    sent, already = 0, 0
    served = sum(1 for contact in people if contact["email"] in done)  # by earlier attempts
    ctx.progress(served, len(people))  # the rate counts from here: this attempt's messages
    failures: list[dict[str, Any]] = []
    temporary: list[dict[str, Any]] = []

    def progress() -> str:
        left = len(people) - sent - already - len(failures)  # the temporarily refused are tried again
        return (f"{sent + already} of {len(people)} sent so far, {left} left; the step continues with them when "
                f"it is retried")

    try:
        for contact in people:
            email = contact["email"]
            if email in done:
                already += 1
                continue
            try:
                message = composer.compose(contact)
            except (TemplateError, ValueError) as exc:  # this contact's data cannot fill the message
                failures.append({"email": email, "error": str(exc)})
                continue
            pacer.wait_turn()
            try:
                _send(channel, message, email, ctx, pacer)
            except Refused as exc:
                (failures if exc.permanent else temporary).append({"email": email, "error": exc.reply})
                record_delivery(ctx, ctx.idempotency_key, email, status="failed", error=exc.reply)
                continue
            record_delivery(ctx, ctx.idempotency_key, email, result={"message_id": message["Message-ID"]})
            sent += 1
            ctx.progress(served + sent, len(people))
    except ActionError as exc:
        raise ActionError(f"{exc} ({progress()})", retryable=exc.retryable) from None
    finally:
        channel.close()
        ctx.progress(served + sent, len(people), final=True)
    if temporary:
        first = temporary[0]
        raise ActionError(f"{len(temporary)} recipient(s) refused for now, e.g. {first['email']}: {first['error']} "
                          f"({progress()})", retryable=True)
    if failures and not sent and not already:
        first = failures[0]
        raise ActionError(f"no message could be sent: {len(failures)} recipient(s) failed, e.g. {first['email']}: "
                          f"{first['error']}", retryable=False)
    return {"list": payload.list_, "recipients": len(people), "sent": sent, "already_sent": already,
            "skipped": skipped, "failed": len(failures), "failures": failures[:MAX_FAILURES_SHOWN],
            **sender.labels(), "warnings": _warnings(ctx, sender), "attachments": attached.facts()}


def _send(channel, message: EmailMessage, email: str, ctx, pacer: Pacer) -> None:
    """Send one message; when a working connection drops (servers cap messages per connection), reconnect once."""
    was_open = getattr(channel, "session", None) is not None
    try:
        channel.send(message, [email], f"{ctx.idempotency_key}:{email}")
    except Disconnected:
        if not was_open:
            raise
        channel.close()
        pacer.check()
        channel.send(message, [email], f"{ctx.idempotency_key}:{email}")


def preview(payload: CampaignInput, ctx) -> dict[str, Any]:
    """The counts a run would give, and the first recipient's message as it would be sent; nothing is sent or
    recorded."""
    sender = sender_of(ctx)
    warnings = _warnings(ctx, sender)
    try:
        people, skipped = _audience(payload, ctx)
    except ActionError as exc:
        if not isinstance(exc.__context__, ListNotFound):
            raise
        # an earlier step may create the list when it runs (a dry run writes nothing): say so, preview the rest
        people, skipped = [], 0
        warnings.insert(0, f"{exc}: nobody would get it unless an earlier step creates the list")
    done = delivered_targets(ctx.db, ctx.idempotency_key)
    left = [p for p in people if p["email"] not in done]
    first = None
    if left:
        try:
            message = Composer(payload, sender, ctx).compose(left[0])
        except (TemplateError, ValueError) as exc:
            raise ActionError(f"for {left[0]['email']}: {exc}", retryable=False) from None
        first = describe(message, [left[0]["email"]])
    listed, problems = attachments.preview(ctx, payload.attachments)
    warnings.extend(problems)
    if first is not None and listed:
        first["attachments"] = listed
    minutes = 0 if sender.outbox else round(len(left) / payload.rate_per_minute, 1)
    # `sent` counts who would get it: a later step reading steps.<id>.sent sees the number a run would give
    return {"list": payload.list_, "recipients": len(people), "sent": len(left),
            "already_sent": len(people) - len(left), "skipped": skipped, "failed": 0, "failures": [],
            **sender.labels(preview=True),
            "warnings": warnings, "would_send": len(left), "first_message": first,
            "attachments": attachments.placeholders(listed),
            "estimated_minutes": minutes}


SPEC = ActionSpec(key="email.send_campaign", title="Send a campaign to a list", input_model=CampaignInput,
                  default_timeout=6 * 3600,  # a paced campaign to a long list takes a while
                  output_model=CampaignOutput, connection_type="email", run=run, preview=preview,
                  description="Sends a personalised message to every member of a contact list who gave consent, "
                              "with a one-click unsubscribe link, at a steady rate. If it stops (a crash, a timeout), "
                              "running it again sends only to those who did not get it yet.")
