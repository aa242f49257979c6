"""A local server speaking the documented WordPress REST API (wp/v2) for posts, media, categories and users/me.

Follows developer.wordpress.org/rest-api/reference: Basic authentication with application passwords (spaces
and other separators ignored; `invalid_username` / `incorrect_password` answered as 401 to any request that
carries wrong credentials), capability checks per role (`rest_cannot_create`, `rest_forbidden_context`,
`rest_forbidden_status`, `rest_cannot_publish`), error bodies `{"code", "message", "data": {"status"}}`,
list answers with X-WP-Total / X-WP-TotalPages, `_embed` (author, wp:featuredmedia, wp:term), `context=edit`
(raw fields), post ids shared with media, `date` in the site's time zone next to `date_gmt`, `status: publish`
with a future date becoming `future`, `term_exists` with the existing `term_id`, media uploaded as the request's
body (Content-Disposition, a type the bytes must match, `alt_text`) and `featured_media` checked. Scripted faults
answer a status, hold a request, or act on it and then lose the answer.
"""
from __future__ import annotations

import base64
import html
import json
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, unquote, urlsplit

from .http_base import LocalServer, QuietHandler, sniff

API = "/wp-json/wp/v2/"
CAPS = {"administrator": {"edit_posts", "publish_posts", "manage_categories", "list_users"},
        "editor": {"edit_posts", "publish_posts", "manage_categories"},
        "author": {"edit_posts", "publish_posts"}, "contributor": {"edit_posts"}, "subscriber": set()}
STATUSES = ("publish", "future", "draft", "pending", "private")


class WPError(Exception):
    def __init__(self, status: int, code: str, message: str, **data):
        self.status, self.body = status, {"code": code, "message": message, "data": {"status": status, **data}}


@dataclass
class User:
    id: int
    login: str
    name: str
    role: str
    app_password: str


@dataclass
class Fault:
    method: str
    route: str  # e.g. "posts"
    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False  # hold the request, answer nothing
    lose_answer: bool = False  # do the work, then close the connection without answering
    after: bool = False  # do the work, then answer `status` anyway


