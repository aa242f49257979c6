"""`email.send_campaign` against a local SMTP server and the built-in contact base (crm functions)."""
from __future__ import annotations

import re
import threading

import pytest
from fastapi.testclient import TestClient

from beffroi import ActionContext, deliveries, outbox, plugins
from beffroi.api import create_app
from beffroi.recipes import RecipeInvalid
from beffroi_plugins.crm.contacts import add_to_list, find_contact, unsubscribe, upsert_contact
from beffroi_plugins.crm.i18n import languages

from .helpers import recipe
from .test_email_servers import WAIT, password_check, smtp_factory  # noqa: F401

PUBLIC = "https://beffroi.example.org"
SENDER = {"from_address": "communication@namur.example", "from_name": "Ville de Namur"}
CONSENTING = ["ann@example.org", "bob@example.org", "eve@example.org"]


@pytest.fixture
def engine(make_engine, database_url):
    engine = make_engine(database_url, allowed_networks=["127.0.0.0/8"], public_url=PUBLIC)
    people = [("ann@example.org", {"first_name": "Ann", "last_name": "Dupont", "organisation": "Le Soir"}, True),
              ("bob@example.org", {"first_name": "Bob", "custom": {"city": "Namur"}}, True),
              ("carl@example.org", {"first_name": "Carl"}, False),  # no consent
              ("dora@example.org", {"first_name": "Dora"}, True),  # unsubscribes below
              ("eve@example.org", {"organisation": "<b>Tom & Jerry</b>"}, True)]  # no first name
    for email, fields, consent in people:
        upsert_contact(engine.db, email, consent=consent, consent_source="test", **fields)
        add_to_list(engine.db, email, "press", "test")
    upsert_contact(engine.db, "frank@example.org", consent=True, consent_source="test")
    add_to_list(engine.db, "frank@example.org", "partners", "test")  # another list
    unsubscribe(engine.db, find_contact(engine.db, "dora@example.org")["id"], "press")
    return engine


def smtp(engine, port, name="city-smtp", **config):
    engine.connections.save(name, "smtp", {"host": "127.0.0.1", "port": port, "security": "none", **SENDER, **config})
    return name


def campaign(connection=None, retry=None, timeout=None, **fields):
    step = {"id": "news", "uses": "email.send_campaign",
            "with": {"list": "press", "subject": "{{ trigger.title }} — [[ contact.first_name or 'Madame, Monsieur' ]]",
                     "text": "Bonjour [[ contact.first_name or 'à vous' ]],\n\n{{ trigger.summary }}",
                     "rate_per_minute": 6000, **fields}}
    step.update({k: v for k, v in {"connection": connection, "timeout": timeout}.items() if v})
    if retry:
        step["retry"] = {"attempts": retry, "backoff": "10ms"}
    return step


EVENT = {"title": "Fête de la musique", "summary": "Le programme: {{ pas un modèle }} et [[Page]]."}


def run(engine, *steps, event=EVENT, **kwargs):
    result = engine.run_recipe(engine.validate(recipe(*steps)), event, **kwargs)
    return result, {s["id"]: s for s in result["steps"]}


def body(message, kind="plain") -> str:
    """A body part's text as written (SMTP carried it with CRLF line ends)."""
    return message.get_body((kind,)).get_content().replace("\r\n", "\n")


def unsubscribe_link(message) -> str:
    """The https link of the List-Unsubscribe header."""
    header = message["List-Unsubscribe"]
    assert header.startswith("<") and header.endswith(">")
    return header[1:-1]


