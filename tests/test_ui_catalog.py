"""The catalog in the web UI: the chooser of actions and triggers (grouped by tool type, searched, in French and
English, each choice a form posting to the builder), the translations of the built-ins, and the data-insert panel's
references (from the trigger's sample event and the earlier steps' output schemas)."""
from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import yaml
from babel.messages.pofile import read_po
from pydantic import BaseModel

from beffroi import ActionSpec, hookimpl
from beffroi_ui import catalog, i18n, schema_form
from beffroi_ui.references import Reference, humanised, references, used
from beffroi_ui.web import CSP, environment

from .helpers import recipe
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
    assert "<h1>What should the new step 4 do?</h1>" in page.text  # the builder's at: the step it goes after
    seen = Choices(page.text)
    assert list(seen.groups) == ["Documents (ECM)", "Contacts (CRM)", "E-mail and newsletters", "Website",
                                 "Mobile app", "Social media", "Analytics", "Flow and data"]  # DESIGN.md's order
    assert ("ecm.extract_text", "Extract a document's text") in seen.groups["Documents (ECM)"]
    assert seen.groups["Social media"] == [("smms.publish", "Publish on social media")]
    assert ("email.send", "Send an e-mail") in seen.groups["E-mail and newsletters"]
    assert {uses for uses, _ in seen.groups["Flow and data"]} == {"http.request", "flow.delay", "flow.approve",
                                                                  "data.set"}
    assert set(seen.shown()) == set(ui.engine.registry.actions)
    # a plain-language description, said to belong to its button
    assert 'aria-describedby="choice-smms-publish-text"' in page.text
    assert 'id="choice-smms-publish-text">Publishes a post on one or several accounts' in page.text
    assert '<a href="/recipes/news/edit">Back to the builder</a>' in page.text


def test_the_chooser_speaks_french_with_the_catalog_translations(ui):
    page = choose(ui.client(signed_in="editor@example.org"), at="-1", language="fr")
    assert "<h1>Que doit faire la première étape ?</h1>" in page.text
    seen = Choices(page.text)
    assert seen.fields["at"] == "-1"
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
    assert set(Choices(choose(browser, q="évènement", language="fr").text).shown()) == {"analytics.track_event",
                                                                                "analytics.report"}
    assert set(Choices(choose(browser, q="Publish on social", language="fr").text).shown()) == {"smms.publish"}
    assert set(Choices(choose(browser, q="flow.delay", language="fr").text).shown()) == {"flow.delay"}
    # the English name of a tool type too: "newsletter", the word French comms teams use, finds the campaign
    assert "email.send_campaign" in Choices(choose(browser, q="newsletter", language="fr").text).shown()
    one = choose(browser, q="attendre", language="fr")
    assert "1 action correspond à votre recherche." in one.text
    escaped = choose(browser, q='<b>"x"</b>')
    assert 'value="&lt;b&gt;&#34;x&#34;&lt;/b&gt;"' in escaped.text and "<b>" not in escaped.text.split("<main", 1)[1]
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


def test_the_chooser_has_the_security_headers_and_no_inline_script_or_style(ui):
    page = choose(ui.client(signed_in="editor@example.org"), q="<script>")
    assert page.headers["content-security-policy"] == CSP and page.headers["cache-control"] == "no-store"
    assert not re.search(r"<script(?![^>]*\bsrc=)", page.text)
    assert "<style" not in page.text and not re.search(r"\sstyle=", page.text)
    assert not re.search(r"\son[a-z]+=", page.text)
    assert page.text.count("<h1") == 1


def test_a_viewer_is_refused_and_a_stranger_signs_in_first(ui):
    refused = choose(ui.client(signed_in="viewer@example.org"))
    assert refused.status_code == 403 and 'name="uses"' not in refused.text
    stranger = ui.client().get(CHOOSE, params={"at": "0"}, follow_redirects=False)
    assert stranger.status_code == 303 and stranger.headers["location"].startswith("/login?next=")


def test_an_odd_place_or_recipe_name_is_a_404_page(ui):
    browser = ui.client(signed_in="editor@example.org")
    for at in ("", "-2", "--1", "x", "1.5", "99999"):
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
    assert [(e.key, e.title, e.description) for e in groups["mcms"].entries if e.key.startswith("ntfy.")] == [
        ("ntfy.push", "Push a notification", "Sends a push via ntfy.")]  # beside the built-in mcms actions
    assert groups["mcms"].name == "Application mobile"
    assert [e.key for e in groups["other"].entries] == ["acme.thing"] and groups["other"].name == "Autres outils"