def slugify(text: str) -> str:
    """A post slug from its title (ASCII letters and digits, dashes)."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "post"


def texturize(text: str) -> str:
    """What wptexturize does to the titles and excerpts it renders (the part that matters to clients)."""
    return html.escape(text, quote=False).replace("'", "&#8217;")


def _letters_and_digits(password: str) -> str:
    """How WordPress compares application passwords: separators (spaces, dashes) ignored."""
    return re.sub(r"[^a-z\d]", "", password, flags=re.IGNORECASE)


def gmt(moment: datetime) -> str:
    """A `*_gmt` field: UTC, no offset, whole seconds."""
    return moment.astimezone(UTC).replace(tzinfo=None, microsecond=0).isoformat()


class WordPressServer(LocalServer):
    """A WordPress site on 127.0.0.1 (ephemeral port) in a thread; `requests` records what it received."""

    def __init__(self, utc_offset_hours: int = 1) -> None:
        self.tz = timezone(timedelta(hours=utc_offset_hours))
        self.users: dict[str, User] = {}
        self.posts: dict[int, dict] = {}
        self.media: dict[int, dict] = {}
        self.categories: dict[int, dict] = {1: {"id": 1, "name": "Uncategorized", "slug": "uncategorized"}}
        self.faults: list[Fault] = []
        self.requests: list[dict] = []
        self.lock = threading.RLock()
        self._ids = 100
        super().__init__(_handler(self))
        self.add_user("comms", "Service communication", "editor", "abcd EFGH 1234 ijkl MNOP 5678")

    # -- the site's content ----------------------------------------------------------------------
    def add_user(self, login: str, name: str, role: str, app_password: str) -> User:
        """A user with a role and an application password."""
        with self.lock:
            user = self.users[login] = User(len(self.users) + 1, login, name, role, app_password)
            return user

    def add_category(self, name: str) -> int:
        """A new category; returns its id."""
        with self.lock:
            self._ids += 1
            self.categories[self._ids] = {"id": self._ids, "name": name, "slug": slugify(name)}
            return self._ids

    def add_post(self, title: str, *, content: str = "", excerpt: str = "", status: str = "publish",
                 date: datetime | None = None, categories: tuple[str, ...] = (), author: str = "comms",
                 image: str | None = None) -> dict:
        """A post as an editor would have written it in the dashboard (categories by name, created if new)."""
        with self.lock:
            ids = [next((c["id"] for c in self.categories.values() if c["name"] == n), None) or self.add_category(n)
                   for n in categories]
            media = 0
            if image:
                self._ids += 1
                media = self._ids
                self.media[media] = {"id": media, "source_url": image, "alt_text": "", "mime_type": "image/jpeg"}
            return self._insert({"title": title, "content": content, "excerpt": excerpt, "status": status,
                                 "categories": ids or [1], "featured_media": media},
                                self.users[author], date or datetime.now(UTC))

    def _insert(self, fields: dict, user: User, when: datetime) -> dict:
        self._ids += 1
        now = datetime.now(UTC)
        post = {**fields, "id": self._ids, "author": user.id, "date_gmt": when, "modified_gmt": now,
                "slug": slugify(fields["title"])}
        self.posts[post["id"]] = post
        return post

    # -- the REST API ----------------------------------------------------------------------------
    def handle(self, method: str, path: str, query: dict, headers: dict, body: bytes) -> tuple[int, dict, object]:
        """Answer one request: (status, headers, JSON document)."""
        user = self._authenticate(headers.get("authorization"))
        route = path[len(API):].strip("/") if path.startswith(API) else None
        data = json.loads(body) if body and "json" in headers.get("content-type", "") else {}
        if route == "posts" and method == "GET":
            return self.list_posts(query, user)
        if route == "posts" and method == "POST":
            return self.create_post(data, user)
        if route == "media" and method == "POST":
            return self.create_media(headers, query, body, user)
        if route == "categories" and method == "GET":
            return self.list_categories(query)
        if route == "categories" and method == "POST":
            return self.create_category(data, user)
        if route == "users/me" and method == "GET":
            if user is None:
                raise WPError(401, "rest_not_logged_in", "You are not currently logged in.")
            return 200, {}, self.user_json(user, query.get("context") == "edit")
        raise WPError(404, "rest_no_route", "No route was found matching the URL and request method.")

    def _authenticate(self, header: str | None) -> User | None:
        if not header or not header.startswith("Basic "):
            return None
        login, _, password = base64.b64decode(header[6:]).decode().partition(":")
        user = self.users.get(login)
        if user is None:
            raise WPError(401, "invalid_username", "Unknown username. Check again or try your email address.")
        if _letters_and_digits(password) != _letters_and_digits(user.app_password):
            raise WPError(401, "incorrect_password", "The provided password is an invalid application password.")
        return user

    @staticmethod
    def _denied(user: User | None) -> int:
        return 403 if user else 401  # rest_authorization_required_code()

    def list_posts(self, query: dict, user: User | None) -> tuple[int, dict, object]:
        can_edit = user is not None and "edit_posts" in CAPS[user.role]
        context = query.get("context", "view")
        if context == "edit" and not can_edit:
            raise WPError(self._denied(user), "rest_forbidden_context",
                          "Sorry, you are not allowed to edit posts in this post type.")
        statuses = query.get("status", "publish").split(",")
        if any(s not in STATUSES for s in statuses):
            raise WPError(400, "rest_invalid_param", "Invalid parameter(s): status", params={"status": "bad"})
        if statuses != ["publish"] and not can_edit:
            raise WPError(self._denied(user), "rest_forbidden_status", "Status is forbidden.")
        per_page, page = int(query.get("per_page", 10)), int(query.get("page", 1))
        if not 1 <= per_page <= 100:
            raise WPError(400, "rest_invalid_param", "Invalid parameter(s): per_page",
                          params={"per_page": "per_page must be between 1 (inclusive) and 100 (inclusive)"})
        with self.lock:
            posts = [p for p in self.posts.values() if p["status"] in statuses]
        if "search" in query:
            needle = query["search"].lower()
            posts = [p for p in posts if needle in (p["title"] + " " + p["content"] + " " + p["excerpt"]).lower()]
        for name, column, keep in (("after", "date_gmt", lambda a, b: a > b),
                                   ("before", "date_gmt", lambda a, b: a < b),
                                   ("modified_after", "modified_gmt", lambda a, b: a > b)):
            if name in query:
                limit = datetime.fromisoformat(query[name].replace("Z", "+00:00"))
                limit = limit if limit.tzinfo else limit.replace(tzinfo=self.tz)  # no offset: the site's time
                posts = [p for p in posts if keep(p[column], limit)]
        if "author" in query:
            posts = [p for p in posts if p["author"] == int(query["author"])]
        orderby = {"date": "date_gmt", "id": "id", "title": "title", "modified": "modified_gmt"}[
            query.get("orderby", "date")]
        posts.sort(key=lambda p: (p[orderby], p["id"]), reverse=query.get("order", "desc") == "desc")
        total, pages = len(posts), max(1, -(-len(posts) // per_page))
        if page > pages and total:
            raise WPError(400, "rest_post_invalid_page_number",
                          "The page number requested is larger than the number of pages available.")
        shown = posts[(page - 1) * per_page: page * per_page]
        body = [self.post_json(p, edit=context == "edit", embed="_embed" in query) for p in shown]
        return 200, {"X-WP-Total": str(total), "X-WP-TotalPages": str(pages)}, body

    def create_post(self, data: dict, user: User | None) -> tuple[int, dict, object]:
        if user is None or "edit_posts" not in CAPS[user.role]:
            raise WPError(self._denied(user), "rest_cannot_create",
                          "Sorry, you are not allowed to create posts as this user.")
        status = data.get("status", "draft")
        if status not in STATUSES:
            raise WPError(400, "rest_invalid_param", "Invalid parameter(s): status", params={"status": "bad"})
        if status in ("publish", "future", "private") and "publish_posts" not in CAPS[user.role]:
            raise WPError(403, "rest_cannot_publish", "Sorry, you are not allowed to publish posts in this post type.")
        with self.lock:
            unknown = [c for c in data.get("categories", []) if c not in self.categories]
            if unknown:
                raise WPError(400, "rest_invalid_term_id", "Invalid term ID.")
            featured = int(data.get("featured_media") or 0)
            if featured and featured not in self.media:
                raise WPError(400, "rest_invalid_featured_media", "Invalid featured media ID.")
            if data.get("date_gmt"):
                when = datetime.fromisoformat(data["date_gmt"]).replace(tzinfo=UTC)
            elif data.get("date"):
                when = datetime.fromisoformat(data["date"]).replace(tzinfo=self.tz)
            else:
                when = datetime.now(UTC)
            now = datetime.now(UTC)
            if status == "publish" and when > now:
                status = "future"
            elif status == "future" and when <= now:
                status = "publish"
            title = data.get("title", "")
            post = self._insert({"title": title["raw"] if isinstance(title, dict) else title,
                                 "content": data.get("content", ""), "excerpt": data.get("excerpt", ""),
                                 "status": status, "categories": data.get("categories") or [1],
                                 "featured_media": featured}, user, when)
            document = self.post_json(post, edit=True)
        return 201, {"Location": f"{self.url}{API}posts/{post['id']}"}, document

    def create_media(self, headers: dict, query: dict, body: bytes, user: User | None) -> tuple[int, dict, object]:
        """`POST media` with the file as the body: Content-Disposition names it, Content-Type says its type, which
        WordPress checks against the bytes (wp_check_filetype_and_ext); `alt_text` as a parameter."""
        if user is None or "edit_posts" not in CAPS[user.role]:
            raise WPError(self._denied(user), "rest_cannot_create",
                          "Sorry, you are not allowed to upload media on this site.")
        if not body:
            raise WPError(400, "rest_upload_no_data", "No data supplied.")
        disposition = headers.get("content-disposition", "")
        found = re.search(r"filename\*=UTF-8''([^;]+)", disposition) or re.search(r'filename="?([^";]+)"?',
                                                                                   disposition)
        if not found:
            raise WPError(400, "rest_upload_no_content_disposition", "No Content-Disposition supplied.")
        name = unquote(found.group(1))
        mime_type = headers.get("content-type", "").split(";")[0].strip()
        if sniff(body) != mime_type:
            raise WPError(500, "rest_upload_sideload_error",
                          "Sorry, you are not allowed to upload this file type.")
        with self.lock:
            self._ids += 1
            media = {"id": self._ids, "source_url": f"{self.url}/wp-content/uploads/{self._ids}/{name}",
                     "alt_text": query.get("alt_text", ""), "mime_type": mime_type, "title": {"raw": name},
                     "media_details": {"filesize": len(body)}, "data": body, "filename": name}
            self.media[self._ids] = media
            return 201, {}, {k: v for k, v in media.items() if k != "data"}

    def list_categories(self, query: dict) -> tuple[int, dict, object]:
        with self.lock:
            found = [c for c in self.categories.values()
                     if query.get("search", "").lower() in (c["name"] + " " + c["slug"]).lower()]
        found.sort(key=lambda c: c["name"])
        per_page = int(query.get("per_page", 10))
        return 200, {"X-WP-Total": str(len(found))}, [self.term_json(c) for c in found[:per_page]]

    def create_category(self, data: dict, user: User | None) -> tuple[int, dict, object]:
        if user is None or "manage_categories" not in CAPS[user.role]:
            raise WPError(self._denied(user), "rest_cannot_create",
                          "Sorry, you are not allowed to create terms in this taxonomy.")
        name = str(data.get("name") or "").strip()
        if not name:
            raise WPError(400, "rest_missing_callback_param", "Missing parameter(s): name", params=["name"])
        with self.lock:
            existing = next((c for c in self.categories.values() if c["name"].lower() == name.lower()), None)
            if existing is not None:
                raise WPError(400, "term_exists", "A term with the name provided already exists with this parent.",
                              term_id=existing["id"])
            return 201, {}, self.term_json(self.categories[self.add_category(name)])

    # -- JSON as WordPress renders it ------------------------------------------------------------
    def link(self, post: dict) -> str:
        """The post's permalink once published, else its `?p=` address."""
        if post["status"] != "publish":
            return f"{self.url}/?p={post['id']}"
        local = post["date_gmt"].astimezone(self.tz)
        return f"{self.url}/{local:%Y/%m/%d}/{post['slug']}/"

    def term_json(self, category: dict) -> dict:
        """A category as the API shows it (its name HTML-escaped)."""
        return {"id": category["id"], "count": 0, "description": "", "link": f"{self.url}/category/{category['slug']}/",
                "name": html.escape(category["name"], quote=False), "slug": category["slug"], "taxonomy": "category",
                "parent": 0, "meta": []}

    def user_json(self, user: User, edit: bool = False) -> dict:
        """A user as the API shows it; `edit` adds the private fields."""
        document = {"id": user.id, "name": user.name, "url": "", "description": "", "slug": user.login,
                    "link": f"{self.url}/author/{user.login}/", "avatar_urls": {}}
        if edit:
            document.update(username=user.login, email=f"{user.login}@namur.example", roles=[user.role],
                            capabilities=dict.fromkeys(CAPS[user.role], True))
        return document

    def post_json(self, post: dict, *, edit: bool = False, embed: bool = False) -> dict:
        """A post as the API renders it (wpautop, wptexturize), with raw fields and `_embedded` when asked."""
        paragraphs = [p.strip() for p in post["content"].split("\n\n") if p.strip()]
        content = "\n".join(p if p.startswith("<") else f"<p>{p}</p>" for p in paragraphs) + "\n"
        words = re.sub(r"<[^>]+>", " ", post["content"]).split()
        excerpt = post["excerpt"] or " ".join(words[:55]) + (" [&hellip;]" if len(words) > 55 else "")
        local = post["date_gmt"].astimezone(self.tz)
        document = {
            "id": post["id"], "date": local.replace(tzinfo=None, microsecond=0).isoformat(),
            "date_gmt": gmt(post["date_gmt"]), "guid": {"rendered": f"{self.url}/?p={post['id']}"},
            "modified": post["modified_gmt"].astimezone(self.tz).replace(tzinfo=None, microsecond=0).isoformat(),
            "modified_gmt": gmt(post["modified_gmt"]), "slug": post["slug"], "status": post["status"], "type": "post",
            "link": self.link(post), "title": {"rendered": texturize(post["title"])},
            "content": {"rendered": content, "protected": False},
            "excerpt": {"rendered": f"<p>{texturize(excerpt)}</p>\n" if excerpt else "", "protected": False},
            "author": post["author"], "featured_media": post["featured_media"], "comment_status": "closed",
            "ping_status": "closed", "sticky": False, "template": "", "format": "standard", "meta": [],
            "categories": post["categories"], "tags": [],
            "_links": {"self": [{"href": f"{self.url}{API}posts/{post['id']}"}]},
        }
        if edit:
            document["title"]["raw"] = post["title"]
            document["content"]["raw"] = post["content"]
            document["excerpt"]["raw"] = post["excerpt"]
        if embed:
            author = next(u for u in self.users.values() if u.id == post["author"])
            embedded = {"author": [self.user_json(author)],
                        "wp:term": [[self.term_json(self.categories[c]) for c in post["categories"]], []]}
            if post["featured_media"]:
                media = {k: v for k, v in self.media[post["featured_media"]].items() if k != "data"}
                embedded["wp:featuredmedia"] = [{**media, "type": "attachment", "media_type": "image",
                                                 "title": {"rendered": ""}}]
            document["_embedded"] = embedded
        return document

    # -- faults ----------------------------------------------------------------------------------
    def fail(self, *faults: Fault) -> None:
        """Answer the next matching requests with these faults (each used once, in order)."""
        with self.lock:
            self.faults.extend(faults)

    def _fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.method == method and path == API + fault.route:
                    self.faults.remove(fault)
                    return fault
        return None

    def hits(self, method: str, route: str) -> list[dict]:
        """The requests received for a route (e.g. "posts")."""
        with self.lock:
            return [r for r in self.requests if r["method"] == method and r["path"] == API + route]


