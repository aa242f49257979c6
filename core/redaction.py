"""Keep secrets out of the journal, logs and errors."""
from __future__ import annotations

import base64
import json
import logging
import re
import sys
import traceback
from collections.abc import Iterable
from functools import lru_cache
from typing import Any
from urllib.parse import quote, quote_plus

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
    """Replace every occurrence of a known secret in text, as is or encoded (URL, JSON, base64)."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            for form in encodings(secret):
                if form in text:
                    text = text.replace(form, MASK)
    return text


@lru_cache(maxsize=1024)  # the same connection secrets on every step and log line
def encodings(secret: str) -> tuple[str, ...]:
    """The forms a secret takes when a server echoes it back, longest first.

    Base64 text holds a secret inside other bytes (HTTP basic auth is base64 of `user:password`), so for each
    of the three alignments the part encoding the secret's bytes alone is searched: at most two bytes at
    each end stay readable, never the secret.
    """
    raw = secret.encode()
    forms = {secret, quote(secret, safe=""), quote(secret), quote_plus(secret), json.dumps(secret)[1:-1]}
    for shift in range(3):
        padded = base64.b64encode(b"\0" * shift + raw).decode()
        core = padded[4 if shift else 0:4 * ((shift + len(raw)) // 3)]
        if len(core) >= 8:  # shorter runs of base64 are too common to mask
            forms |= {core, core.replace("+", "-").replace("/", "_")}
    return tuple(sorted(forms, key=len, reverse=True))


class RedactingLogger(logging.LoggerAdapter):
    """An action's logger that takes its connections' secrets out of every message and traceback it writes."""

    def __init__(self, logger: logging.Logger | logging.LoggerAdapter, secrets: Iterable[str]):
        super().__init__(logger, {})
        self.secrets = [s for s in secrets if s and len(s) >= 4]

    def log(self, level: int, msg: Any, *args: Any, exc_info: Any = None, **kwargs: Any) -> None:
        """Format the message (and traceback) here, where the secrets are known, then pass the clean text on."""
        if not self.isEnabledFor(level):
            return
        try:
            text = str(msg) % args if args else str(msg)
        except (TypeError, ValueError):
            text = " ".join(map(str, (msg, *args)))
        if exc_info:
            if isinstance(exc_info, BaseException):
                exc_info = (type(exc_info), exc_info, exc_info.__traceback__)
            elif not isinstance(exc_info, tuple):
                exc_info = sys.exc_info()
            if exc_info[0] is not None:
                text += "\n" + "".join(traceback.format_exception(*exc_info)).rstrip()
        kwargs["stacklevel"] = kwargs.get("stacklevel", 1) + 1  # the caller's line, not this method's
        self.logger.log(level, scrub(text, self.secrets), **kwargs)
