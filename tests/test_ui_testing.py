"""The test page of a recipe (/recipes/<name>/test): its trigger's sample or a live one, a preview of every step as
the comms officer will see the messages, one step tested alone — and nothing leaves the machine meanwhile.

The flagship recipe runs against the local servers of tests/servers (feed, Mastodon, Bluesky, SMTP, Matomo): a
preview from the page reaches none of them and records nothing in the outbox, while every message is shown.
"""
from __future__ import annotations

import json
import re
from html import escape, unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from beffroi_ui.previews import preview

from .servers.feeds import Fault
from .test_flagship import NEW, set_up_through_the_api, world  # noqa: F401 - `world` is a fixture
from .ui_helpers import PASSWORD, sign_in, token_of, ui  # noqa: F401 - `ui` is a fixture

EVENT = {"id": NEW.id, "title": NEW.title, "url": NEW.link, "summary": NEW.summary}
TEST = "/recipes/blog-to-social/test"


@pytest.fixture
def flagship(make_engine, tmp_path, world):
    """The flagship recipe with its four connections on the local servers, three press contacts (two consented) and
    an editor and a viewer; `.browser(email)` signs in."""
    engine = make_engine(f"sqlite:///{tmp_path / 'beffroi.db'}", allowed_networks=["127.0.0.0/8"])
    api = set_up_through_the_api(engine, world)
    for role in ("viewer", "editor"):
        engine.users.create(f"{role}@example.org", PASSWORD, role=role, name=role.title())

    class Flagship:
        def __init__(self):
            self.engine, self.api, self.world = engine, api, world

        def browser(self, email: str = "editor@example.org", language: str = "en") -> TestClient:
            client = TestClient(api.app, cookies={"beffroi_lang": language})
            assert sign_in(client, email).status_code == 303
            return client

    return Flagship()


def text_of(page) -> str:
    """The page's text without tags, spaces collapsed (what a reader reads)."""
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", page.text)))


def post_preview(client: TestClient, path: str = TEST, **fields):
    page = client.get(path)
    return client.post(f"{path}/preview", data={"csrf": token_of(page), **fields}, follow_redirects=False)


def nothing_left(world) -> None:
    """No request reached the social networks, the mail server or Matomo."""
    assert world["mastodon"].requests == [] and world["mastodon"].statuses == []
    assert world["bluesky"].requests == [] and world["bluesky"].posts() == []
    mailbox = world["mailbox"]
    assert mailbox.messages == [] and mailbox.per_connection == {} and mailbox.data_seen == 0
    assert world["matomo"].requests == [] and world["matomo"].tracked == []


def test_a_preview_of_the_flagship_shows_every_message_and_nothing_leaves_the_machine(flagship):
    browser = flagship.browser()
    feed_requests = len(flagship.world["feed"].requests)
    answer = post_preview(browser, event=json.dumps(EVENT))
    assert answer.status_code == 303
    target = answer.headers["location"]
    assert target.startswith(f"{TEST}?run=") and target.endswith("#preview")
    page = browser.get(target)
    assert page.status_code == 200
    text = text_of(page)
    assert "3 steps previewed. Nothing was sent." in text

    link = "https://www.ville.example/travaux?utm_source=social&amp;utm_medium=social&amp;utm_campaign=blog-to-social"
    # each post as it would look on each network: account, text with its link, count against the limit
    assert "Post on Mastodon — city-mastodon" in text and "Post on Bluesky — city-bluesky" in text
    assert f'<a href="{link}" rel="noopener noreferrer">' in page.text
    posted = f"{NEW.title} {unescape(link)}"
    assert f"{len(NEW.title) + 1 + 23} / 500 characters" in text  # Mastodon counts a link as 23 characters
    assert f"{len(posted)} / 300 characters" in text
    # the newsletter: subject, sender, recipients (the two consenting members of the list), the body
    assert f"E-mail: {NEW.title}" in text
    assert "2 recipients on the list “press” (1 member left out: no consent or unsubscribed)" in text
    assert "Ville <communication@ville.example>" in text and "Bonjour Ann," in text
    # the analytics event, with the placeholders of the earlier steps
    assert "Analytics event: post_published" in text and "https://preview.invalid/mastodon/city-mastodon" in text
    assert "Would also be sent to: city-matomo (matomo)" in text
    # each step's rendered input is there too
    assert "What the step was given" in text and "press" in text

    nothing_left(flagship.world)
    assert len(flagship.world["feed"].requests) == feed_requests  # the preview did not read the feed either
    outbox = flagship.api.get("/api/outbox").json()
    assert outbox["total"] == 0
    run_id = parse_qs(urlsplit(target).query)["run"][0]
    assert flagship.api.get(f"/api/runs/{run_id}").json()["dry_run"] is True


