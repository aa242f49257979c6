"""Compiling and rendering the templates of recipe values.

Recipe values may contain ``{{ … }}`` expressions evaluated against a context
(``trigger``, ``steps``, ``run``, ``item``…). :class:`Templater` compiles each
source once, runs it in the hardened sandbox of :mod:`beffroi.sandbox` (no
Python internals, size caps, a memory and step budget per render), caps its output and
turns every failure into a one-line :class:`TemplateError`; it also checks
templates and finds their ``steps.X`` references without rendering them.
A field that holds HTML is rendered with autoescaping: its ``{{ … }}`` values
are HTML-escaped unless marked ``|safe``; other fields stay raw text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, ItemsView, Iterator, KeysView, Mapping, ValuesView
from functools import lru_cache
from typing import Any, NamedTuple

from jinja2 import Template, nodes
from jinja2.exceptions import SecurityError, TemplateSyntaxError, UndefinedError
from jinja2.parser import Parser
from jinja2.utils import missing

from .budget import CURRENT, MEMORY_BUDGET, BudgetExceeded, fresh
from .explain import explain
from .sandbox import _LOOP_GUARD, MissingValue, _Sandbox, _vet


class TemplateError(ValueError):
    """A template that cannot be compiled or rendered; str(e) is a readable one-line message."""

    missing_name: Any = None  # the field, key or index the template asked for and did not find


_RESULT = "__result__"  # variable receiving the value of a single-expression template
_UNKNOWN_NAME = re.compile(r"No (filter|test) named '([^']*)'(?: found)?\.?")
_UNDEFINED_NAME = re.compile(r"'([^']*)' is undefined")
_BLOCK = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.S)
MAX_SHOWN = 100  # characters of a template quoted in an error


def _message(exc: Exception, compiled: _Compiled | None = None, scope: Mapping[str, Any] | None = None) -> str:
    """A one-line, human message for any template failure (`compiled` and `scope` name a missing value's path)."""
    if isinstance(exc, MissingValue) and exc.obj is not missing and compiled is not None and scope is not None:
        text = explain(compiled.tree, scope, exc.obj, exc.name)
    elif isinstance(exc, TemplateSyntaxError):
        text = _UNKNOWN_NAME.sub(r"unknown \1 '\2'", exc.message or "invalid template").rstrip(".")
        text = f"template syntax error: {text} (line {exc.lineno})"
    elif isinstance(exc, UndefinedError) and (undefined := _UNDEFINED_NAME.fullmatch(str(exc))):
        text = f"unknown variable {undefined[1]!r}"
    elif isinstance(exc, (SecurityError, UndefinedError)):
        text = str(exc)
    elif isinstance(exc, RecursionError):
        text = "template recursion is too deep"
    elif isinstance(exc, MemoryError):
        text = "template needs too much memory"
    else:  # TypeError, ZeroDivisionError, runtime unknown filter…: Python's text is readable
        text = _UNKNOWN_NAME.sub(r"unknown \1 '\2'", str(exc) or type(exc).__name__)
    text = " ".join(text.splitlines())
    return text if len(text) <= 300 else text[:297] + "..."


def _located(loc: str, source: str, exc: TemplateError) -> TemplateError:
    """The error of a template, prefixed with where it is in the recipe and the template as written."""
    shown = " ".join(source.split())
    if len(shown) > MAX_SHOWN:  # a long text: quote only its {{ … }} block that failed, or the first one
        name = exc.missing_name
        blocks = [" ".join(b.split()) for b in _BLOCK.findall(source)] or [shown]
        shown = next((b for b in blocks if name is not None and str(name) in b), blocks[0])
        shown = shown if len(shown) <= MAX_SHOWN else shown[:MAX_SHOWN - 1] + "…"
    return TemplateError(f"{loc}: {shown}: {exc}")


def _is_template(value: str) -> bool:
    """Cheap test for the no-template fast path."""
    return "{{" in value or "{%" in value


class _Compiled(NamedTuple):
    native: bool  # single expression: render returns its value, not its text
    template: Template
    steps: frozenset[str]
    tree: nodes.Template  # as parsed: read again only to explain a missing value


class Templater:
    """Compiles and renders recipe templates in a hardened sandbox (see module docstring)."""

    def __init__(self, *, max_output: int = 100_000, max_range: int = 10_000,
                 max_power_result_digits: int = 1000, filters: Mapping[str, Callable] | None = None,
                 clock: Callable[[], Any] | None = None):
        self.max_output = max_output
        self._env = _Sandbox(max_output, max_range, max_power_result_digits, filters or {})
        if clock is not None:  # `now()` in a recipe: the engine's clock (a simulated one in rehearsals)
            self._env.globals["now"] = lambda: clock()
        # Recipes reuse the same few hundred sources: compile each once.
        self._compile = lru_cache(maxsize=4096)(self._compile_source)

    def render(self, value: Any, context: Mapping[str, Any], loc: str | None = None, *,
               html: Collection[str] = ()) -> Any:
        """Render strings inside dicts (values only) and lists; a lone '{{ expr }}' keeps its native type.

        With `loc` (where value sits in the recipe, 'steps[2].with'), an error names the failing field below it
        and quotes its template: 'steps[2].with.properties.toot: {{ … }}: …'. The keys of value named in `html`
        hold HTML: their templates render as text with every '{{ … }}' HTML-escaped (see `render_html`).
        All the templates of value share one budget (16 MiB, 100,000 loop iterations and calls).
        """
        scope = self._scope(context)
        try:
            with fresh():
                if html and isinstance(value, dict):
                    return {key: self._render(item, scope, key in html) for key, item in value.items()}
                return self._render(value, scope, False)
        except TemplateError as exc:
            if loc is None:
                raise
            # Found again only on failure, so the walk of the happy path carries no location; in the same
            # order from a full budget, so a template failing on what the ones before it used fails again.
            with fresh():
                for where, text, as_html in _walk(value, loc, html):
                    try:
                        self._run(self._compile(text, False, as_html), scope)
                    except TemplateError as found:
                        raise _located(where, text, found) from None
            raise _located(loc, str(value), exc) from None

    def render_html(self, text: str, context: Mapping[str, Any]) -> str:
        """Render a template that makes HTML: every '{{ … }}' is HTML-escaped unless the author wrote '|safe'."""
        with fresh():
            return self._render(text, self._scope(context), True)

    def _render(self, value: Any, scope: dict, as_html: bool) -> Any:
        if isinstance(value, str):
            return self._run(self._compile(value, False, as_html), scope) if _is_template(value) else value
        if isinstance(value, dict):
            return {key: self._render(item, scope, as_html) for key, item in value.items()}
        if isinstance(value, list):
            return [self._render(item, scope, as_html) for item in value]
        return value

    def _scope(self, context: Mapping[str, Any]) -> dict:
        """The sandbox's globals and the context in one dict, built once for every template of a render()."""
        return {**self._env.globals, **context}

    def evaluate(self, expression: str, context: Mapping[str, Any], loc: str | None = None) -> bool:
        """Truthiness of an if: condition, bare ('x in y') or wrapped ('{{ x in y }}'); `loc` as for render()."""
        if not isinstance(expression, str):  # YAML `if: true`
            return bool(expression)
        try:
            with fresh():
                return bool(self._run(self._compile_condition(expression), self._scope(context)))
        except TemplateError as exc:
            if loc is None:
                raise
            raise _located(loc, expression, exc) from None

    def check(self, value: Any, loc: str) -> list[tuple[str, str]]:
        """Compile every template in value without rendering; return [(location, message)] errors."""
        errors: list[tuple[str, str]] = []
        for where, text, _ in _walk(value, loc):
            try:
                self._compile(text, False, False)
            except TemplateError as exc:
                errors.append((where, str(exc)))
        return errors

    def check_expression(self, expression: str, loc: str) -> list[tuple[str, str]]:
        """Compile an if: expression; return [(loc, message)] if it is invalid."""
        if not isinstance(expression, str):
            return []
        try:
            self._compile_condition(expression)
        except TemplateError as exc:
            return [(loc, str(exc))]
        return []

    def step_references(self, value: Any) -> set[str]:
        """Ids X referenced as steps.X or steps['X'] by the templates in value."""
        refs: set[str] = set()
        for _, text, _ in _walk(value, ""):
            try:
                refs |= self._compile(text, False, False).steps
            except TemplateError:  # reported by check()
                pass
        return refs

    def step_references_in_expression(self, expression: str) -> set[str]:
        """Ids X referenced as steps.X or steps['X'] by an if: expression."""
        try:
            return set(self._compile_condition(expression).steps) if isinstance(expression, str) else set()
        except TemplateError:
            return set()

    # -- internals ------------------------------------------------------------------------
    def _compile_condition(self, expression: str) -> _Compiled:
        """An if: condition is one expression, optionally wrapped in {{ }}."""
        text = expression.strip()
        if not _is_template(text):
            return self._compile(text, True, False)
        compiled = self._compile(text, False, False)
        if not compiled.native:
            raise TemplateError("a condition must be a single expression")
        return compiled

    def _compile_source(self, source: str, bare_expression: bool, as_html: bool = False) -> _Compiled:
        """Parse, vet and compile one source (a template, or a bare expression); as_html autoescapes it."""
        env = self._env
        try:
            if bare_expression:
                parser = Parser(env, source, state="variable")
                expr: nodes.Expr | None = parser.parse_expression()
                if not parser.stream.eos:
                    raise TemplateSyntaxError("unexpected text after the expression", parser.stream.current.lineno)
                tree = nodes.Template([nodes.Output([expr])], lineno=1)  # so find_all() sees expr itself
            else:
                tree = env.parse(source)
                expr = None if as_html else _single_expression(tree)  # HTML is always text, never a value
            for pow_node in tree.find_all(nodes.Pow):
                # Jinja reads 10**10**8 as (10**10)**8, not 10**(10**8) as Python does: refuse the ambiguity.
                if isinstance(pow_node.left, nodes.Pow):
                    raise TemplateSyntaxError("a power of a power (a**b**c) is not allowed; write a**(b*c)",
                                              pow_node.lineno)
            for node in tree.find_all((nodes.Filter, nodes.Test)):
                # Jinja defers this check to run time inside {% if %} blocks; check() must see it
                known = env.filters if isinstance(node, nodes.Filter) else env.tests
                if node.name not in known:
                    kind = "filter" if isinstance(node, nodes.Filter) else "test"
                    raise TemplateSyntaxError(f"unknown {kind} {node.name!r}", node.lineno)
            for loop in tree.find_all(nodes.For):
                loop.iter = nodes.Filter(loop.iter, _LOOP_GUARD, [], [], None, None, lineno=loop.lineno)
            steps, parsed = frozenset(_step_ids(tree)), tree
            if as_html:
                escaping = nodes.ScopedEvalContextModifier([nodes.Keyword("autoescape", nodes.Const(True))],
                                                           tree.body, lineno=1)  # as {% autoescape true %} would
                tree = nodes.Template([escaping], lineno=1)
                tree.set_environment(env)
            if expr is not None:  # evaluate into a variable to keep the native value
                tree = nodes.Template([nodes.Assign(nodes.Name(_RESULT, "store"), expr, lineno=1)], lineno=1)
                tree.set_environment(env)
            return _Compiled(expr is not None, env.from_string(tree), steps, parsed)
        except Exception as exc:  # noqa: BLE001 - a boundary: any failure becomes the product's own error
            raise TemplateError(_message(exc)) from None

    def _run(self, compiled: _Compiled, scope: dict) -> Any:
        """Execute a compiled template within the budget of the render in progress; cap and vet the result.

        `scope` holds the globals and the data (`_scope()`); the templates of one render() share it read-only
        instead of each copying it (a template's own variables go to its own context).
        """
        template = compiled.template
        try:
            ctx = template.new_context(scope, shared=True)
            if compiled.native:
                for _ in template.root_render_func(ctx):
                    pass
                result = ctx.vars[_RESULT]
                # lazy filter results → plain lists
                if isinstance(result, (Iterator, range, KeysView, ValuesView, ItemsView)):
                    result = list(result)
                elif isinstance(result, str):  # Markup (from tojson) → plain str
                    result = str.__str__(result)
                elif isinstance(result, (list, tuple, dict)):
                    # the caller stores and serializes it, references and all: a shared list must not explode
                    if CURRENT.get().size_of(result, MEMORY_BUDGET) > MEMORY_BUDGET:
                        raise BudgetExceeded(f"this template builds a value larger than {MEMORY_BUDGET // 2**20} MiB")
                _vet(result)
            else:  # stream, so a runaway loop stops as soon as the output is too long
                parts, size = [], 0
                for chunk in template.root_render_func(ctx):
                    size += len(chunk)
                    if size > self.max_output:
                        raise SecurityError(f"template output exceeds {self.max_output} characters")
                    parts.append(chunk)
                result = "".join(parts)
            if isinstance(result, str) and len(result) > self.max_output:
                raise SecurityError(f"template output exceeds {self.max_output} characters")
            return result
        except Exception as exc:  # noqa: BLE001 - a boundary: any failure becomes the product's own error
            error = TemplateError(_message(exc, compiled, scope))
            error.missing_name = exc.name if isinstance(exc, MissingValue) else None
            raise error from None


def _single_expression(tree: nodes.Template) -> nodes.Expr | None:
    """The expression of a template that is exactly one '{{ expr }}' (whitespace around allowed)."""
    if len(tree.body) != 1 or not isinstance(tree.body[0], nodes.Output):
        return None
    found = [n for n in tree.body[0].nodes if not (isinstance(n, nodes.TemplateData) and not n.data.strip())]
    if len(found) == 1 and not isinstance(found[0], nodes.TemplateData):
        return found[0]
    return None


def _step_ids(tree: nodes.Node) -> Iterator[str]:
    """Yield X for every steps.X / steps['X'] in a Jinja AST."""
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        if not isinstance(node, (nodes.Getattr, nodes.Getitem)):  # what find_all yields (typed only as Node)
            continue
        if isinstance(node.node, nodes.Name) and node.node.name == "steps":
            if isinstance(node, nodes.Getattr):
                yield node.attr
            elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
                yield node.arg.value


def _walk(value: Any, loc: str, html: Collection[str] = (), as_html: bool = False) -> Iterator[tuple[str, str, bool]]:
    """Yield (location, source, is HTML) for every template string in value, as render() walks it."""
    if isinstance(value, str):
        if _is_template(value):
            yield loc, value, as_html
    elif isinstance(value, dict):
        for key, item in value.items():  # `html` names keys of the top level only
            yield from _walk(item, f"{loc}.{key}" if loc else str(key), (), as_html or key in html)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, f"{loc}[{index}]", (), as_html)
