"""Plain-words messages for a field, key or index a template asked for and its data does not have.

Jinja says "'dict object' has no attribute 'url'"; a comms officer needs "steps.announce.results[0] has no field
'url'; it has: id, status". The sandbox's Undefined carries the object and the missing name
(:class:`beffroi.sandbox.MissingValue`); here we find which path of the template led to that object, by reading
its AST and following the plain data of the render (dict keys and list indexes only, no template code), and
list what the object has instead. Only failures come here: the happy path never pays for it.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jinja2 import nodes

MAX_LISTED = 10  # keys named in a message; the rest are counted
_NOTHING = object()
_KINDS = {str: "a text", bool: "true or false", int: "a number", float: "a number", type(None): "empty (null)"}


def explain(tree: nodes.Node, scope: Mapping[str, Any], obj: Any, name: Any) -> str:
    """'<path> has no field …; it has: …', '<path> has N items; [i] is out of range' and the like."""
    where = locate(tree, scope, obj, name) or "the value"
    if isinstance(obj, Mapping):
        keys = sorted(map(str, obj))
        if not keys:
            return f"{where} has no field {name!r}; it is empty"
        listed = ", ".join(keys[:MAX_LISTED]) + (f" and {len(keys) - MAX_LISTED} more" if len(keys) > MAX_LISTED
                                                 else "")
        return f"{where} has no field {name!r}; it has: {listed}"
    if isinstance(obj, (list, tuple)):
        if isinstance(name, int):
            count = "no items" if not obj else "1 item" if len(obj) == 1 else f"{len(obj)} items"
            return f"{where} has {count}; [{name}] is out of range"
        return f"{where} is a list, not a record with fields: it has no field {name!r} (pick an item, e.g. [0])"
    if obj is None and where.startswith("steps.") and where.count(".") == 1:
        return f"{where} has no output (the step was skipped or failed): it has no field {name!r}"
    kind = _KINDS.get(type(obj), f"a {type(obj).__name__}")
    return f"{where} is {kind}, not a record with fields: it has no field {name!r}"


def locate(tree: nodes.Node, scope: Mapping[str, Any], obj: Any, name: Any) -> str | None:
    """The path as written ('steps.announce.results[0]') whose value is obj, where the template asked obj for name.

    The path whose data is obj itself wins; else the one path asking for that name (a loop variable, a `set`
    variable); None when neither is found.
    """
    by_name: set[str] = set()
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        if not isinstance(node, (nodes.Getattr, nodes.Getitem)):  # what find_all yields (typed only as Node)
            continue
        key = node.attr if isinstance(node, nodes.Getattr) else \
            node.arg.value if isinstance(node.arg, nodes.Const) else _NOTHING
        text = _text(node.node)
        if text is None or (key is not _NOTHING and key != name):
            continue
        if _lookup(node.node, scope) is obj:
            return text
        if key is not _NOTHING:
            by_name.add(text)
    return by_name.pop() if len(by_name) == 1 else None


def _text(node: nodes.Node) -> str | None:
    """A plain path (name, .field, [key], [index]) as text; None for anything computed (a filter, a call…)."""
    if isinstance(node, nodes.Name):
        return node.name
    base = _text(node.node) if isinstance(node, (nodes.Getattr, nodes.Getitem)) else None
    if base is None:
        return None
    if isinstance(node, nodes.Getattr):
        return f"{base}.{node.attr}"
    if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, (str, int)):
        key = node.arg.value
        return f"{base}.{key}" if isinstance(key, str) and key.isidentifier() else f"{base}[{key!r}]"
    return None


def _lookup(node: nodes.Node, scope: Mapping[str, Any]) -> Any:
    """The data a plain path leads to, following keys and indexes as the sandbox does; _NOTHING if it leads nowhere."""
    if isinstance(node, nodes.Name):
        return scope.get(node.name, _NOTHING)
    if isinstance(node, nodes.Getattr):
        key = node.attr
    elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
        key = node.arg.value
    else:
        return _NOTHING
    base = _lookup(node.node, scope)
    try:
        if isinstance(base, Mapping) or (isinstance(base, (list, tuple)) and isinstance(key, int)):
            return base[key]
    except (LookupError, TypeError):
        pass
    return _NOTHING