def test_each_consenting_member_gets_one_personalised_message(engine, smtp_factory):
    mailbox, port = smtp_factory()
    result, steps = run(engine, campaign(smtp(engine, port), html="<p>Bonjour [[ contact.organisation ]]</p>"))
    assert result["status"] == "succeeded", result["error"]
    output = steps["news"]["output"]
    assert {k: output[k] for k in ("list", "recipients", "sent", "already_sent", "skipped", "failed", "failures")} == {
        "list": "press", "recipients": 3, "sent": 3, "already_sent": 0, "skipped": 2, "failed": 0, "failures": []}
    assert (output["connection"], output["outbox"], output["warnings"]) == ("city-smtp", False, [])
    assert sorted(a for m in mailbox.messages for a in m["to"]) == CONSENTING  # not carl, dora nor frank
    assert list(mailbox.per_connection.values()) == [3]  # one connection for the whole batch

    [ann], [eve] = mailbox.to("ann@example.org"), mailbox.to("eve@example.org")
    assert ann["To"] == "Ann Dupont <ann@example.org>" and eve["To"] == "eve@example.org"
    assert ann["From"] == "Ville de Namur <communication@namur.example>"
    assert ann["Subject"] == "Fête de la musique — Ann"
    assert eve["Subject"] == "Fête de la musique — Madame, Monsieur"
    text = body(ann, "plain")
    # what the recipe inserted is never read as a template: its braces and brackets stay as they were
    assert text.startswith("Bonjour Ann,\n\nLe programme: {{ pas un modèle }} et [[Page]].")
    assert body(eve, "plain").startswith("Bonjour à vous,")
    assert body(eve, "html").startswith("<p>Bonjour &lt;b&gt;Tom &amp; Jerry&lt;/b&gt;</p>")
    assert ann["Message-ID"] != eve["Message-ID"]


def test_data_in_the_html_body_is_escaped_for_every_recipient_and_stays_raw_in_the_text(engine):
    fields = {"html": "<p>{{ trigger.name }} [[ contact.organisation ]] [[ contact.organisation|safe ]]</p>",
              "text": "{{ trigger.name }} [[ contact.organisation ]]"}
    result, _ = run(engine, campaign(**fields), event={**EVENT, "name": "<img src=x onerror=alert(1)>"})
    assert result["status"] == "succeeded", result["error"]
    items, _ = outbox.items(engine.db, channel="email")
    [eve] = [item["payload"] for item in items if item["payload"]["envelope_to"] == ["eve@example.org"]]
    assert eve["html"].startswith("<p>&lt;img src=x onerror=alert(1)&gt; &lt;b&gt;Tom &amp; Jerry&lt;/b&gt; "
                                  "<b>Tom & Jerry</b></p>")
    assert eve["text"].startswith("<img src=x onerror=alert(1)> <b>Tom & Jerry</b>")


def test_unsubscribe_headers_and_links_are_signed_for_each_recipient(engine, smtp_factory):
    mailbox, port = smtp_factory()
    result, _ = run(engine, campaign(smtp(engine, port, unsubscribe_mailto="desinscription@namur.example"),
                                     html="<html><body><p>Bonjour</p></body></html>"))
    assert result["status"] == "succeeded", result["error"]
    for email in CONSENTING:
        [message] = mailbox.to(email)
        https, mailto = message["List-Unsubscribe"].split(", ")
        assert mailto == "<mailto:desinscription@namur.example?subject=unsubscribe%20press>"
        url = https[1:-1]
        assert url.startswith(f"{PUBLIC}/u/")
        assert engine.signer.verify(url.rpartition("/")[2]) == {"c": find_contact(engine.db, email)["id"], "l": "press",
                                                                "g": "fr"}  # the list's language: the first offered
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert message["List-Id"] == "press <press.namur.example>"
        # one link per language the unsubscribe page speaks: exactly its catalogs
        assert languages() == ("fr", "nl", "de", "en")
        assert body(message, "plain").endswith(
            f"\n\n-- \nSe désinscrire : {url}?lang=fr\nUitschrijven: {url}?lang=nl\nAbmelden: {url}?lang=de\n"
            f"Unsubscribe: {url}?lang=en\n")
        html = body(message, "html")
        assert (f'<a href="{url}?lang=fr" lang="fr">Se désinscrire</a> · '
                f'<a href="{url}?lang=nl" lang="nl">Uitschrijven</a> · '
                f'<a href="{url}?lang=de" lang="de">Abmelden</a> · '
                f'<a href="{url}?lang=en" lang="en">Unsubscribe</a>'
                f'</p>\n</body></html>') in html


