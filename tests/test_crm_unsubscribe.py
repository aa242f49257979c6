"""The public unsubscribe link /u/{token}: GET only asks, POST (page or RFC 8058 one-click) unsubscribes."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from beffroi.api import create_app
from beffroi.signing import Signer
from beffroi_plugins.crm import contacts


@pytest.fixture
def client(engine):
    return TestClient(create_app(engine), base_url="http://beffroi.test", raise_server_exceptions=False)


@pytest.fixture
def link(engine):
    """An unsubscribe link for a consenting member of `press` (who is also on `agenda`)."""
    made = contacts.upsert_contact(engine.db, "lucie@example.org", first_name="Lucie", consent=True)
    contacts.add_to_list(engine.db, made["id"], "press", "website")
    contacts.add_to_list(engine.db, made["id"], "agenda", "website")
    url = contacts.unsubscribe_url(engine.signer, "http://beffroi.test", made["id"], "press")
    return url.removeprefix("http://beffroi.test")


def lists_of(engine) -> dict[str, dict]:
    found = contacts.find_contact(engine.db, "lucie@example.org")
    return {m["list"]: m for m in contacts.get_contact(engine.db, found["id"], with_lists=True)["lists"]}


def test_get_asks_and_changes_nothing(client, engine, link):
    page = client.get(link)  # no API token: the link's signature is the proof
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<html lang="fr">' in page.text  # no ?lang=, no Accept-Language, no list language: French
    assert "Se désinscrire de la liste « press » ?" in page.text
    assert '<form method="post">' in page.text and "l•••@example.org" in page.text
    assert "lucie@example.org" not in page.text
    assert page.headers["cache-control"] == "no-store" and page.headers["referrer-policy"] == "no-referrer"
    client.get(link)
    assert lists_of(engine)["press"]["subscribed"] is True
    assert [r["email"] for r in contacts.recipients(engine.db, "press")] == ["lucie@example.org"]


def test_post_unsubscribes_from_that_list_only_and_can_be_repeated(client, engine, link):
    done = client.post(link, data={})
    assert done.status_code == 200 and "Vous êtes désinscrit·e" in done.text
    press = lists_of(engine)["press"]
    assert press["subscribed"] is False and press["unsubscribed_at"] is not None
    assert contacts.recipients(engine.db, "press") == [] and contacts.skipped_count(engine.db, "press") == 1
    assert lists_of(engine)["agenda"]["subscribed"] is True  # consent withdrawn for that list only
    assert contacts.find_contact(engine.db, "lucie@example.org")["consent"] is True

    again = client.post(link, headers={"Accept-Language": "en"})
    assert again.status_code == 200 and "You have been unsubscribed" in again.text
    assert lists_of(engine)["press"]["unsubscribed_at"] == press["unsubscribed_at"]  # the first date is kept
    assert client.get(link).status_code == 200


def test_rfc8058_one_click_post(client, engine, link):
    answer = client.post(link, content=b"List-Unsubscribe=One-Click",
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 200
    assert lists_of(engine)["press"]["subscribed"] is False


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_an_altered_or_foreign_token_is_a_400_page(client, engine, link, method):
    token = link.removeprefix("/u/")
    body, signature = token.split(".")
    forged_body = Signer("k", "links").sign({"c": "x", "l": "press"}).split(".")[0]
    foreign = contacts.unsubscribe_url(Signer("another-key", "links"), "", "x", "press").removeprefix("/u/")
    for bad in (f"{forged_body}.{signature}", body, f"{body}.{signature[:-2]}", foreign, "garbage"):
        answer = client.request(method, f"/u/{bad}")
        assert answer.status_code == 400 and answer.headers["content-type"].startswith("text/html")
        assert "Ce lien n’est pas valide" in answer.text
    assert lists_of(engine)["press"]["subscribed"] is True


def test_a_link_for_an_erased_contact_still_confirms(client, engine, link):
    contacts.delete_contact(engine.db, contacts.find_contact(engine.db, "lucie@example.org")["id"])
    assert client.get(link).status_code == 200
    assert client.post(link).status_code == 200
