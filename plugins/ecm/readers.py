"""Title, text and HTML of a .docx, .odt, .pdf or .md file (python-docx, odfpy, pypdf, Markdown).

Each reader gives the document's title (its properties' title, else its first title or heading, else its first
line) and its body without that title, as plain text (paragraphs separated by a blank line) and as simple HTML
(headings, paragraphs, lists, bold, italic and links; nothing else: no script, style or raw HTML).
"""
from __future__ import annotations

import html
import re
import zipfile
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from beffroi import ActionError

MAX_UNPACKED = 100 * 2**20  # a .docx/.odt is a zip: its parts may not unpack to more than this (zip bombs)
SAFE_LINK = re.compile(r"^(https?:|mailto:|#|/)", re.IGNORECASE)


@dataclass
class Block:
    """A paragraph, heading or list item: its tag and its inner HTML (already escaped)."""

    tag: str  # p, h1…h6, li
    inner: str

    @property
    def text(self) -> str:
        """Its plain text."""
        return html_to_text(self.inner)


@dataclass
class Extracted:
    """What a reader found."""

    title: str
    text: str
    html: str


def assemble(title: str | None, blocks: list[Block]) -> Extracted:
    """The title (given, else the first heading, else the first block) and the rest as text and HTML."""
    blocks = [b for b in blocks if b.text]
    if not title:
        first = next((b for b in blocks if b.tag.startswith("h")), blocks[0] if blocks else None)
        title = first.text if first else ""
    title = " ".join(title.split())
    if blocks and blocks[0].text == title:
        blocks = blocks[1:]  # the title, shown as such, is not repeated in the body
    parts, in_list = [], False
    for block in blocks:
        if (block.tag == "li") != in_list:
            parts.append("<ul>" if not in_list else "</ul>")
            in_list = not in_list
        parts.append(f"<{block.tag}>{block.inner}</{block.tag}>")
    if in_list:
        parts.append("</ul>")
    return Extracted(title=title, text="\n\n".join(b.text for b in blocks), html="\n".join(parts))


def link(address: str | None, inner: str) -> str:
    """An <a> for an address that is safe to link to (web, mail, local anchor); the bare text otherwise."""
    if address and SAFE_LINK.match(address.strip()):
        return f'<a href="{html.escape(address.strip(), quote=True)}">{inner}</a>'
    return inner


def styled(text: str, bold: bool | None, italic: bool | None) -> str:
    """Escaped text, in <strong>/<em> when bold/italic."""
    inner = html.escape(text, quote=False)
    if bold:
        inner = f"<strong>{inner}</strong>"
    if italic:
        inner = f"<em>{inner}</em>"
    return inner


def check_zip(path: Path, kind: str) -> None:
    """A .docx/.odt must be a zip whose parts unpack to a reasonable size."""
    try:
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError):
        raise ActionError(f"the file is not a valid {kind} document (not a zip archive)", retryable=False) from None
    if unpacked > MAX_UNPACKED:
        raise ActionError(f"the {kind} document unpacks to {unpacked} bytes, more than the {MAX_UNPACKED} allowed",
                          retryable=False)


class _TextOf(HTMLParser):
    BLOCKS = {"p", "div", "li", "br", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "pre", "blockquote", "tr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        if tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag) -> None:
        if tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data) -> None:
        self.parts.append(data)


def html_to_text(fragment: str) -> str:
    """The text of an HTML fragment: blocks become paragraphs separated by a blank line, spaces squashed."""
    parser = _TextOf()
    parser.feed(fragment)
    parser.close()
    lines = [" ".join(line.split()) for line in "".join(parser.parts).split("\n")]
    return "\n\n".join(line for line in lines if line)
