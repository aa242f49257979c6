"""`wcms.create_post`: a post on the website, created at most once per step even when retried or resumed.

The delivery journal (`beffroi.deliveries`, key = the step's idempotency key, target = the connection) holds
the created post: a retried or resumed step returns it instead of posting again. WordPress has no
idempotency key, so before its POST an attempt also records a `pending` mark; a later attempt that finds
the mark (the earlier one died, timed out or lost the answer after sending) first looks on the site for a
post with the same title changed since then, and adopts it instead of creating a second one.
"""
from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import Any

from beffroi import ActionError, ActionSpec, Documents, ImageRef, delivered, delivery_pending, record_delivery

from .connectors import connect
from .posts import NewPost, PublishedPost, UploadedMedia, WebsiteConnector

PURPOSE = "wcms.create_post"
MAX_IMAGE_BYTES = 20 * 2**20  # per image: most sites accept this much (upload_max_filesize)


def run(post: NewPost, ctx: Any) -> PublishedPost:
    """Create the post, unless this step already did (journal) or an interrupted attempt did (found on the site)."""
    site = connect(ctx, PURPOSE)
    key, target = ctx.idempotency_key, ctx.connection.name
    recorded = delivered(ctx.db, key, target)
    if recorded is not None:
        return PublishedPost.model_validate(recorded)
    media = upload_images(post, site, ctx, target)
    featured = media[0].id if post.featured_image is not None else None
    shown = media[1:] if post.featured_image is not None else media
    post = post.model_copy(update={"content": post.content + "".join(figure(m) for m in shown)})
    since = pending_since(ctx.db, key, target)
    if since is None:
        record_delivery(ctx, key, target, status="pending",
                          result={"since": datetime.now(UTC).isoformat()})
    else:
        found = site.find_post(post.title, since)
        if found is not None:
            found = found.model_copy(update={"media": media, "featured_media": featured})
            record_delivery(ctx, key, target, result=found.model_dump())
            return found
    created = site.create_post(post, featured).model_copy(update={"media": media, "featured_media": featured})
    record_delivery(ctx, key, target, result=created.model_dump())
    return created


def images_of(post: NewPost) -> list[tuple[str, ImageRef]]:
    """The images to upload, each with its field: the featured image first."""
    featured = [("featured_image", post.featured_image)] if post.featured_image is not None else []
    return featured + [(f"images[{index}]", image) for index, image in enumerate(post.images)]


def upload_images(post: NewPost, site: WebsiteConnector, ctx: Any, target: str) -> list[UploadedMedia]:
    """Upload each image once: one uploaded by an earlier attempt of the step (journaled) is not sent again."""
    refs = images_of(post)
    Documents.require_alt([ref for _, ref in refs], field=[field for field, _ in refs])
    uploaded = []
    for field, image in refs:
        mark = f"{target}:media:{field}"
        earlier = delivered(ctx.db, ctx.idempotency_key, mark)
        if earlier is not None:
            uploaded.append(UploadedMedia.model_validate(earlier))
            continue
        with Documents(ctx).open(image, max_bytes=MAX_IMAGE_BYTES, field=field) as document:
            if not document.content_type.startswith("image/"):
                raise ActionError(f"{field}: {document.name} is {document.content_type}, not an image",
                                  retryable=False)
            media = site.upload_media(document, image.alt).model_copy(update={
                "name": document.name, "sha256": document.sha256,
                "document": document.handle.model_dump(mode="json")})
        record_delivery(ctx, ctx.idempotency_key, mark, result=media.model_dump())
        uploaded.append(media)
    return uploaded


def figure(media: UploadedMedia) -> str:
    """An uploaded image as a block of the post's content (WordPress's image block)."""
    return (f'\n\n<!-- wp:image {{"id":{media.id}}} -->\n<figure class="wp-block-image"><img src="'
            f'{html.escape(media.url)}" alt="{html.escape(media.alt)}" class="wp-image-{media.id}"/></figure>\n'
            "<!-- /wp:image -->")


def preview(post: NewPost, ctx: Any) -> dict[str, Any]:
    """A placeholder of the created post, and the post that would be created and where; nothing is sent
    (categories are looked up when it runs)."""
    connect(ctx, PURPOSE)  # a missing or wrong connection shows in a dry run too
    site = getattr(ctx.connection.config, "base_url", None)
    # the site gives the id and address only once the post exists: an id of 0 and an address that cannot exist
    url = f"https://preview.invalid/{ctx.connection.type}/{ctx.connection.name}"
    placeholder = PublishedPost(id=0, url=url, status=post.status)
    refs = images_of(post)
    images, warnings = Documents(ctx).preview([ref for _, ref in refs], field=[field for field, _ in refs])
    for (field, _), item in zip(refs, images):  # each named by its own field (featured_image, images[0]…)
        item["field"] = field
    return {**placeholder.model_dump(),
            "would_create": {"connection": ctx.connection.name, "site": site, **post.model_dump(mode="json"),
                             "uploads": images},
            **({"warnings": warnings} if warnings else {})}


def pending_since(db: Any, key: str, target: str) -> datetime | None:
    """When an earlier attempt of this step was about to create the post, if one was."""
    since = (delivery_pending(db, key, target) or {}).get("since")
    return datetime.fromisoformat(since) if since else None


SPEC = ActionSpec(
    key="wcms.create_post", title="Create a post on the website", input_model=NewPost, output_model=PublishedPost,
    connection_type="wcms", run=run, preview=preview,
    description="Creates a post (draft, pending review, published or scheduled) with its categories on a WordPress "
                "site; a retried step never creates it twice.")
