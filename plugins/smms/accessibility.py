"""Advice on a post's accessibility, shown with its preview: what screen readers and their users stumble on.

No network, no rule that blocks a post: each item says what to change and why. The checks follow the advice of
accessibility groups and of the networks themselves (Mastodon's and Bluesky's guides):
- `hashtag_case`: a long all-lowercase hashtag probably joins several words; written in CamelCase
  (#MarcheDeNoel) a screen reader says the words apart, lowercase it spells a jumble;
- `fancy_letters`: "bold" or "script" letters made of mathematical, circled or full-width symbols are read out
  one by one by their symbol names, or skipped;
- `emoji_bullets`: lines starting with an emoji are read as "check mark button, …" before each line;
- `link_only`: a post that is only a link says nothing before the address is read out;
- `shouting`: several words in capitals in a row may be spelled out letter by letter.
"""
from __future__ import annotations

import regex

URL = regex.compile(r"https?://\S+")
HASHTAG = regex.compile(r"(?<![\p{L}\p{N}_])#([\p{L}\p{N}_]+)")
FANCY = regex.compile(r"[\U0001D400-\U0001D7FF\u2460-\u24FF\U0001F130-\U0001F189\uFF21-\uFF3A\uFF41-\uFF5A]")
EMOJI_START = regex.compile(r"^\s*\p{Extended_Pictographic}", regex.MULTILINE)
SHOUTING = regex.compile(r"(?:\b\p{Lu}{2,}\b[\s,.!?:;-]+){2,}\b\p{Lu}{2,}\b")
LONG_TAG = 10  # letters: shorter lowercase tags are most often one word (#namur, #bruxelles)


def advice(text: str) -> list[dict[str, str]]:
    """What to change in `text` for people using screen readers: [{"code", "subject"}], in the order found."""
    found: list[dict[str, str]] = []
    words = URL.sub(" ", text)
    for tag in dict.fromkeys(HASHTAG.findall(words)):
        if len(tag) >= LONG_TAG and tag.islower() and tag.isalpha():
            found.append({"code": "hashtag_case", "subject": f"#{tag}"})
    fancy = "".join(dict.fromkeys(FANCY.findall(text)))
    if fancy:
        found.append({"code": "fancy_letters", "subject": fancy[:20]})
    if len(EMOJI_START.findall(text)) >= 2:
        found.append({"code": "emoji_bullets", "subject": ""})
    if URL.search(text) and not regex.search(r"[\p{L}\p{N}]", HASHTAG.sub(" ", words)):
        found.append({"code": "link_only", "subject": ""})
    shouted = SHOUTING.search(words)
    if shouted:
        found.append({"code": "shouting", "subject": shouted.group(0)[:60]})
    return found