def test_the_sample_event_is_shown_and_a_live_sample_reads_the_newest_item_of_the_feed(flagship):
    browser = flagship.browser()
    page = browser.get(TEST)
    assert page.status_code == 200
    text = text_of(page)
    assert "Sample event" in text and "wcms.post_published" in text
    sample = flagship.engine.sample_event(flagship.engine.recipes.get("blog-to-social")[0])
    assert sample["title"] in text
    assert json.loads(unescape(re.search(r'<textarea id="event"[^>]*>(.*?)</textarea>', page.text, re.S).group(1))) \
        == sample

    answer = browser.post(f"{TEST}/live", data={"csrf": token_of(page)})
    assert answer.status_code == 200
    assert "This is the newest item of the source" in text_of(answer)
    shown = json.loads(unescape(re.search(r'<textarea id="event"[^>]*>(.*?)</textarea>', answer.text, re.S).group(1)))
    assert shown["title"] == "Fête de la musique : le programme"  # the newest entry of the local feed
    nothing_left(flagship.world)


def test_a_feed_out_of_reach_is_said_in_plain_words(flagship):
    flagship.world["feed"].fail("/feed.atom", Fault(503), Fault(503), Fault(503), Fault(503))
    browser = flagship.browser()
    answer = browser.post(f"{TEST}/live", data={"csrf": token_of(browser.get(TEST))})
    assert answer.status_code == 200
    text = text_of(answer)
    assert "The live sample could not be read." in text and "503" in text
    assert "Traceback" not in answer.text


def test_an_event_that_is_not_json_is_refused_beside_its_field_and_kept(flagship):
    browser = flagship.browser()
    typed = '{"title": "Travaux" "url": 1}'
    answer = post_preview(browser, event=typed)
    assert answer.status_code == 400
    assert 'class="error-summary"' in answer.text and 'href="#event"' in answer.text
    assert 'aria-invalid="true"' in answer.text and 'aria-describedby="event-hint event-error"' in answer.text
    assert "The event is not valid JSON (line 1, column 21)" in text_of(answer)
    assert ">" + escape(typed) + "</textarea>" in answer.text.replace("&#34;", "&quot;")
    listed = post_preview(browser, event="[1, 2]")
    assert listed.status_code == 400 and "must be a JSON object" in text_of(listed)


def test_an_empty_event_previews_with_the_sample(flagship):
    browser = flagship.browser()
    answer = post_preview(browser, event="  ")
    assert answer.status_code == 303
    page = browser.get(answer.headers["location"])
    sample = flagship.engine.sample_event(flagship.engine.recipes.get("blog-to-social")[0])
    assert f"E-mail: {sample['title']}" in text_of(page)
    nothing_left(flagship.world)


def test_one_step_tested_alone_uses_the_earlier_steps_on_the_same_event(flagship):
    browser = flagship.browser()
    answer = post_preview(browser, event=json.dumps(EVENT), step="track")
    assert answer.status_code == 303
    assert answer.headers["location"].endswith("&step=track#step-track")
    page = browser.get(answer.headers["location"])
    text = text_of(page)
    assert "Step “Track an event” tested alone" in text
    assert "Analytics event: post_published" in text
    assert "https://preview.invalid/bluesky/city-bluesky" in text  # from the announce step, previewed again
    assert "Post on Mastodon" not in text and "E-mail:" not in text  # only the tested step is shown
    nothing_left(flagship.world)
    assert post_preview(browser, step="nope").status_code == 404


def test_a_failing_step_says_which_step_and_field(flagship):
    recipe = flagship.api.get("/api/recipes/blog-to-social").json()["definition"]
    recipe["steps"][1]["with"]["subject"] = "{{ trigger.headline }}"
    assert flagship.api.put("/api/recipes/blog-to-social", json=recipe).status_code == 200
    browser = flagship.browser()
    page = browser.get(post_preview(browser, event=json.dumps(EVENT)).headers["location"])
    text = text_of(page)
    assert "it stopped at step 2, “Send a campaign to a list”" in text
    assert "This step could not be previewed" in text
    assert "In the field “subject” of step 2, “Send a campaign to a list”:" in text and "headline" in text
    assert "Not previewed: an earlier step stopped the preview." in text  # the step after it
    nothing_left(flagship.world)