def french_catalog():
    """The French catalog of the catalog's texts, as a translator edits it."""
    with (i18n.LOCALE_DIR / "fr" / "LC_MESSAGES" / "catalog.po").open("rb") as source:
        return read_po(source, locale="fr")


def builtins(registry) -> set[str]:
    """The keys of the actions, triggers and connection types of the built-in plugins."""
    return {key for info in registry.plugins.values() if info.builtin
            for key in (*info.actions, *info.triggers, *info.connection_types)}


def test_every_built_in_action_trigger_and_connection_type_has_a_french_title_and_description(ui):
    registry = ui.engine.registry
    french, builtin = french_catalog(), builtins(registry)
    specs = [*registry.actions.values(), *registry.triggers.values(), *registry.connection_types.values()]
    missing = [(spec.key, text) for spec in specs if spec.key in builtin for text in (spec.title, spec.description)
               if text and not (french.get(text) and french.get(text).string and not french.get(text).fuzzy)]
    assert missing == [], f"add these to ui/locale/fr/LC_MESSAGES/catalog.po (and en): {missing}"
    assert len(builtin) > 20
    assert catalog.describe(registry, registry.connection_types["smtp"], "fr").title == "Serveur de messagerie (SMTP)"


# -- the data-insert panel's references ------------------------------------------------------------------------------
FLAGSHIP = Path(__file__).resolve().parent.parent / "recipes" / "blog-to-social.yaml"


def flagship() -> dict:
    return yaml.safe_load(FLAGSHIP.read_text(encoding="utf-8"))


def by_expression(found: list[Reference]) -> dict[str, Reference]:
    return {r.expression: r for r in found}


def test_references_come_from_the_trigger_sample_and_the_earlier_steps_output_schemas(ui):
    found = by_expression(references(ui.engine, flagship(), 2, "en"))
    title = found["{{ trigger.title }}"]
    assert (title.label, title.example, title.source) == ("Trigger › Title", "Marché de Noël sur la Grand-Place",
                                                          "trigger")
    assert title.source_label == "Trigger: New post on the website"
    assert found["{{ trigger.url }}"].label == "Trigger › URL"
    joined = found['{{ trigger.categories | join(", ") }}']
    assert (joined.label, joined.example) == ("Trigger › Categories (all, separated by commas)", "agenda, fêtes")
    assert found["{{ trigger.categories[0] }}"].label == "Trigger › Categories › first item"
    # the first step's output model (a list of objects: read through its first item), no run yet: no example
    url = found["{{ steps.announce.results[0].url }}"]
    assert (url.label, url.example, url.source) == ("Announce › Results › first item › URL", None, "announce")
    assert url.source_label == "Step 1: Publish on social media"  # the panel's heading over the step's data
    assert found["{{ steps.newsletter.sent }}"].label == "Newsletter › Sent"
    assert "{{ steps.newsletter.failures[0].email }}" in found
    # nothing from the step itself or later ones
    assert not any(r.source == "track" for r in found.values())
    assert {r.source for r in references(ui.engine, flagship(), 0, "en")} == {"trigger"}


def test_references_in_french(ui):
    found = by_expression(references(ui.engine, flagship(), 3, "fr"))
    assert found["{{ trigger.title }}"].label == "Déclencheur › Titre"
    assert found["{{ trigger.title }}"].source_label == "Déclencheur : Nouvel article sur le site"
    assert found["{{ steps.announce.results[0].url }}"].label == \
        "Announce › Résultats › premier élément › Adresse (URL)"
    assert found["{{ trigger.image_url }}"].label == "Déclencheur › Adresse de l’image"
    assert found['{{ trigger.categories | join(", ") }}'].label == \
        "Déclencheur › Catégories (tous, séparés par des virgules)"