def test_the_footer_offers_the_languages_of_the_list_or_the_officers_own_label(engine, smtp_factory):
    mailbox, port = smtp_factory()
    result, _ = run(engine, campaign(smtp(engine, port), languages=["NL", "fr", "nl"],
                                     html="<p>Hallo</p>"))
    assert result["status"] == "succeeded", result["error"]
    [message] = mailbox.to("bob@example.org")
    url = unsubscribe_link(message)
    assert engine.signer.verify(url.rpartition("/")[2])["g"] == "nl"
    assert body(message, "plain").endswith(f"-- \nUitschrijven: {url}?lang=nl\nSe désinscrire : {url}?lang=fr\n")
    assert body(message, "html").endswith(f'<a href="{url}?lang=nl" lang="nl">Uitschrijven</a> · '
                                          f'<a href="{url}?lang=fr" lang="fr">Se désinscrire</a></p>\n')

    with pytest.raises(RecipeInvalid, match="the unsubscribe page has no es version; choose among fr, nl, de, en"):
        engine.validate(recipe(campaign(languages=["es", "fr"])))

    mailbox, port = smtp_factory()
    result, _ = run(engine, campaign(smtp(engine, port, name="other"), unsubscribe_label="Plus de nouvelles ?"))
    [message] = mailbox.to("bob@example.org")
    assert body(message, "plain").endswith(f"-- \nPlus de nouvelles ?: {unsubscribe_link(message)}\n")


def test_a_link_placed_by_the_author_is_not_added_twice(engine, smtp_factory):
    mailbox, port = smtp_factory()
    result, _ = run(engine, campaign(smtp(engine, port), text="Bonjour. Plus de messages ? [[ unsubscribe_url ]]"))
    assert result["status"] == "succeeded", result["error"]
    [message] = mailbox.to("bob@example.org")
    url = unsubscribe_link(message)
    assert body(message, "plain").strip() == f"Bonjour. Plus de messages ? {url}"