def test_viewers_and_other_sites_are_refused(flagship):
    viewer = flagship.browser("viewer@example.org")
    assert viewer.get(TEST).status_code == 403
    assert viewer.post(f"{TEST}/preview", data={"csrf": token_of(viewer.get("/"))}).status_code == 403
    editor = flagship.browser()
    assert editor.post(f"{TEST}/preview", data={"csrf": "forged", "event": "{}"}).status_code == 403
    assert editor.get("/recipes/nothing/test").status_code == 404
    assert editor.get(f"{TEST}?run=0123").status_code == 404
    real = flagship.api.post("/api/recipes/blog-to-social/runs?wait=true", json=EVENT).json()  # not a dry run
    assert editor.get(f"{TEST}?run={real['id']}").status_code == 404
    assert TestClient(flagship.api.app).get(TEST, follow_redirects=False).status_code == 303  # sign in first


def test_the_builder_can_preview_an_unsaved_draft(ui):
    draft = {"name": "draft", "trigger": {"uses": "builtins.manual"}, "steps": [
        {"id": "say", "uses": "smms.publish", "with": {"text": "Hello {{ trigger.who }}",
                                                        "image_url": "https://example.org/a.png"}},
        {"id": "mail", "uses": "email.send", "with": {"to": "ann@example.org", "subject": "Hi",
                                                      "html": "<p>Hi</p><script>alert(1)</script>"}},
        {"id": "keep", "uses": "data.set", "with": {"who": "{{ trigger.who }}"}}]}
    steps = preview(ui.engine, draft, {"who": "Ann"})
    assert [(s.id, s.status, s.kind) for s in steps] == [("say", "succeeded", "social"),
                                                          ("mail", "succeeded", "email"),
                                                          ("keep", "succeeded", "generic")]
    [post] = steps[0].view["posts"]
    assert post["text"] == "Hello Ann" and post["image_without_alt"] and post["network"] == "outbox"
    assert steps[1].view["recipients"] == 1 and steps[1].view["message"]["subject"] == "Hi"
    assert ("who", "Ann", False) in steps[2].input_fields
    assert ui.engine.recipes.list() == []  # a draft stays unsaved


def test_posts_over_the_limit_images_without_alt_and_html_bodies_are_shown_safely(ui):
    ui.engine.connections.create("city-mastodon", "mastodon", {"base_url": "http://127.0.0.1:9", "access_token": "t"})
    ui.engine.save_recipe({"name": "long", "trigger": {"uses": "builtins.manual", "sample": {"n": 1}}, "steps": [
        {"id": "say", "uses": "smms.publish", "connection": "city-mastodon",
         "with": {"text": "x" * 520, "image_url": "https://example.org/a.png"}},
        {"id": "mail", "uses": "email.send", "with": {"to": "ann@example.org", "subject": "Hi",
                                                      "html": '<p>Hi</p><script>alert("x")</script>'}}]})
    browser = ui.client(signed_in="editor@example.org", cookies={"beffroi_lang": "en"})
    answer = post_preview(browser, "/recipes/long/test", event="")
    page = browser.get(answer.headers["location"])
    text = text_of(page)
    assert "520 / 500 characters — over the limit by 20 characters" in text
    assert "A run would stop here" in text
    assert "Warning: this image has no alt text." in text
    frame = re.search(r"<iframe[^>]*>", page.text).group(0)
    assert 'sandbox=""' in frame and "srcdoc=\"&lt;p&gt;Hi&lt;/p&gt;&lt;script&gt;alert(&#34;x&#34;)" in frame
    assert "<script>" not in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert "1 recipient" in text


def test_the_page_speaks_french(flagship):
    browser = flagship.browser(language="fr")
    page = browser.get(post_preview(browser, event=json.dumps(EVENT)).headers["location"])
    text = text_of(page)
    assert "Aucun envoi n’a eu lieu." in text and "caractères" in text and "2 destinataires" in text
    # what the trigger and the steps do, in the catalog's French
    assert "Nouvel article sur le site" in text and "Publier sur les réseaux sociaux" in text
    assert "Envoyer une campagne à une liste" in text and "Enregistrer un évènement" in text
    assert "New post on the website" not in text and "Publish on social media" not in text