def _handler(site: WordPressServer) -> type[BaseHTTPRequestHandler]:
    class Handler(QuietHandler):
        protocol_version = "HTTP/1.1"
        json_type = "application/json; charset=UTF-8"

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
            headers = {k.lower(): v for k, v in self.headers.items()}
            body = self.rfile.read(int(headers.get("content-length") or 0))
            user, _, _ = base64.b64decode(headers.get("authorization", "Basic ")[6:] or b"").decode().partition(":")
            sent = json.loads(body) if body and "json" in headers.get("content-type", "") else None
            with site.lock:
                site.requests.append({"method": self.command, "path": parts.path, "query": query, "user": user or None,
                                      "json": sent, "at": time.monotonic()})
            fault = site._fault(self.command, parts.path)
            if fault is not None and fault.hang:
                site.release.wait(10)
                self.close_connection = True
                return
            if fault is not None and not (fault.lose_answer or fault.after):
                return self.reply(fault.status, {"code": "internal_server_error",
                                                 "message": "<p>There has been a critical error.</p>",
                                                 "data": {"status": fault.status}}, fault.headers)
            try:
                status, extra, document = site.handle(self.command, parts.path, query, headers, body)
            except WPError as error:
                status, extra, document = error.status, {}, error.body
            if fault is not None and fault.lose_answer:
                self.close_connection = True
                return
            if fault is not None:
                status, extra = fault.status, fault.headers
            self.reply(status, document, extra)

        do_GET = do_POST = _serve

    return Handler
