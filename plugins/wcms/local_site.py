"""The built-in website: what `wcms.create_post` and `wcms.publish_post` use when a step names no connection.

A stand-in for a real site, so a recipe that drafts and publishes web posts works on a fresh installation: each
post is a JSON file `<data dir>/site/<id>.json` (title, content, status, excerpt, categories, featured image, dates),
and a published one is shown as a plain page at `<public URL>/site/<id>` (its address in the step's output, from the
draft on); its images are copied to `<data dir>/site/media/`, served at `/site/media/<id>.<ext>`.
Point the steps at a WordPress connection to publish on the real site.
"""
from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from beffroi import ActionError, OpenedDocument, PollResult

from .posts import NewPost, PostToPublish, PublishedPost, UploadedMedia

IMAGE_TYPES = {"image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif", "image/webp": ".webp"}


def default_root(ctx: Any) -> Path:
    """The built-in website's folder: `<data dir>/site`."""
    return Path(getattr(ctx, "data_dir", ".beffroi")).expanduser().resolve() / "site"


class LocalSite:
    """A folder of post files used as a website (the WebsiteConnector Protocol)."""

    name = None

    def __init__(self, root: Path, ctx: Any):
        self.root = root
        self.ctx = ctx

    def _now(self) -> datetime:
        clock = getattr(self.ctx, "clock", None)
        return clock() if clock is not None else datetime.now(UTC)

    def _path(self, post_id: int) -> Path:
        return self.root / f"{post_id}.json"

    def _posts(self) -> list[dict]:
        if not self.root.is_dir():
            return []
        found = []
        for path in self.root.glob("*.json"):
            try:
                found.append(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError):
                continue
        return found

    def read(self, post_id: str) -> dict | None:
        """The post with this id (digits), or None."""
        if not post_id.isdigit() or len(post_id) > 12:
            return None
        try:
            post = json.loads(self._path(int(post_id)).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return post if isinstance(post, dict) else None

    def _output(self, post: dict) -> PublishedPost:
        base = str(getattr(self.ctx, "public_url", "") or "").rstrip("/")
        return PublishedPost(id=post["id"], url=f"{base}/site/{post['id']}", status=post["status"])

    def _write(self, post: dict, *, new: bool) -> None:
        text = json.dumps(post, ensure_ascii=False, indent=2)
        if new:
            with open(self._path(post["id"]), "x", encoding="utf-8") as file:  # never over another post
                file.write(text)
            return
        temporary = self.root / f".{post['id']}.json.tmp"
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, self._path(post["id"]))

    def recent_posts(self, limit: int, cursor: Any) -> PollResult:
        """Not a source of posts: the trigger reads a folder of posts with `folder:` instead."""
        raise ActionError("the built-in website is not watched: give the trigger a folder or a feed_url",
                          retryable=False)

    def upload_media(self, document: OpenedDocument, alt: str) -> UploadedMedia:
        """The image copied to `media/<id>.<ext>` with its alt text beside it (`<id>.json`), shown by the post's page
        at `/site/media/<id>.<ext>`."""
        extension = IMAGE_TYPES.get(document.content_type)
        if extension is None:
            raise ActionError(f"the built-in website shows JPEG, PNG, GIF and WebP images, not {document.name} "
                              f"({document.content_type})", retryable=False)
        folder = self.root / "media"
        folder.mkdir(parents=True, exist_ok=True)
        while True:
            media_id = max((int(p.stem) for p in folder.glob("*.json") if p.stem.isdigit()), default=0) + 1
            try:
                with open(folder / f"{media_id}.json", "x", encoding="utf-8") as file:  # the id taken, or retry
                    json.dump({"id": media_id, "file": f"{media_id}{extension}", "alt": alt,
                               "content_type": document.content_type, "name": document.name}, file)
                break
            except FileExistsError:
                continue
        shutil.copyfile(document.file, folder / f"{media_id}{extension}")
        base = str(getattr(self.ctx, "public_url", "") or "").rstrip("/")
        return UploadedMedia(id=media_id, url=f"{base}/site/media/{media_id}{extension}", alt=alt)

    def media(self, media_id: int) -> dict | None:
        """An image's record (file, alt text, type), or None."""
        try:
            found = json.loads((self.root / "media" / f"{media_id}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return found if isinstance(found, dict) else None

    def create_post(self, post: NewPost, featured_media: int | None = None) -> PublishedPost:
        """A new post file with the next free id."""
        self.root.mkdir(parents=True, exist_ok=True)
        now = datetime.now(UTC).isoformat()  # the time create_post's pending mark is compared with (find_post)
        record: dict[str, Any] = {
            "title": post.title, "content": post.content, "status": post.status, "excerpt": post.excerpt,
            "categories": post.categories, "date": post.date.isoformat() if post.date else None,
            "featured_media": featured_media, "created_at": now, "modified_at": now}
        while True:
            record["id"] = max((p.get("id", 0) for p in self._posts()), default=0) + 1
            try:
                self._write(record, new=True)
                return self._output(record)
            except FileExistsError:
                continue  # another step took that id meanwhile

    def find_post(self, title: str, since: datetime) -> PublishedPost | None:
        """A post with exactly this title changed since `since`."""
        for post in sorted(self._posts(), key=lambda p: p.get("id", 0), reverse=True):
            if post.get("title", "").strip() == title.strip() and post.get("modified_at", "") >= since.isoformat():
                return self._output(post)
        return None

    def publish_post(self, change: PostToPublish) -> PublishedPost:
        """The post's status set to publish (title, content changed when given)."""
        post = self.read(str(change.post))
        if post is None:
            raise ActionError(f"the built-in website has no post {change.post}", retryable=False)
        if change.title is not None:
            post["title"] = change.title
        if change.content is not None:
            post["content"] = change.content
        if post["status"] != "publish":
            post["status"], post["published_at"] = "publish", self._now().astimezone(UTC).isoformat()
        post["modified_at"] = datetime.now(UTC).isoformat()
        self._write(post, new=False)
        return self._output(post)
