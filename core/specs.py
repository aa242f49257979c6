"""The typed records plugins yield: connection types, triggers, actions, and the context an action runs in."""
from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationInfo, model_validator
from pydantic.json_schema import JsonDict

from .errors import ActionError
from .redaction import RedactingLogger
from .webhooks import WebhookConfig

T = TypeVar("T")

TriggerKind = Literal["manual", "webhook", "poll", "schedule"]

class SchemaMark(dict[str, Any]):
    """Marks an input field that holds HTML: `html: str = Field(description="HTML body", json_schema_extra=HTML)`.

    Its `{{ … }}` values are HTML-escaped when the step's `with` is rendered (`|safe` keeps one as it is), so data
    from a webhook cannot put markup in an e-mail; JSON Schema's own keyword, so the UI sees it in the schema too.
    """


HTML: JsonDict = SchemaMark(contentMediaType="text/html")


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True, extra="forbid")


class ConnectionSpec(_Spec):
    """A connection type: how to reach one account of a tool (e.g. `mastodon` for `smms`)."""

    key: str
    tool_type: str
    title: str
    description: str = ""
    config_model: type[BaseModel]
    test: Callable[[Any, ActionContext], Any] | None = None


class PolledItem(BaseModel):
    """One new item found by a poll: a stable `key` for deduplication and the event a run receives."""

    key: str
    event: dict[str, Any]


class PollResult(BaseModel):
    """What a poll returns: the items seen now (new or not; the engine deduplicates) and the next cursor."""

    items: list[PolledItem] = []
    cursor: Any = None


class TriggerSpec(_Spec):
    """An event that starts a run (`wcms.post_published`); `kind` says how the engine serves it.

    A `poll` trigger gives `poll(config, cursor, ctx) -> PollResult`, where `config` is its validated
    `with`, `cursor` what the previous poll returned (None at first) and `ctx` an ActionContext
    (connections, the outbound HTTP client).

    A `webhook` trigger is served at `POST /hooks/<recipe>`: its `config_model` extends `WebhookConfig` (the
    checks every delivery passes first), and `receive(delivery, config)`, when given, turns the sender's body
    (a JSON object, or a form as a dict) into the run's event: it returns the event, None for a delivery that
    starts nothing (answered 200 `ignored`), or raises ValueError with a message for the sender (a 422).

    `event_model` describes the event a run receives (`trigger.*` in a recipe) and `sample_event` is one such
    event, validated against it: a dry run with no event of its own uses it (a recipe's `trigger.sample`
    overrides it), and the editor shows its fields as what `trigger.*` holds.
    """

    key: str
    title: str
    description: str = ""
    kind: TriggerKind
    config_model: type[BaseModel] | None = None
    event_model: type[BaseModel] | None = None
    sample_event: BaseModel | None = None
    connection_type: str | None = None
    poll: Callable[..., Any] | None = None
    receive: Callable[[dict[str, Any], Any], dict[str, Any] | None] | None = None

    @model_validator(mode="after")
    def _served_as_its_kind(self) -> TriggerSpec:
        """A webhook trigger's options include the delivery checks; `receive` is for webhooks only."""
        if self.kind == "webhook" and not (isinstance(self.config_model, type)
                                           and issubclass(self.config_model, WebhookConfig)):
            raise ValueError(f"trigger {self.key}: the config_model of a webhook trigger must extend WebhookConfig "
                             "(the checks every delivery passes)")
        if self.receive is not None and self.kind != "webhook":
            raise ValueError(f"trigger {self.key}: receive is for webhook triggers; this one is {self.kind!r}")
        return self

    @model_validator(mode="before")
    @classmethod
    def _typed_sample(cls, data: Any) -> Any:
        """A sample given as a dict becomes an instance of the event model (a mistake fails at registration)."""
        if isinstance(data, dict) and isinstance(data.get("sample_event"), dict):
            model = data.get("event_model")
            if model is None:
                raise ValueError("a sample_event needs the event_model it is an instance of")
            data = {**data, "sample_event": model.model_validate(data["sample_event"])}
        return data

    def sample(self) -> dict[str, Any]:
        """The sample event as JSON data ({} when the trigger declares none)."""
        if self.sample_event is None:
            return {}
        return self.sample_event.model_dump(mode="json", by_alias=True, exclude_unset=False)


