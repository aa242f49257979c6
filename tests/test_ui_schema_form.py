"""Forms from JSON Schema (ui/schema_form.py, templates/_schema_form.html): fields, rendering, parsing, locations."""
from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any, Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, Field, SecretStr

from beffroi_ui import schema_form
from beffroi_ui.web import environment


class Login(BaseModel):
    """How to sign in."""

    user: str
    password: SecretStr


class Sample(BaseModel):
    subject: str = Field(description="Subject line", max_length=200)
    body: str = ""
    html: str | None = Field(None, json_schema_extra={"contentMediaType": "text/html"})
    count: int = 3
    ratio: float | None = None
    public: bool = True
    quiet: bool = False
    consent: bool | None = None
    mode: Literal["fast", "slow"] = "fast"
    colour: Literal["red", "green", "blue", "cyan", "magenta"] | None = None
    tags: list[str] = []
    sizes: list[int] = []
    login: Login | None = None
    extra: dict[str, Any] = {}
    either: int | str = 0
    token: SecretStr | None = None
    base_url: str = Field("https://example.org", pattern="^https?://")


SCHEMA = Sample.model_json_schema()


def by_id(fields):
    found = {}
    for spec in fields:
        found[spec.id] = spec
        found.update(by_id(spec.fields))
    return found


def test_each_kind_of_property_gets_its_kind_of_field():
    fields = by_id(schema_form.describe(SCHEMA, "with"))
    kinds = {key: (spec.kind, spec.widget) for key, spec in fields.items()}
    assert kinds == {
        "with.subject": ("text", "text"), "with.body": ("textarea", "textarea"),
        "with.html": ("textarea", "textarea"), "with.count": ("integer", "number"),
        "with.ratio": ("number", "number"), "with.public": ("boolean", "checkbox"),
        "with.quiet": ("boolean", "checkbox"), "with.consent": ("boolean", "radios"),
        "with.mode": ("choice", "radios"), "with.colour": ("choice", "select"), "with.tags": ("list", "textarea"),
        "with.sizes": ("list", "textarea"), "with.login": ("object", "fieldset"),
        "with.login.user": ("text", "text"), "with.login.password": ("secret", "password"),
        "with.extra": ("json", "textarea"), "with.either": ("json", "textarea"),
        "with.token": ("secret", "password"), "with.base_url": ("text", "url")}
    assert fields["with.subject"].required and fields["with.subject"].hint == "Subject line"
    assert fields["with.login.user"].required and not fields["with.login"].required
    assert fields["with.login"].hint == "How to sign in."  # the nested model's docstring, from $defs
    assert fields["with.base_url"].label == "Base URL" and fields["with.count"].default_text == "3"
    assert fields["with.sizes"].item_kind == "integer" and fields["with.token"].nullable


def test_long_texts_by_media_type_format_name_or_length():
    schema = {"type": "object", "properties": {
        "message": {"type": "string"}, "notes": {"type": "string", "format": "markdown"},
        "summary": {"type": "string", "maxLength": 1500}, "name": {"type": "string", "maxLength": 998},
        "body_html": {"type": "string"}}}
    kinds = {spec.name: spec.kind for spec in schema_form.describe(schema)}
    assert kinds == {"message": "textarea", "notes": "textarea", "summary": "textarea", "name": "text",
                     "body_html": "textarea"}


def test_a_posted_form_comes_back_as_typed_values():
    form = {"with.subject": " Hello ", "with.body": "Line 1\r\nLine 2", "with.count": "1 200", "with.ratio": "2,5",
            "with.public": "false", "with.quiet": "true", "with.consent": "false", "with.mode": "slow",
            "with.colour": "cyan", "with.tags": "a\n\n b \n", "with.sizes": "1\n2", "with.login.user": "me",
            "with.login.password": "s3cret", "with.extra": '{"k": [1, 2]}', "with.either": '"text"',
            "with.token": "", "with.base_url": "https://example.org", "with.html": ""}
    values, problems = schema_form.parse(SCHEMA, form, "with")
    assert problems == []
    assert values == {"subject": "Hello", "body": "Line 1\nLine 2", "count": 1200, "ratio": 2.5, "public": False,
                      "quiet": True, "consent": False, "mode": "slow", "colour": "cyan", "tags": ["a", "b"],
                      "sizes": [1, 2], "login": {"user": "me", "password": "s3cret"}, "extra": {"k": [1, 2]},
                      "either": "text"}  # base_url as its default: left out
    Sample.model_validate(values)


