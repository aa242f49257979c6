"""Keep secrets out of the journal, logs and errors."""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Iterable

from pydantic import SecretBytes, SecretStr

MASK = "***"
_SECRET_KEY = re.compile(r"pass(word|wd)?|secret|token|api[-_]?key|authori[sz]ation|cookie|private[-_]?key|signature",
                         re.IGNORECASE)


@lru_cache(maxsize=4096)  # the same few field names, again and again, on every step
def is_secret_key(name: str) -> bool:
    """True for field or header names that usually hold a credential."""
    return bool(_SECRET_KEY.search(name))


def redact(value: Any, secrets: Iterable[str] = ()) -> Any:
    """A copy of value with secret-looking keys masked and any known secret text replaced."""
    secrets = [s for s in secrets if s and len(s) >= 4]
    return _redact(value, secrets)


def _redact(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, dict):
        return {k: (MASK if isinstance(k, str) and is_secret_key(k) and v not in (None, "") else _redact(v, secrets))
                for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redact(v, secrets) for v in value]
    if isinstance(value, (SecretStr, SecretBytes)):
        return MASK
    if isinstance(value, str) and secrets:
        return scrub(value, secrets)
    return value


def scrub(text: str, secrets: Iterable[str]) -> str:
    """Replace every occurrence of a known secret in text."""
    for secret in secrets:
        if secret and len(secret) >= 4 and secret in text:
            text = text.replace(secret, MASK)
    return text