def test_examples_come_from_the_sample_given_and_the_last_run(ui):
    engine = ui.engine
    definition = recipe({"id": "greet", "title": "Greeting", "uses": "data.set",
                         "with": {"text": "Hello {{ trigger.name }}", "when": {"day": "Monday"}}},
                        {"id": "announce", "uses": "smms.publish", "with": {"text": "{{ steps.greet.text }}"}},
                        {"id": "last", "uses": "data.set", "with": {"x": 1}}, name="hello")
    saved, _ = engine.save_recipe(definition)
    run = engine.run_recipe(saved, {"name": "Anne", "first name": "Anne", "items": 3}, dry_run=True)
    assert run["status"] == "succeeded", run
    last_run = engine.runs.detail(run["id"])
    found = by_expression(references(engine, definition, 2, "en", sample=engine.sample_event(saved),
                                     last_run=last_run))
    assert found["{{ trigger.name }}"].example == "Anne-Sophie"  # the sample given wins for the trigger
    greeting = found["{{ steps.greet.text }}"]  # a model with any fields: read from the last run's output
    assert (greeting.label, greeting.example, greeting.source_label) == ("Greeting › Text", "Hello Anne",
                                                                         "Step 1: Greeting")
    assert found["{{ steps.greet.when.day }}"].label == "Greeting › When › Day"
    assert found["{{ steps.announce.results[0].text }}"].example == "Hello Anne"
    # without a sample, the last run's event; keys that are no identifier (or a dict method) are read with []
    found = by_expression(references(engine, definition, 1, "en", last_run=last_run))
    assert found['{{ trigger["first name"] }}'].example == "Anne"
    assert found['{{ trigger["items"] }}'].label == "Trigger › Items"
    # nothing at all known about a step's output: the whole output is offered
    assert "{{ steps.greet }}" in by_expression(references(engine, definition, 1, "en"))


def test_a_repeated_step_offers_its_item_and_a_later_one_reads_the_first_items_output(ui):
    definition = flagship()
    definition["steps"][1]["for_each"] = "{{ trigger.categories }}"
    found = by_expression(references(ui.engine, definition, 1, "en"))
    assert found["{{ item }}"].example == "agenda" and found["{{ item }}"].label == "Current item"
    assert found["{{ item_index }}"].label == "Position of the current item (from 0)"
    later = by_expression(references(ui.engine, definition, 2, "en"))
    assert later["{{ steps.newsletter[0].sent }}"].label == "Newsletter › first item › Sent"
    assert "{{ item }}" not in later


def test_an_incomplete_draft_gives_what_it_can(ui):
    draft = {"trigger": {"uses": "no.such.trigger"},
             "steps": [{"uses": "smms.publish"}, {"id": "x", "uses": "no.such.action"}, "junk", {"id": "y"}]}
    assert references(ui.engine, draft, 4, "en") == []
    draft["trigger"]["sample"] = {"who": "Anne"}
    assert [r.expression for r in references(ui.engine, draft, 4, "en")] == ["{{ trigger.who }}"]
    assert references(ui.engine, {}, 0, "fr") == []


def test_used_names_the_data_a_field_uses(ui):
    found = references(ui.engine, flagship(), 2, "en")
    text = "{{trigger.title}} – {{ steps.announce.results[0].url }} {{ trigger.title }} {{ run.recipe }}"
    assert [r.label for r in used(found, text)] == ["Trigger › Title", "Announce › Results › first item › URL",
                                                    "run.recipe"]
    assert used(found, None) == [] and used(found, "no data") == []


def test_the_insert_panel_without_javascript_lists_expressions_to_copy(ui):
    found = references(ui.engine, flagship(), 1, "fr")
    template = environment("fr").from_string(
        '{% from "_insert_panel.html" import insert_panel, uses_list %}'
        '{{ insert_panel(found, "body") }}{{ uses_list("body", uses) }}{{ insert_panel([], "none") }}')
    html = template.render(found=found, uses=used(found, "{{ trigger.title }}"))
    assert html.count("<details") == 1 and 'data-target="body"' in html
    assert "<summary>Insérer une donnée du déclencheur ou d’une étape précédente</summary>" in html
    assert "<code>{{ trigger.title }}</code>" in html
    assert '<span class="insert-label" data-insert-label>Déclencheur › Titre</span>' in html
    assert "Exemple : Marché de Noël sur la Grand-Place" in html
    assert '<p class="insert-source" id="body-insert-1">Déclencheur : Nouvel article sur le site</p>' in html
    assert '<ul class="insert-list" aria-labelledby="body-insert-1">' in html
    assert "Étape 1 : Publier sur les réseaux sociaux</p>" in html
    assert html.count("<ul class=\"insert-list\"") == html.count("</ul>") - 1 == 2  # and the uses list
    assert '<button type="button" class="insert-button" data-insert="{{ trigger.title }}" hidden>' in html
    assert 'data-inserted="Inséré : {label}"' in html
    assert '<div class="insert-uses" id="body-uses" data-insert-uses="body">' in html
    assert "<li>Déclencheur › Titre</li>" in html
    assert "<script" not in html and "style=" not in html


