"""The outbox's page: what outbox connections recorded, shown as it would have gone out, filtered, a page at a time;
editors and admins only (the messages were rendered for real recipients, whose addresses it does not show)."""
from __future__ import annotations

import html

from .helpers import recipe
from .ui_helpers import ui  # noqa: F401  (the `ui` fixture)

EN = {"Accept-Language": "en"}
FETE = "Fête de la musique à Liège, ce samedi!\nTout le programme en ligne."


def _publish(engine, *steps, name="fete"):
    run = engine.run_recipe(engine.validate(recipe(*steps, name=name)), {})
    assert run["status"] == "succeeded", run
    return run["id"]


def _post(text: str, connection: str | None = None) -> dict:
    step = {"id": "announce", "uses": "smms.publish", "with": {"text": text}}
    return {**step, "connection": connection} if connection else step


MAIL = {"id": "mail", "uses": "email.send", "with": {"to": "alice@example.org, bob@example.org",
                                                     "subject": "Fête de la musique", "text": "Bonjour à tous"}}


def test_posts_and_mails_read_as_they_would_have_gone_out(ui):
    engine = ui.engine
    run_id = _publish(engine, _post(FETE), MAIL)
    editor = ui.client(signed_in="editor@example.org", headers=EN)
    page = editor.get("/outbox")
    assert page.status_code == 200
    text = html.unescape(page.text)
    assert "Post on outbox" in text and FETE in text
    assert f"bluesky: {len(FETE)} of 300 graphemes, fits" in text
    assert "E-mail: Fête de la musique" in text and "Bonjour à tous" in text
    assert "<dt>Recipients</dt><dd>2</dd>" in page.text
    assert "alice@example.org" not in text  # a count, never who
    assert page.text.count(f'href="/runs/{run_id}"') == 2
    french = html.unescape(ui.client(signed_in="admin@example.org").get("/outbox").text)
    assert "Publication sur outbox" in french and "Boîte d’envoi" in french and "graphèmes" in french


def test_filters_by_channel_connection_and_run_and_keyset_pages(ui):
    engine = ui.engine
    engine.connections.save("review", "smms_outbox", {})
    first_run = _publish(engine, _post("Premier message"), name="first")
    for number in range(30):
        _publish(engine, _post(f"Message numéro {number:02d}", "review"), name=f"news-{number:02d}")
    _publish(engine, MAIL, name="mail")
    editor = ui.client(signed_in="editor@example.org", headers=EN)
    mails = editor.get("/outbox?channel=email").text
    assert "E-mail: Fête de la musique" in mails and "Post on" not in mails
    review = editor.get("/outbox?channel=smms&connection=review").text
    assert review.count("<article") == 25 and "Message numéro 29" in review and "Message numéro 04" not in review
    older = html.unescape(review.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0])
    assert "connection=review" in older and "before=" in older
    rest = editor.get(older).text
    assert rest.count("<article") == 5 and "Message numéro 00" in rest and "Premier message" not in rest
    assert 'rel="next"' not in rest and "First page" in rest
    one_run = editor.get(f"/outbox?run={first_run}").text
    assert one_run.count("<article") == 1 and "Premier message" in one_run
    assert "No item matches these filters." in editor.get("/outbox?connection=nobody").text
    assert editor.get("/outbox?channel=pigeon&before=abc").status_code == 200  # unknown values are ignored


def test_viewers_cannot_read_the_outbox(ui):
    viewer = ui.client(signed_in="viewer@example.org", headers=EN)
    assert viewer.get("/outbox").status_code == 403
    assert 'href="/outbox"' not in viewer.get("/").text
    assert 'href="/outbox"' in ui.client(signed_in="editor@example.org").get("/").text
    assert ui.client(signed_in="editor@example.org").get("/outbox").status_code == 200
