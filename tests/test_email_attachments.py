"""Attachments from documents on `email.send` and `email.send_campaign`: the bytes arrive intact at a local SMTP
server (aiosmtpd), within a total size cap; previews and the outbox list names and sizes, the journal handles and
hashes — never bytes."""
from __future__ import annotations

import hashlib

from beffroi import outbox

from .test_email_campaign import campaign, engine, smtp  # noqa: F401
from .test_email_campaign import run as run_campaign
from .test_email_send import run, send_step
from .test_email_servers import smtp_factory  # noqa: F401

PDF = b"%PDF-1.4\n" + bytes(range(256)) * 64 + b"\n%%EOF\n"
CSV = "commune;habitants\nNamur;113000\nLiège;197000\n".encode()


def documents(engine, **files: bytes) -> None:
    folder = engine.settings.data_dir / "documents" / "Communiqués"
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name.replace("_", ".")).write_bytes(data)


def attached(message) -> dict[str, tuple[str, bytes]]:
    return {part.get_filename(): (part.get_content_type(), part.get_payload(decode=True))
            for part in message.iter_attachments()}


def test_an_attachment_arrives_intact_and_the_journal_keeps_only_its_hash(engine, smtp_factory):
    mailbox, port = smtp_factory()
    documents(engine, budget_pdf=PDF, chiffres_csv=CSV)
    paths = [{"path": "Communiqués/budget.pdf"}, {"document": {"path": "Communiqués/chiffres.csv"}}]
    result, steps = run(engine, send_step(smtp(engine, port), attachments=paths))
    assert result["status"] == "succeeded", result["error"]
    [delivered] = mailbox.messages
    message = delivered["message"]
    assert message.get_content_type() == "multipart/mixed"
    assert message.get_body(("plain",)).get_content().strip() == "Bonjour"
    assert attached(message) == {"budget.pdf": ("application/pdf", PDF), "chiffres.csv": ("text/csv", CSV)}
    facts = steps["mail"]["output"]["attachments"]
    assert [(f["name"], f["size"], f["sha256"]) for f in facts] == [
        ("budget.pdf", len(PDF), hashlib.sha256(PDF).hexdigest()), ("chiffres.csv", len(CSV),
                                                                    hashlib.sha256(CSV).hexdigest())]
    record = str(engine.runs.detail(result["id"]))
    assert "%PDF" not in record and "habitants" not in record


def test_attachments_over_the_total_cap_fail_naming_the_field(engine, smtp_factory):
    mailbox, port = smtp_factory()
    documents(engine, a_bin=b"\0" * 9_000_000, b_bin=b"\0" * 7_000_000)
    result, steps = run(engine, send_step(smtp(engine, port), attachments=[{"path": "Communiqués/a.bin"},
                                                                           {"path": "Communiqués/b.bin"}]))
    assert result["status"] == "failed" and mailbox.messages == []
    assert steps["mail"]["error"].startswith("attachments[1]: the document 'Communiqués/b.bin' is 7000000 bytes, "
                                             "more than the 6000000 allowed (what is left of the 15.0 MB allowed "
                                             "for all of attachments together)")


def test_the_preview_lists_attachments_and_what_is_missing(engine):
    documents(engine, budget_pdf=PDF)
    paths = [{"path": "Communiqués/budget.pdf"}, {"path": "Communiqués/absent.pdf"}]
    _, steps = run(engine, send_step(attachments=paths), dry_run=True)
    output = steps["mail"]["output"]
    assert [(a["name"], a["size"]) for a in output["would_send"]["attachments"]] == [("budget.pdf", len(PDF)),
                                                                                    ("absent.pdf", None)]
    assert output["warnings"] == ["attachments[1]: no document 'Communiqués/absent.pdf' (yet)"]


def test_the_outbox_lists_attachments_without_their_bytes(engine):
    documents(engine, budget_pdf=PDF)
    result, _ = run(engine, send_step(attachments=[{"path": "Communiqués/budget.pdf"}]))
    assert result["status"] == "succeeded", result["error"]
    [item] = outbox.page(engine.db, channel="email")
    assert item["payload"]["attachments"] == [{"name": "budget.pdf", "content_type": "application/pdf",
                                               "size": len(PDF)}]
    assert "%PDF" not in str(item)


def test_every_campaign_message_carries_the_attachment(engine, smtp_factory):
    mailbox, port = smtp_factory()
    documents(engine, budget_pdf=PDF)
    result, steps = run_campaign(engine, campaign(smtp(engine, port), attachments=[{"path": "Communiqués/budget.pdf"}]))
    assert result["status"] == "succeeded", result["error"]
    assert len(mailbox.messages) == 3
    for delivered in mailbox.messages:
        assert attached(delivered["message"]) == {"budget.pdf": ("application/pdf", PDF)}
    assert steps["news"]["output"]["attachments"][0]["sha256"] == hashlib.sha256(PDF).hexdigest()

    _, steps = run_campaign(engine, campaign(smtp(engine, port), attachments=[
        {"path": "Communiqués/budget.pdf"}]), dry_run=True)
    assert steps["news"]["output"]["first_message"]["attachments"] == [
        {"name": "budget.pdf", "size": len(PDF), "content_type": "application/pdf",
         "document": {"connection": None, "path": "Communiqués/budget.pdf", "etag": None, "sha256": None}}]
