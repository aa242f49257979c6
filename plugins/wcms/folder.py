"""The zero-setup source: a local folder where each file is a post.

Formats (one post per file, its key is the file name, so editing a file never fires again):

* `*.json` — an object with the event's fields: `title`, and optionally `url`, `summary`,
  `content_html`, `published_at` (ISO 8601), `author`, `categories` (list of names), `image_url`, `id`.
* `*.md` — the first non-empty line is the title (leading `#` dropped); the rest is the text, paragraphs
  separated by blank lines (shown as paragraphs, not rendered as Markdown); the first paragraph is the summary.
* `*.html` — the title is the `<title>` (else the first `<h1>`), the content is the `<body>` (else the file),
  the summary is the text of the first `<p>`.

A post without a title is titled with its file name (without the extension).

Without `url`, a post's address is the file's `file://` address; without `published_at`, the time of the
file's last change. Files whose name starts with `.`, `_` or `~` are skipped (drafts, editors' temporary
files), and so are symbolic links (they could lead out of the folder) and a file changed in the last SETTLE
seconds: it may still be being written.
"""
from __future__ import annotations

import html
import json
import logging
import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from beffroi import ActionError, PollResult

from .event import PostEvent, html_to_text, oldest_first, polled, squash

log = logging.getLogger("beffroi.wcms")
SUFFIXES = {".json", ".md", ".html"}
SETTLE = 2.0  # seconds without change before a file is read
MAX_FILES = 200  # the most recent ones
MAX_BYTES = 1_000_000


def poll(folder: str, ctx: Any) -> PollResult:
    """Every post file of the folder (the most recent MAX_FILES), oldest first."""
    root = Path(folder).expanduser().resolve()
    allowed = [Path(a).expanduser().resolve() for a in getattr(ctx, "allowed_folders", None) or ()]
    if not any(root == a or a in root.parents for a in allowed):
        # a recipe editor must not turn any file the server can read into published content
        raise ActionError(f"the folder {folder} is not one Beffroi may read; an administrator lists allowed "
                          "folders in BEFFROI_ALLOWED_FOLDERS", retryable=False)
    if not root.is_dir():
        raise ActionError(f"the folder {folder} does not exist (or is not a folder)", retryable=False)
    now = time.time()
    files = []
    for path in root.iterdir():
        if path.suffix.lower() not in SUFFIXES or path.name[0] in "._~" or path.is_symlink() or not path.is_file():
            continue
        stat = path.stat()
        if now - stat.st_mtime >= SETTLE and stat.st_size <= MAX_BYTES:
            files.append((stat.st_mtime, path))
    files = sorted(files, reverse=True)[:MAX_FILES]
    events = [event for _, path in files if (event := read_post(path)) is not None]
    return PollResult(items=[polled(e) for e in oldest_first(events)])


def read_post(path: Path) -> PostEvent | None:
    """The post a file holds, or None when the file cannot be read as one (it is logged, and tried again later)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
        changed = datetime.fromtimestamp(path.stat().st_mtime, UTC).isoformat()
        base = {"id": path.name, "url": path.resolve().as_uri(), "published_at": changed}
        reader = {".json": _json, ".md": _markdown, ".html": _html}[path.suffix.lower()]
        post = {**base, **reader(text)}
        post["title"] = post.get("title") or path.stem
        return PostEvent.model_validate(post)
    except (OSError, UnicodeDecodeError, ValueError, ValidationError) as exc:
        log.warning("folder feed: skipped %s: %s", path.name, squash(str(exc))[:200])
        return None


def _json(text: str) -> dict[str, Any]:
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("a post file holds one JSON object")
    if data.get("published_at"):
        moment = datetime.fromisoformat(str(data["published_at"]).replace("Z", "+00:00"))
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        data["published_at"] = moment.astimezone(UTC).isoformat()
    if data.get("id") is not None:
        data["id"] = str(data["id"])
    return {k: v for k, v in data.items() if v is not None}


def _markdown(text: str) -> dict[str, Any]:
    lines = text.strip().splitlines()
    if not lines:
        raise ValueError("the file is empty")
    title = squash(lines[0].lstrip("#"))
    paragraphs = [squash(p) for p in re.split(r"\n\s*\n", "\n".join(lines[1:])) if squash(p)]
    return {"title": title, "summary": paragraphs[0] if paragraphs else "",
            "content_html": "\n".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)}


def _html(text: str) -> dict[str, Any]:
    title = _first(r"<title[^>]*>(.*?)</title>", text) or _first(r"<h1[^>]*>(.*?)</h1>", text)
    body = _first(r"<body[^>]*>(.*)</body>", text) or text
    return {"title": html_to_text(title), "content_html": body.strip(),
            "summary": html_to_text(_first(r"<p[^>]*>(.*?)</p>", body))}


def _first(pattern: str, text: str) -> str:
    found = re.search(pattern, text, re.IGNORECASE | re.DOTALL)
    return found.group(1) if found else ""
