"""Issue 13's quality bar, end to end in real Chromium against `beffroi serve`, keyboard only, in French and in
English: a comms officer opens the flagship (new post → Mastodon, newsletter, metrics, with an approval before them),
sets "at 10:00 the next working day" in the builder's "When to publish" fields, saves and runs it; the run page says
it waits for approval. The approver (another account) opens it from /approvals, edits the Mastodon text and
approves; the run then waits for its window, on the run page and in the calendar (10:00 the next working day).
Time is moved past 10:00 and the run page, following the run live, shows it published; the local Mastodon server
received the edited text exactly once; the results dashboard lists the publication with its channels.
And an approval left without a decision expires when time passes its limit: the run fails, saying so.

Time is simulated (BEFFROI_CLOCK_FILE: the served process takes the file's date-time as now, and the test moves it by
writing the file), never slept: it starts today at 09:00 in Brussels, whatever the hour the test runs at. What the
installation holds already is set up with the API: the Mastodon connection (a local server on 127.0.0.1), the press
list, the recipe as version 1 (the officer's edit is version 2), the two accounts. axe-core finds no WCAG 2.1 A/AA
violation on any page visited; screenshots at each step."""
from __future__ import annotations

import os
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import holidays
import httpx
import pytest

from ..servers.mastodon import MastodonServer
from .conftest import axe_violations, problems, screenshot, serve
from .keyboard import create_account, press, sign_in, type_into
from .test_flagship_browser import tab_to

BRUSSELS = ZoneInfo("Europe/Brussels")
OFFICER, APPROVER = "anne@ville.example", "cleo@ville.example"
NAME = "new-post-everywhere"
FLAGSHIP = {"name": NAME, "title": "New post → Mastodon, newsletter and metrics",
            "trigger": {"uses": "wcms.post_published", "with": {"folder": ".beffroi/posts"}, "every": "30s"},
            "steps": [
                {"id": "approve", "uses": "flow.approve", "with": {"message": "Check the text before it goes out."}},
                {"id": "announce", "uses": "smms.publish", "connection": "city-mastodon",
                 "with": {"text": "New on our website: {{ trigger.title }} {{ trigger.url }}"}},
                {"id": "newsletter", "uses": "email.send_campaign",
                 "with": {"list": "press", "subject": "News: {{ trigger.title }}",
                          "text": "Hello [[ contact.first_name ]],\n\n{{ trigger.summary }}\n\n{{ trigger.url }}"}},
                {"id": "track", "uses": "analytics.track_event",
                 "with": {"name": "post_published", "campaign": "{{ run.recipe }}", "url": "{{ trigger.url }}"}}]}
EXPIRING = {"name": "expiring", "title": "Budget 2027", "trigger": {"uses": "builtins.manual"}, "steps": [
    {"id": "approve", "uses": "flow.approve", "with": {"expires_after": "2h", "on_expiry": "fail"}},
    {"id": "post", "uses": "smms.publish", "with": {"text": "The 2027 budget is adopted"}}]}
TEXTS = {
    "fr": {"simulated": "Horloge simulée", "saved": "Enregistrée comme version 2.",
           "awaits": "Cette exécution attend une approbation.", "approved": "Votre approbation est enregistrée",
           "window": "Attend sa fenêtre de publication", "scheduled": "programmé", "social": "Réseaux sociaux",
           "email": "E-mail", "edited": "Marché de Noël : 60 chalets sur la Grand-Place, du 1er au 24 décembre"},
    "en": {"simulated": "Simulated clock", "saved": "Saved as version 2.",
           "awaits": "This run waits for approval.", "approved": "Your approval is recorded",
           "window": "Waits for its publish window", "scheduled": "scheduled", "social": "Social media",
           "email": "E-mail", "edited": "Christmas market: 60 stalls on the Grand-Place, 1 to 24 December"},
}


# -- time ------------------------------------------------------------------------------------------------------
def set_now(path: Path, moment: datetime) -> None:
    """Move the served installation's clock: the file written aside, then renamed over it (never read half done)."""
    aside = path.with_name(path.name + ".new")
    aside.write_text(moment.isoformat() + "\n", encoding="utf-8")
    os.replace(aside, path)


def next_working_day(day: date) -> date:
    """The first day after `day` that is neither a weekend day nor a Belgian public holiday."""
    public = holidays.country_holidays("BE")
    day += timedelta(days=1)
    while day.weekday() >= 5 or day in public:
        day += timedelta(days=1)
    return day


@pytest.fixture
def start():
    """Today at 09:00 in Brussels: the run's records (stamped with the machine's time) stay in the same days."""
    return datetime.combine(datetime.now(BRUSSELS).date(), time(9, 0), BRUSSELS)


