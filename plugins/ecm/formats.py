"""One reader per document format: the file on disk → its blocks and title (see readers.py)."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from beffroi import ActionError

from .readers import Block, Extracted, assemble, check_zip, html_to_text, link, styled


def read_docx(path: Path) -> Extracted:
    """A Word document (python-docx): title from its properties or Title/Heading style; headings, lists, links."""
    import docx  # imported when used: the plugin loads without the format libraries' start-up cost
    from docx.text.hyperlink import Hyperlink

    check_zip(path, "Word (.docx)")
    try:
        document = docx.Document(str(path))
    except Exception as exc:  # noqa: BLE001 - python-docx raises many kinds on a damaged file
        raise ActionError(f"the Word (.docx) document cannot be read: {exc}", retryable=False) from None
    blocks, title = [], None
    for paragraph in document.paragraphs:
        style = paragraph.style.name if paragraph.style is not None else ""
        inner = "".join(
            link(part.address, "".join(styled(r.text, r.bold, r.italic) for r in part.runs))
            if isinstance(part, Hyperlink) else styled(part.text, part.bold, part.italic)
            for part in paragraph.iter_inner_content())
        block = Block(_docx_tag(style), inner)
        if style == "Title" and title is None and block.text:
            title = block.text
        blocks.append(block)
    return assemble(document.core_properties.title or title, blocks)


def _docx_tag(style: str) -> str:
    if style == "Title":
        return "h1"
    found = re.fullmatch(r"Heading (\d)", style)
    if found:
        return f"h{min(6, int(found.group(1)) + 1)}"
    return "li" if style.startswith("List") else "p"


def read_odt(path: Path) -> Extracted:
    """An OpenDocument text (odfpy): title from its metadata or Title style; headings, paragraphs, lists."""
    from odf import teletype
    from odf.dc import Title
    from odf.namespaces import TEXTNS
    from odf.opendocument import load

    check_zip(path, "OpenDocument (.odt)")
    try:
        document = load(str(path))
    except Exception as exc:  # noqa: BLE001 - odfpy raises many kinds on a damaged file
        raise ActionError(f"the OpenDocument (.odt) document cannot be read: {exc}", retryable=False) from None
    titles = [teletype.extractText(t).strip() for t in document.meta.getElementsByType(Title)]
    blocks: list[Block] = []
    _odt_blocks(document.text, blocks, TEXTNS, teletype)
    return assemble(next((t for t in titles if t), None), blocks)


def _odt_blocks(node: Any, blocks: list[Block], textns: str, teletype: Any, in_list: bool = False) -> None:
    for child in node.childNodes:
        qname = getattr(child, "qname", None)
        if qname == (textns, "h"):
            level = str(child.getAttribute("outlinelevel") or "1")
            tag = f"h{min(6, int(level) + 1)}" if level.isdigit() else "h2"
            blocks.append(Block(tag, styled(teletype.extractText(child), None, None)))
        elif qname == (textns, "p"):
            tag = "li" if in_list else ("h1" if child.getAttribute("stylename") == "Title" else "p")
            blocks.append(Block(tag, styled(teletype.extractText(child), None, None)))
        elif qname in ((textns, "list"), (textns, "list-item")):
            _odt_blocks(child, blocks, textns, teletype, in_list=True)
        elif qname is not None and qname[0] == textns and qname[1] in ("section", "list-header"):
            _odt_blocks(child, blocks, textns, teletype, in_list)


def read_pdf(path: Path) -> Extracted:
    """A PDF (pypdf): title from its metadata, else its first line; each line of text a paragraph."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path))
        title = (reader.metadata.title if reader.metadata else None) or None
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PdfReadError, ValueError, KeyError, TypeError) as exc:
        raise ActionError(f"the PDF document cannot be read: {exc}", retryable=False) from None
    lines = [" ".join(line.split()) for page in pages for line in page.splitlines()]
    return assemble(title, [Block("p", styled(line, None, None)) for line in lines if line])


def read_md(path: Path) -> Extracted:
    """Markdown: the first line (its leading # dropped) is the title; the rest becomes HTML, raw HTML escaped."""
    import markdown

    source = path.read_bytes().decode("utf-8-sig", errors="replace")
    lines = source.strip().splitlines()
    title = re.sub(r"^#+\s*", "", lines[0]).strip() if lines else ""
    converter = markdown.Markdown(extensions=["sane_lists"])
    converter.preprocessors.deregister("html_block")  # raw HTML is shown as text, never passed through
    converter.inlinePatterns.deregister("html")
    body = converter.convert("\n".join(lines[1:]))
    body = re.sub(r'<a href="([^"]*)"', lambda m: m.group(0) if link(m.group(1), "") else '<a href=""', body)
    body = re.sub(r'<img [^>]*>', "", body)  # images are not part of the text
    return Extracted(title=title, text=html_to_text(body), html=body)


READERS = {"docx": read_docx, "odt": read_odt, "pdf": read_pdf, "md": read_md}
MEDIA_TYPES = {"application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
               "application/vnd.oasis.opendocument.text": "odt", "application/pdf": "pdf", "text/markdown": "md"}
