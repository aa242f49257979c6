"""The built-in contact base: data functions, the crm actions in recipe runs, and the crm.contact_created trigger."""
from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from beffroi import ActionContext, ActionError
from beffroi.recipes import RecipeInvalid
from beffroi.scheduler import Scheduler
from beffroi.store.models import RunRow, TriggerStateRow
from beffroi_plugins.crm import contacts
from beffroi_plugins.crm.lists import all_lists
from beffroi_plugins.crm.records import Duplicate, InvalidValue, NotFound
from beffroi_plugins.crm.tables import ContactRow

from .helpers import recipe

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


# -- contacts ---------------------------------------------------------------------------------
def test_upsert_normalises_the_email_and_merges_tags_and_custom_fields(engine):
    first = contacts.upsert_contact(engine.db, "  Anne.Martin@Namur.BE ", first_name="Anne", last_name="Martin",
                                    organisation="Le Soir", tags=["presse", "namur"], custom={"city": "Namur"})
    assert first["created"] is True and first["email"] == "anne.martin@namur.be" and len(first["id"]) == 32
    again = contacts.upsert_contact(engine.db, "ANNE.MARTIN@namur.be", first_name="", last_name=None,
                                    tags=["Presse ", "agenda", "presse"],
                                    custom={"phone": "081 24 60 00", "city": None})
    assert again["created"] is False and again["id"] == first["id"]
    assert again["first_name"] == "Anne" and again["last_name"] == "Martin"  # blank and None erase nothing
    assert again["tags"] == ["presse", "namur", "Presse", "agenda"]  # merged, each once (tags are case-sensitive)
    assert again["custom"] == {"phone": "081 24 60 00"}  # merged; a null value removes a field
    assert again["changed"] == ["custom", "tags"]
    assert contacts.find_contact(engine.db, " anne.martin@NAMUR.be")["id"] == first["id"]
    assert contacts.get_contact(engine.db, first["id"])["organisation"] == "Le Soir"
    assert contacts.get_contact(engine.db, "nope") is None
    with engine.db.session() as s:
        assert s.scalar(select(ContactRow.email)) == "anne.martin@namur.be"


@pytest.mark.parametrize("bad", ["", "anne", "anne@", "@namur.be", "anne@namur", "an ne@namur.be", "a..b@namur.be",
                                 "anne@namur..be", "anne@-namur.be"])
def test_bad_email_addresses_are_refused_with_the_field_named(engine, bad):
    with pytest.raises(InvalidValue) as caught:
        contacts.upsert_contact(engine.db, bad, first_name="X")
    assert caught.value.field == "email"
    assert contacts.search_contacts(engine.db)[1] == 0


def test_consent_is_recorded_with_its_date_and_source_and_kept_when_confirmed_again(engine):
    before = datetime.now(UTC)
    given = contacts.upsert_contact(engine.db, "marc@example.org", consent=True, consent_source="site form /newsletter")
    assert given["consent"] is True and given["consent_source"] == "site form /newsletter"
    assert datetime.fromisoformat(given["consent_at"]) >= before
    confirmed = contacts.upsert_contact(engine.db, "marc@example.org", consent=True, consent_source="import")
    assert (confirmed["consent_at"], confirmed["consent_source"]) == (given["consent_at"], "site form /newsletter")
    withdrawn = contacts.upsert_contact(engine.db, "marc@example.org", consent=False, consent_source="phone call")
    assert withdrawn["consent"] is False and withdrawn["consent_source"] == "phone call"
    assert withdrawn["consent_at"] > given["consent_at"]
    never = contacts.upsert_contact(engine.db, "lea@example.org", first_name="Léa")
    assert (never["consent"], never["consent_at"], never["consent_source"]) == (False, None, None)


def test_create_refuses_a_taken_address_and_update_delete_work(engine):
    made = contacts.create_contact(engine.db, "sam@example.org", first_name="Sam")
    with pytest.raises(Duplicate):
        contacts.create_contact(engine.db, "SAM@example.org")
    other = contacts.create_contact(engine.db, "kim@example.org")
    with pytest.raises(Duplicate):
        contacts.update_contact(engine.db, other["id"], {"email": "sam@example.org"})
    edited = contacts.update_contact(engine.db, made["id"], {"tags": ["a"], "first_name": None})
    assert edited["tags"] == ["a"] and edited["first_name"] is None
    assert contacts.delete_contact(engine.db, made["id"]) is True
    assert contacts.delete_contact(engine.db, made["id"]) is False