@pytest.fixture
def now_file(tmp_path, start):
    path = tmp_path / "now.txt"
    set_now(path, start)
    return path


@pytest.fixture
def mastodon():
    with MastodonServer({"tok-city": "city"}) as server:
        yield server


@pytest.fixture
def served(tmp_path, now_file):
    """`beffroi serve` on the simulated clock, allowed to reach the local Mastodon server on 127.0.0.1."""
    with serve(tmp_path, BEFFROI_ALLOWED_NETWORKS="127.0.0.0/8", BEFFROI_CLOCK_FILE=str(now_file)) as server:
        yield server


# -- the scene and the keyboard ----------------------------------------------------------------------------------
def api(served, method: str, path: str, **kwargs) -> httpx.Response:
    with httpx.Client(base_url=served.base_url, trust_env=False, timeout=30,
                      headers={"Authorization": f"Bearer {served.token}"}) as client:
        return client.request(method, path, **kwargs)


def set_up(served, mastodon) -> None:
    """What the installation holds already: the Mastodon account, the press list (two contacts who consented), the
    flagship, the officer and the approver."""
    assert api(served, "POST", "/api/connections", json={
        "name": "city-mastodon", "type": "mastodon",
        "config": {"base_url": mastodon.url, "access_token": "tok-city"}}).status_code == 201
    for email in ("ann@presse.example", "bob@presse.example"):
        assert api(served, "POST", "/api/crm/contacts", json={"email": email, "consent": True, "first_name": "Ann",
                                                             "consent_source": "press form"}).status_code == 201
        assert api(served, "POST", "/api/crm/lists/press/members", json={"email": email}).status_code in (200, 201)
    assert api(served, "POST", "/api/recipes", json=FLAGSHIP).status_code == 201
    create_account(served, OFFICER, role="editor")
    create_account(served, APPROVER, role="approver")


def checked(page, name: str) -> None:
    """axe-core finds nothing, nothing was logged or refused by the CSP, and the page is kept as a screenshot."""
    assert axe_violations(page) == [], page.url
    assert problems(page) == [], page.url
    screenshot(page, name)


def switch_to(page, served, email: str, language: str, then: str) -> None:
    """Sign out (the session's cookies gone) and sign in as someone else, in the same language."""
    page.context.clear_cookies()
    sign_in(page, served, email, language=language, then=then)


def run_now(page, served) -> str:
    """From the recipe's page, "Run now" with the trigger's sample; the run's id once its page is shown."""
    press(page, f'main a[href="/recipes/{NAME}/runs"]')
    page.wait_for_url(served.url(f"/recipes/{NAME}/runs"))
    press(page, f'main a[href="/recipes/{NAME}/run"]')
    page.wait_for_url(served.url(f"/recipes/{NAME}/run"))
    press(page, "form.run-now button[type=submit]")
    page.wait_for_url(lambda url: "/runs/" in url)
    return page.url.rsplit("/", 1)[-1]


