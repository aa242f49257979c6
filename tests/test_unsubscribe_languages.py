"""The unsubscribe page in each language of its Babel catalogs: ?lang=, Accept-Language, the list's language;
and catalogs that are complete and follow the code."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po
from fastapi.testclient import TestClient

from beffroi.api import create_app
from beffroi_plugins.crm import contacts, i18n, unsubscribe

ASK = {"fr": "Se désinscrire de la liste « press » ?", "nl": "Wilt u zich uitschrijven voor de lijst ‘press’?",
       "de": "Möchten Sie sich von der Liste „press“ abmelden?", "en": "Unsubscribe from the list ‘press’?"}
BUTTON = {"fr": "Me désinscrire", "nl": "Uitschrijven", "de": "Abmelden", "en": "Unsubscribe"}
DONE = {"fr": "Vous êtes désinscrit·e", "nl": "U bent uitgeschreven", "de": "Sie wurden abgemeldet",
        "en": "You have been unsubscribed"}
INVALID = {"fr": "Ce lien n’est pas valide", "nl": "Deze link is niet geldig", "de": "Dieser Link ist ungültig",
           "en": "This link is not valid"}
ADDRESS = {"fr": "Adresse : <strong>", "nl": "Adres: <strong>", "de": "Adresse: <strong>", "en": "Address: <strong>"}
SOURCE = Path(unsubscribe.__file__)


@pytest.fixture
def client(engine):
    return TestClient(create_app(engine), base_url="http://beffroi.test", raise_server_exceptions=False)


def link_for(engine, language=None) -> str:
    made = contacts.upsert_contact(engine.db, "lucie@example.org", first_name="Lucie", consent=True)
    contacts.add_to_list(engine.db, made["id"], "press", "website")
    return contacts.unsubscribe_url(engine.signer, "", made["id"], "press", language)


def test_the_page_speaks_the_four_languages_of_belgian_lists():
    assert i18n.languages() == ("fr", "nl", "de", "en") == tuple(ASK)


@pytest.mark.parametrize("language", list(ASK))
def test_each_language_through_accept_language_and_through_lang(client, engine, language):
    link = link_for(engine)
    for page in (client.get(link, headers={"Accept-Language": f"{language}-BE;q=0.9, es"}),
                 client.get(f"{link}?lang={language}", headers={"Accept-Language": "es"})):
        assert page.status_code == 200
        assert page.text.startswith(f'<!doctype html><html lang="{language}">')
        assert ASK[language] in page.text and f'<button type="submit">{BUTTON[language]}</button>' in page.text
        assert ADDRESS[language] + "l•••@example.org</strong>" in page.text
        others = [lang for lang in ASK if lang != language]
        assert re.findall(r'<a href="\?lang=(\w+)" lang="\1" hreflang="\1">', page.text) == others
        assert not [other for other in others if ASK[other] in page.text]  # one language per page
    done = client.post(f"{link}?lang={language}", headers={"Accept-Language": "es"})
    assert done.text.startswith(f'<!doctype html><html lang="{language}">') and DONE[language] in done.text
    invalid = client.get("/u/garbage", headers={"Accept-Language": language})
    assert invalid.status_code == 400 and f'<html lang="{language}">' in invalid.text
    assert INVALID[language] in invalid.text


def test_lang_then_the_browser_then_the_list_language_then_french(client, engine):
    dutch_list = link_for(engine, "nl")
    assert '<html lang="de">' in client.get(f"{dutch_list}?lang=de", headers={"Accept-Language": "en"}).text
    assert '<html lang="en">' in client.get(f"{dutch_list}?lang=xx", headers={"Accept-Language": "es, en;q=0.5"}).text
    assert '<html lang="nl">' in client.get(dutch_list, headers={"Accept-Language": "es, *;q=0.1"}).text
    assert '<html lang="nl">' in client.get(dutch_list).text
    assert '<html lang="fr">' in client.get(link_for(engine)).text
    assert '<html lang="de">' in client.get(link_for(engine), headers={"Accept-Language": "en;q=0.4, de"}).text


def catalog_problems(folder: Path) -> list[str]:
    """What keeps the catalogs of a locale folder from serving the page: out of step with the code, untranslated,
    fuzzy, or with placeholders that differ from the original."""
    wanted = {(context, message if isinstance(message, str) else message[0])
              for _, message, _, context in extract_from_file("python", SOURCE, keywords={
                  "_": None, "gettext": None, "pgettext": ((1, "c"), 2), "text": (2,)})}
    with (folder / "messages.pot").open("rb") as source:
        template = {(m.context, m.id) for m in read_po(source) if m.id}
    found = [f"messages.pot: out of step with {SOURCE.name}: run pybabel extract"] if template != wanted else []
    for path in sorted(folder.glob("*/LC_MESSAGES/messages.po")):
        language = path.parent.parent.name
        with path.open("rb") as source:
            catalog = read_po(source, locale=language)
        messages = {(m.context, m.id): m for m in catalog if m.id}
        found += [f"{language}: missing {key[1]!r}" for key in sorted(wanted - set(messages), key=str)]
        for message in messages.values():
            placeholders = sorted(re.findall(r"%\(\w+\)s", message.id))
            if not message.string:
                found.append(f"{language}: untranslated {message.id!r}")
            elif message.fuzzy:
                found.append(f"{language}: fuzzy {message.id!r}")
            elif sorted(re.findall(r"%\(\w+\)s", message.string)) != placeholders:
                found.append(f"{language}: placeholders of {message.id!r} differ")
    return found


def test_every_message_of_the_page_is_translated_in_every_language():
    assert catalog_problems(i18n.LOCALE_DIR) == []


def test_an_untranslated_or_fuzzy_message_is_caught(tmp_path):
    shutil.copytree(i18n.LOCALE_DIR, tmp_path / "locale")
    german = tmp_path / "locale" / "de" / "LC_MESSAGES" / "messages.po"
    text = german.read_text(encoding="utf-8")
    text = text.replace('msgstr "Andere Sprachen"', 'msgstr ""')
    text = text.replace('msgid "Link not valid"', '#, fuzzy\nmsgid "Link not valid"')
    text = text.replace('msgstr "Adresse: %(address)s"', 'msgstr "Adresse: %(adresse)s"')
    german.write_text(text, encoding="utf-8")
    assert catalog_problems(tmp_path / "locale") == ["de: untranslated 'Other languages'",
                                                      "de: fuzzy 'Link not valid'",
                                                      "de: placeholders of 'Address: %(address)s' differ"]
