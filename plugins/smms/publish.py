"""`smms.publish`: one text published on one or several social media accounts, each within its limit.

Every account is served at most once per step: the delivery journal is checked before posting and
written right after, so a retried or resumed step publishes only where it had not yet succeeded.
"""
from __future__ import annotations

from contextlib import ExitStack
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from beffroi import (
    ActionContext,
    ActionError,
    ActionSpec,
    BlockedAddressError,
    Channel,
    Documents,
    Image,
    ImageRef,
    OpenedDocument,
    OutboundError,
    Post,
    delivered,
    record_delivery,
)

from .accessibility import advice
from .channel import where
from .limits import MASTODON_MEDIA, MAX_IMAGES, Fitted, fit
from .outbox_channel import OutboxChannel


class PublishInput(BaseModel):
    """The post: its text (links and #hashtags in it work on every network), an optional image and language."""

    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, description="What to publish. Write links in full (https://…); links and "
                                                "#hashtags become clickable on every network.")
    image_url: str | None = Field(None, pattern=r"^https?://", description="address of an image to attach (optional)")
    image_alt: str = Field("", max_length=1500, description="what the image shows, for people who cannot see it")
    images: list[ImageRef] = Field(
        default_factory=list, max_length=MAX_IMAGES,
        description="images from documents (up to 4), each a handle ({{ trigger.document }}) or a path in "
                    "Beffroi's documents folder, with its alt text")
    language: str | None = Field(None, pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$",
                                 description="language of the text as a code: fr, nl, de, en")
    texts: dict[str, str] | None = Field(None, description="a text per account (the connection's name) that "
                                                            "replaces `text` there, e.g. as an approver edited it")
    overflow: Literal["fail", "truncate"] = Field(
        "fail", description="when the text is too long for an account: fail the step, or truncate it on a word "
                            "boundary, keeping its link whole at the end")

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("the text is empty")
        return value

    @model_validator(mode="after")
    def _at_most_four(self) -> PublishInput:
        if len(self.images) + (1 if self.image_url else 0) > MAX_IMAGES:
            raise PydanticCustomError("smms_images", "at most {most} images per post (image_url counts as one)",
                                      {"most": MAX_IMAGES})
        return self

    @field_validator("image_url", "language", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value


class ImageFacts(BaseModel):
    """An attached image as the journal keeps it: its name, type, size, alt text, hash and handle."""

    name: str = Field(description="its file name")
    content_type: str = Field(description="its media type, e.g. image/png")
    size: int = Field(description="its size in bytes")
    alt: str = Field(description="its alt text")
    sha256: str = Field("", description="the SHA-256 of its bytes (from a document)")
    document: dict[str, Any] | None = Field(None, description="the document's handle (from a document)")


class PublishedPost(BaseModel):
    """Where the post went on one account; `outbox` marks a post kept in the outbox, `preview` one not sent."""

    account: str = Field(description="the connection's name, e.g. city-mastodon")
    network: str = Field(description="mastodon, bluesky, or outbox")
    id: str | None = Field(description="the post's id on the network (none in a preview)")
    url: str | None = Field(description="the post's public address (none for the outbox; a placeholder under "
                                        "preview.invalid in a preview)")
    outbox: bool = Field(False, description="kept in Beffroi's outbox, not published")
    preview: bool = Field(False, description="a dry run's placeholder: nothing was published")
    text: str = Field(description="the text as published on this account (fitted to its limit)")
    images: list[ImageFacts] = Field(default_factory=list, description="the images attached (what they are, "
                                                                       "never their bytes)")


class PublishOutput(BaseModel):
    """One result per account, in the order of the step's connections."""

    results: list[PublishedPost] = Field(description="one per account: results[0] is the first connection's")


def channels_of(ctx: ActionContext) -> list[Channel]:
    """A Channel per connection of the step (each account once); the outbox when the step names none."""
    if not ctx.connections:
        return [OutboxChannel()]
    channels: dict[str, Channel] = {}
    for connection in ctx.connections:
        make = getattr(connection.config, "channel", None)
        if make is None:
            raise ActionError(f"{connection.name}: a {connection.type} connection cannot publish posts",
                              retryable=False)
        channels.setdefault(connection.name, make(connection.name))
    return list(channels.values())


def _fitted(payload: PublishInput, channels: list[Channel]) -> list[Fitted]:
    texts = payload.texts or {}
    return [fit(texts.get(channel.account) or payload.text, channel.limit, channel.account,
                truncate=payload.overflow == "truncate") for channel in channels]


def fetch_image(url: str, alt: str, ctx: ActionContext) -> Image:
    """Download the image through the shared client; it must answer 200 with an image/* type."""
    try:
        response = ctx.http.get(url)
    except OutboundError as exc:
        raise ActionError(f"the image could not be fetched ({exc})",
                          retryable=not isinstance(exc, BlockedAddressError)) from None
    if response.status_code != 200:
        raise ActionError(f"the image at {where(url)} could not be fetched ({response.status_code} "
                          f"{response.reason_phrase})", retryable=response.status_code >= 500
                          or response.status_code == 429)
    mime_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if not mime_type.startswith("image/"):
        raise ActionError(f"the address {where(url)} is not an image ({mime_type or 'no content type'})",
                          retryable=False)
    filename = response.url.path.rsplit("/", 1)[-1] or "image"
    return Image(response.content, mime_type, alt, filename)


def _images(payload: PublishInput, ctx: ActionContext, stack: ExitStack) -> list[Image]:
    """The images from documents, read once for every account (each capped at the largest a network takes)."""
    if not payload.images:
        return []
    opened: list[OpenedDocument] = stack.enter_context(
        Documents(ctx).open_all(payload.images, max_bytes=MASTODON_MEDIA.max_bytes, field="images"))
    return [Image(doc.read(), doc.content_type, ref.alt, doc.name, doc.sha256, doc.handle.model_dump(mode="json"))
            for ref, doc in zip(payload.images, opened)]


def _image_problems(images: list[Image], channels: list[Channel], done: dict[str, Any]) -> list[str]:
    """What keeps an image off an account still to serve (too large, a type it refuses)."""
    problems = []
    for channel in channels:
        rule = getattr(channel, "media", None)
        if rule is None or done[channel.account]:
            continue
        for index, image in enumerate(images):
            problem = rule.problem(channel.account, f"images[{index}]", image.filename, image.mime_type,
                                   len(image.data))
            if problem:
                problems.append(problem)
    return problems


def run(payload: PublishInput, ctx: ActionContext) -> dict[str, Any]:
    """Publish on every account not yet served by this step; fail naming the accounts that failed."""
    channels = channels_of(ctx)
    fitted = _fitted(payload, channels)
    problems = [f.problem for f in fitted if f.problem]
    if problems:
        raise ActionError("; ".join(problems) + " (shorten the text, or allow truncation)", retryable=False)
    done = {c.account: delivered(ctx.db, ctx.idempotency_key, c.account) for c in channels}
    if all(done.values()):  # a replay of a step that published everywhere: read nothing again
        return {"results": list(done.values())}
    Documents.require_alt(payload.images, field="images")
    with ExitStack() as stack:
        images = _images(payload, ctx, stack)  # temporary files, removed when the step is done with them
        problems = _image_problems(images, channels, done)
        if problems:
            raise ActionError("; ".join(problems), retryable=False)
        if payload.image_url and any(c.needs_image_bytes and not done[c.account] for c in channels):
            images.insert(0, fetch_image(payload.image_url, payload.image_alt, ctx))
        return _publish(payload, ctx, channels, fitted, done, images)


def _publish(payload: PublishInput, ctx: ActionContext, channels: list[Channel], fitted: list[Fitted],
             done: dict[str, Any], images: list[Image]) -> dict[str, Any]:
    """Publish on each account not done yet, journaling each one at once."""
    results: list[dict[str, Any]] = []
    failures: list[ActionError] = []
    from_documents = [i for i in images if i.document is not None]
    for channel, text in zip(channels, fitted):
        earlier = done[channel.account]
        if earlier:
            results.append(earlier)
            continue
        post = Post(text.text, payload.language, tuple(images if channel.needs_image_bytes else from_documents),
                    payload.image_url, payload.image_alt)
        try:
            published = channel.publish(post, ctx)
        except ActionError as exc:
            failures.append(exc)
            record_delivery(ctx, ctx.idempotency_key, channel.account, status="failed", error=str(exc))
            continue
        result = PublishedPost(account=channel.account, network=channel.network, id=published.get("id"),
                               url=published.get("url"), outbox=bool(published.get("outbox")),
                               text=text.text, images=[i.facts() for i in post.images]).model_dump()
        record_delivery(ctx, ctx.idempotency_key, channel.account, result=result)
        results.append(result)
    if failures:
        message = "; ".join(str(exc) for exc in failures)
        if results:
            message += f" (already published on {', '.join(r['account'] for r in results)}, not again on a retry)"
        raise ActionError(message, retryable=any(exc.retryable for exc in failures))
    return {"results": results}


def preview(payload: PublishInput, ctx: ActionContext) -> dict[str, Any]:
    """A placeholder result per account, and per account the exact text, its count against the limit, what else
    would be sent and advice on its accessibility (`accessibility.advice`). No network."""
    channels = channels_of(ctx)
    fitted = _fitted(payload, channels)
    images, warnings = Documents(ctx).preview(payload.images, field="images")
    if payload.image_url and not payload.image_alt.strip():
        warnings.append("image_alt: alt text required — describe what the image shows, for people who cannot "
                        "see it")
    items = []
    for channel, text in zip(channels, fitted):
        item: dict[str, Any] = {"account": channel.account, "network": channel.network, "text": text.text,
                                "count": text.count, "limit": text.maximum,
                                "unit": channel.limit.unit if channel.limit else "graphemes",
                                "within_limit": text.within_limit, "truncated": text.truncated}
        if text.problem:
            item["problem"] = text.problem
        item["advice"] = advice(text.text)  # what screen-reader users would stumble on
        if payload.language:
            item["language"] = payload.language
        if payload.image_url:
            item["image"] = {"url": payload.image_url, "alt": payload.image_alt}
        if images:
            item["images"] = images
            item.update(_size_problems(images, channel))
        item.update(channel.details(text.text))
        items.append(item)
    shown: dict[str, Any] = {"warnings": warnings} if warnings else {}
    return {"results": [placeholder(channel, text.text) for channel, text in zip(channels, fitted)],
            "would_publish": items, **shown}


def _size_problems(images: list[dict[str, Any]], channel: Channel) -> dict[str, Any]:
    """`{"image_problems": [...]}` for the images of a preview this account would refuse, else {}."""
    rule = getattr(channel, "media", None)
    if rule is None:
        return {}
    found = []
    for index, item in enumerate(images):
        problem = rule.problem(channel.account, f"images[{index}]", item["name"], item["content_type"], item["size"])
        if problem:
            found.append(problem)
    return {"image_problems": found} if found else {}


def placeholder(channel: Channel, text: str) -> dict[str, Any]:
    """The result a preview gives for one account: no id, and for a network an address that cannot exist."""
    url = None if channel.network == "outbox" else f"https://preview.invalid/{channel.network}/{channel.account}"
    return PublishedPost(account=channel.account, network=channel.network, id=None, url=url,
                         outbox=channel.network == "outbox", preview=True, text=text).model_dump()


SPEC = ActionSpec(key="smms.publish", title="Publish on social media", input_model=PublishInput,
                  output_model=PublishOutput, connection_type="smms", run=run, preview=preview,
                  description="Publishes a post on one or several accounts (Mastodon, Bluesky), each within its "
                              "length limit; without a connection, the post is kept in the outbox.")