def test_a_loop_shows_each_item_and_a_missing_connection_names_its_field(ui):
    ui.engine.save_recipe({"name": "loop", "enabled": False, "trigger": {"uses": "builtins.manual",
                                                                          "sample": {"towns": ["Namur", "Liège"]}},
                           "steps": [{"id": "say", "uses": "smms.publish", "for_each": "{{ trigger.towns }}",
                                      "with": {"text": "Bonjour {{ item }}"}},
                                     {"id": "gone", "uses": "smms.publish", "connection": "city-gone",
                                      "with": {"text": "x"}}]})
    browser = ui.client(signed_in="editor@example.org", cookies={"beffroi_lang": "en"})
    page = browser.get(post_preview(browser, "/recipes/loop/test", event="").headers["location"])
    text = text_of(page)
    assert "Repeated for 2 items (for_each):" in text
    assert "Bonjour Namur" in text and "Bonjour Liège" in text
    assert "In the field “connection” of step 2, “Publish on social media”:" in text and "city-gone" in text
    browser.cookies.set("beffroi_lang", "fr")
    french = text_of(browser.get(page.url))
    assert "Publier sur les réseaux sociaux" in french and "Publish on social media" not in french
    assert "Lancée à la main ou par l’API" in french  # the trigger's title


def test_a_web_post_and_an_analytics_event_are_shown_by_their_renderers(ui):
    ui.engine.connections.create("city-site", "wordpress", {"base_url": "http://127.0.0.1:9", "username": "comms",
                                                            "application_password": "abcd efgh ijkl mnop"})
    draft = {"name": "site", "trigger": {"uses": "builtins.manual"}, "steps": [
        {"id": "post", "uses": "wcms.create_post", "connection": "city-site",
         "with": {"title": "Travaux {{ trigger.street }}", "excerpt": "Déviation des bus", "status": "draft"}},
        {"id": "count", "uses": "analytics.track_event",
         "with": {"name": "post_created", "properties": {"url": "{{ steps.post.url }}"}}}]}
    post, count = preview(ui.engine, draft, {"street": "Haute"})
    assert (post.kind, post.view["title"], post.view["excerpt"], post.view["status"]) == \
        ("web_post", "Travaux Haute", "Déviation des bus", "draft")
    assert count.kind == "analytics" and count.view["tools"] == []
    assert ("url", "https://preview.invalid/wordpress/city-site", False) in count.view["properties"]


@pytest.mark.parametrize("language, expected", [
    ("en", ["#marchedenoel: if it joins several words, start each with a capital letter (#MarcheDeNoel)",
            "“𝐆𝐫𝐚𝐧𝐝”: these “bold” or “script” letters are symbols",
            "Lines start with an emoji: screen readers say its name before each line.",
            "“VENEZ TOUS AU”: words in capitals may be spelled out letter by letter."]),
    ("fr", ["#marchedenoel : s’il réunit plusieurs mots, commencez chacun par une majuscule (#MarcheDeNoel)",
            "« 𝐆𝐫𝐚𝐧𝐝 » : ces lettres « grasses » ou « calligraphiées » sont des symboles",
            "Des lignes commencent par un émoji : les lecteurs d’écran disent son nom avant chaque ligne.",
            "« VENEZ TOUS AU » : des mots en capitales peuvent être épelés lettre par lettre."]),
])
def test_a_post_hard_to_read_with_a_screen_reader_gets_advice_in_the_preview(ui, language, expected):
    text = "𝐆𝐫𝐚𝐧𝐝 #marchedenoel #namur\n✅ VENEZ TOUS AU marché\n✅ ce soir https://ville.example/marche"
    ui.engine.save_recipe({"name": "festive", "trigger": {"uses": "builtins.manual", "sample": {"n": 1}},
                           "steps": [{"id": "say", "uses": "smms.publish", "with": {"text": text}}]})
    browser = ui.client(signed_in="editor@example.org", cookies={"beffroi_lang": language})
    shown = text_of(browser.get(post_preview(browser, "/recipes/festive/test", event="").headers["location"]))
    for advice in expected:
        assert advice in shown
    assert "#namur:" not in shown and "#namur :" not in shown  # a short tag is most often one word: no advice


def test_a_plain_post_gets_no_advice_and_a_link_alone_is_said(ui):
    ui.engine.save_recipe({"name": "plain", "trigger": {"uses": "builtins.manual", "sample": {"n": 1}}, "steps": [
        {"id": "good", "uses": "smms.publish", "with": {"text": "Le #MarcheDeNoel ouvre ce soir https://x.example"}},
        {"id": "bare", "uses": "smms.publish", "with": {"text": "https://ville.example/marche"}}]})
    [good, bare] = preview(ui.engine, ui.engine.recipes.get("plain")[0].to_data(), {"n": 1})
    assert good.view["posts"][0]["advice"] == []
    assert bare.view["posts"][0]["advice"] == [{"code": "link_only", "subject": ""}]