def test_one_click_unsubscribe_takes_the_person_off_the_next_campaign(engine, smtp_factory):
    mailbox, port = smtp_factory()
    name = smtp(engine, port)
    run(engine, campaign(name))
    url = unsubscribe_link(mailbox.to("bob@example.org")[0])
    answer = TestClient(create_app(engine)).post(url.removeprefix(PUBLIC), content="List-Unsubscribe=One-Click",
                                                headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 200
    _, steps = run(engine, campaign(name))
    assert (steps["news"]["output"]["sent"], steps["news"]["output"]["skipped"]) == (2, 3)
    assert len(mailbox.to("bob@example.org")) == 1 and len(mailbox.to("ann@example.org")) == 2


def test_a_refused_recipient_is_reported_and_the_campaign_goes_on(engine, smtp_factory):
    mailbox, port = smtp_factory()
    mailbox.always["bob@example.org"] = "550 5.1.1 Mailbox unavailable"
    result, steps = run(engine, campaign(smtp(engine, port), retry=3))
    assert result["status"] == "succeeded", result["error"]
    output = steps["news"]["output"]
    assert (output["sent"], output["failed"]) == (2, 1) and steps["news"]["attempts"] == 1
    assert output["failures"] == [{"email": "bob@example.org",
                                   "error": "550 5.1.1 Mailbox unavailable"}]
    assert sorted(a for m in mailbox.messages for a in m["to"]) == ["ann@example.org", "eve@example.org"]


def test_a_greylisted_recipient_is_reached_by_the_retry_and_nobody_gets_two(engine, smtp_factory):
    mailbox, port = smtp_factory()
    mailbox.replies["bob@example.org"] = ["451 4.7.1 Greylisted, try again later"]
    result, steps = run(engine, campaign(smtp(engine, port), retry=2))
    assert result["status"] == "succeeded", result["error"]
    output = steps["news"]["output"]
    assert steps["news"]["attempts"] == 2 and (output["sent"], output["already_sent"]) == (1, 2)
    assert [len(mailbox.to(email)) for email in CONSENTING] == [1, 1, 1]


def test_without_retries_a_greylisted_recipient_fails_the_step_so_it_can_be_retried(engine, smtp_factory):
    mailbox, port = smtp_factory()
    mailbox.replies["bob@example.org"] = ["451 4.7.1 Greylisted, try again later"]
    result, steps = run(engine, campaign(smtp(engine, port)))
    assert result["status"] == "failed"
    assert steps["news"]["error"] == ("1 recipient(s) refused for now, e.g. bob@example.org: 451 4.7.1 Greylisted, "
                                      "try again later (2 of 3 sent so far, 1 left; the step continues with them "
                                      "when it is retried)")
    assert [len(mailbox.to(email)) for email in CONSENTING] == [1, 0, 1]


def test_a_server_closing_the_connection_after_some_messages_gets_a_new_one(engine, smtp_factory):
    mailbox, port = smtp_factory()
    mailbox.max_per_connection = 2
    result, steps = run(engine, campaign(smtp(engine, port)))
    assert result["status"] == "succeeded", result["error"]
    assert steps["news"]["output"]["sent"] == 3 and steps["news"]["attempts"] == 1
    assert [len(mailbox.to(email)) for email in CONSENTING] == [1, 1, 1]
    assert sorted(mailbox.per_connection.values()) == [1, 2]  # two messages on the first connection, one on the next


def test_refused_credentials_stop_the_campaign_before_any_message(engine, smtp_factory):
    mailbox, port = smtp_factory(auth_require_tls=False, authenticator=password_check("news", "right-pass"))
    result, steps = run(engine, campaign(smtp(engine, port, username="news", password="wrong-pass-1"), retry=3))
    assert result["status"] == "failed" and steps["news"]["attempts"] == 1
    error = steps["news"]["error"]
    assert error.startswith("the mail server refused the credentials of connection 'city-smtp'")
    assert error.endswith("(0 of 3 sent so far, 3 left; the step continues with them when it is retried)")
    assert "wrong-pass-1" not in error and mailbox.data_seen == 0


def test_a_rerun_step_sends_only_to_who_has_not_got_it(engine, smtp_factory):
    mailbox, port = smtp_factory()
    run_id = engine.create_run(engine.validate(recipe(campaign(smtp(engine, port)))), EVENT)
    earlier = ActionContext(run_id=run_id, step_id="news", idempotency_key=f"{run_id}:news", recipe="", db=engine.db)
    deliveries.record(earlier, earlier.idempotency_key, "bob@example.org", result={"message_id": "<earlier@x>"})
    assert engine.execute(run_id) == "succeeded"
    output = engine.runs.detail(run_id)["steps"][0]["output"]
    assert (output["sent"], output["already_sent"]) == (2, 1)
    assert mailbox.to("bob@example.org") == [] and len(mailbox.messages) == 2
    assert deliveries.done_targets(engine.db, f"{run_id}:news") == set(CONSENTING)


def test_a_step_stopped_by_its_timeout_continues_on_retry(engine, smtp_factory):
    mailbox, port = smtp_factory()
    # one message a minute in a 10 s step: each attempt sends one message, then stops cleanly before its deadline
    result, steps = run(engine, campaign(smtp(engine, port), retry=2, timeout="10s", rate_per_minute=1))
    assert result["status"] == "failed" and steps["news"]["attempts"] == 2
    assert steps["news"]["error"] == ("stopped before the step's time limit (raise the step's timeout for a large "
                                      "list) (2 of 3 sent so far, 1 left; the step continues with them when it is "
                                      "retried)")
    assert [len(mailbox.to(email)) for email in CONSENTING] == [1, 1, 0]


def test_cancelling_the_run_stops_the_campaign_between_two_messages(engine, smtp_factory):
    mailbox, port = smtp_factory()
    mailbox.hold_message = 1  # the second message waits at DATA until released
    _, token = engine.tokens.create("editor", "editor")
    api = TestClient(create_app(engine), headers={"Authorization": f"Bearer {token}"})
    run_id = engine.create_run(engine.validate(recipe(campaign(smtp(engine, port)))), EVENT)
    worker = threading.Thread(target=engine.execute, args=(run_id,))
    worker.start()
    assert mailbox.held.wait(WAIT)
    assert api.post(f"/api/runs/{run_id}/cancel").status_code == 200
    mailbox.release.set()  # the held message is answered 451 (not delivered); no further message is tried
    worker.join(WAIT)
    run_ = engine.runs.detail(run_id)
    assert run_["status"] == "cancelled"
    assert run_["steps"][0]["error"].startswith("the run was cancelled (1 of 3 sent so far")
    assert len(mailbox.messages) == 1 and mailbox.data_seen == 2


def test_preview_shows_the_first_message_and_the_counts_and_sends_nothing(engine, smtp_factory):
    mailbox, port = smtp_factory()
    result, steps = run(engine, campaign(smtp(engine, port), rate_per_minute=6), dry_run=True)
    assert result["status"] == "succeeded", result["error"]
    preview = steps["news"]["output"]
    assert {k: preview[k] for k in ("recipients", "would_send", "already_sent", "skipped", "estimated_minutes")} == {
        "recipients": 3, "would_send": 3, "already_sent": 0, "skipped": 2, "estimated_minutes": 0.5}
    first = preview["first_message"]
    assert first["headers"]["To"] == "Ann Dupont <ann@example.org>"
    assert first["headers"]["Subject"] == "Fête de la musique — Ann"
    assert first["headers"]["List-Unsubscribe"].startswith(f"<{PUBLIC}/u/")
    assert first["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert first["text"].startswith("Bonjour Ann,") and "Se désinscrire" in first["text"]
    assert mailbox.data_seen == 0
    assert deliveries.done_targets(engine.db, f"{result['id']}:news") == set()


def test_preview_warns_when_unsubscribe_links_point_to_this_machine(make_engine, engine, smtp_factory):
    local = make_engine(engine.settings.database_url, allowed_networks=["127.0.0.0/8"])  # public_url left default
    _, port = smtp_factory()
    _, steps = run(local, campaign(smtp(local, port)), dry_run=True)
    assert steps["news"]["output"]["warnings"] == [
        "unsubscribe links point to http://127.0.0.1:8000, which recipients may not be able to open: set "
        "BEFFROI_PUBLIC_URL to the public https address of this Beffroi"]


def test_without_a_connection_the_campaign_goes_to_the_outbox(engine):
    result, steps = run(engine, campaign())
    assert result["status"] == "succeeded", result["error"]
    output = steps["news"]["output"]
    assert (output["sent"], output["connection"], output["outbox"]) == (3, "outbox", True)
    assert output["note"] == "recorded in the outbox: nothing was sent"
    items, total = outbox.items(engine.db, channel="email")
    assert total == 3 and all(item["outbox"] and item["connection"] == "outbox" for item in items)
    ann = next(i["payload"] for i in items if i["payload"]["envelope_to"] == ["ann@example.org"])
    assert ann["headers"]["Subject"] == "Fête de la musique — Ann"
    assert ann["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_per_recipient_fields_are_checked_when_the_recipe_is_saved(engine):
    with pytest.raises(RecipeInvalid) as caught:
        engine.validate(recipe(campaign(text="Bonjour [[ contact.frist_name ]]",
                                        html="<p>[[ contact.first_name | nope ]]</p>")))
    problems = {p.loc: p.message for p in caught.value.problems}
    assert problems["steps[0].with.text"] == (
        "[[ contact.frist_name ]]: contacts have no field 'frist_name' (did you mean first_name?); they "
        "have email, first_name, last_name, organisation and custom.<name>")
    assert problems["steps[0].with.html"] == (
        "[[ contact.first_name | nope ]]: template syntax error: unknown filter 'nope' (line 1)")


def test_curly_contact_fields_get_a_hint_instead_of_an_empty_name(engine, smtp_factory):
    mailbox, port = smtp_factory()
    text = "Bonjour {% raw %}{{ contact.first_name }}{% endraw %}"  # what a Jinja user may try first
    result, steps = run(engine, campaign(smtp(engine, port), text=text))
    assert result["status"] == "failed"
    assert steps["news"]["error"] == ("steps[0].with.text: write [[ contact.first_name ]] for a per-recipient "
                                      "field, not {{ contact.first_name }}")
    assert mailbox.data_seen == 0


def test_an_unknown_list_fails_the_step_clearly(engine):
    _, steps = run(engine, campaign(list="nope", retry=3))
    assert steps["news"]["error"] == "no list named 'nope'" and steps["news"]["attempts"] == 1


def test_without_a_contact_directory_the_campaign_says_what_is_missing(make_engine, monkeypatch, smtp_factory):
    without_crm = tuple(name for name in plugins.BUILTIN_PLUGINS if name != "beffroi_plugins.crm")
    monkeypatch.setattr(plugins, "BUILTIN_PLUGINS", without_crm)
    engine = make_engine(allowed_networks=["127.0.0.0/8"], public_url=PUBLIC)
    assert "crm" not in engine.registry.plugins and "email.send_campaign" in engine.registry.actions
    missing = ("no plugin provides ContactDirectory (contact lists to send messages to, with consent and unsubscribe "
               "links; a crm plugin provides it): install or enable a plugin that does")
    with pytest.raises(RecipeInvalid, match=re.escape(missing)):
        engine.validate(recipe(campaign(languages=["fr"])))
    mailbox, port = smtp_factory()
    result, steps = run(engine, campaign(smtp(engine, port), retry=3))
    assert result["status"] == "failed" and steps["news"]["error"] == missing
    assert steps["news"]["attempts"] == 1 and mailbox.messages == []  # not retried: a plugin is missing
    assert run(engine, campaign(smtp(engine, port)), dry_run=True)[1]["news"]["error"] == missing
