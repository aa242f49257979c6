"""The UI's languages: Babel catalogs `locale/<lang>/LC_MESSAGES/*.po` (`messages.po`, then one file per area of the
UI, merged), read at runtime with Babel's API and compiled in memory on first use (no `.mo` file to build); the choice
of language; dates in the installation's zone.
"""
from __future__ import annotations

import functools
import gettext
from datetime import datetime
from io import BytesIO
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime, format_time, get_datetime_format
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from beffroi import best_language

LOCALE_DIR = Path(__file__).parent / "locale"
LANGUAGES = ("fr", "en")
DEFAULT = "fr"
NAMES = {"fr": "Français", "en": "English"}


def catalog(language: str) -> Catalog:
    """The catalog of one of LANGUAGES: `messages.po` and the other `.po` files beside it, merged."""
    folder = LOCALE_DIR / language / "LC_MESSAGES"
    merged: Catalog | None = None
    for path in sorted(folder.glob("*.po"), key=lambda p: (p.name != "messages.po", p.name)):
        with path.open("rb") as source:
            part = read_po(source, locale=language)
        if merged is None:
            merged = part
            continue
        for message in part:  # the first file holding a message (with its context) gives it
            if message.id and merged.get(message.id, message.context) is None:
                merged[message.id] = message
    assert merged is not None, f"no catalog in {folder}"
    return merged


@functools.cache
def translations(language: str) -> gettext.GNUTranslations:
    """The compiled catalog of one of LANGUAGES (fuzzy entries are left out)."""
    catalog_ = catalog(language)
    compiled = BytesIO()
    write_mo(compiled, catalog_)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def choose(cookie: str | None, accept_language: str | None) -> str:
    """The language of a page: the person's choice (a cookie), then Accept-Language, then French."""
    if cookie in LANGUAGES:
        return cookie
    return best_language(accept_language, LANGUAGES) or DEFAULT


def when(value: str | datetime | None, language: str, zone: str) -> str:
    """A time (ISO text or aware datetime) in the language's format and the installation's time zone; '' for None."""
    if value is None:
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return format_datetime(moment, "medium", tzinfo=ZoneInfo(zone), locale=language)


def when_day(value: str | datetime, language: str, zone: str) -> str:
    """A time to come, with its weekday and without seconds ('lundi 14 décembre 2026, 10:00'): a publication's."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    local = moment.astimezone(ZoneInfo(zone))
    pattern = str(get_datetime_format("full", locale=language))  # '{1}, {0}': the date, then the time
    return pattern.replace("{1}", format_date(local, "full", locale=language)).replace(
        "{0}", format_time(local, "short", locale=language))
