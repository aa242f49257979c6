"""`wcms.publish_post`: put a draft online, e.g. once it was approved and its publish window opened.

Publishing is an update that says the same thing each time (status: publish), so a retried or resumed step may
send it again harmlessly; the delivery journal still keeps the result, and a step that already published returns
it without calling the site.
"""
from __future__ import annotations

from typing import Any

from beffroi import ActionSpec, delivered, record_delivery

from .connectors import connect
from .create_post import preview_url, site_of, where
from .posts import PostToPublish, PublishedPost

PURPOSE = "wcms.publish_post"


def run(change: PostToPublish, ctx: Any) -> PublishedPost:
    """Publish the post, unless this step already did."""
    site = connect(ctx, PURPOSE, built_in=True)
    key, target = ctx.idempotency_key, where(ctx)
    recorded = delivered(ctx.db, key, target)
    if recorded is not None:
        return PublishedPost.model_validate(recorded)
    published = site.publish_post(change)
    record_delivery(ctx, key, target, result=published.model_dump())
    return published


def preview(change: PostToPublish, ctx: Any) -> dict[str, Any]:
    """The post as it would be once published, and where; nothing is sent."""
    connect(ctx, PURPOSE, built_in=True)  # a wrong connection shows in a dry run too
    placeholder = PublishedPost(id=change.post, url=preview_url(ctx), status="publish")
    return {**placeholder.model_dump(),
            "would_publish_post": {"connection": where(ctx), "site": site_of(ctx), **change.model_dump(mode="json")}}


SPEC = ActionSpec(
    key="wcms.publish_post", title="Publish a draft on the website", input_model=PostToPublish,
    output_model=PublishedPost, connection_type="wcms", run=run, preview=preview,
    description="Puts a draft (or a post pending review) online now, with a new title or text if given — for "
                "example the draft an earlier step created, once it is approved.")