class ActionSpec(_Spec):
    """A step a recipe can use (`smms.publish`): its input/output models and its `run` and `preview` calls.

    `run(input, ctx)` performs the side effect and returns the output (a model or a dict).
    `preview(input, ctx)` returns, without any side effect, an output of the same shape as `run`'s
    (placeholders where a value only exists once sent, marked as such) plus what would be sent
    (`would_send`, `would_publish`…), so later steps of a dry run read the fields they would read in a
    real one. When omitted, a dry run runs a pure action and shows `{"would_run": key, "input": …}`
    for others. `side_effects=False` marks pure actions (journaled once, when done). `long_running=True`
    journals the start too (a wait shows as running and a resumed one continues from `ctx.started_at`).
    `output_model` documents the output (the catalog shows its schema to the UI's data-insert panel).
    """

    key: str
    title: str
    description: str = ""
    input_model: type[BaseModel]
    output_model: type[BaseModel] | None = None
    connection_type: str | None = None
    run: Callable[[Any, ActionContext], Any]
    preview: Callable[[Any, ActionContext], Any] | None = None
    side_effects: bool = True
    long_running: bool = False
    default_timeout: float | None = None  # seconds, when the step sets no `timeout:` (else the engine's, 300 s)
    # its output's `approved` ({step id: {field: value}}) is laid over those later steps' rendered `with`, and its
    # context has `later_previews` (flow.approve)
    approves: bool = False


class ServiceSpec(_Spec):
    """A service one plugin offers the others: `provider` implements `protocol`, a Protocol the facade exports.

    The email campaign sends to the lists of whatever plugin provides `ContactDirectory` (the crm plugin), and
    imports neither that plugin nor its modules. One provider per protocol: a second one is refused at load time.
    """

    protocol: type
    provider: Any

    @model_validator(mode="after")
    def _implements(self) -> ServiceSpec:
        """A provider missing a method of its protocol is refused when its plugin loads, not when it is used."""
        try:
            implements = isinstance(self.provider, self.protocol)
        except TypeError:  # only a @runtime_checkable Protocol can be checked
            raise ValueError(f"{self.protocol.__name__} is not a @runtime_checkable Protocol") from None
        if not implements:
            raise ValueError(f"{type(self.provider).__name__} does not implement {self.protocol.__name__}")
        return self

    @property
    def key(self) -> str:
        """The protocol's name: what the registry keys services by (`ContactDirectory`)."""
        return self.protocol.__name__


class ServiceUnavailable(ActionError):
    """No loaded plugin provides the service an action asked for (not retryable: installing one is needed)."""

    def __init__(self, message: str):
        super().__init__(message, retryable=False)


class Services:
    """The services the loaded plugins provide, by protocol: `ctx.services.get(ContactDirectory)`."""

    def __init__(self, provided: Mapping[str, ServiceSpec] | None = None):
        self._provided = provided if provided is not None else {}

    def get(self, protocol: type[T]) -> T:
        """The provider of `protocol`; ServiceUnavailable, saying what is missing, when no plugin provides it."""
        spec = self._provided.get(protocol.__name__)
        if spec is None or spec.protocol is not protocol:
            what = (protocol.__doc__ or "").strip().split("\n", 1)[0].rstrip(".")
            what = f" ({what[:1].lower()}{what[1:]})" if what else ""
            raise ServiceUnavailable(f"no plugin provides {protocol.__name__}{what}: install or enable a plugin "
                                     "that does")
        return spec.provider

    @staticmethod
    def of(info: ValidationInfo) -> Services | None:
        """The services in an input model validator's context (None when the model is validated without one).

        Recipe validation and the runner validate `with` with `context={"services": …}`, so a field validator
        can check a value against a service (`languages` against the contact directory's).
        """
        found = (info.context or {}).get("services") if isinstance(info.context, Mapping) else None
        return found if isinstance(found, Services) else None