def test_an_unticked_box_sends_nothing_and_means_no():
    values, _ = schema_form.parse(SCHEMA, {"with.subject": "x"}, "with")
    assert values["public"] is False  # its default is True: "no" must be said
    assert "quiet" not in values  # no, as its default: left out
    values, _ = schema_form.parse(SCHEMA, {"with.subject": "x", "with.public": "true"}, "with")
    assert "public" not in values


def test_empty_optional_fields_are_left_out():
    values, problems = schema_form.parse(SCHEMA, {"with.subject": "", "with.count": " ", "with.tags": "\n",
                                                  "with.consent": "", "with.colour": "", "with.public": "true"},
                                         "with")
    assert values == {} and problems == []


def test_what_cannot_be_converted_is_a_located_problem_not_an_exception():
    form = {"with.count": "three", "with.ratio": "1.2.3", "with.mode": "medium", "with.sizes": "1\ntwo",
            "with.extra": "{not json", "with.public": "maybe", "with.subject": "ok"}
    values, problems = schema_form.parse(SCHEMA, form, "with")
    assert values == {"subject": "ok"}
    assert {p.field for p in problems} == {"with.count", "with.ratio", "with.mode", "with.sizes", "with.extra",
                                           "with.public"}
    texts = {p.field: p.text for p in problems}
    assert texts["with.count"] == "Count: enter a whole number, e.g. 10."
    assert texts["with.extra"].startswith("Extra: this is not valid JSON")


def test_problems_are_in_the_visitors_language():
    def french(message, **values):
        known = {"%(label)s: enter a whole number, e.g. 10.": "%(label)s : saisissez un nombre entier."}
        return known.get(message, message) % values if values else known.get(message, message)

    _, problems = schema_form.parse(SCHEMA, {"with.count": "x"}, "with", translate=french)
    assert problems[0].text == "Count : saisissez un nombre entier."


def test_labels_and_hints_given_by_the_schema_can_be_translated():
    french = {"Count": "Nombre", "Subject line": "Objet du message", "User": "Utilisateur"}

    def translate(message, **values):
        return french.get(message, message) % values if values else french.get(message, message)

    fields = by_id(schema_form.describe(SCHEMA, "with", translate=translate))
    assert fields["with.count"].label == "Nombre" and fields["with.subject"].hint == "Objet du message"
    assert fields["with.login.user"].label == "Utilisateur" and fields["with.mode"].label == "Mode"
    _, problems = schema_form.parse(SCHEMA, {"with.count": "x"}, "with", translate=translate)
    assert problems[0].text.startswith("Nombre: ")
    placed = schema_form.locate(SCHEMA, [type("P", (), {"loc": "count", "message": "too big"})()], "with",
                                translate=translate)
    assert placed[0].text == "Nombre: too big"


def test_the_choices_labels_are_translated_and_a_booleans_yes_and_no_are_left_to_the_template():
    french = {"fast": "Rapide", "slow": "Lent", "red": "Rouge", "Yes": "?"}
    fields = by_id(schema_form.describe(SCHEMA, "with", translate=lambda message: french.get(message, message)))
    assert [(c.text, c.label, c.value) for c in fields["with.mode"].choices] == [("fast", "Rapide", "fast"),
                                                                                ("slow", "Lent", "slow")]
    assert fields["with.colour"].choices[0].label == "Rouge"
    assert [c.label for c in fields["with.consent"].choices] == ["Yes", "No"]
    html = render(list(by_id(schema_form.describe(SCHEMA, "with", translate=lambda m: french.get(m, m))).values()),
                  language="fr")
    assert '<label for="with.mode">Rapide</label>' in html and "Par défaut : Rapide" in html
    assert ">Oui</label>" in html and "<option value=\"red\">Rouge</option>" in html


def test_an_empty_default_is_not_said():
    schema = {"type": "object", "properties": {
        "text": {"type": "string", "default": ""}, "note": {"type": "string", "default": None},
        "tags": {"type": "array", "items": {"type": "string"}, "default": []},
        "extra": {"type": "object", "default": {}}, "count": {"type": "integer", "default": 0},
        "quiet": {"type": "boolean", "default": False}}}
    html = render(schema_form.describe(schema, "with"), language="fr")
    assert html.count("Par défaut") == 2 and "Par défaut : 0" in html and "Par défaut : non" in html
    assert not re.search(r"Par défaut :\s*<", html)
    assert 'id="with.text-hint"' not in html and 'aria-describedby="with.text-hint"' not in html
    fields = by_id(schema_form.describe(schema, "with"))
    assert fields["with.text"].has_default and not fields["with.text"].default_shown  # still the value left out


