"""The catalog in the web UI: the chooser of actions and triggers (grouped by tool type, searched, in French and
English, each choice a form posting to the builder), the translations of the built-ins, and the data-insert panel's
references (from the trigger's sample event and the earlier steps' output schemas)."""
from __future__ import annotations

from html.parser import HTMLParser

from babel.messages.pofile import read_po
from pydantic import BaseModel

from beffroi import ActionSpec, hookimpl
from beffroi_ui import catalog, i18n

from .ui_helpers import token_of, ui  # noqa: F401

CHOOSE = "/recipes/news/edit/choose"


class Nothing(BaseModel):
    """The input of the test plugins' actions."""


class Choices(HTMLParser):
    """The chooser as a reader sees it: the groups shown (heading → visible choices), each choice's button, and
    the fields of the form around the buttons."""

    def __init__(self, html: str):
        super().__init__()
        self.groups: dict[str, list[tuple[str, str]]] = {}  # shown groups: heading → [(uses, title)] shown
        self.hidden_groups: list[str] = []
        self.form: dict[str, str] = {}  # the choices form's action and method
        self.fields: dict[str, str] = {}  # its hidden fields
        self._group: str | None = None
        self._group_hidden = False
        self._item_hidden = False
        self._in: str | None = None  # "h2" or "button" while reading its text
        self._text = ""
        self._uses = ""
        self._in_choices = False
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and "choices" in (a.get("class") or ""):
            self._in_choices = True
            self.form.update(action=a["action"], method=a["method"])
        elif tag == "input" and self._in_choices and a.get("type") == "hidden":
            self.fields[a["name"]] = a["value"]
        elif tag == "section" and "data-choice-group" in a:
            self._group_hidden = "hidden" in a
        elif tag == "h2" and self._group is None:
            self._in, self._text = "h2", ""
        elif tag == "li" and "data-search" in a:
            self._item_hidden = "hidden" in a
        elif tag == "button" and a.get("name") == "uses":
            assert a["type"] == "submit"
            self._in, self._text, self._uses = "button", "", a["value"]

    def handle_data(self, data):
        if self._in:
            self._text += data

    def handle_endtag(self, tag):
        if tag == "h2" and self._in == "h2":
            self._group, self._in = self._text.strip(), None
            if self._group_hidden:
                self.hidden_groups.append(self._group)
            else:
                self.groups[self._group] = []
        elif tag == "button" and self._in == "button":
            self._in = None
            if not self._item_hidden and not self._group_hidden:
                self.groups[self._group].append((self._uses, self._text.strip()))
        elif tag == "section":
            self._group = None
        elif tag == "form":
            self._in_choices = False

    def shown(self) -> dict[str, str]:
        """Every visible choice: uses → title."""
        return {uses: title for choices in self.groups.values() for uses, title in choices}


def choose(browser, at="0", q=None, language="en"):
    params = {"at": at, **({"q": q} if q is not None else {})}
    return browser.get(CHOOSE, params=params, headers={"accept-language": language})


def test_the_chooser_lists_every_action_grouped_by_tool_type_in_english(ui):
    browser = ui.client(signed_in="editor@example.org")
    page = choose(browser, at="2")
    assert page.status_code == 200
    assert "<h1>What should step 3 do?</h1>" in page.text
    seen = Choices(page.text)
    assert list(seen.groups) == ["Contacts (CRM)", "E-mail and newsletters", "Website", "Social media", "Analytics",
                                 "Flow and data"]  # the order of DESIGN.md's tool types, the engine's own last
    assert seen.groups["Social media"] == [("smms.publish", "Publish on social media")]
    assert ("email.send", "Send an e-mail") in seen.groups["E-mail and newsletters"]
    assert {uses for uses, _ in seen.groups["Flow and data"]} == {"http.request", "flow.delay", "data.set"}
    assert set(seen.shown()) == set(ui.engine.registry.actions)
    # a plain-language description, said to belong to its button
    assert 'aria-describedby="choice-smms-publish-text"' in page.text
    assert 'id="choice-smms-publish-text">Publishes a post on one or several accounts' in page.text
    assert '<a href="/recipes/news/edit">Back to the builder</a>' in page.text


def test_the_chooser_speaks_french_with_the_catalog_translations(ui):
    page = choose(ui.client(signed_in="editor@example.org"), at="0", language="fr")
    assert "<h1>Que doit faire l’étape 1 ?</h1>" in page.text
    seen = Choices(page.text)
    assert seen.groups["Réseaux sociaux"] == [("smms.publish", "Publier sur les réseaux sociaux")]
    assert seen.shown()["email.send_campaign"] == "Envoyer une campagne à une liste"
    assert "Déroulement et données" in seen.groups and "Retour à l’éditeur de la recette" in page.text
    assert "Publie un message sur un ou plusieurs comptes" in page.text


def test_each_choice_is_a_submit_button_of_a_form_posting_to_the_builder(ui):
    page = choose(ui.client(signed_in="editor@example.org"), at="4")
    seen = Choices(page.text)
    assert seen.form == {"action": "/recipes/news/edit", "method": "post"}
    assert seen.fields == {"csrf": token_of(page), "action": "choose", "at": "4"}
    assert page.text.count('name="uses"') == len(ui.engine.registry.actions)


def test_with_at_trigger_it_lists_the_triggers(ui):
    page = choose(ui.client(signed_in="editor@example.org"), at="trigger")
    assert "<h1>What should start the recipe?</h1>" in page.text
    seen = Choices(page.text)
    assert seen.fields["at"] == "trigger"
    assert set(seen.shown()) == set(ui.engine.registry.triggers)
    assert seen.groups["Website"] == [("wcms.post_published", "New post on the website")]
    assert seen.groups["Contacts (CRM)"] == [("crm.contact_created", "New contact")]
    assert {uses for uses, _ in seen.groups["Flow and data"]} == {"builtins.manual", "builtins.webhook",
                                                                  "builtins.schedule"}
    assert "Checks for news regularly." in page.text  # how a trigger starts, in plain words
    french = Choices(choose(ui.client(signed_in="editor@example.org"), at="trigger", language="fr").text)
    assert french.shown()["builtins.schedule"] == "Selon un horaire"