def test_every_field_of_the_built_in_events_and_outputs_has_a_french_label(ui):
    missing = set()
    registry = ui.engine.registry
    french, builtin = french_catalog(), builtins(registry)
    models = [s.event_model for s in registry.triggers.values() if s.key in builtin] + \
             [s.output_model for s in registry.actions.values() if s.key in builtin]
    for model in filter(None, models):
        schema = model.model_json_schema(by_alias=True)
        for part in [schema, *schema.get("$defs", {}).values()]:
            missing |= {humanised(name) for name in part.get("properties", {})
                        if not (french.get(humanised(name)) and french.get(humanised(name)).string)}
    assert missing == set(), f"add French labels to ui/locale/fr/LC_MESSAGES/catalog.po: {sorted(missing)}"


def field_texts(registry) -> dict[str, set[str]]:
    """Every text the builder's forms pass to their translate function (labels, hints, choices), by action or
    trigger: the fields of the built-in actions' input models and of the built-in triggers' config models."""
    builtin, found = builtins(registry), {}
    models = [(s.key, s.input_model) for s in registry.actions.values() if s.key in builtin] + \
             [(s.key, s.config_model) for s in registry.triggers.values() if s.key in builtin]
    for key, model in models:
        if model is None:
            continue
        texts: set[str] = set()
        schema_form.describe(model.model_json_schema(by_alias=True), "with", templates=True,
                             translate=lambda text, texts=texts: texts.add(text) or text)
        found[key] = texts
    return found


def test_every_field_of_the_built_in_actions_and_triggers_forms_has_a_french_label_hint_and_choices(ui):
    texts = field_texts(ui.engine.registry)
    assert {"Image alt", "fail", "truncate", "pending", "Feed URL", "token"} <= set().union(*texts.values())
    assert sum(len(found) for found in texts.values()) > 100
    for language in ("fr", "en"):
        merged = i18n.catalog(language)
        missing = sorted((key, text) for key, found in texts.items() for text in found
                         if not ((entry := merged.get(text, catalog.FIELD)) and entry.string and not entry.fuzzy))
        assert missing == [], f"add these to ui/locale/{language}/LC_MESSAGES/fields.po (msgctxt \"field\"): {missing}"


def test_the_builders_forms_are_in_french_and_say_no_empty_default(ui):
    ui.engine.save_recipe(flagship())
    browser = ui.client(signed_in="editor@example.org", headers={"Accept-Language": "fr"})
    page = browser.get("/recipes/blog-to-social/edit")
    assert page.status_code == 200
    html = page.text
    for french in ("Description de l’image", "Ce que montre l’image, pour les personnes qui ne peuvent pas la voir.",
                   "Si le texte est trop long", "Arrêter l’étape en erreur</label>", "Raccourcir le texte</label>",
                   "Adresse du flux", "Flux RSS ou Atom", "Texte du lien de désinscription", "Messages par minute"):
        assert french in html, french
    for english in ("Image alt", "What to publish", ">fail<", ">truncate<", "Feed URL", "Overflow"):
        assert english not in html, english
    assert not re.search(r"Par défaut :\s*</p>", html)
    english = ui.client(signed_in="editor@example.org", headers={"Accept-Language": "en"})
    html = english.get("/recipes/blog-to-social/edit").text
    assert "If the text is too long" in html and "Shorten the text</label>" in html and "Image description" in html
    assert catalog.field_text("To", "fr") == "À" and catalog.translated("To", "fr") == "Au"  # a date range's


def test_item_is_offered_to_the_step_repeated_for_each_item_only(ui):
    definition = flagship()
    definition["steps"][2]["for_each"] = "{{ steps.announce.results }}"
    assert "{{ item.url }}" in by_expression(references(ui.engine, definition, 2, "en"))
    assert "{{ item.url }}" not in by_expression(references(ui.engine, definition, 3, "en"))
