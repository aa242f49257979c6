"""The `webpush` connection type: notifications to browsers subscribed to a topic (RFC 8030, 8291, 8292).

pywebpush encrypts each message for its subscription (aes128gcm); the engine's outbound client sends it, so
the SSRF guard vets every endpoint a browser gave us. Many are sent at once (bounded), and each subscriber is
recorded in the delivery journal as soon as its push service accepted the message: a retried or resumed step
sends only to those not served yet. A subscription the push service says is gone (404, 410) is removed.
"""
from __future__ import annotations

import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from beffroi import ActionError, BlockedAddressError, OutboundError, delivered_targets, record_deliveries

from . import subscriptions, vapid
from .notification import MAX_PAYLOAD, Notification, message, payload_bytes

MAX_FAILURES_SHOWN = 200
# accepted messages are written to the journal in small batches, at least this often (seconds) or this many: a
# crash may resend at most one batch, and the tag of the message makes a repeat replace the first, silently
FLUSH_EVERY, FLUSH_SIZE = 0.25, 200
URGENCY = {"very-low": "very-low", "low": "low", "normal": "normal", "high": "high"}


class WebPushConfig(BaseModel):
    """Web Push to the browsers that subscribed on your website; the keys are made by Beffroi on first use."""

    model_config = ConfigDict(extra="forbid")
    subject: str = Field(pattern=r"^(mailto:[^@\s]+@[^@\s]+|https://\S+)$",
                         description="How push services can reach you about your messages: mailto:address or "
                                     "https://page")


@dataclass
class Tally:
    """What a fan-out did so far."""

    recipients: int = 0
    sent: int = 0
    already: int = 0
    removed: int = 0
    failures: list[dict[str, str]] = field(default_factory=list)
    temporary: list[dict[str, str]] = field(default_factory=list)

    def progress(self) -> str:
        """How far the step got, for an error that stops it."""
        return (f"{self.sent + self.already} of {self.recipients} sent so far; the step continues with the others "
                "when it is retried")


def subject_of(ctx: Any) -> str:
    """The VAPID subject: the connection's, else the public address (https) or a placeholder contact."""
    if ctx.connection is not None:
        return ctx.connection.config.subject
    url = ctx.public_url.rstrip("/")
    return url if url.startswith("https://") else "mailto:push@beffroi.invalid"


def _send_one(sub: subscriptions.Subscription, data: bytes, note: Notification, signer: vapid.HeaderSigner,
              ctx: Any) -> tuple[str, str | None]:
    """('sent' | 'gone' | 'failed' | 'later', why) for one subscription."""
    from pywebpush import WebPusher  # here: pywebpush loads aiohttp and requests, a third of a second at start-up

    try:
        body = WebPusher(sub.info()).encode(data, "aes128gcm")["body"]
    except Exception as exc:  # noqa: BLE001 - bad keys from a browser: that subscriber only
        return "failed", f"cannot encrypt for this subscription: {exc}"
    headers = {"TTL": str(note.ttl), "Content-Encoding": "aes128gcm", "Content-Type": "application/octet-stream",
               "Urgency": URGENCY[note.urgency], "Authorization": signer.header(sub.endpoint)}
    try:
        response = ctx.http.post(sub.endpoint, content=body, headers=headers, follow_redirects=False, attempts=1)
    except BlockedAddressError as exc:
        return "failed", str(exc)
    except OutboundError as exc:
        return "later", str(exc)
    status = response.status_code
    if status in (200, 201, 202):
        return "sent", None
    if status in (404, 410):
        return "gone", f"{status}"
    if status == 429 or status >= 500:
        return "later", f"the push service answered {status}"
    return "failed", f"the push service refused it ({status}): {response.text[:200]}"