def test_in_templates_mode_any_field_may_hold_a_template():
    form = {"with.subject": "{{ trigger.title }}", "with.count": "{{ steps.a.count }}",
            "with.public": "true", "with.public--template": "{{ trigger.public }}", "with.mode": "fast",
            "with.mode--template": " {{ trigger.mode }} ", "with.tags": "{{ trigger.tags }}",
            "with.sizes": "1\n{{ trigger.size }}", "with.extra": "{{ trigger.extra }}"}
    values, problems = schema_form.parse(SCHEMA, form, "with", templates=True)
    assert problems == []
    assert values == {"subject": "{{ trigger.title }}", "count": "{{ steps.a.count }}",
                      "public": "{{ trigger.public }}", "mode": "{{ trigger.mode }}", "tags": "{{ trigger.tags }}",
                      "sizes": [1, "{{ trigger.size }}"], "extra": "{{ trigger.extra }}"}
    fields = by_id(schema_form.describe(SCHEMA, "with", templates=True))
    assert fields["with.count"].widget == "text" and fields["with.base_url"].widget == "text"
    # shown back: a template of a boolean or a choice goes in its text alternative
    shown = schema_form.form_values(SCHEMA, values, "with", templates=True)
    assert shown["with.public--template"] == "{{ trigger.public }}" and "with.public" not in shown
    assert shown["with.count"] == "{{ steps.a.count }}" and shown["with.sizes"] == "1\n{{ trigger.size }}"
    # without templates mode the same text is an error
    _, problems = schema_form.parse(SCHEMA, {"with.count": "{{ x }}"}, "with")
    assert [p.field for p in problems] == ["with.count"]


def test_values_shown_round_trip_and_secrets_are_never_shown():
    values = {"subject": "Hi", "count": 7, "ratio": 0.5, "public": False, "quiet": True, "consent": True,
              "mode": "slow", "colour": "red", "tags": ["x", "y"], "sizes": [3], "extra": {"a": 1},
              "login": {"user": "me", "password": "hunter2-secret"}, "token": "tok-secret"}
    shown = schema_form.form_values(SCHEMA, values, "with")
    assert "hunter2-secret" not in repr(shown) and "tok-secret" not in repr(shown)
    assert shown["with.tags"] == "x\ny" and shown["with.public"] == "false" and shown["with.count"] == "7"
    parsed, problems = schema_form.parse(SCHEMA, shown, "with")
    assert problems == []
    assert parsed == {k: v for k, v in values.items() if k not in ("token", "login")} | {"login": {"user": "me"}}
    assert schema_form.form_values(SCHEMA, {}, "with")["with.mode"] == "fast"  # defaults fill a new form
    assert "with.mode" not in schema_form.form_values(SCHEMA, {}, "with", defaults=False)


def test_a_secret_left_empty_is_kept_and_an_optional_one_can_be_removed():
    values, _ = schema_form.parse(SCHEMA, {"with.token": ""}, "with")
    assert "token" not in values
    values, _ = schema_form.parse(SCHEMA, {"with.token": "", "with.token--clear": "true"}, "with")
    assert values["token"] is None
    values, _ = schema_form.parse(SCHEMA, {"with.token": "new", "with.token--clear": "true"}, "with")
    assert values["token"] == "new"
    form = {"with.subject": "s", "with.token": "typed-secret", "with.login.password": "pw", "with.token--clear": ""}
    assert schema_form.without_secrets(SCHEMA, form, "with") == {"with.subject": "s"}


def test_the_engines_problems_find_their_fields():
    at = "steps[1].with"
    assert schema_form.field_for(SCHEMA, "steps[1].with.subject", "with", at=at) == "with.subject"
    assert schema_form.field_for(SCHEMA, "steps[1].with.tags[2]", "with", at=at) == "with.tags"
    assert schema_form.field_for(SCHEMA, "steps[1].with.login.password", "with", at=at) == "with.login.password"
    assert schema_form.field_for(SCHEMA, "steps[1].with.extra.deep.key", "with", at=at) == "with.extra"
    assert schema_form.field_for(SCHEMA, "steps[10].with.subject", "with", at=at) is None
    assert schema_form.field_for(SCHEMA, "steps[1].with.unknown", "with", at=at) is None
    assert schema_form.field_for(SCHEMA, "config.count", "config", at="config") == "config.count"

    class P:
        def __init__(self, loc, message):
            self.loc, self.message = loc, message

    placed = schema_form.locate(SCHEMA, [P("steps[1].with.count", "must be at least 1"),
                                         P("steps[1].with.nope", "unexpected field")], "with", at=at)
    assert [(p.field, p.text) for p in placed] == [("with.count", "Count: must be at least 1"),
                                                   ("with", "steps[1].with.nope: unexpected field")]


