"""The approval e-mails really sent: through the connection named by BEFFROI_NOTIFY_CONNECTION (a local SMTP server
with STARTTLS and a password), in each approver's language, text and HTML, once per approver and kind; in the outbox
without one, or when sending fails; never with the password anywhere."""
from __future__ import annotations

import logging
from zoneinfo import ZoneInfo

import pytest

from beffroi import outbox
from beffroi.scheduler import Scheduler

from .approval_helpers import ANA, BOB, Clock, held_recipe, people, settled, start
from .test_email_servers import password_check, self_signed, smtp_factory  # noqa: F401
from .ui_helpers import PASSWORD, sign_in

SECRET = "s3cret-notify-pass"
SENDER = {"from_address": "beffroi@ville.example", "from_name": "Beffroi"}


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def server(smtp_factory):
    context, cert = self_signed()
    mailbox, port = smtp_factory(tls_context=context, require_starttls=True, auth_require_tls=True,
                                 authenticator=password_check("beffroi", SECRET))
    return mailbox, port, cert


def engine_with(make_engine, database_url, clock, server, password=SECRET):
    _mailbox, port, cert = server
    engine = make_engine(database_url, clock=clock, allowed_networks=["127.0.0.0/8"], notify_connection="notify",
                         public_url="https://beffroi.ville.example")
    people(engine)
    engine.connections.save("notify", "smtp", {"host": "127.0.0.1", "port": port, "security": "starttls",
                                               "username": "beffroi", "password": password,
                                               "tls_ca_certificate": cert, **SENDER})
    engine.users.set_language(ANA, "en")  # BOB chose none: the installation's language (fr)
    return engine


def approval_mails(engine) -> list[dict]:
    items, _ = outbox.items(engine.db, channel="email", connection="outbox")
    return [item["payload"] for item in items]


def texts(message) -> tuple[str, str]:
    return (message.get_body(("plain",)).get_content().replace("\r\n", "\n"),
            message.get_body(("html",)).get_content())


def test_request_and_reminder_reach_each_approver_in_their_language_once(make_engine, database_url, clock, server,
                                                                       caplog):
    caplog.set_level(logging.DEBUG)
    mailbox = server[0]
    engine = engine_with(make_engine, database_url, clock, server)
    data = held_recipe({"expires_after": "2d", "remind_after": "1d"})
    data["title"] = "Fête <de> la musique"
    run_id = start(engine, data)
    (request,) = engine.approvals.of_run(run_id)
    link = f"https://beffroi.ville.example/approvals/{request['id']}"
    local = request["expires_at"].astimezone(ZoneInfo("Europe/Brussels"))

    (english,) = mailbox.to(ANA)
    assert english["Subject"] == "Approval needed: Fête <de> la musique"
    assert english["From"] == "Beffroi <beffroi@ville.example>"
    text, html = texts(english)
    assert "A run of the recipe “Fête <de> la musique” waits for your approval" in text
    assert link in text and "- publish — smms.publish" in text and "- mail — email.send" in text
    assert "Check the dates" in text
    assert f"at {local:%H:%M} (Brussels time)" in text  # the installation's time, not UTC
    assert f'<a href="{link}">Review and decide</a>' in html and "Fête &lt;de&gt; la musique" in html
    assert '<html lang="en">' in html

    (french,) = mailbox.to(BOB)
    assert french["Subject"] == "Approbation demandée : Fête <de> la musique"
    text, html = texts(french)
    assert f"à {local:%H:%M} (heure de Bruxelles)" in text and link in text
    assert '<html lang="fr">' in html and "Relire et décider" in html
    assert approval_mails(engine) == []  # sent: nothing left in the outbox

    engine.wake(run_id)  # the step runs again while the request is pending: nobody is told twice
    settled(engine, run_id)
    assert (len(mailbox.to(ANA)), len(mailbox.to(BOB))) == (1, 1)
    scheduler = Scheduler(engine, clock=clock)
    scheduler.run_once(clock.advance(days=1, minutes=1))  # the reminder is due
    assert settled(engine, run_id)["status"] == "waiting"
    engine.wake(run_id)
    settled(engine, run_id)
    assert [m["Subject"] for m in mailbox.to(ANA)] == ["Approval needed: Fête <de> la musique",
                                                       "Reminder: Approval needed: Fête <de> la musique"]
    assert [m["Subject"] for m in mailbox.to(BOB)][1] == "Rappel : Approbation demandée : Fête <de> la musique"
    assert all(m["tls"] and m["login"] == b"beffroi" for m in mailbox.messages)

    run = engine.runs.detail(run_id)
    assert SECRET not in repr(run) and SECRET not in caplog.text
    assert SECRET not in repr(list(engine.audit.page(target=run_id)))


def test_when_the_server_refuses_the_mails_wait_in_the_outbox_without_the_password(make_engine, database_url, clock,
                                                                                  server, caplog):
    caplog.set_level(logging.DEBUG)
    wrong = "wrong-pass-4321"
    engine = engine_with(make_engine, database_url, clock, server, password=wrong)
    run_id = start(engine, held_recipe())
    assert engine.runs.detail(run_id)["status"] == "waiting"  # the run waits for its approvers all the same
    told = {mail["headers"]["To"]: mail for mail in approval_mails(engine)}
    assert set(told) == {ANA, BOB}
    assert told[ANA]["note"].startswith("not sent through notify: the mail server refused the credentials")
    assert told[ANA]["html"] and "/approvals/" in told[ANA]["text"]
    assert server[0].messages == []
    for place in (repr(approval_mails(engine)), caplog.text, repr(engine.runs.detail(run_id))):
        assert wrong not in place


def test_without_a_notify_connection_the_mails_are_recorded_in_the_outbox(make_engine, database_url, clock):
    engine = make_engine(database_url, clock=clock, allowed_networks=["127.0.0.0/8"], language="en")
    people(engine)
    start(engine, held_recipe())
    told = {mail["headers"]["To"]: mail for mail in approval_mails(engine)}
    assert set(told) == {ANA, BOB}
    assert told[ANA]["note"] == "recorded in the outbox: nothing was sent"
    assert told[ANA]["headers"]["Subject"] == "Approval needed: announce"  # the installation's language


def test_a_person_s_language_is_the_one_they_use_the_web_ui_in(make_engine):
    from fastapi.testclient import TestClient

    from beffroi import create_app

    engine = make_engine()
    engine.users.create(ANA, PASSWORD, role="approver")
    browser = TestClient(create_app(engine))
    assert sign_in(browser, ANA, **{"Accept-Language": "en-GB,en;q=0.9"}).status_code == 303
    assert engine.users.languages() == {ANA: "en"}
    page = browser.get("/")
    token = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    assert browser.post("/language", data={"csrf": token, "language": "fr", "next": "/"},
                        follow_redirects=False).status_code == 303
    assert engine.users.languages() == {ANA: "fr"}
