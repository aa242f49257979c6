"""`ecm.extract_text` on small .docx, .odt, .pdf and .md files made here, in Beffroi's own documents folder."""
from __future__ import annotations

import pytest

from .helpers import recipe


@pytest.fixture
def engine(make_engine):
    return make_engine()


@pytest.fixture
def documents(engine):
    folder = engine.settings.data_dir / "documents" / "Communiqués"
    folder.mkdir(parents=True)
    return folder


def extract(engine, path: str, *, dry_run: bool = False, **options) -> dict:
    step = {"id": "text", "uses": "ecm.extract_text", "with": {"path": path, **options}}
    return engine.run_recipe(engine.validate(recipe(step)), {}, dry_run=dry_run)["steps"][0]


def minimal_pdf(title: str, lines: list[str]) -> bytes:
    """A one-page PDF with an Info title and lines of Helvetica text (offsets computed, so any reader accepts it)."""
    text = " ".join(f"({line}) Tj 0 -16 Td" for line in lines)
    stream = f"BT /F1 12 Tf 72 720 Td {text} ET".encode()
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
               b"/Resources << /Font << /F1 5 0 R >> >> >>",
               b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
               f"<< /Title ({title}) >>".encode()]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info 6 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def test_docx_title_headings_lists_and_emphasis(engine, documents):
    import docx

    document = docx.Document()
    document.add_heading("Marché de Noël", 0)
    intro = document.add_paragraph("Du ")
    intro.add_run("1er").bold = True
    intro.add_run(" au 24 décembre, ")
    intro.add_run("sur la Grand-Place").italic = True
    intro.add_run(" <gratuit>.")
    document.add_heading("Programme", 1)
    document.add_paragraph("60 chalets", style="List Bullet")
    document.add_paragraph("Une patinoire", style="List Bullet")
    document.add_paragraph("")
    document.add_paragraph("Contact : presse@ville.example")
    document.save(str(documents / "noel.docx"))

    step = extract(engine, "Communiqués/noel.docx")
    assert step["status"] == "succeeded", step
    output = step["output"]
    assert output["title"] == "Marché de Noël" and output["format"] == "docx" and output["truncated"] is False
    assert output["text"] == ("Du 1er au 24 décembre, sur la Grand-Place <gratuit>.\n\nProgramme\n\n60 chalets\n\n"
                              "Une patinoire\n\nContact : presse@ville.example")
    assert output["html"] == ("<p>Du <strong>1er</strong> au 24 décembre, <em>sur la Grand-Place</em> &lt;gratuit&gt;."
                              "</p>\n<h2>Programme</h2>\n<ul>\n<li>60 chalets</li>\n<li>Une patinoire</li>\n</ul>\n"
                              "<p>Contact : presse@ville.example</p>")
    assert output["document"]["connection"] is None and output["document"]["path"] == "Communiqués/noel.docx"
    assert len(output["document"]["sha256"]) == 64


def test_docx_title_from_its_properties(engine, documents):
    import docx

    document = docx.Document()
    document.core_properties.title = "Avis de travaux"
    document.add_paragraph("Rue de Fer, du 5 au 9.")
    document.save(str(documents / "travaux.docx"))
    output = extract(engine, "Communiqués/travaux.docx")["output"]
    assert (output["title"], output["text"]) == ("Avis de travaux", "Rue de Fer, du 5 au 9.")


def test_odt_title_from_its_metadata_headings_and_lists(engine, documents):
    from odf import dc
    from odf.opendocument import OpenDocumentText
    from odf.text import H, List, ListItem, P

    document = OpenDocumentText()
    document.meta.addElement(dc.Title(text="Conseil communal"))
    document.text.addElement(H(outlinelevel=1, text="Ordre du jour"))
    document.text.addElement(P(text="Séance publique à 20 h."))
    points = List()
    for point in ("Budget 2027", "Travaux"):
        item = ListItem()
        item.addElement(P(text=point))
        points.addElement(item)
    document.text.addElement(points)
    document.save(str(documents / "conseil.odt"))

    output = extract(engine, "Communiqués/conseil.odt")["output"]
    assert (output["title"], output["format"]) == ("Conseil communal", "odt")
    assert output["text"] == "Ordre du jour\n\nSéance publique à 20 h.\n\nBudget 2027\n\nTravaux"
    assert output["html"] == ("<h2>Ordre du jour</h2>\n<p>Séance publique à 20 h.</p>\n<ul>\n<li>Budget 2027</li>\n"
                              "<li>Travaux</li>\n</ul>")


def test_pdf_title_from_its_metadata_and_one_paragraph_a_line(engine, documents):
    (documents / "avis.pdf").write_bytes(minimal_pdf("Avis de travaux", ["Rue de Fer ferme", "du 5 au 9 mars."]))
    output = extract(engine, "Communiqués/avis.pdf")["output"]
    assert (output["title"], output["format"]) == ("Avis de travaux", "pdf")
    assert output["text"] == "Rue de Fer ferme\n\ndu 5 au 9 mars."
    assert output["html"] == "<p>Rue de Fer ferme</p>\n<p>du 5 au 9 mars.</p>"


def test_markdown_title_and_html_without_raw_html_or_unsafe_links(engine, documents):
    (documents / "piscine.md").write_text(
        "# Piscine fermée\n\nTravaux du **5 au 9**, voir le [programme](https://ville.example/p).\n\n"
        "<script>alert(1)</script>\n\n[cliquer](javascript:alert(1))\n", encoding="utf-8")
    output = extract(engine, "Communiqués/piscine.md")["output"]
    assert (output["title"], output["format"]) == ("Piscine fermée", "md")
    assert output["html"].startswith('<p>Travaux du <strong>5 au 9</strong>, voir le '
                                     '<a href="https://ville.example/p">programme</a>.</p>')
    assert "<script" not in output["html"] and "&lt;script&gt;" in output["html"]
    assert "javascript:" not in output["html"]
    assert output["text"].startswith("Travaux du 5 au 9, voir le programme.\n\n<script>alert(1)</script>")


def test_a_dry_run_reads_nothing_and_shows_placeholders(engine, documents):
    step = extract(engine, "Communiqués/absent.docx", dry_run=True)
    assert step["status"] == "succeeded"
    assert step["output"]["title"] == "(title of absent.docx)"
    assert step["output"]["would_extract"] == {"connection": None, "path": "Communiqués/absent.docx", "format": "docx"}


def test_other_formats_damaged_files_and_size_caps_are_refused_plainly(engine, documents):
    (documents / "notes.txt").write_text("text")
    (documents / "abîmé.docx").write_bytes(b"not a zip")
    (documents / "long.md").write_text("# Long\n\n" + "mot " * 1000)
    failed = extract(engine, "Communiqués/notes.txt")
    assert failed["status"] == "failed" and failed["attempts"] == 1
    assert failed["error"] == "the document 'notes.txt' is not a .docx, .odt, .pdf or .md file: its text cannot be " \
                              "extracted"
    assert extract(engine, "Communiqués/abîmé.docx")["error"] == (
        "'Communiqués/abîmé.docx': the file is not a valid Word (.docx) document (not a zip archive)")
    assert extract(engine, "Communiqués/long.md", max_bytes=100)["error"] == (
        "the document 'Communiqués/long.md' is 4008 bytes, more than the 100 allowed")
    assert extract(engine, "Communiqués/absent.md")["error"].startswith("no document 'Communiqués/absent.md' in ")
