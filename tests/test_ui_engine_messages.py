"""The engine's problems that carry a value (a name, a number, a suggestion) are shown in the visitor's language."""
from __future__ import annotations

import pytest

from beffroi.recipes import RecipeInvalid
from beffroi_ui import i18n
from beffroi_ui.engine_messages import engine_text


def french(message: str, **values) -> str:
    text = i18n.translations("fr").gettext(message)
    return text % values if values else text


def english(message: str, **values) -> str:
    text = i18n.translations("en").gettext(message)
    return text % values if values else text


def problems_of(engine, recipe: dict) -> dict[str, str]:
    with pytest.raises(RecipeInvalid) as caught:
        engine.validate(recipe)
    return {p.loc: p.message for p in caught.value.problems}


def test_the_engines_own_messages_with_values_are_all_translated(make_engine):
    engine = make_engine()
    found = problems_of(engine, {
        "name": "news", "enabled": True,
        "trigger": {"uses": "builtins.manul", "every": "5m"},
        "steps": [
            {"id": "post", "uses": "smms.publish", "connection": "city-mastodn",
             "with": {"text": "{{ steps.later.url }} {{ trigger.title | shout }}", "overflow": "cut"}},
            {"id": "post", "uses": "data.sett"},
            {"id": "later", "uses": "http.request", "connection": "x",
             "with": {"url": "https://example.org", "method": "GET"}},
        ]})
    shown = {loc: engine_text(message, french) for loc, message in found.items()}
    untranslated = {loc: text for loc, text in shown.items() if text == found[loc]}
    assert untranslated == {}, untranslated
    assert shown["trigger.uses"] == "déclencheur inconnu : 'builtins.manul' (vouliez-vous dire 'builtins.manual' ?)"
    assert shown["steps[1].id"] == "identifiant d’étape en double : 'post' (aussi steps[0])"
    assert shown["steps[0].with.overflow"].startswith("doit être l’une de ces valeurs : fail, truncate")


def test_a_missing_connection_and_a_template_error_read_in_french(make_engine):
    engine = make_engine()
    recipe = {"name": "news", "enabled": True, "trigger": {"uses": "builtins.manual"},
              "steps": [{"id": "post", "uses": "smms.publish", "connection": "city-mastodon",
                         "with": {"text": "{{ trigger.title | shout }}"}}]}
    [template] = problems_of(engine, recipe).values()
    assert engine_text(template, french) == "erreur de syntaxe dans le modèle : filtre inconnu : 'shout' (ligne 1)"
    recipe["steps"][0]["with"]["text"] = "{{ trigger.title }}"
    [connection] = problems_of(engine, recipe).values()
    assert engine_text(connection, french) == \
        "aucune connexion nommée 'city-mastodon' : créez-la d’abord, ou enregistrez la recette désactivée en attendant"


def test_english_and_unknown_messages_are_shown_as_the_engine_wrote_them():
    assert engine_text("unknown action 'data.sett' (did you mean 'data.set'?)", english) == \
        "unknown action 'data.sett' (did you mean 'data.set'?)"
    assert engine_text("the network answered 503", french) == "the network answered 503"
    assert engine_text("must be at most 500 characters long", french) == "doit compter au plus 500 caractères"
    assert engine_text("must be at least 1", french) == "doit valoir au moins 1"


def test_a_publish_window_that_cannot_work_is_said_in_french(make_engine):
    engine = make_engine()
    recipe = {"name": "news", "trigger": {"uses": "builtins.manual"},
              "window": {"quiet_hours": "22h-7h", "at": "25:00"},
              "steps": [{"id": "post", "uses": "smms.publish", "with": {"text": "x"}, "window": {"next_day": True}}]}
    shown = {loc: engine_text(message, french) for loc, message in problems_of(engine, recipe).items()}
    assert shown == {
        "window.quiet_hours": "'22h' n’est pas une heure : écrivez-la HH:MM, par exemple 10:00",
        "window.at": "'25:00' n’est pas une heure : écrivez-la HH:MM, par exemple 10:00",
        "steps[0].window": "« le jour suivant » demande une heure (at), par exemple at: 10:00"}
