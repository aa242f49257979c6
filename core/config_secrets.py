"""Where a connection config holds secrets, at any depth: find them, take them out, put them back."""
from __future__ import annotations

import base64
import itertools
import re
import types
import typing
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, SecretBytes, SecretStr

_BYTES = "$bytes"  # a stored SecretBytes leaf is {"$bytes": base64}: JSON has no bytes, and it may not be UTF-8
_UNIONS = (typing.Union, types.UnionType)
MASKED = "**********"  # how pydantic prints a secret


def secret_fields(model: type[BaseModel]) -> set[str]:
    """Where a config model declares secrets: `token`, `login.password`, `accounts[].token`, `headers.*`."""
    return set(_declared(model, "", set()))


def _declared(annotation: Any, path: str, seen: set[type]) -> Iterator[str]:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation in (SecretStr, SecretBytes):
        yield path
    elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if annotation in seen:  # a model that contains itself: its secrets are already listed
            return
        for name, field in annotation.model_fields.items():
            yield from _declared(field.annotation, f"{path}.{name}" if path else name, seen | {annotation})
    elif origin is typing.Annotated:
        yield from _declared(args[0], path, seen)
    elif origin in _UNIONS:
        for arg in args:
            yield from _declared(arg, path, seen)
    elif isinstance(origin, type) and issubclass(origin, (list, tuple, set, frozenset)):
        for arg in args:
            if arg is not Ellipsis:
                yield from _declared(arg, f"{path}[]", seen)
    elif isinstance(origin, type) and issubclass(origin, dict) and len(args) == 2:
        yield from _declared(args[1], f"{path}.*", seen)


def split_config(values: BaseModel) -> tuple[dict, dict]:
    """(plain settings as JSON data, secrets as text in the same shape) of a validated config.

    A secret in a list leaves None in its place in the plain settings, so list positions stay aligned.
    """
    plain = values.model_dump(mode="json")
    secrets: dict = {}
    for path, secret in _found(values.model_dump(), ()):
        _take(plain, path)
        _put(secrets, path, _stored(secret))
    return plain, secrets


def masked_secrets(values: BaseModel) -> list[str]:
    """Paths of secrets whose value is pydantic's mask: earlier versions stored that text for nested secrets."""
    return [".".join(map(str, path)) for path, secret in _found(values.model_dump(), ())
            if secret.get_secret_value() in (MASKED, MASKED.encode())]


def _found(value: Any, path: tuple) -> Iterator[tuple[tuple, SecretStr | SecretBytes]]:
    if isinstance(value, (SecretStr, SecretBytes)):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _found(item, (*path, key))
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _found(item, (*path, index))


def _stored(secret: SecretStr | SecretBytes) -> Any:
    value = secret.get_secret_value()
    return {_BYTES: base64.b64encode(value).decode()} if isinstance(value, bytes) else value


def _take(plain: Any, path: tuple) -> None:
    *parents, last = path
    for step in parents:
        plain = plain[step]
    if isinstance(plain, list):
        plain[last] = None
    else:
        del plain[last]


def _put(tree: dict, path: tuple, leaf: Any) -> None:
    node: Any = tree
    for step, following in itertools.pairwise(path):
        node = _slot(node, step, [] if isinstance(following, int) else {})
    if isinstance(node, list):
        node.extend([None] * (path[-1] + 1 - len(node)))
    node[path[-1]] = leaf


def _slot(node: Any, step: Any, empty: Any) -> Any:
    if isinstance(node, list):
        node.extend([None] * (step + 1 - len(node)))
        if node[step] is None:
            node[step] = empty
        return node[step]
    return node.setdefault(step, empty)


def fill_secrets(config: Any, secrets: Any) -> Any:
    """config with stored secrets put back where it leaves them out (a missing key, or None in a list).

    An explicit None for a key is kept (it clears that secret); a list the config gives keeps its length.
    """
    if secrets is None:
        return config
    if _is_leaf(secrets):
        return _loaded(secrets) if config is None else config
    if isinstance(secrets, dict) and isinstance(config, (dict, type(None))):
        merged = dict(config or {})
        for key, value in secrets.items():
            if key not in merged:
                merged[key] = fill_secrets(None, value)
            elif merged[key] is not None and not _is_leaf(value):
                merged[key] = fill_secrets(merged[key], value)
        return merged
    if isinstance(secrets, list) and isinstance(config, (list, type(None))):
        items = list(config) if config is not None else [None] * len(secrets)
        return [fill_secrets(item, value) for item, value in zip(items, secrets)] + items[len(secrets):]
    return config


def _is_leaf(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, dict) and set(value) == {_BYTES})


def _loaded(leaf: Any) -> Any:
    return base64.b64decode(leaf[_BYTES]) if isinstance(leaf, dict) else leaf


def secret_texts(secrets: Any) -> list[str]:
    """Every stored secret as text (what redaction looks for); bytes that are not UTF-8 count as Latin-1."""
    if _is_leaf(secrets):
        value = _loaded(secrets)
        if isinstance(value, bytes):
            try:
                return [value.decode()]
            except UnicodeDecodeError:
                return [value.decode("latin-1")]
        return [value]
    items = secrets.values() if isinstance(secrets, dict) else secrets if isinstance(secrets, list) else []
    return [text for item in items if item is not None for text in secret_texts(item)]


def stored_paths(secrets: Any, path: str = "") -> set[str]:
    """The paths of the stored secrets, list indexes written `[]` (`accounts[].token`, `headers.X-Key`)."""
    if _is_leaf(secrets):
        return {path}
    if isinstance(secrets, list):
        return {p for item in secrets if item is not None for p in stored_paths(item, f"{path}[]")}
    if isinstance(secrets, dict):
        return {p for key, item in secrets.items() for p in stored_paths(item, f"{path}.{key}" if path else key)}
    return set()


def is_stored(pattern: str, paths: set[str]) -> bool:
    """True when a secret_fields pattern (`headers.*` matches any key) has a stored secret."""
    regex = re.compile(re.escape(pattern).replace(r"\*", ".+") + "$")
    return any(regex.match(path) for path in paths)