def test_the_search_keeps_the_matching_choices_whatever_the_case_accents_and_language(ui):
    browser = ui.client(signed_in="editor@example.org")
    page = choose(browser, q="contact LIST")
    seen = Choices(page.text)
    assert seen.shown() == {"crm.add_to_list": "Add a contact to a list",
                            "crm.remove_from_list": "Remove a contact from a list",
                            "email.send_campaign": "Send a campaign to a list"}  # "…a contact list…"
    assert "Social media" in seen.hidden_groups  # a tool type without a match is hidden with its choices
    assert 'value="contact LIST"' in page.text and "3 actions match your search." in page.text
    # French words, accents or not, and the English title or key still match in French
    assert set(Choices(choose(browser, q="reseaux", language="fr").text).shown()) == {"smms.publish"}
    assert set(Choices(choose(browser, q="évènement", language="fr").text).shown()) == {"analytics.track_event"}
    assert set(Choices(choose(browser, q="Publish on social", language="fr").text).shown()) == {"smms.publish"}
    assert set(Choices(choose(browser, q="flow.delay", language="fr").text).shown()) == {"flow.delay"}
    one = choose(browser, q="attendre", language="fr")
    assert "1 action correspond à votre recherche." in one.text
    nothing = choose(browser, q="zzz")
    assert Choices(nothing.text).shown() == {} and "No action matches your search." in nothing.text
    assert '<p class="choose-none"><a href="/recipes/news/edit/choose?at=0">Show all the actions</a>' in nothing.text


def test_the_search_form_works_without_javascript_and_is_labelled(ui):
    page = choose(ui.client(signed_in="editor@example.org"), at="3")
    html = page.text
    assert '<form method="get" action="/recipes/news/edit/choose" role="search"' in html
    assert '<input type="hidden" name="at" value="3">' in html
    assert '<label for="q">Search the actions</label>' in html
    assert '<input type="search" id="q" name="q" value=""' in html and 'aria-describedby="q-hint"' in html
    assert '<script src="/static/catalog.js" defer></script>' in html
    assert 'role="status" aria-live="polite" data-none="No action matches your search." ' \
           'data-one="{n} action matches your search." data-other="{n} actions match your search."' in html
    french = choose(ui.client(signed_in="editor@example.org"), language="fr").text
    assert 'data-one="{n} action correspond à votre recherche."' in french
    browser = ui.client(signed_in="editor@example.org")
    assert browser.get("/static/catalog.js").status_code == 200
    assert browser.get("/static/catalog.css").status_code == 200


def test_a_viewer_is_refused_and_a_stranger_signs_in_first(ui):
    refused = choose(ui.client(signed_in="viewer@example.org"))
    assert refused.status_code == 403 and 'name="uses"' not in refused.text
    stranger = ui.client().get(CHOOSE, params={"at": "0"}, follow_redirects=False)
    assert stranger.status_code == 303 and stranger.headers["location"].startswith("/login?next=")


def test_an_odd_place_or_recipe_name_is_a_404_page(ui):
    browser = ui.client(signed_in="editor@example.org")
    for at in ("", "-1", "x", "1.5", "99999"):
        assert choose(browser, at=at).status_code == 404, at
    assert browser.get("/recipes/Bad_Name/edit/choose", params={"at": "0"}).status_code == 404


def test_a_third_party_action_is_shown_in_english_in_the_group_of_its_tool(make_engine):
    class Ntfy:
        @staticmethod
        @hookimpl
        def register_actions():
            return [ActionSpec(key="ntfy.push", title="Push a notification", description="Sends a push via ntfy.",
                               input_model=Nothing, connection_type="mcms",
                               run=lambda payload, ctx: {}),
                    ActionSpec(key="acme.thing", title="Do the Acme thing", input_model=Nothing,
                               run=lambda payload, ctx: {})]

    engine = make_engine(plugins=[Ntfy])
    groups = {g.tool_type: g for g in catalog.grouped(engine.registry, "actions", "fr")}
    assert [(e.key, e.title, e.description) for e in groups["mcms"].entries] == [
        ("ntfy.push", "Push a notification", "Sends a push via ntfy.")]
    assert groups["mcms"].name == "Application mobile"
    assert [e.key for e in groups["other"].entries] == ["acme.thing"] and groups["other"].name == "Autres outils"


def test_every_built_in_action_trigger_and_connection_type_has_a_french_title_and_description(ui):
    registry = ui.engine.registry
    with (i18n.LOCALE_DIR / "fr" / "LC_MESSAGES" / "catalog.po").open("rb") as source:
        french = read_po(source, locale="fr")
    builtin = {key for info in registry.plugins.values() if info.builtin
               for key in (*info.actions, *info.triggers, *info.connection_types)}
    specs = [*registry.actions.values(), *registry.triggers.values(), *registry.connection_types.values()]
    missing = [(spec.key, text) for spec in specs if spec.key in builtin for text in (spec.title, spec.description)
               if text and not (french.get(text) and french.get(text).string and not french.get(text).fuzzy)]
    assert missing == [], f"add these to ui/locale/fr/LC_MESSAGES/catalog.po (and en): {missing}"
    assert len(builtin) > 20
    assert catalog.describe(registry, registry.connection_types["smtp"], "fr").title == "Serveur de messagerie (SMTP)"
