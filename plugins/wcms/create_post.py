"""`wcms.create_post`: a post on the website, created at most once per step even when retried or resumed.

The delivery journal (`beffroi.deliveries`, key = the step's idempotency key, target = the connection) holds
the created post: a retried or resumed step returns it instead of posting again. WordPress has no
idempotency key, so before its POST an attempt also records a `pending` mark; a later attempt that finds
the mark (the earlier one died, timed out or lost the answer after sending) first looks on the site for a
post with the same title changed since then, and adopts it instead of creating a second one.
"""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from beffroi import ActionSpec, delivered, delivery_pending, record_delivery

from .connectors import connect
from .posts import NewPost, PublishedPost

PURPOSE = "wcms.create_post"


def run(post: NewPost, ctx: Any) -> PublishedPost:
    """Create the post, unless this step already did (journal) or an interrupted attempt did (found on the site)."""
    site = connect(ctx, PURPOSE)
    key, target = ctx.idempotency_key, ctx.connection.name
    recorded = delivered(ctx.db, key, target)
    if recorded is not None:
        return PublishedPost.model_validate(recorded)
    since = pending_since(ctx.db, key, target)
    if since is None:
        record_delivery(ctx, key, target, status="pending",
                          result={"since": datetime.now(UTC).isoformat()})
    else:
        found = site.find_post(post.title, since)
        if found is not None:
            record_delivery(ctx, key, target, result=found.model_dump())
            return found
    created = site.create_post(post)
    record_delivery(ctx, key, target, result=created.model_dump())
    return created


def preview(post: NewPost, ctx: Any) -> dict[str, Any]:
    """A placeholder of the created post, and the post that would be created and where; nothing is sent
    (categories are looked up when it runs)."""
    connect(ctx, PURPOSE)  # a missing or wrong connection shows in a dry run too
    site = getattr(ctx.connection.config, "base_url", None)
    # the site gives the id and address only once the post exists: an id of 0 and an address that cannot exist
    url = f"https://preview.invalid/{ctx.connection.type}/{ctx.connection.name}"
    placeholder = PublishedPost(id=0, url=url, status=post.status)
    return {**placeholder.model_dump(),
            "would_create": {"connection": ctx.connection.name, "site": site, **post.model_dump(mode="json")}}


def pending_since(db: Any, key: str, target: str) -> datetime | None:
    """When an earlier attempt of this step was about to create the post, if one was."""
    since = (delivery_pending(db, key, target) or {}).get("since")
    return datetime.fromisoformat(since) if since else None


SPEC = ActionSpec(
    key="wcms.create_post", title="Create a post on the website", input_model=NewPost, output_model=PublishedPost,
    connection_type="wcms", run=run, preview=preview,
    description="Creates a post (draft, pending review, published or scheduled) with its categories on a WordPress "
                "site; a retried step never creates it twice.")
