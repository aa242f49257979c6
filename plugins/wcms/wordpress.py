"""The `wordpress` connection type: a WordPress site through its REST API (`/wp-json/wp/v2`), application password."""
from __future__ import annotations

import base64
import html
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from beffroi import ActionError, ConnectionSpec, OpenedDocument, PollResult

from .event import PostEvent, html_to_text, oldest_first, polled, squash
from .fetch import conditional_headers, send, send_unrepeatable, validators
from .posts import NewPost, PublishedPost, UploadedMedia

EDIT_STATUSES = "publish,future,draft,pending,private"


class WordPressConfig(BaseModel):
    """A WordPress site and the account Beffroi uses on it."""

    model_config = ConfigDict(extra="forbid")
    base_url: str = Field(pattern=r"^https?://", description="the site's address, e.g. https://www.example.org")
    username: str = Field(min_length=1, description="the WordPress user name the application password belongs to")
    application_password: SecretStr = Field(
        description="an application password (WordPress: Users → Profile → Application Passwords), "
                    "not the account's login password")

    @field_validator("base_url")
    @classmethod
    def _site_root(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        return value.removesuffix("/wp-json")


class WordPressSite:
    """One WordPress connection in use by a step or a poll: typed calls to the REST API, readable errors."""

    def __init__(self, name: str, config: WordPressConfig, ctx: Any):
        self.name = name
        self.config = config
        self.ctx = ctx
        self.what = f"WordPress at {urlsplit(self.config.base_url).netloc}"
        pair = f"{self.config.username}:{self.config.application_password.get_secret_value()}"
        self._auth = "Basic " + base64.b64encode(pair.encode()).decode()

    # -- the wcms operations ---------------------------------------------------------------------
    def recent_posts(self, limit: int, cursor: Any) -> PollResult:
        """The latest published posts, oldest first (no items when the server says nothing changed)."""
        # WordPress answers reads with a wrong application password as if anonymous: check who we are first
        self._call("GET", "users/me", params={"_fields": "id"})
        response = self._call("GET", "posts", params={"_embed": "1", "orderby": "date", "order": "desc",
                                                      "per_page": limit},
                              headers=conditional_headers(cursor), allow_not_modified=True)
        if response.status_code == 304:
            return PollResult(items=[], cursor=cursor)
        posts = [post_event(p) for p in _list(response)]
        return PollResult(items=[polled(e) for e in oldest_first(posts)], cursor=validators(response))

    def create_post(self, post: NewPost, featured_media: int | None = None) -> PublishedPost:
        """Create the post (categories resolved by name first); one POST, never repeated once sent."""
        body: dict[str, Any] = {"title": post.title, "content": post.content, "status": post.status}
        if featured_media:
            body["featured_media"] = featured_media
        if post.excerpt is not None:
            body["excerpt"] = post.excerpt
        if post.date is not None:  # with a time zone: sent in UTC; without: the site's local time
            if post.date.tzinfo is None:
                body["date"] = post.date.isoformat()
            else:
                body["date_gmt"] = post.date.astimezone(UTC).replace(tzinfo=None).isoformat()
        if post.categories:
            body["categories"] = self.category_ids(post.categories, create=post.create_categories)
        response = self._call("POST", "posts", json=body)
        return published(response.json())

    def upload_media(self, document: OpenedDocument, alt: str) -> UploadedMedia:
        """Upload a file to the media library (`POST media`, the file as the body), with its alt text."""
        ascii_name = document.name.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_")
        disposition = f'attachment; filename="{ascii_name}"; filename*=UTF-8\'\'{quote(document.name)}'
        response = self._call("POST", "media", params={"alt_text": alt}, content=document.read(),
                              headers={"Content-Type": document.content_type, "Content-Disposition": disposition})
        media = response.json()
        return UploadedMedia(id=int(media["id"]), url=str(media.get("source_url") or ""), alt=alt)

    def find_post(self, title: str, since: datetime) -> PublishedPost | None:
        """A post with exactly this title changed since `since`: one an interrupted attempt may have created."""
        since = since - timedelta(minutes=10)  # the site's clock may differ from ours
        response = self._call("GET", "posts", params={
            "search": title, "status": EDIT_STATUSES, "context": "edit", "orderby": "date", "order": "desc",
            "per_page": 20, "modified_after": since.astimezone(UTC).isoformat()})
        for post in _list(response):
            raw = (post.get("title") or {}).get("raw")
            modified = _gmt(post.get("modified_gmt"))
            if raw is not None and raw.strip() == title.strip() and modified is not None and modified >= since:
                return published(post)
        return None

    def category_ids(self, names: list[str], *, create: bool) -> list[int]:
        """Ids of categories given by name (case-insensitive); missing ones created when asked, else an error."""
        ids, missing = [], []
        for name in dict.fromkeys(squash(n) for n in names if squash(n)):
            found = self._call("GET", "categories", params={"search": name, "per_page": 100})
            match = [c["id"] for c in _list(found)
                     if html.unescape(str(c.get("name", ""))).casefold() == name.casefold()]
            if match:
                ids.append(match[0])
            elif create:
                ids.append(self._create_category(name))
            else:
                missing.append(name)
        if missing:
            raise ActionError(f"no category {', '.join(repr(m) for m in missing)} on {self.what} "
                              "(create it there, or set create_categories to let Beffroi create it)", retryable=False)
        return ids

    def whoami(self) -> str:
        """Check the credentials (GET users/me?context=edit); a line saying who Beffroi is on the site."""
        me = self._call("GET", "users/me", params={"context": "edit"}).json()
        roles = ", ".join(me.get("roles") or []) or "no role"
        return f"signed in to {self.what} as {me.get('name') or self.config.username} ({roles})"

    # -- HTTP ------------------------------------------------------------------------------------
    def _create_category(self, name: str) -> int:
        response = self._call("POST", "categories", json={"name": name}, accept_codes=frozenset({"term_exists"}))
        data = response.json()
        if response.status_code == 400:  # created meanwhile (or differing only by accents/case): WordPress says which
            return int(data["data"]["term_id"])
        return int(data["id"])

    def _call(self, method: str, path: str, *, allow_not_modified: bool = False,
              accept_codes: frozenset[str] = frozenset(), **kwargs: Any):
        """One REST call; any answer but a success (or an accepted error code) becomes an ActionError."""
        url = f"{self.config.base_url}/wp-json/wp/v2/{path}"
        headers = {"Authorization": self._auth, "Accept": "application/json", **kwargs.pop("headers", {})}
        sender = send if method == "GET" else send_unrepeatable
        response = sender(self.ctx, method, url, what=self.what, headers=headers, **kwargs)
        if response.status_code < 300 or (allow_not_modified and response.status_code == 304):
            return response
        code, message = _error(response)
        if code in accept_codes:
            return response
        raise self._failure(response.status_code, response.reason_phrase, code, message)

    def _failure(self, status: int, reason: str, code: str, message: str) -> ActionError:
        detail = f"{code}: {message}" if code and message else code or message or reason
        if status == 401:
            return ActionError(f"{self.what} refused the credentials of connection {self.name!r} ({detail}); "
                               "check the user name and the application password", retryable=False)
        if status == 403:
            return ActionError(f"{self.what} does not allow user {self.config.username!r} to do this ({detail})",
                               retryable=False)
        if status == 404 and code in ("rest_no_route", ""):
            return ActionError(f"no WordPress REST API at {self.config.base_url} (answered 404)", retryable=False)
        if status == 429:
            return ActionError(f"{self.what} is limiting requests (429 {reason}); try again later")
        if status >= 500:
            return ActionError(f"{self.what} answered {status} {reason}" + (f" ({detail})" if code else ""))
        return ActionError(f"{self.what} refused the request ({status}, {detail})", retryable=False)


def _error(response) -> tuple[str, str]:
    """The `code` and `message` of a WordPress error answer (empty when it is not one)."""
    try:
        data = response.json()
    except ValueError:
        return "", ""
    if not isinstance(data, dict):
        return "", ""
    return str(data.get("code") or ""), html_to_text(str(data.get("message") or ""))[:200]


def _list(response) -> list[dict]:
    """The JSON array of a list answer."""
    try:
        data = response.json()
    except ValueError:
        raise ActionError("WordPress answered something else than JSON (is it a WordPress site?)") from None
    if not isinstance(data, list):
        raise ActionError("WordPress answered an unexpected document (a list was expected)")
    return [item for item in data if isinstance(item, dict)]


def _gmt(value: str | None) -> datetime | None:
    """A WordPress `*_gmt` field (no offset, UTC) as an aware datetime."""
    try:
        return datetime.fromisoformat(value).replace(tzinfo=UTC) if value else None
    except ValueError:
        return None


def published(post: dict) -> PublishedPost:
    """The output of a created (or found) post."""
    return PublishedPost(id=post["id"], url=post.get("link") or "", status=post.get("status") or "")


def post_event(post: dict) -> PostEvent:
    """A WordPress post (REST JSON with `_embed`) as the normalised event."""
    embedded = post.get("_embedded") or {}
    authors = [a for a in embedded.get("author") or [] if isinstance(a, dict) and a.get("name")]
    media = [m for m in embedded.get("wp:featuredmedia") or [] if isinstance(m, dict) and m.get("source_url")]
    terms = [t for group in embedded.get("wp:term") or [] if isinstance(group, list) for t in group
             if isinstance(t, dict) and t.get("taxonomy") == "category"]
    published_at = _gmt(post.get("date_gmt"))
    return PostEvent(
        id=str(post["id"]),
        title=html_to_text((post.get("title") or {}).get("rendered")),
        url=post.get("link"),
        summary=html_to_text((post.get("excerpt") or {}).get("rendered")),
        content_html=(post.get("content") or {}).get("rendered") or "",
        published_at=published_at.isoformat() if published_at else None,
        author=squash(authors[0]["name"]) if authors else None,
        categories=[html.unescape(str(t.get("name"))) for t in terms if t.get("name")],
        image_url=media[0]["source_url"] if media else None,
    )


def test_connection(config: WordPressConfig, ctx: Any) -> str:
    """ConnectionSpec.test: sign in with the application password."""
    name = ctx.connection.name if ctx.connection is not None else "(being tested)"
    return WordPressSite(name, config, ctx).whoami()


CONNECTION = ConnectionSpec(
    key="wordpress", tool_type="wcms", title="WordPress site", config_model=WordPressConfig, test=test_connection,
    description="Reads and creates posts through the WordPress REST API, signed in with an application password.")