@pytest.mark.parametrize("language", ["fr", "en"])
def test_scheduled_for_10_the_next_working_day_approved_with_an_edit_then_published_on_time(
        served, page, mastodon, now_file, start, language):
    texts = TEXTS[language]
    set_up(served, mastodon)
    day = next_working_day(start.date())
    opens = datetime.combine(day, time(10, 0), BRUSSELS)

    # the officer sets "at 10:00 the next working day" in the builder, and saves
    sign_in(page, served, OFFICER, language=language)
    assert texts["simulated"] in page.locator(".simulated-clock").inner_text()  # every page says so
    press(page, f'main a[href="/recipes/{NAME}"]')
    page.wait_for_url(served.url(f"/recipes/{NAME}"))
    press(page, f'main a[href="/recipes/{NAME}/edit"]')
    page.wait_for_url(served.url(f"/recipes/{NAME}/edit"))
    press(page, 'details.advanced:has([id="window"]) > summary')  # "When to publish", folded until opened
    type_into(page, "window.at", "10:00")
    for box in ("window.working_days", "window.next_day"):
        tab_to(page, f'[id="{box}"]')
        page.keyboard.press("Space")
    assert page.locator('[id="window.next_day"]').is_checked()
    checked(page, f"workspace-window-{language}")
    tab_to(page, 'button[value="save"]:not(.default-action)', limit=400)  # after the steps' cards
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: "done=saved&version=2" in url)
    assert page.locator("#builder-announce").inner_text().strip() == texts["saved"]
    assert api(served, "GET", f"/api/recipes/{NAME}").json()["definition"]["window"] == {
        "at": "10:00", "working_days": True, "next_day": True}

    # runs it: the run waits for approval
    page.goto(served.url(f"/recipes/{NAME}"))
    run_id = run_now(page, served)
    page.locator('#run-summary[data-status="waiting"]').wait_for()  # followed live
    page.reload()  # the notice is drawn with the page
    assert texts["awaits"] in page.locator("main .notice").inner_text()
    checked(page, f"workspace-awaits-approval-{language}")
    assert mastodon.statuses == []

    # the approver edits the Mastodon text and approves
    switch_to(page, served, APPROVER, language, "/")
    press(page, 'nav a[href="/approvals"]')
    page.wait_for_url(served.url("/approvals"))
    assert page.locator("table.runs tbody tr").count() == 1
    press(page, "table.runs tbody a[href^='/approvals/']")
    page.wait_for_url(lambda url: "/approvals/" in url)
    assert "New on our website: " in page.locator("article.post-preview").inner_text()
    checked(page, f"workspace-approval-{language}")
    press(page, "#text-0")  # Enter in a text box is a new line: select it all and type over it
    page.keyboard.press("Control+A")
    page.keyboard.type(texts["edited"])
    press(page, 'button[value="approve"]')
    page.locator("main").get_by_text(texts["approved"]).first.wait_for()
    checked(page, f"workspace-approved-{language}")

    # the run now waits for its window: 10:00 the next working day, on the run page and in the calendar
    switch_to(page, served, OFFICER, language, f"/runs/{run_id}")
    held = page.locator('#step-announce[data-status="waiting"] .step-window')
    held.wait_for()
    assert texts["window"] in held.inner_text() and str(day.year) in held.inner_text()
    run = api(served, "GET", f"/api/runs/{run_id}").json()
    assert run["status"] == "waiting" and datetime.fromisoformat(run["wake_at"]) == opens, run
    checked(page, f"workspace-awaits-window-{language}")
    page.goto(served.url(f"/calendar?view=week&date={day.isoformat()}"))
    row = page.locator("table.runs tbody tr", has_text=FLAGSHIP["title"])
    assert texts["scheduled"] in row.inner_text() and "10:00" in row.inner_text()
    checked(page, f"workspace-calendar-{language}")

    # time passes 10:00: the run page, following the run, shows it published
    page.goto(served.url(f"/runs/{run_id}"))
    page.evaluate("window.__notReloaded = true")
    set_now(now_file, opens + timedelta(seconds=30))
    page.locator('#run-summary[data-status="succeeded"]').wait_for(timeout=30_000)
    assert page.evaluate("window.__notReloaded === true")  # followed in place
    assert [status["text"] for status in mastodon.statuses] == [texts["edited"]]  # the edited text, once
    checked(page, f"workspace-published-{language}")

    # the results dashboard lists the publication with its channels
    tab_to(page, 'nav a[href="/results"]')
    page.keyboard.press("Enter")
    page.wait_for_url(served.url("/results"))
    row = page.locator(f'tr:has(a[href="/runs/{run_id}"])')
    channels = row.inner_text()
    assert texts["social"] in channels and "city" in channels and texts["email"] in channels and "press" in channels
    checked(page, f"workspace-results-{language}")
    assert [status["text"] for status in mastodon.statuses] == [texts["edited"]]  # still once


@pytest.mark.parametrize("language", ["fr", "en"])
def test_an_approval_left_without_a_decision_expires_and_the_run_fails_saying_so(
        served, page, now_file, start, language):
    assert api(served, "POST", "/api/recipes", json=EXPIRING).status_code == 201
    create_account(served, OFFICER, role="editor")
    sign_in(page, served, OFFICER, language=language, then="/recipes/expiring/run")
    press(page, "form.run-now button[type=submit]")
    page.wait_for_url(lambda url: "/runs/" in url)
    run_id = page.url.rsplit("/", 1)[-1]
    page.locator('#run-summary[data-status="waiting"]').wait_for()
    page.evaluate("window.__notReloaded = true")

    set_now(now_file, start + timedelta(hours=2, seconds=1))  # the approvers had two hours
    page.locator('#run-summary[data-status="failed"]').wait_for(timeout=30_000)
    assert page.evaluate("window.__notReloaded === true")
    expiry = (start + timedelta(hours=2)).astimezone(ZoneInfo("UTC"))
    error = page.locator("#run-summary .run-error").inner_text()
    assert f"expired at {expiry:%Y-%m-%d %H:%M} UTC without a decision" in error
    assert page.locator("#step-post").get_attribute("data-status") != "succeeded"
    checked(page, f"workspace-expired-{language}")
    run = api(served, "GET", f"/api/runs/{run_id}").json()
    assert run["status"] == "failed" and "expired" in run["error"]
