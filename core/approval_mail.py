"""The e-mails of an approval request: to each approver, a link to the page where they decide; a reminder later.

Each is in its approver's language (the one they chose in the web UI, else the installation's), with a plain-text
and an HTML part: the recipe's title, the channels waiting for the decision, the link, and the expiry in the
installation's time zone. They are sent through the e-mail connection named by BEFFROI_NOTIFY_CONNECTION (by the
`Mailer` the e-mail plugin provides), once per approver and kind however often the step runs; without one, or when
sending fails, they are recorded in the outbox (channel `email`), where `GET /api/outbox?channel=email` and the
outbox page show them.
"""
from __future__ import annotations

import html
import logging
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_datetime, get_timezone_location
from sqlalchemy import select

from .connections import ConnectionProblem
from .deliveries import done as delivered
from .deliveries import record as record_delivery
from .errors import ActionError
from .notify_mail import Mail, Mailer, Notifier
from .outbox import record
from .redaction import scrub
from .specs import ActionContext
from .store import Database
from .store.models import RunRow
from .users import USER_ROLES, UserStore

SENDER = "beffroi@localhost"
TARGET = "mail"  # the delivery journal's target: one mail per key (approval, kind, approver)
log = logging.getLogger("beffroi.approvals")

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "subject": "Approval needed: {title}", "reminder": "Reminder: ",
        "intro": "A run of the recipe “{title}” waits for your approval before it publishes.",
        "channels": "What waits for your decision:", "note": "Note for the approvers:",
        "act": "See each message as it will go out, edit its text if needed, then approve or reject it:",
        "button": "Review and decide",
        "expires": "Without a decision, the request expires on {when} ({city} time).",
        "when": "EEEE d MMMM y 'at' HH:mm",
    },
    "fr": {
        "subject": "Approbation demandée : {title}", "reminder": "Rappel : ",
        "intro": "Une exécution de la recette « {title} » attend votre approbation avant de publier.",
        "channels": "Ce qui attend votre décision :", "note": "Note pour les approbateurs :",
        "act": "Voyez chaque message tel qu’il partira, modifiez son texte si besoin, puis approuvez ou refusez :",
        "button": "Relire et décider",
        "expires": "Sans décision, la demande expire le {when} (heure de {city}).",
        "when": "EEEE d MMMM y 'à' HH:mm",
    },
}
LANGUAGES = tuple(TEXTS)


def recipients(db: Database, request: dict[str, Any]) -> list[str]:
    """Who is told: the listed approvers, else every account with the approver role or above; never the excluded."""
    excluded = {e.lower() for e in request["excluded"]}
    if request["approvers"]:
        found = list(request["approvers"])
    else:
        found = [user["email"] for user in UserStore(db).list()
                 if USER_ROLES.index(user["role"]) >= USER_ROLES.index("approver")]
    return [email for email in found if email.lower() not in excluded]


def _title(db: Database, request: dict[str, Any]) -> str:
    """The recipe's title as its run holds it, else its name."""
    with db.session() as session:
        definition = session.scalar(select(RunRow.definition).where(RunRow.id == request["run_id"]))
    title = definition.get("title") if isinstance(definition, dict) else None
    return title if isinstance(title, str) and title.strip() else request["recipe"]


def _channels(request: dict[str, Any]) -> list[str]:
    """The steps waiting for the decision: `post — smms.publish (mastodon-city, bluesky)`."""
    found = []
    for entry in request.get("previews") or []:
        if not isinstance(entry, dict) or entry.get("status") == "skipped":
            continue
        through = ", ".join(entry.get("connections") or [])
        found.append(f"{entry.get('id')} — {entry.get('uses')}" + (f" ({through})" if through else ""))
    return found


def _when(at: datetime, language: str, zone: str) -> tuple[str, str]:
    """(the date and time in the zone, as the language writes them; the zone's city in that language)."""
    tz = ZoneInfo(zone)
    return (format_datetime(at, TEXTS[language]["when"], tzinfo=tz, locale=language),
            get_timezone_location(tz, locale=language, return_city=True))


