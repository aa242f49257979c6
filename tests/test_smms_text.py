"""smms text rules: what each network counts, Bluesky's facets at UTF-8 byte offsets, a clean cut keeping the link."""
from __future__ import annotations

from beffroi_plugins.smms.limits import BLUESKY, fit, mastodon_limit, shorten
from beffroi_plugins.smms.richtext import facets, grapheme_count, hashtags, links

FETE = "Fête à Liège https://example.org/a #Liège"


def covered(text: str, facet: dict) -> str:
    index = facet["index"]
    return text.encode("utf-8")[index["byteStart"]:index["byteEnd"]].decode("utf-8")


def test_facets_use_utf8_byte_offsets_after_accented_text():
    found = facets(FETE)
    assert found == [
        {"index": {"byteStart": 16, "byteEnd": 37},
         "features": [{"$type": "app.bsky.richtext.facet#link", "uri": "https://example.org/a"}]},
        {"index": {"byteStart": 38, "byteEnd": 45},
         "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "Liège"}]},
    ]
    assert FETE.index("https") == 13  # characters; the 3 accented letters take 2 bytes each
    assert [covered(FETE, f) for f in found] == ["https://example.org/a", "#Liège"]


def test_facets_after_emoji_and_combining_accents():
    text = "🇧🇪 Cafe\u0301 👩‍👩‍👧 #Bruxelles2025 https://example.org/x?utm_source=bluesky."
    found = facets(text)
    assert [covered(text, f) for f in found] == ["#Bruxelles2025", "https://example.org/x?utm_source=bluesky"]
    assert found[0]["features"][0]["tag"] == "Bruxelles2025"


def test_links_leave_trailing_punctuation_and_unmatched_brackets_out():
    assert [s.value for s in links("See https://example.org/a, (https://example.org/b) or https://w.org/c_(d).")] == [
        "https://example.org/a", "https://example.org/b", "https://w.org/c_(d)"]


def test_hashtags_follow_bluesky_rules():
    text = "#Liège, #2025 x#no #été_2024! https://example.org/#anchor ＃Namur"
    assert [s.value for s in hashtags(text)] == ["Liège", "été_2024", "Namur"]
    assert [covered(text, f) for f in facets(text)] == ["#Liège", "#été_2024", "https://example.org/#anchor", "＃Namur"]


def test_bluesky_counts_graphemes_not_code_points():
    text = "👩‍👩‍👧‍👦🇧🇪 Cafe\u0301 à Liège"
    assert len(text) == 23 and grapheme_count(text) == 15
    assert BLUESKY.count(text) == 15


def test_mastodon_counts_every_link_as_23_and_mentions_without_domain():
    link = "https://www.example.org/actualites/2025/fete-de-wallonie?utm_source=mastodon&utm_medium=social"
    limit = mastodon_limit()
    assert limit.count(f"Fête {link}") == 5 + 23
    assert limit.count("Merci @echevin@mastodon.social !") == len("Merci @echevin !")
    assert limit.count("é" * 477 + " " + link) == 501
    assert fit("é" * 476 + " " + link, limit, "city-mastodon", truncate=False).within_limit


def test_over_limit_message_names_account_and_count():
    text = "Fête à Liège 🎉 " * 24 + "https://example.org/a"
    result = fit(text, BLUESKY, "city-bluesky", truncate=False)
    assert result.count == 15 * 24 + 21
    assert result.problem == "city-bluesky: 381 graphemes, over Bluesky's limit of 300"
    assert result.text == text and not result.within_limit


def test_truncate_cuts_on_a_word_boundary_and_keeps_the_link_whole_at_the_end():
    link = "https://example.org/actualites/fete?utm_source=bluesky"
    text = "La Fête de Wallonie revient à Liège, " * 12 + f"programme complet : {link} #Liège #Wallonie"
    result = fit(text, BLUESKY, "city-bluesky", truncate=True)
    assert result.truncated and result.within_limit and result.count <= 300
    head, _, kept = result.text.rpartition("… ")
    assert kept == link
    assert text.startswith(head) and text[len(head)] in " ,"  # a word boundary, the comma left out
    assert result.count > 300 - 12  # as much text as fits
    assert [covered(result.text, f) for f in facets(result.text)] == [link]


def test_truncate_without_link_and_with_a_first_word_too_long():
    assert shorten("un deux trois quatre", mastodon_limit(12)) == "un deux…"
    assert shorten("abcdefghijklmnop", mastodon_limit(5)) == "abcd…"


def test_truncate_gives_up_when_the_link_alone_does_not_fit():
    text = "Texte " + "https://example.org/" + "a" * 300
    result = fit(text, BLUESKY, "city-bluesky", truncate=True)
    assert not result.within_limit and "its link alone leaves no room" in result.problem
