"""A person's rights over the contact base (GDPR), on the pages and through the API: download everything kept about
a contact, and erase them after a confirmation — personal data gone, campaign counts kept, the erasure audited
without personal data."""
from __future__ import annotations

import json

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from beffroi.store.builtin_tables import DeliveryRow
from beffroi_plugins.crm import contacts
from beffroi_plugins.crm.tables import ConsentRow, MembershipRow

from .test_ui_contacts import EMAIL, any_site, site  # noqa: F401 - the fixtures
from .ui_helpers import token_of

NEWS = {"name": "news", "trigger": {"uses": "builtins.manual"},
        "steps": [{"id": "upsert", "uses": "crm.upsert_contact", "with": {"email": EMAIL, "organisation": "Le Soir"}},
                  {"id": "send", "uses": "email.send_campaign",
                   "with": {"list": "press", "subject": "News", "text": "Hello [[ contact.first_name ]]"}}]}


def sent_campaign(engine) -> str:
    """A run that updated Anne and sent the press list a campaign (recorded in the outbox: no SMTP needed)."""
    engine.save_recipe(NEWS)
    run_id = engine.trigger("news", {}, submit=False)
    engine.execute(run_id)
    assert engine.runs.detail(run_id)["status"] == "succeeded"
    return run_id


def deliveries(engine) -> list[tuple[str, str]]:
    with engine.db.session() as session:
        return sorted((r.target, json.dumps(r.result)) for r in session.scalars(select(DeliveryRow)))


def test_an_editor_downloads_everything_kept_about_a_contact(site):
    sent_campaign(site.engine)
    anne = site.anne()
    page = site.client().get(f"/contacts/{anne}")
    assert f'href="/contacts/{anne}/export" download' in page.text
    answer = site.client().get(f"/contacts/{anne}/export")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/json")
    assert answer.headers["content-disposition"] == f'attachment; filename="contact-{anne}.json"'
    data = answer.json()
    assert data["contact"]["email"] == EMAIL and data["contact"]["first_name"] == "Anne"
    assert [m["list"] for m in data["lists"]] == ["press"]
    assert [(c["given"], c["source"], c["text"]) for c in data["consents"]] == [
        (True, "fair 2026", "I agree to receive the city's press releases.")]
    targets = {d["target"] for d in data["deliveries"]}
    assert EMAIL in targets  # the campaign's message to her
    assert "crm.upsert_contact" in targets  # the recipe's change to her contact
    entry = site.engine.audit.page(action="contact.exported")[0]
    assert (entry.actor, entry.target, entry.detail) == ("editor@example.org", anne, {})


def test_erasure_asks_first_then_removes_the_person_and_keeps_the_counts(any_site):
    site = any_site
    sent_campaign(site.engine)
    anne = site.anne()
    sent_before = [key for key, _ in deliveries(site.engine)]
    browser = site.client(language="fr")
    confirm = browser.get(f"/contacts/{anne}/erase")
    assert confirm.status_code == 200 and "<h1>Effacer ce contact ?</h1>" in confirm.text
    assert "C’est irréversible." in confirm.text and "Oui, effacer ce contact" in confirm.text
    assert contacts.get_contact(site.engine.db, anne) is not None  # asking erases nothing
    erased = browser.post(f"/contacts/{anne}/erase", data={"csrf": token_of(confirm)}, follow_redirects=False)
    assert erased.status_code == 303 and erased.headers["location"] == "/contacts"
    listing = browser.get("/contacts")
    assert "Le contact et ses données personnelles sont effacés." in listing.text and EMAIL not in listing.text
    assert browser.get(f"/contacts/{anne}").status_code == 404
    assert contacts.find_contact(site.engine.db, EMAIL) is None
    with site.engine.db.session() as session:
        assert session.scalar(select(func.count()).select_from(ConsentRow).where(ConsentRow.contact_id == anne)) == 0
        assert session.scalar(select(func.count()).select_from(MembershipRow)
                              .where(MembershipRow.contact_id == anne)) == 0
    after = deliveries(site.engine)
    assert len(after) == len(sent_before)  # one row per message still: the campaign's counts stay right
    assert not [row for row in after if EMAIL in row[0] or EMAIL in row[1] or anne in row[1]]
    entry = site.engine.audit.page(action="contact.erased")[0]
    assert (entry.actor, entry.target_type, entry.target, entry.detail) == ("editor@example.org", "contact", anne, {})
    assert not [e for e in site.engine.audit.page(limit=500) if EMAIL in json.dumps(e.detail) or EMAIL in e.target]
    assert browser.post(f"/contacts/{anne}/erase", data={"csrf": token_of(confirm)}).status_code == 404


def test_the_api_exports_and_erases_with_problem_details(site):
    from beffroi import create_app

    _, secret = site.engine.tokens.create("newsroom", "editor")
    api = TestClient(create_app(site.engine), headers={"Authorization": f"Bearer {secret}"})
    anne = site.anne()
    shown = api.get(f"/api/crm/contacts/{anne}").json()
    assert [c["source"] for c in shown["consents"]] == ["fair 2026"]
    exported = api.get(f"/api/crm/contacts/{anne}/export")
    assert exported.status_code == 200 and exported.json()["contact"]["email"] == EMAIL
    changed = api.patch(f"/api/crm/contacts/{anne}", json={"first_name": "Annabelle"})
    assert changed.status_code == 200
    assert site.engine.audit.page(action="contact.changed")[0].detail == {"fields": ["first_name"]}
    assert api.delete(f"/api/crm/contacts/{anne}").status_code == 204
    entry = site.engine.audit.page(action="contact.erased")[0]
    assert (entry.actor, entry.target, entry.detail) == ("token:newsroom", anne, {})
    missing = api.get(f"/api/crm/contacts/{anne}/export")
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"
    assert missing.json()["detail"] == f"no contact with id {anne!r}"
    assert api.delete(f"/api/crm/contacts/{anne}").status_code == 404
    _, viewing = site.engine.tokens.create("reader", "viewer")
    viewer = TestClient(create_app(site.engine), headers={"Authorization": f"Bearer {viewing}"})
    bob = contacts.find_contact(site.engine.db, "bob@rtbf.be")["id"]
    assert viewer.get(f"/api/crm/contacts/{bob}/export").status_code == 403
