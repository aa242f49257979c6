"""`email.send` against local SMTP servers: messages, envelopes, TLS, logins, server errors, idempotency, outbox."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from beffroi import outbox
from beffroi.api import create_app
from beffroi.recipes import RecipeInvalid
from beffroi.store.models import RunRow, StepRunRow

from .helpers import recipe
from .test_email_servers import GreetingServer, free_port, password_check, self_signed, smtp_factory  # noqa: F401

SENDER = {"from_address": "communication@namur.example", "from_name": "Ville de Namur"}


@pytest.fixture
def engine(make_engine, database_url):
    return make_engine(database_url, allowed_networks=["127.0.0.0/8"], public_url="https://beffroi.example.org")


def smtp(engine, port, name="city-smtp", **config):
    """Store an smtp connection to the local server."""
    engine.connections.save(name, "smtp", {"host": "127.0.0.1", "port": port, "security": "none", **SENDER, **config})
    return name


def send_step(connection=None, retry=None, **fields):
    step = {"id": "mail", "uses": "email.send", "with": {"to": "alice@example.org", "subject": "Hello",
                                                         "text": "Bonjour", **fields}}
    if connection:
        step["connection"] = connection
    if retry:
        step["retry"] = {"attempts": retry, "backoff": "10ms"}
    return step


def run(engine, *steps, event=None, **kwargs):
    result = engine.run_recipe(engine.validate(recipe(*steps)), event or {}, **kwargs)
    return result, {s["id"]: s for s in result["steps"]}


def test_plain_message_reaches_the_server_with_the_sender_and_a_stable_message_id(engine, smtp_factory):
    mailbox, port = smtp_factory()
    result, steps = run(engine, send_step(smtp(engine, port), subject="{{ trigger.title }}",
                                          text="Hello {{ trigger.name }}"), event={"title": "Fête\nde la musique",
                                                                                 "name": "Zoë"})
    assert result["status"] == "succeeded", result["error"]
    [delivered] = mailbox.messages
    message = delivered["message"]
    assert delivered["from"] == "communication@namur.example" and delivered["to"] == ["alice@example.org"]
    assert message["From"] == "Ville de Namur <communication@namur.example>"
    assert message["To"] == "alice@example.org"
    assert message["Subject"] == "Fête de la musique"  # a line break from the feed cannot break the header
    assert message.get_content_type() == "text/plain" and message.get_content().strip() == "Hello Zoë"
    output = steps["mail"]["output"]
    assert output["message_id"] == message["Message-ID"]
    assert output["message_id"].endswith("@namur.example>")
    assert output["accepted"] == ["alice@example.org"] and output["refused"] == {}
    assert (output["connection"], output["outbox"]) == ("city-smtp", False)


def test_text_and_html_make_one_multipart_alternative_message(engine, smtp_factory):
    mailbox, port = smtp_factory()
    result, _ = run(engine, send_step(smtp(engine, port), html="<p>Bonjour <b>à tous</b></p>"))
    assert result["status"] == "succeeded"
    message = mailbox.messages[0]["message"]
    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]
    assert message.get_body(("html",)).get_content().strip() == "<p>Bonjour <b>à tous</b></p>"
    assert message.get_body(("plain",)).get_content().strip() == "Bonjour"


def test_cc_and_bcc_are_in_the_envelope_and_bcc_in_no_header(engine, smtp_factory):
    mailbox, port = smtp_factory()
    result, steps = run(engine, send_step(smtp(engine, port), to=["Alice <alice@example.org>", "bob@example.org"],
                                          cc='"Dupont, Jean" <jean@example.org>',
                                          bcc="boss@example.org; dpo@example.org", reply_to="presse@namur.example"))
    assert result["status"] == "succeeded", result["error"]
    [delivered] = mailbox.messages
    assert sorted(delivered["to"]) == ["alice@example.org", "bob@example.org", "boss@example.org", "dpo@example.org",
                                       "jean@example.org"]
    message = delivered["message"]
    assert message["To"] == "Alice <alice@example.org>, bob@example.org"
    assert message["Cc"] == '"Dupont, Jean" <jean@example.org>'
    assert message["Reply-To"] == "presse@namur.example"
    assert message["Bcc"] is None and b"boss@" not in message.as_bytes()
    assert sorted(steps["mail"]["output"]["accepted"]) == sorted(delivered["to"])


def test_one_refused_recipient_is_reported_and_the_others_get_it(engine, smtp_factory):
    mailbox, port = smtp_factory()
    mailbox.always["gone@example.org"] = "550 5.1.1 Mailbox unavailable"
    result, steps = run(engine, send_step(smtp(engine, port), to=["alice@example.org", "gone@example.org"]))
    assert result["status"] == "succeeded"
    assert steps["mail"]["output"]["refused"] == {"gone@example.org": "550 5.1.1 Mailbox unavailable"}
    assert steps["mail"]["output"]["accepted"] == ["alice@example.org"]
    assert [m["to"] for m in mailbox.messages] == [["alice@example.org"]]


def test_login_over_starttls_with_a_private_authority(engine, smtp_factory):
    context, cert = self_signed()
    mailbox, port = smtp_factory(tls_context=context, require_starttls=True, auth_require_tls=True,
                                 authenticator=password_check("news", "s3cret-pass"))
    name = smtp(engine, port, security="starttls", username="news", password="s3cret-pass", tls_ca_certificate=cert)
    result, _ = run(engine, send_step(name))
    assert result["status"] == "succeeded", result["error"]
    assert mailbox.messages[0]["tls"] is True and mailbox.messages[0]["login"] == b"news"
    assert "s3cret-pass" not in str(engine.runs.detail(result["id"]))


def test_an_untrusted_certificate_stops_at_once_without_sending(engine, smtp_factory):
    context, _ = self_signed()
    mailbox, port = smtp_factory(tls_context=context, require_starttls=True)
    result, steps = run(engine, send_step(smtp(engine, port, security="starttls"), retry=3))
    assert result["status"] == "failed"
    assert steps["mail"]["attempts"] == 1
    assert "certificate of 127.0.0.1:" in steps["mail"]["error"] and "not trusted" in steps["mail"]["error"]
    assert mailbox.messages == []


def test_tls_from_the_start_on_the_ssl_port(engine, smtp_factory):
    context, cert = self_signed()
    mailbox, port = smtp_factory(ssl_context=context, auth_require_tls=False,  # aiosmtpd: AUTH over SMTPS needs it
                                 authenticator=password_check("news", "pw-12345"))
    name = smtp(engine, port, security="ssl", username="news", password="pw-12345", tls_ca_certificate=cert)
    result, _ = run(engine, send_step(name))
    assert result["status"] == "succeeded", result["error"]
    assert mailbox.messages[0]["tls"] is True and mailbox.messages[0]["login"] == b"news"


def test_login_without_tls_to_a_server_on_this_machine(engine, smtp_factory):
    mailbox, port = smtp_factory(auth_require_tls=False, authenticator=password_check("news", "pw-12345"))
    result, _ = run(engine, send_step(smtp(engine, port, username="news", password="pw-12345")))
    assert result["status"] == "succeeded", result["error"]
    assert mailbox.messages[0]["login"] == b"news" and mailbox.messages[0]["tls"] is False


def test_refused_credentials_fail_the_step_at_once_and_say_so(engine, smtp_factory):
    mailbox, port = smtp_factory(auth_require_tls=False, authenticator=password_check("news", "right-pass"))
    name = smtp(engine, port, username="news", password="wrong-pass-123")
    result, steps = run(engine, send_step(name, retry=3))
    assert result["status"] == "failed"
    error = steps["mail"]["error"]
    assert error.startswith("the mail server refused the credentials of connection 'city-smtp' (user name or password)")
    assert "535" in error and "wrong-pass-123" not in error
    assert steps["mail"]["attempts"] == 1  # retrying a wrong password only gets the account locked
    assert mailbox.messages == []


def test_connection_refused_is_retried_then_reported(engine):
    port = free_port()
    result, steps = run(engine, send_step(smtp(engine, port), retry=2))
    assert result["status"] == "failed"
    assert steps["mail"]["attempts"] == 2
    assert steps["mail"]["error"] == f"cannot connect to 127.0.0.1:{port} (connection refused)"


def test_a_busy_server_421_is_retried(engine):
    busy = GreetingServer("421 4.3.2 Too many connections, try later")
    try:
        result, steps = run(engine, send_step(smtp(engine, busy.port), retry=2))
    finally:
        busy.stop()
    assert result["status"] == "failed" and steps["mail"]["attempts"] == 2
    assert steps["mail"]["error"] == (f"127.0.0.1:{busy.port} is not taking mail now: "
                                      "421 4.3.2 Too many connections, try later")


def test_a_server_that_does_not_answer_is_reported_as_a_timeout(engine):
    silent = GreetingServer(None)
    try:
        result, steps = run(engine, send_step(smtp(engine, silent.port, timeout=0.3), retry=2))
    finally:
        silent.stop()
    assert result["status"] == "failed" and steps["mail"]["attempts"] == 2
    assert steps["mail"]["error"] == f"127.0.0.1:{silent.port} did not answer within 0.3s"


def test_greylisting_451_is_retried_then_delivered_once(engine, smtp_factory):
    mailbox, port = smtp_factory()
    mailbox.replies["alice@example.org"] = ["451 4.7.1 Greylisted, try again later"]
    result, steps = run(engine, send_step(smtp(engine, port), retry=3))
    assert result["status"] == "succeeded", result["error"]
    assert steps["mail"]["attempts"] == 2
    assert len(mailbox.to("alice@example.org")) == 1


def test_a_permanent_refusal_of_every_recipient_is_not_retried(engine, smtp_factory):
    mailbox, port = smtp_factory()
    mailbox.always["alice@example.org"] = "550 5.1.1 Mailbox unavailable"
    _, steps = run(engine, send_step(smtp(engine, port), retry=3))
    assert steps["mail"]["attempts"] == 1
    assert steps["mail"]["error"] == ("the mail server refused the message: "
                                      "alice@example.org: 550 5.1.1 Mailbox unavailable")


def test_a_resumed_step_does_not_send_again(engine, smtp_factory):
    mailbox, port = smtp_factory()
    recipe_model = engine.validate(recipe(send_step(smtp(engine, port))))
    run_id = engine.create_run(recipe_model, {})
    assert engine.execute(run_id) == "succeeded"
    first = engine.runs.detail(run_id)["steps"][0]["output"]
    with engine.db.session() as session:  # as if the process died after the send, before the journal write
        session.execute(update(StepRunRow).where(StepRunRow.run_id == run_id)
                        .values(status="running", output=None, finished_at=None))
        session.execute(update(RunRow).where(RunRow.id == run_id).values(status="running", finished_at=None))
    assert engine.runner.execute(run_id, from_statuses=("running",)) == "succeeded"
    step = engine.runs.detail(run_id)["steps"][0]
    assert step["attempts"] == 2
    assert step["output"] == {**first, "already_sent": True}
    assert len(mailbox.messages) == 1


def test_private_addresses_are_refused_unless_the_operator_allows_them(make_engine, database_url, smtp_factory):
    engine = make_engine(database_url)  # no BEFFROI_ALLOWED_NETWORKS
    mailbox, port = smtp_factory()
    _, steps = run(engine, send_step(smtp(engine, port), retry=3))
    assert steps["mail"]["attempts"] == 1
    assert steps["mail"]["error"] == ("mail server '127.0.0.1' is at 127.0.0.1 (loopback); to allow it add "
                                      "127.0.0.1/32 (or its network) to BEFFROI_ALLOWED_NETWORKS")
    assert mailbox.messages == []


HOSTILE = {"name": "<img src=x onerror=alert(1)>"}


def test_data_in_the_html_body_is_escaped_and_stays_raw_in_the_text(engine, smtp_factory):
    mailbox, port = smtp_factory()
    result, _ = run(engine, send_step(smtp(engine, port), subject="Hi {{ trigger.name }}",
                                      text="Hello {{ trigger.name }}", html="<p>Hello {{ trigger.name }}</p>"),
                    event=HOSTILE)
    assert result["status"] == "succeeded", result["error"]
    message = mailbox.messages[0]["message"]
    assert message.get_body(("html",)).get_content().strip() == "<p>Hello &lt;img src=x onerror=alert(1)&gt;</p>"
    assert message.get_body(("plain",)).get_content().strip() == "Hello <img src=x onerror=alert(1)>"
    assert message["Subject"] == "Hi <img src=x onerror=alert(1)>"


def test_an_author_keeps_markup_in_the_html_body_with_safe(engine):
    result, _ = run(engine, send_step(html="{{ trigger.intro|safe }}<p>{{ trigger.name }}</p>"),
                    event={**HOSTILE, "intro": "<h1>Bienvenue</h1>"})
    assert result["status"] == "succeeded", result["error"]
    [item], _ = outbox.items(engine.db, channel="email")
    assert item["payload"]["html"].strip() == "<h1>Bienvenue</h1><p>&lt;img src=x onerror=alert(1)&gt;</p>"


def test_without_a_connection_the_message_goes_to_the_outbox(engine):
    result, steps = run(engine, send_step(html="<p>Bonjour</p>"))
    assert result["status"] == "succeeded", result["error"]
    output = steps["mail"]["output"]
    assert (output["connection"], output["outbox"]) == ("outbox", True)
    assert output["note"] == "recorded in the outbox: nothing was sent"
    items, total = outbox.items(engine.db, channel="email")
    assert total == 1 and items[0]["outbox"] is True and items[0]["connection"] == "outbox"
    payload = items[0]["payload"]
    assert payload["headers"]["To"] == "alice@example.org" and payload["headers"]["Subject"] == "Hello"
    assert payload["headers"]["Message-ID"] == output["message_id"]
    assert payload["text"].strip() == "Bonjour" and payload["html"].strip() == "<p>Bonjour</p>"
    assert payload["envelope_to"] == ["alice@example.org"]


def test_a_named_outbox_connection_records_with_its_own_sender(engine):
    engine.connections.save("try-out", "email_outbox", {"from_address": "presse@namur.example",
                                                        "from_name": "Service presse"})
    result, steps = run(engine, send_step("try-out"))
    assert result["status"] == "succeeded", result["error"]
    assert (steps["mail"]["output"]["connection"], steps["mail"]["output"]["outbox"]) == ("try-out", True)
    [item], _ = outbox.items(engine.db, connection="try-out")
    assert item["payload"]["headers"]["From"] == "Service presse <presse@namur.example>"


def test_dry_run_previews_the_message_and_sends_nothing(engine, smtp_factory):
    mailbox, port = smtp_factory()
    result, steps = run(engine, send_step(smtp(engine, port), bcc="boss@example.org"), dry_run=True)
    assert result["status"] == "succeeded"
    preview = steps["mail"]["output"]
    assert preview["recipients"] == 2 and preview["outbox"] is False
    assert preview["would_send"]["headers"]["From"] == "Ville de Namur <communication@namur.example>"
    assert preview["would_send"]["envelope_to"] == ["alice@example.org", "boss@example.org"]
    assert preview["would_send"]["text"].strip() == "Bonjour"
    assert mailbox.data_seen == 0 and outbox.items(engine.db)[1] == 0


def test_a_connection_with_a_bad_certificate_or_a_missing_password_is_refused(engine):
    from beffroi.connections import ConnectionProblem

    with pytest.raises(ConnectionProblem, match=r"tls_ca_certificate: .*not a PEM certificate"):
        smtp(engine, 25, tls_ca_certificate="hello")
    with pytest.raises(ConnectionProblem, match="give both username and password, or neither"):
        smtp(engine, 25, username="news")


def test_bad_addresses_and_missing_body_are_reported_when_the_recipe_is_saved(engine):
    with pytest.raises(RecipeInvalid) as caught:
        engine.validate(recipe(send_step(to="alice.example.org"), {**send_step(text=None), "id": "other"}))
    problems = {p.loc: p.message for p in caught.value.problems}
    assert problems["steps[0].with.to"] == "'alice.example.org' is not an email address (it needs one @)"
    assert problems["steps[1].with"] == "give text, html or both"


def test_the_connection_test_logs_in_and_sends_nothing(engine, smtp_factory):
    context, cert = self_signed()
    mailbox, port = smtp_factory(tls_context=context, require_starttls=True,
                                 authenticator=password_check("news", "right-pass"))
    smtp(engine, port, "good", security="starttls", username="news", password="right-pass", tls_ca_certificate=cert)
    smtp(engine, port, "bad", security="starttls", username="news", password="wrong-pass-1", tls_ca_certificate=cert)
    _, token = engine.tokens.create("admin", "admin")
    api = TestClient(create_app(engine), headers={"Authorization": f"Bearer {token}"})
    assert api.post("/api/connections/good/test").json() == {
        "ok": True, "message": f"connected to 127.0.0.1:{port}, STARTTLS, logged in as news"}
    bad = api.post("/api/connections/bad/test").json()
    assert bad["ok"] is False and "refused the credentials of connection 'bad'" in bad["message"]
    assert "wrong-pass-1" not in bad["message"]
    assert mailbox.data_seen == 0


def test_a_templated_body_is_accepted_when_saved_and_checked_when_the_step_runs(engine):
    engine.validate(recipe({**send_step(text="Hello {{ trigger.name }}"), "id": "mail"}))  # known only at run time
    run = engine.run_recipe(engine.validate(recipe({**send_step(text="{{ trigger.missing_or_none }}"), "id": "mail"})),
                            {"missing_or_none": None}, dry_run=True)
    assert run["status"] == "failed" and "give text, html or both" in run["steps"][0]["error"], run