class Controls(HTMLParser):
    """The controls of a page, the ids and `for`s, and whether each control sits in a fieldset with a legend."""

    def __init__(self):
        super().__init__()
        self.controls: list[dict] = []
        self.ids: set[str] = set()
        self.labels: set[str] = set()
        self.depth = 0

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if "id" in attributes:
            self.ids.add(attributes["id"])
        if tag == "label":
            self.labels.add(attributes.get("for"))
        if tag in ("input", "select", "textarea") and attributes.get("type") != "hidden":
            self.controls.append(attributes)


def render(fields, values=None, errors=(), stored=(), language="en"):
    template = environment(language).from_string('{% from "_schema_form.html" import schema_fields %}'
                                                 '{{ schema_fields(fields, values, errors, stored, language) }}')
    return template.render(fields=fields, values=values or {}, errors=list(errors), stored=list(stored),
                           language=language)


def test_every_control_has_a_label_and_its_hint_and_error_are_linked():
    fields = schema_form.describe(SCHEMA, "with", templates=True)
    errors = [schema_form.FieldProblem("with.count", "Count: too many"),
              schema_form.FieldProblem("with.mode", "Mode: pick one")]
    html = render(fields, schema_form.form_values(SCHEMA, {"subject": "S"}, "with", templates=True), errors)
    parsed = Controls()
    parsed.feed(html)
    assert len(parsed.controls) > 20
    for control in parsed.controls:
        assert control["id"] in parsed.labels, control
        for described in (control.get("aria-describedby") or "").split():
            assert described in parsed.ids, (control, described)
    count = next(c for c in parsed.controls if c["id"] == "with.count")
    assert count["aria-invalid"] == "true" and "with.count-error" in count["aria-describedby"]
    assert 'id="with.count-error"' in html and "Count: too many" in html
    assert re.search(r'<fieldset class="field schema-choice field-error" aria-describedby="[^"]*with.mode-error"',
                     html)
    assert 'value="S"' in html and "(required)" in html and "Default: 3" in html
    assert html.index('type="hidden" name="with.public" value="false"') < html.index('id="with.public"')
    assert '<legend>Login</legend>' in html and 'id="with.login.password"' in html
    assert 'id="with.public--template"' in html and 'id="with.mode--template"' in html
    assert 'id="with.colour"' in html and "<select" in html


def test_a_secret_input_is_never_filled_and_says_when_a_value_is_stored():
    fields = schema_form.describe(SCHEMA, "config")
    html = render(fields, {"config.token": "leaked?"}, stored=["token"])
    assert "leaked?" not in html
    assert "Leave empty to keep the current value." in html and 'id="config.token--clear"' in html
    assert "Leave empty to keep" not in render(fields, {})
    french = render(fields, {}, stored=["token"], language="fr")
    assert "Laissez vide pour garder la valeur actuelle." in french
    decimals = {"type": "object", "properties": {"ratio": {"type": "number", "default": 2.5}}}
    assert "Par défaut : 2,5" in render(schema_form.describe(decimals), language="fr")
    assert "Default: 2.5" in render(schema_form.describe(decimals))


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from([f"with.{name}" for name in SCHEMA["properties"]] + ["with.login.user",
                                        "with.public--template", "with.mode--template", "other"]),
                       st.text(max_size=30)), st.booleans())
def test_parse_never_raises_whatever_is_typed(form, templates):
    values, problems = schema_form.parse(SCHEMA, form, "with", templates=templates)
    assert isinstance(values, dict)
    assert all(p.field.startswith("with.") for p in problems)


@pytest.mark.parametrize("name", ["mastodon", "smtp", "wordpress", "matomo", "bluesky", "plausible"])
def test_every_connection_type_of_the_built_in_plugins_makes_a_form(make_engine, name):
    engine = make_engine()
    schema = engine.registry.connection_types[name].config_model.model_json_schema()
    fields = schema_form.describe(schema, "config")
    assert fields and all(spec.kind != "json" for spec in fields), name
    parsed = Controls()
    parsed.feed(render(fields, schema_form.form_values(schema, {}, "config")))
    assert all(control["id"] in parsed.labels for control in parsed.controls)