def compose(request: dict[str, Any], *, to: str, language: str, link: str, title: str, zone: str, reminder: bool,
            key: str) -> Mail:
    """The request's (or reminder's) e-mail to one approver, in their language."""
    words = TEXTS[language if language in TEXTS else "en"]
    subject = (words["reminder"] if reminder else "") + words["subject"].format(title=title)
    channels = _channels(request)
    expires = None
    if request.get("expires_at") is not None:
        when, city = _when(request["expires_at"], language, zone)
        expires = words["expires"].format(when=when, city=city)
    lines = [words["intro"].format(title=title), ""]
    if channels:
        lines += [words["channels"], *(f"- {c}" for c in channels), ""]
    if request.get("message"):
        lines += [words["note"], request["message"], ""]
    lines += [words["act"], link]
    if expires:
        lines += ["", expires]
    esc = html.escape
    parts = [f"<p>{esc(words['intro'].format(title=title))}</p>"]
    if channels:
        parts.append(f"<p>{esc(words['channels'])}</p><ul>{''.join(f'<li>{esc(c)}</li>' for c in channels)}</ul>")
    if request.get("message"):
        parts.append(f"<p>{esc(words['note'])}</p><blockquote><p>{esc(request['message'])}</p></blockquote>")
    parts.append(f"<p>{esc(words['act'])}</p><p><a href=\"{esc(link)}\">{esc(words['button'])}</a></p>")
    if expires:
        parts.append(f"<p>{esc(expires)}</p>")
    body = (f"<!DOCTYPE html><html lang=\"{language}\"><head><meta charset=\"utf-8\"><title>{esc(subject)}</title>"
            f"</head><body>{''.join(parts)}</body></html>")
    return Mail(to=to, subject=subject, text="\n".join(lines), html=body, key=key)


def _outbox(ctx: ActionContext, mail: Mail, link: str, note: str) -> None:
    payload = {"outbox": True, "note": note, "headers": {"From": SENDER, "To": mail.to, "Subject": mail.subject},
               "envelope_to": [mail.to], "text": mail.text, "html": mail.html, "link": link}
    record(ctx.db, channel="email", connection="outbox", key=mail.key, payload=payload, run_id=ctx.run_id)


def _sender(ctx: ActionContext, notifier: Notifier) -> tuple[Any, ActionContext | None, str | None]:
    """(the Mailer, a context holding the designated connection, None) to send; (None, None, why not) otherwise
    (no connection designated: why is None)."""
    try:
        connection = notifier.connection()
        if connection is None:
            return None, None, None
        mailer = ctx.services.get(Mailer)
    except (ConnectionProblem, ActionError, ValueError) as exc:  # a missing connection or plugin: the outbox
        return None, None, f"not sent through {notifier.connection_name}: {exc}"
    sending = ActionContext(run_id=ctx.run_id, step_id=ctx.step_id, idempotency_key=ctx.idempotency_key,
                            recipe=ctx.recipe, connections=[connection], http=ctx.http, logger=ctx.logger,
                            deadline=ctx.deadline, db=ctx.db, public_url=ctx.public_url, services=ctx.services)
    return mailer, sending, None


def notify(ctx: ActionContext, request: dict[str, Any], *, reminder: bool = False) -> list[str]:
    """Send (or record) the request's e-mail, or its reminder, to each recipient once; returns the addresses."""
    notifier = ctx.notifier if isinstance(ctx.notifier, Notifier) else Notifier()
    link = f"{ctx.public_url.rstrip('/')}/approvals/{request['id']}"
    kind = "reminder" if reminder else "request"
    title = _title(ctx.db, request)
    chosen = UserStore(ctx.db).languages()
    mailer, sending, problem = _sender(ctx, notifier)
    addresses = recipients(ctx.db, request)
    for email in addresses:
        key = f"approval:{request['id']}:{kind}:{email.lower()}"[:300]
        language = chosen.get(email.lower()) or notifier.language
        mail = compose(request, to=email, language=language if language in TEXTS else notifier.language, link=link,
                       title=title, zone=notifier.zone, reminder=reminder, key=key)
        if mailer is None or sending is None:
            _outbox(ctx, mail, link, problem or "recorded in the outbox: nothing was sent")
            continue
        if delivered(ctx.db, key, TARGET) is not None:
            continue  # sent by an earlier call of the step
        try:
            message_id = mailer.send_mail(sending, mail)
        except ActionError as exc:  # the server refused it or could not be reached: it waits in the outbox
            why = scrub(str(exc), sending.secret_values)
            log.warning("approval e-mail to %s not sent through %s: %s", email, notifier.connection_name, why)
            _outbox(ctx, mail, link, f"not sent through {notifier.connection_name}: {why}")
            continue
        record_delivery(sending, key, TARGET, result={"message_id": message_id,
                                                       "connection": notifier.connection_name})
    return addresses
