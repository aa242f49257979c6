"""Beffroi's public facade: what plugin authors import (`from beffroi import hookimpl, ActionSpec`).

Plugins import this module only, never `beffroi.<module>` (an import-linter contract checks it). The names
below the line are loaded on first use: `import beffroi` stays light (no httpx, Jinja2, SQLAlchemy or FastAPI).
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .contact_book import CONSENT_STATES, IMPORT_FIELDS, ContactBook, ContactError, ContactFilters, ContactWindow
from .directory import ContactDirectory, ListNotFound
from .documents import (
    DocumentHandle,
    DocumentInfo,
    DocumentRef,
    Documents,
    DocumentSource,
    DocumentTooLarge,
    ImageRef,
    OpenedDocument,
)
from .durations import Duration, parse_duration
from .errors import ActionError, Parked
from .hookspecs import hookimpl
from .metrics import MetricCounts, MetricRecorder
from .netguard import check_address
from .notify_mail import Mail, Mailer
from .redaction import redact
from .signing import BadSignature
from .social import Channel, Image, Limit, MediaRule, Post
from .specs import (
    HTML,
    ActionContext,
    ActionSpec,
    ConnectionSpec,
    PolledItem,
    PollResult,
    Services,
    ServiceSpec,
    TriggerSpec,
)
from .webhooks import WebhookConfig

if TYPE_CHECKING:
    from .api import create_app
    from .api.deps import Admin, Editor, EngineDep, Offset, Viewer
    from .api.problems import FieldError, JSONRoute, problem_responses
    from .approval_mail import notify as notify_approvers
    from .approvals import (
        ApprovalConflict,
        ApprovalInvalid,
        ApprovalNotFound,
        ApprovalRefused,
        Approvals,
        editable,
        may_decide,
        overrides,
    )
    from .audit import AuditLog
    from .connections import Connection
    from .deliveries import about as deliveries_about
    from .deliveries import done as delivered
    from .deliveries import done_targets as delivered_targets
    from .deliveries import forget as forget_deliveries
    from .deliveries import once as deliver_once
    from .deliveries import pending as delivery_pending
    from .deliveries import record as record_delivery
    from .deliveries import record_many as record_deliveries
    from .engine import Engine
    from .http import BlockedAddressError, OutboundError, ResponseTooLargeError, RetryAfterTooLongError
    from .languages import best_language
    from .outbox import page as outbox_page
    from .outbox import record as record_outbox
    from .publications import page as publications_page
    from .publications import publishing_recipes
    from .settings import Settings
    from .store import Base, Database
    from .store.models import utcnow
    from .templating import TemplateError, Templater
    from .users import LastAdmin, PasswordTooShort, SignInThrottle, UserInfo

# name -> (module, attribute): imported when first asked for
_LAZY: dict[str, tuple[str, str]] = {
    # outbound HTTP errors (ctx.http raises them)
    "OutboundError": (".http", "OutboundError"), "BlockedAddressError": (".http", "BlockedAddressError"),
    "ResponseTooLargeError": (".http", "ResponseTooLargeError"),
    "RetryAfterTooLongError": (".http", "RetryAfterTooLongError"),
    # the sandboxed templates of recipes
    "Templater": (".templating", "Templater"), "TemplateError": (".templating", "TemplateError"),
    # side effects done once: the delivery journal and the outbox
    "delivered": (".deliveries", "done"), "delivery_pending": (".deliveries", "pending"),
    "delivered_targets": (".deliveries", "done_targets"), "record_delivery": (".deliveries", "record"),
    "record_deliveries": (".deliveries", "record_many"),
    "deliver_once": (".deliveries", "once"),
    "deliveries_about": (".deliveries", "about"), "forget_deliveries": (".deliveries", "forget"),
    "record_outbox": (".outbox", "record"), "outbox_page": (".outbox", "page"),
    # the results pages: the runs that published, and what went out
    "publications_page": (".publications", "page"), "publishing_recipes": (".publications", "publishing_recipes"),
    # data kept in Beffroi's database (built-in tools)
    "Database": (".store", "Database"), "Base": (".store", "Base"), "utcnow": (".store.models", "utcnow"),
    # plugin API routes (register_routers)
    "EngineDep": (".api.deps", "EngineDep"), "Viewer": (".api.deps", "Viewer"), "Editor": (".api.deps", "Editor"),
    "Admin": (".api.deps", "Admin"), "JSONRoute": (".api.problems", "JSONRoute"),
    "FieldError": (".api.problems", "FieldError"), "problem_responses": (".api.problems", "problem_responses"),
    "Offset": (".api.deps", "Offset"),
    # a resolved connection (ctx.connection)
    "Connection": (".connections", "Connection"),
    # an engine, its settings and its web application: for a plugin's tests
    "Engine": (".engine", "Engine"), "Settings": (".settings", "Settings"), "create_app": (".api", "create_app"),
    # the people of the web UI (beffroi_ui): who is signed in, sign-in throttling, refused changes
    "UserInfo": (".users", "UserInfo"), "SignInThrottle": (".users", "SignInThrottle"),
    "PasswordTooShort": (".users", "PasswordTooShort"), "LastAdmin": (".users", "LastAdmin"),
    # pages in the reader's language (the UI, a plugin's public pages)
    "best_language": (".languages", "best_language"),
    # content approval (flow.approve, its pages): requests, who may decide, the texts approvers edit, their e-mails
    "Approvals": (".approvals", "Approvals"), "ApprovalNotFound": (".approvals", "ApprovalNotFound"),
    "ApprovalRefused": (".approvals", "ApprovalRefused"), "ApprovalConflict": (".approvals", "ApprovalConflict"),
    "ApprovalInvalid": (".approvals", "ApprovalInvalid"), "editable": (".approvals", "editable"),
    "may_decide": (".approvals", "may_decide"), "overrides": (".approvals", "overrides"),
    "notify_approvers": (".approval_mail", "notify"), "AuditLog": (".audit", "AuditLog"),
}

__all__ = [
    # plugins and what they register
    "hookimpl", "ConnectionSpec", "TriggerSpec", "ActionSpec", "ServiceSpec", "ActionContext", "PolledItem",
    "PollResult", "HTML", "Services",
    # errors and checks
    "ActionError", "Parked", "BadSignature", "Duration", "parse_duration", "redact", "check_address",
    # services plugins offer each other
    "ContactDirectory", "ListNotFound", "MetricCounts", "MetricRecorder",
    # the contact pages of the web UI and what a crm plugin offers them
    "ContactBook", "ContactError", "ContactFilters", "ContactWindow", "IMPORT_FIELDS", "CONSENT_STATES",
    # the installation's own e-mails (approval requests) and the service that sends them (the email plugin's)
    "Mail", "Mailer",
    # the options and checks of webhook triggers
    "WebhookConfig",
    # the social-media tool type's contract (a new network behind smms.publish)
    "Channel", "Post", "Image", "Limit", "MediaRule",
    # documents as media: a handle, a reference to one, reading it (the ecm plugin provides DocumentSource)
    "DocumentHandle", "DocumentRef", "ImageRef", "Documents", "DocumentSource", "OpenedDocument", "DocumentInfo",
    "DocumentTooLarge",
    *_LAZY,
]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    """The names of `_LAZY`, imported on first use and kept."""
    try:
        module, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'beffroi' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module, __name__), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