class FanOut:
    """One step's sending to every subscriber of a topic: a bounded number in flight, the journal kept in batches."""

    def __init__(self, note: Notification, ctx: Any, data: bytes, signer: vapid.HeaderSigner) -> None:
        self.note, self.ctx, self.data, self.signer = note, ctx, data, signer
        self.tally = Tally()
        self.accepted: list[str] = []
        self.gone: list[str] = []
        self.flushed = time.monotonic()

    def handle(self, sub: subscriptions.Subscription, outcome: str, why: str | None) -> None:
        """Count one answer; accepted and gone subscriptions wait for the next flush."""
        if outcome == "sent":
            self.accepted.append(sub.id)
            self.tally.sent += 1
        elif outcome == "gone":
            self.gone.append(sub.id)
            self.tally.removed += 1
        else:
            failure = {"endpoint": _short(sub.endpoint), "error": why or ""}
            (self.tally.failures if outcome == "failed" else self.tally.temporary).append(failure)

    def flush(self, force: bool = False) -> None:
        """Write the accepted to the journal and drop the gone, when a batch is due (or `force`)."""
        due = len(self.accepted) >= FLUSH_SIZE or time.monotonic() - self.flushed >= FLUSH_EVERY
        if not (force or due):
            return
        record_deliveries(self.ctx.db, self.ctx.idempotency_key, self.accepted)
        subscriptions.remove(self.ctx.db, self.gone)
        self.accepted, self.gone, self.flushed = [], [], time.monotonic()

    def must_stop(self) -> bool:
        """True when the step's time is nearly up or its run was cancelled: the rest waits for a retry."""
        deadline = self.ctx.deadline
        return (deadline is not None and time.monotonic() > deadline - 1) or self.ctx.cancelled()

    def run(self) -> bool:
        """Send to everyone not yet served; True when it stopped before the end."""
        done = delivered_targets(self.ctx.db, self.ctx.idempotency_key)
        total = subscriptions.count(self.ctx.db, self.note.topic)
        self.ctx.progress(len(done), total)  # the rate counts from here: this attempt's messages
        todo = iter(subscriptions.of_topic(self.ctx.db, self.note.topic))
        window, stop = self.note.concurrency * 2, False
        flying: dict[Future, subscriptions.Subscription] = {}
        with ThreadPoolExecutor(self.note.concurrency, thread_name_prefix="webpush") as pool:
            try:
                while True:
                    while not stop and len(flying) < window:
                        sub = next(todo, None)
                        if sub is None:
                            break
                        self.tally.recipients += 1
                        if sub.id in done:
                            self.tally.already += 1
                        else:
                            flying[pool.submit(_send_one, sub, self.data, self.note, self.signer, self.ctx)] = sub
                    if not flying:
                        return stop
                    # with a timeout: the journal is written on time even while a push service is slow to answer
                    finished, _ = wait(flying, timeout=FLUSH_EVERY, return_when=FIRST_COMPLETED)
                    for future in finished:
                        self.handle(flying.pop(future), *future.result())
                    self.flush()
                    self.ctx.progress(self.tally.sent + self.tally.already, total)
                    stop = stop or self.must_stop()
            finally:
                for future, sub in flying.items():  # an error above: let those in flight land and count them
                    self.handle(sub, *future.result())
                self.flush(force=True)
                self.ctx.progress(self.tally.sent + self.tally.already, max(total, self.tally.recipients), final=True)


def deliver(note: Notification, ctx: Any) -> dict[str, Any]:
    """Send to every subscriber of the topic not yet served by this step; the counts."""
    keys, _public = vapid.load(ctx.db, ctx.signer)
    content = message(note, ctx, "push")
    data = payload_bytes(content)
    if len(data) > MAX_PAYLOAD:
        raise ActionError(f"the message is {len(data)} bytes; Web Push carries at most {MAX_PAYLOAD}: shorten the "
                          "text", retryable=False)
    fan_out = FanOut(note, ctx, data, vapid.HeaderSigner(keys, subject_of(ctx)))
    stopped = fan_out.run()
    tally = fan_out.tally
    if stopped:
        raise ActionError(f"stopped before the end ({tally.progress()})", retryable=True)
    if tally.temporary:
        first = tally.temporary[0]
        raise ActionError(f"{len(tally.temporary)} subscriber(s) refused for now, e.g. {first['endpoint']}: "
                          f"{first['error']} ({tally.progress()})", retryable=True)
    return {"recipients": tally.recipients, "sent": tally.sent, "already_sent": tally.already,
            "removed": tally.removed, "failed": len(tally.failures), "failures": tally.failures[:MAX_FAILURES_SHOWN],
            "message": content}


def _short(endpoint: str) -> str:
    """An endpoint without its secret part (the path identifies the browser): scheme, host and a hint."""
    head, _, rest = endpoint.partition("://")
    host = rest.split("/", 1)[0]
    return f"{head}://{host}/…{rest[-6:]}"


def describe(note: Notification, ctx: Any) -> dict[str, Any]:
    """What a run would do: how many subscribers would get which message; nothing is sent or made."""
    done = delivered_targets(ctx.db, ctx.idempotency_key)
    total = subscriptions.count(ctx.db, note.topic)
    already = len(done)
    return {"recipients": total, "sent": max(0, total - already), "already_sent": already, "removed": 0,
            "failed": 0, "failures": [], "message": message(note, ctx, "push")}


def check(config: WebPushConfig, ctx: Any) -> str:
    """Nothing to reach: push services are the subscribers' own; says where browsers subscribe."""
    return (f"Web Push is ready with the contact {config.subject}; browsers subscribe at "
            f"{ctx.public_url.rstrip('/')}/push/subscribe with the key from /push/key")