# -- lists ------------------------------------------------------------------------------------
def test_lists_memberships_and_who_a_campaign_goes_to(engine):
    for email, consent in [("a@example.org", True), ("b@example.org", False), ("c@example.org", True),
                           ("d@example.org", True)]:
        contacts.upsert_contact(engine.db, email, first_name=email[0].upper(), consent=consent, custom={"n": email[0]})
        contacts.add_to_list(engine.db, email, "Press", "website")  # names are lowercased: the list is `press`
    contacts.add_to_list(engine.db, "d@example.org", "agenda")
    d_id = contacts.find_contact(engine.db, "d@example.org")["id"]
    assert contacts.unsubscribe(engine.db, d_id, "press")["already"] is False
    assert contacts.unsubscribe(engine.db, d_id, "press")["already"] is True  # idempotent

    found = contacts.recipients(engine.db, "press")
    assert [r["email"] for r in found] == ["a@example.org", "c@example.org"]  # no b (no consent), no d (left)
    assert set(found[0]) == {"id", "email", "first_name", "last_name", "organisation", "custom"}
    assert found[0]["custom"] == {"n": "a"}
    assert contacts.skipped_count(engine.db, "press") == 2
    assert [r["email"] for r in contacts.recipients(engine.db, "agenda")] == ["d@example.org"]  # only that list
    with pytest.raises(NotFound):
        contacts.recipients(engine.db, "nope")

    lists = {lst["name"]: lst["members"] for lst in all_lists(engine.db)}
    assert lists == {"agenda": {"subscribed": 1, "unsubscribed": 0, "recipients": 1},
                     "press": {"subscribed": 3, "unsubscribed": 1, "recipients": 2}}


def test_an_unsubscribed_person_is_only_resubscribed_when_explicitly_asked(engine):
    made = contacts.upsert_contact(engine.db, "e@example.org", consent=True)
    assert contacts.add_to_list(engine.db, made["id"], "press")["status"] == "added"  # by id works too
    assert contacts.add_to_list(engine.db, "e@example.org", "press")["status"] == "already"
    contacts.unsubscribe(engine.db, made["id"], "press")
    kept = contacts.add_to_list(engine.db, "e@example.org", "press", "CSV import")
    assert (kept["status"], kept["subscribed"]) == ("unsubscribed", False)
    assert contacts.recipients(engine.db, "press") == []
    back = contacts.add_to_list(engine.db, "e@example.org", "press", "new signup", resubscribe=True)
    assert back["status"] == "resubscribed" and [r["email"] for r in contacts.recipients(engine.db, "press")] == [
        "e@example.org"]


def test_remove_from_list_keeps_a_recorded_unsubscription(engine):
    contacts.upsert_contact(engine.db, "f@example.org", consent=True)
    contacts.upsert_contact(engine.db, "g@example.org", consent=True)
    for email in ("f@example.org", "g@example.org"):
        contacts.add_to_list(engine.db, email, "press")
    assert contacts.remove_from_list(engine.db, "f@example.org", "press")["removed"] is True
    assert contacts.remove_from_list(engine.db, "f@example.org", "press")["removed"] is False
    g = contacts.find_contact(engine.db, "g@example.org")
    contacts.unsubscribe(engine.db, g["id"], "press")
    assert contacts.remove_from_list(engine.db, "g@example.org", "press")["removed"] is False
    assert contacts.get_contact(engine.db, g["id"], with_lists=True)["lists"][0]["subscribed"] is False
    with pytest.raises(NotFound):
        contacts.add_to_list(engine.db, "nobody@example.org", "press")
    with pytest.raises(InvalidValue):
        contacts.add_to_list(engine.db, "g@example.org", "press list!")


def test_unsubscribe_url_carries_a_signed_token(engine):
    url = contacts.unsubscribe_url(engine.signer, "https://beffroi.namur.be/", "c1", "press")
    assert url.startswith("https://beffroi.namur.be/u/")
    assert engine.signer.verify(url.rsplit("/", 1)[1]) == {"c": "c1", "l": "press"}


