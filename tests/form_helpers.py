"""Read a page's form as a browser would submit it: the successful controls' names and values, in order."""
from __future__ import annotations

from html.parser import HTMLParser


class _Form(HTMLParser):
    def __init__(self, form_id: str):
        super().__init__(convert_charrefs=True)
        self.form_id, self.inside, self.fields = form_id, False, []
        self._textarea: list | None = None
        self._select: str | None = None
        self._options: list[tuple[str, bool]] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and a.get("id") == self.form_id:
            self.inside = True
        if not self.inside:
            return
        if tag == "input" and a.get("name"):
            kind = a.get("type", "text")
            if kind in ("submit", "button", "image", "reset"):
                return
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            self.fields.append([a["name"], a.get("value", "on" if kind in ("checkbox", "radio") else "")])
        elif tag == "textarea" and a.get("name"):
            self._textarea = [a["name"], ""]
        elif tag == "select" and a.get("name"):
            self._select, self._options = a["name"], []
        elif tag == "option" and self._select is not None:
            self._options.append((a.get("value", ""), "selected" in a))

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea[1] += data

    def handle_endtag(self, tag):
        if tag == "form" and self.inside:
            self.inside = False
        elif tag == "textarea" and self._textarea is not None:
            name, text = self._textarea
            self.fields.append([name, text[1:] if text.startswith("\n") else text])  # the newline after <textarea>
            self._textarea = None
        elif tag == "select" and self._select is not None:
            chosen = [value for value, selected in self._options if selected] or [v for v, _ in self._options[:1]]
            self.fields.extend([self._select, value] for value in chosen)
            self._select = None


def form_fields(html: str, form_id: str) -> list[list[str]]:
    """[name, value] pairs of the form with this id, as a browser submits them (no button)."""
    parser = _Form(form_id)
    parser.feed(html)
    return parser.fields


def with_values(fields: list[list[str]], **changes: str) -> list[tuple[str, str]]:
    """The fields with some values replaced (or added); names with dots and brackets are given as keyword strings
    through a dict: with_values(fields, **{"steps[0].id": "x"})."""
    out, done = [], set()
    for name, value in fields:
        if name in changes:
            if name in done:
                continue
            value = changes[name]
            done.add(name)
        out.append((name, value))
    out.extend((name, value) for name, value in changes.items() if name not in done)
    return out


def as_data(pairs) -> dict[str, list[str]]:
    """Pairs as httpx's form data (a name given several times keeps every value, in order)."""
    data: dict[str, list[str]] = {}
    for name, value in pairs:
        data.setdefault(name, []).append(value)
    return data