@functools.cache
def html_fields(model: type[BaseModel]) -> frozenset[str]:
    """The `with` keys (aliases where set) of the fields model marks as HTML."""
    return frozenset(info.alias or name for name, info in model.model_fields.items()
                     if isinstance(info.json_schema_extra, dict)
                     and info.json_schema_extra.get("contentMediaType") == HTML["contentMediaType"])


def secrets_of(connections: list[Any]) -> list[str]:
    """The secret values of resolved connections, as text (what redaction keeps out of records and logs)."""
    return [s for c in connections for s in getattr(c, "secret_values", ())]


@dataclass
class ActionContext:
    """What an action receives besides its input: ids, its connection(s), the outbound client, a logger."""

    run_id: str
    step_id: str
    idempotency_key: str
    recipe: str
    attempt: int = 1
    item_index: int | None = None
    dry_run: bool = False
    connections: list[Any] = field(default_factory=list)
    http: Any = None
    logger: logging.Logger | logging.LoggerAdapter = field(default_factory=lambda: logging.getLogger("beffroi.action"))
    deadline: float | None = None
    started_at: datetime | None = None  # when the step first started (earlier than now after a resume)
    db: Any = None  # the engine's Database, for built-in tools that keep data in Beffroi (CRM, metrics, outbox)
    signer: Any = None  # beffroi.signing.Signer for public links (unsubscribe)
    public_url: str = "http://127.0.0.1:8000"  # where this Beffroi is reached from outside (links in messages)
    # local folders a plugin may read (BEFFROI_ALLOWED_FOLDERS)
    allowed_folders: list[str] = field(default_factory=list)
    data_dir: str = ".beffroi"  # BEFFROI_DATA_DIR: where built-in tools keep files (the ecm plugin's documents)
    services: Services = field(default_factory=Services)  # what other plugins provide (ContactDirectory…)
    read_run_status: Callable[[str], str | None] | None = None  # the journal's, for cancelled()
    # for an action that `approves`: each later step of the run previewed with the data of now (see lookahead.py)
    later_previews: Callable[[], list[dict[str, Any]]] | None = None
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))  # the engine's: now, in UTC
    progress_board: Any = None  # beffroi.progress.ProgressBoard: where ctx.progress() writes
    notifier: Any = None  # beffroi.notify_mail.Notifier: how the installation sends its own e-mails (approvals)
    # the engine's: connections by name and tool type, for a service that reads through another connection than
    # the step's (a document handle names its ecm connection)
    resolve_connections: Callable[[list[str], str | None], list[Any]] | None = None
    _reporter: Any = field(default=None, init=False, repr=False)  # ctx.progress()'s, made on its first call

    def __post_init__(self) -> None:
        # what an action logs may quote a remote answer, which may echo a credential back
        if self.secret_values and not isinstance(self.logger, RedactingLogger):
            self.logger = RedactingLogger(self.logger, self.secret_values)

    @property
    def secret_values(self) -> list[str]:
        """The secrets of the step's connections as text: what must not leave the action (see redaction)."""
        return secrets_of(self.connections)

    @property
    def connection(self) -> Any:
        """The single connection of the step (first when several), or None."""
        return self.connections[0] if self.connections else None

    def progress(self, done: int, total: int | None = None, *, final: bool = False) -> None:
        """Report how far this step got (`done` of `total`, e.g. messages sent of recipients): the run's page and
        its API detail show it live, with a rate and the time left. Call it as often as you like (after each
        message): it is written at most twice a second, and always when `final` (call it once at the end, with the
        final counts). Nothing is written in a dry run or outside a run."""
        if self.progress_board is None or self.dry_run or not self.run_id:
            return
        if self._reporter is None:
            self._reporter = self.progress_board.reporter(self.run_id, self.step_id)
        self._reporter.report(done, total, final=final)

    def cancelled(self) -> bool:
        """True once the run was cancelled (API, UI, another process): a long action checks it and stops early."""
        return bool(self.run_id) and self.read_run_status is not None \
            and self.read_run_status(self.run_id) == "cancelled"