# -- actions in recipe runs -------------------------------------------------------------------
SIGNUP = recipe(
    {"id": "contact", "uses": "crm.upsert_contact",
     "with": {"email": "{{ trigger.email }}", "first_name": "{{ trigger.first_name }}", "consent": True,
              "consent_source": "website form /newsletter", "tags": "newsletter;site"}},
    {"id": "subscribe", "uses": "crm.add_to_list",
     "with": {"email": "{{ steps.contact.email }}", "list": "press", "source": "website"}},
    name="signup")


def test_actions_through_a_recipe_run(engine):
    run = engine.run_recipe(engine.validate(SIGNUP), {"email": " Jeanne@Example.ORG", "first_name": "Jeanne"})
    assert run["status"] == "succeeded", run
    contact, subscribed = (s["output"] for s in run["steps"])
    assert contact["created"] is True and contact["email"] == "jeanne@example.org"
    assert contact["consent"] is True and contact["consent_source"] == "website form /newsletter"
    assert contact["tags"] == ["newsletter", "site"]
    assert subscribed == {"contact_id": contact["id"], "email": "jeanne@example.org", "list": "press",
                          "status": "added", "subscribed": True}
    assert [r["email"] for r in contacts.recipients(engine.db, "press")] == ["jeanne@example.org"]

    again = engine.run_recipe(engine.validate(SIGNUP), {"email": "jeanne@example.org", "first_name": "J."})
    assert again["steps"][0]["output"]["created"] is False and again["steps"][1]["output"]["status"] == "already"

    removal = recipe({"id": "off", "uses": "crm.remove_from_list", "with": {"email": "{{ trigger.email }}",
                                                                            "list": "press"}}, name="off")
    run = engine.run_recipe(engine.validate(removal), {"email": "jeanne@example.org"})
    assert run["steps"][0]["output"]["removed"] is True
    assert contacts.recipients(engine.db, "press") == []


def test_a_dry_run_previews_without_writing(engine):
    contacts.upsert_contact(engine.db, "known@example.org", first_name="Old")
    run = engine.run_recipe(engine.validate(SIGNUP), {"email": "new@example.org", "first_name": "New"}, dry_run=True)
    assert run["status"] == "succeeded", run
    preview, subscribe = (s["output"] for s in run["steps"])
    assert preview["would"] == "create" and preview["email"] == "new@example.org"
    assert preview["changes"]["first_name"] == [None, "New"] and preview["changes"]["consent"] == [False, True]
    assert subscribe["would"] == "add" and subscribe["creates_list"] is True and "earlier step" in subscribe["note"]
    run = engine.run_recipe(engine.validate(SIGNUP), {"email": "known@example.org", "first_name": "Old"}, dry_run=True)
    assert run["steps"][0]["output"]["would"] == "update"
    assert set(run["steps"][0]["output"]["changes"]) == {"consent", "consent_at", "consent_source", "tags"}
    assert contacts.find_contact(engine.db, "new@example.org") is None
    assert contacts.find_contact(engine.db, "known@example.org")["consent"] is False
    assert contacts.search_contacts(engine.db, list_name="press")[1] == 0


def test_a_retried_step_returns_its_first_result(engine):
    spec = engine.registry.actions["crm.upsert_contact"]
    ctx = ActionContext(run_id="r1", step_id="contact", idempotency_key="r1:contact", recipe="signup", db=engine.db)
    payload = spec.input_model.model_validate({"email": "once@example.org", "consent": True})
    first = spec.run(payload, ctx)
    assert spec.run(payload, ctx) == first and first["created"] is True
    other = ActionContext(run_id="r2", step_id="contact", idempotency_key="r2:contact", recipe="signup", db=engine.db)
    assert spec.run(payload, other)["created"] is False


def test_bad_input_is_refused_when_saving_or_running(engine):
    bad = recipe({"id": "c", "uses": "crm.upsert_contact", "with": {"email": "not-an-address", "nickname": "x"}})
    with pytest.raises(RecipeInvalid) as caught:
        engine.validate(bad)
    assert {p.loc for p in caught.value.problems} == {"steps[0].with.email", "steps[0].with.nickname"}
    run = engine.run_recipe(engine.validate(SIGNUP), {"email": "nobody", "first_name": "N"})
    assert run["status"] == "failed" and "not a valid email address" in run["steps"][0]["error"]
    missing = recipe({"id": "add", "uses": "crm.add_to_list", "with": {"email": "ghost@example.org", "list": "press"}})
    run = engine.run_recipe(engine.validate(missing), {})
    assert run["status"] == "failed" and "no contact 'ghost@example.org'" in run["steps"][0]["error"]
    assert run["steps"][0]["attempts"] == 1  # not retryable
    spec = engine.registry.actions["crm.add_to_list"]
    with pytest.raises(ActionError):
        spec.run(spec.input_model.model_validate({"email": "ghost@example.org", "list": "press"}),
                 ActionContext(run_id="r", step_id="s", idempotency_key="r:s", recipe="x", db=engine.db))


