"""The languages of the public unsubscribe page and of the footer that links to it.

The texts are Babel message catalogs, `locale/<lang>/LC_MESSAGES/messages.po` beside this file (extracted with
pybabel into `locale/messages.pot`, see `locale/README.md`), compiled in memory with Babel's API the first time
a language is used: no compiled `.mo` file to build, ship or forget to refresh.
"""
from __future__ import annotations

import functools
import gettext
from io import BytesIO
from pathlib import Path

from babel import Locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from beffroi import best_language

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"
ORDER = ("fr", "nl", "de", "en")  # Belgium's languages, then English: the order the footer offers them
DEFAULT = "fr"


def catalog_path(language: str) -> Path:
    """Where the catalog of a language is kept."""
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@functools.cache
def languages() -> tuple[str, ...]:
    """The languages that have a catalog, in the order offered (only these are promised in messages)."""
    found = {path.parent.parent.name for path in LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po")}
    return tuple(lang for lang in ORDER if lang in found) + tuple(sorted(found - set(ORDER)))


@functools.cache
def translations(language: str) -> gettext.GNUTranslations:
    """The compiled catalog of one language (KeyError for a language without one)."""
    if language not in languages():
        raise KeyError(language)
    with catalog_path(language).open("rb") as source:
        catalog = read_po(source, locale=language, domain=DOMAIN)
    compiled = BytesIO()
    write_mo(compiled, catalog)  # fuzzy entries are left out: an unchecked translation is not shown
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


@functools.cache
def language_name(language: str) -> str:
    """The name of a language in that language (Nederlands, Deutsch…), from Babel's locale data."""
    name = Locale.parse(language).get_display_name(language) or language
    return name[:1].upper() + name[1:]


def from_accept_language(header: str | None) -> str | None:
    """The best language of ours in an Accept-Language header (`nl-BE,nl;q=0.9,fr;q=0.8`), or None."""
    return best_language(header, languages())


def choose(asked: str | None, accept_language: str | None, default: str | None = None) -> str:
    """The language of a page: `?lang=`, then the browser's Accept-Language, then the list's, then French."""
    asked = (asked or "").strip().lower()
    if asked in languages():
        return asked
    return from_accept_language(accept_language) or (default if default in languages() else DEFAULT)
