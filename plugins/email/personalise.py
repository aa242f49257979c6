"""Per-recipient fields of a campaign: `[[ contact.first_name ]]`, `[[ unsubscribe_url ]]`, and the unsubscribe footer.

Why square brackets: the engine renders a step's `with` once, with the recipe's data (`{{ trigger.title }}`), before
the action runs; per-recipient fields must come through that untouched, and `[[ … ]]` does without any escaping
to learn. Two marks also say two things to a comms officer: `{{ }}` is the same for everyone, `[[ ]]` changes
per person. And only `[[ contact… ]]` and `[[ unsubscribe_url ]]` are read in the second pass: the text the
recipe inserted (a blog post that shows `{{ code }}` or a wiki-style `[[Page]]`) is never treated as a template.
Each field is evaluated by the hardened sandbox (`beffroi.templating`), so filters work:
`[[ contact.first_name or 'Madame, Monsieur' ]]`, `[[ contact.custom.city | default('') ]]`.
"""
from __future__ import annotations

import difflib
import html
import re
from typing import Any

from beffroi import TemplateError, Templater

CONTACT_FIELDS = ("email", "first_name", "last_name", "organisation", "custom", "id")
FIELD_HELP = ("Per-recipient fields go in double square brackets: [[ contact.first_name ]], [[ contact.last_name ]], "
              "[[ contact.organisation ]], [[ contact.email ]], [[ contact.custom.<name> ]] and [[ unsubscribe_url ]] "
              "(e.g. \"Bonjour [[ contact.first_name or 'à vous' ]]\"). {{ … }} is filled once, the same for every "
              "recipient, from the recipe's data (e.g. {{ trigger.title }}).")
_FIELD = re.compile(r"\[\[\s*((?:contact|unsubscribe_url)\b.*?)\s*\]\]")
_CONTACT_ATTR = re.compile(r"contact\s*(?:\.\s*(\w+)|\[\s*['\"](\w+)['\"]\s*\])")
_CURLY_FIELD = re.compile(r"\{\{\s*(contact\b[^}]*|unsubscribe_url\s*)\}\}")
_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)
_UNSUBSCRIBE = re.compile(r"\[\[\s*unsubscribe_url\b")


def problems(text: str) -> list[str]:
    """What is wrong with the per-recipient fields of a text (syntax, unknown contact fields), for validation."""
    found: list[str] = []
    curly = _CURLY_FIELD.search(text)
    if curly:
        found.append(f"write [[ {curly[1].strip()} ]] for a per-recipient field, not {curly[0]}")
    checker = Templater(max_output=10_000)
    for match in _FIELD.finditer(text):
        expression = match[1]
        errors = checker.check("{{ " + expression + " }}", "")
        if errors:
            found.append(f"[[ {expression} ]]: {errors[0][1]}")
        for attr in _CONTACT_ATTR.finditer(expression):
            name = attr[1] or attr[2]
            if name not in CONTACT_FIELDS:
                close = difflib.get_close_matches(name, CONTACT_FIELDS, n=1)
                hint = f" (did you mean {close[0]}?)" if close else ""
                found.append(f"[[ {expression} ]]: contacts have no field {name!r}{hint}; they have "
                             f"{', '.join(CONTACT_FIELDS[:4])} and custom.<name>")
    return found


def places_unsubscribe(text: str | None) -> bool:
    """True when the text already shows the unsubscribe link itself."""
    return bool(text and _UNSUBSCRIBE.search(text))


def contact_fields(contact: Any) -> dict[str, Any]:
    """The contact as template data; an empty field is '' (so `contact.first_name or '…'` works)."""
    data = dict(contact) if isinstance(contact, dict) else {n: getattr(contact, n, None) for n in CONTACT_FIELDS}
    data = {key: ("" if value is None else value) for key, value in data.items()}
    data["custom"] = data.get("custom") or {}
    return data


class Personaliser:
    """Fills `[[ … ]]` fields for one recipient; one instance (one compiled-template cache) per campaign."""

    def __init__(self):
        self.templater = Templater()

    def fill(self, text: str | None, context: dict[str, Any], *, as_html: bool = False) -> str | None:
        """The text with its per-recipient fields filled in (HTML-escaped in HTML); TemplateError if one fails."""
        if text is None:
            return None

        def value(match: re.Match) -> str:
            if as_html:  # escaped by the sandbox, so '[[ contact.custom.bio|safe ]]' can keep markup
                return self.templater.render_html("{{ " + match[1] + " }}", context)
            result = self.templater.render("{{ " + match[1] + " }}", context)
            return "" if result is None else str(result)

        return _FIELD.sub(value, text)


def footer_text(text: str, lines: list[str]) -> str:
    """Plain text with the unsubscribe line(s) appended after a signature separator."""
    return f"{text.rstrip()}\n\n-- \n" + "".join(f"{line}\n" for line in lines)


def footer_html(body: str, links: list[tuple[str, str, str | None]]) -> str:
    """HTML with a paragraph of unsubscribe links, (url, label, language or None), placed before </body>."""
    anchors = " · ".join(f'<a href="{html.escape(url)}"' + (f' lang="{html.escape(lang)}"' if lang else "")
                         + f">{html.escape(label)}</a>" for url, label, lang in links)
    link = f'<p style="font-size:small;color:#555555">{anchors}</p>'
    ends = list(_BODY_END.finditer(body))
    if ends:
        at = ends[-1].start()
        return f"{body[:at]}{link}\n{body[at:]}"
    return f"{body.rstrip()}\n{link}\n"


__all__ = ["FIELD_HELP", "Personaliser", "TemplateError", "contact_fields", "footer_html", "footer_text",
           "places_unsubscribe", "problems"]