# -- the trigger ------------------------------------------------------------------------------
def _runs(engine, name: str) -> list[RunRow]:
    with engine.db.session() as s:
        return list(s.scalars(select(RunRow).where(RunRow.recipe_name == name).order_by(RunRow.created_at)))


def _settle(engine, run_ids: list[str]) -> None:
    """Let the inline workers finish the started runs before the engine closes (bounded wait)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(engine.journal.run_status(r) not in ("succeeded", "failed")
                                              for r in run_ids):
        time.sleep(0.02)


def test_contact_created_trigger_seeds_then_fires_once_per_new_contact(engine):
    contacts.upsert_contact(engine.db, "old1@example.org")
    contacts.upsert_contact(engine.db, "old2@example.org")
    engine.save_recipe({"name": "welcome", "trigger": {"uses": "crm.contact_created", "every": "1m"},
                        "steps": [{"id": "hello", "uses": "data.set", "with": {"to": "{{ trigger.email }}"}}]})
    scheduler = Scheduler(engine)
    assert scheduler.run_once(T0) == []  # the first poll seeds: existing contacts start nothing
    with engine.db.session() as s:
        error = s.get(TriggerStateRow, "welcome").last_error
    assert error is None

    new = contacts.upsert_contact(engine.db, "new@example.org", first_name="Nina", consent=True)
    contacts.upsert_contact(engine.db, "old1@example.org", first_name="Updated")  # an update is no new contact
    started = scheduler.run_once(T0 + timedelta(minutes=1))
    assert len(started) == 1
    assert scheduler.run_once(T0 + timedelta(minutes=2)) == []  # seen: never twice
    contacts.upsert_contact(engine.db, "third@example.org")
    contacts.upsert_contact(engine.db, "fourth@example.org")
    started += scheduler.run_once(T0 + timedelta(minutes=3))
    _settle(engine, started)
    found = _runs(engine, "welcome")
    assert [r.trigger_key for r in found] == [new["id"], *(contacts.find_contact(engine.db, e)["id"]
                                                          for e in ("third@example.org", "fourth@example.org"))]
    event = found[0].trigger_event
    assert event["email"] == "new@example.org" and event["first_name"] == "Nina" and event["consent"] is True
    assert engine.runs.detail(found[0].id)["steps"][0]["output"] == {"to": "new@example.org"}


def test_poll_cursor_starts_from_an_empty_base_and_finds_late_commits(engine):
    poll = engine.registry.triggers["crm.contact_created"].poll
    ctx = ActionContext(run_id="", step_id="trigger", idempotency_key="", recipe="welcome", db=engine.db)
    first = poll(None, None, ctx)
    assert first.items == [] and first.cursor == {"after": None}
    a = contacts.upsert_contact(engine.db, "a@example.org")
    second = poll(None, first.cursor, ctx)  # polled before: everything after the (empty) start is new
    assert [i.key for i in second.items] == [a["id"]] and second.items[0].event["email"] == "a@example.org"
    b = contacts.upsert_contact(engine.db, "b@example.org")
    # a contact whose transaction committed late: created before the cursor, visible only now
    with engine.db.session() as s:
        s.add(ContactRow(id="late0000000000000000000000000000", email="late@example.org", tags=[], custom={},
                         consent=False, created_at=datetime.fromisoformat(a["created_at"]) - timedelta(seconds=30),
                         updated_at=datetime.now(UTC)))
    third = poll(None, second.cursor, ctx)
    keys = [i.key for i in third.items]
    assert set(keys) == {"late0000000000000000000000000000", a["id"], b["id"]} and keys[-1] == b["id"]
    assert third.cursor["after"][1] == b["id"]
    fresh = poll(None, None, ctx)  # a first poll returns only what it needs to seed, and the newest as cursor
    assert fresh.cursor == third.cursor and b["id"] in [i.key for i in fresh.items]
