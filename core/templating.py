"""Hardened Jinja2 sandbox used to render recipe values.

Recipe values may contain ``{{ … }}`` expressions evaluated against a context
(``trigger``, ``steps``, ``run``, ``item``…). Recipes are written by users, so a
template must never reach Python internals nor exhaust memory or CPU: on top of
Jinja's immutable sandbox we whitelist globals, filters and builtin methods,
refuse oversized results *before* allocating them, charge every render a work
budget (characters produced, loop iterations) and turn every failure into a
one-line :class:`TemplateError`.
"""

from __future__ import annotations

import itertools
import math
import re
import string
import unicodedata
from collections.abc import Iterator, Mapping, MappingView
from contextvars import ContextVar
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from typing import Any, Callable, NamedTuple
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from jinja2 import StrictUndefined, Template, Undefined, nodes
from jinja2 import filters as jf
from jinja2.compiler import CodeGenerator
from jinja2.exceptions import SecurityError, TemplateSyntaxError, UndefinedError
from jinja2.parser import Parser
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import pass_environment, pass_eval_context


class TemplateError(ValueError):
    """A template that cannot be compiled or rendered; str(e) is a readable one-line message."""


_SAFE_FILTERS = (
    "abs batch capitalize center count d default dictsort first float indent int items join last "
    "length list lower map max min reject rejectattr replace reverse round select selectattr slice "
    "sort string striptags sum title tojson trim truncate unique upper urlencode wordcount wordwrap"
).split()

# Methods of builtin values reachable from templates. Anything else (str.ljust(10**9),
# int.to_bytes(10**9), dict.fromkeys…) could allocate without bounds, so it is refused.
_SAFE_METHODS: dict[type, frozenset[str]] = {
    str: frozenset(
        "capitalize casefold count endswith find format format_map index isalnum isalpha isdecimal "
        "isdigit islower isnumeric isspace istitle isupper lower lstrip partition removeprefix "
        "removesuffix rfind rindex rpartition rsplit rstrip split splitlines startswith strip "
        "swapcase title upper".split()
    ),
    dict: frozenset({"get", "items", "keys", "values"}),
    list: frozenset({"count", "index"}),
    tuple: frozenset({"count", "index"}),
    date: frozenset(
        "astimezone date isocalendar isoformat isoweekday replace strftime time timestamp "
        "utcoffset weekday".split()
    ),
    timedelta: frozenset({"total_seconds"}),
}
_BUILTIN_VALUES = (str, bytes, int, float, complex, list, tuple, dict, set, frozenset, range, date, timedelta)

_RESULT = "__result__"  # variable receiving the value of a single-expression template
_LOOP_GUARD = "__loop_guard__"  # internal filter wrapped around every {% for %} iterable
_PERCENT_SPEC = re.compile(r"%%|%(?:\([^)]*\))?[#0\- +]*(\*|\d*)(?:\.(\*|\d*))?")
_UNKNOWN_NAME = re.compile(r"No (filter|test) named '([^']*)'(?: found)?\.?")
_UNDEFINED_NAME = re.compile(r"'([^']*)' is undefined")

# Remaining work budget of the render in progress (per thread / task).
_BUDGET: ContextVar[int] = ContextVar("beffroi_template_budget", default=0)


def _weight(value: Any, budget: int, depth: int = 0) -> int:
    """Expanded size of value (items + characters), stopping early once it exceeds budget."""
    if isinstance(value, (str, bytes)):
        return len(value)
    if isinstance(value, dict):
        items: Any = itertools.chain.from_iterable(value.items())
    elif isinstance(value, (list, tuple)):
        items = value
    else:
        return 1
    if depth > 32:  # absurdly deep data: treat as too big rather than recurse forever
        return budget + 1
    total = len(value)
    for item in items:
        if total > budget:
            break
        total += _weight(item, budget - total, depth + 1)
    return total


class _StrictUndefined(StrictUndefined):
    """StrictUndefined that also fails in repr(), so '[x.missing]' cannot print 'Undefined'."""

    __slots__ = ()
    __repr__ = StrictUndefined._fail_with_undefined_error


class _CodeGenerator(CodeGenerator):
    """Routes '~' concatenation through the sandbox so its size is checked before joining."""

    def visit_Concat(self, node: nodes.Concat, frame: Any) -> None:
        self.write("environment.guarded_concat((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class _Sandbox(ImmutableSandboxedEnvironment):
    """Immutable Jinja sandbox with whitelists, size caps and a per-render work budget."""

    code_generator_class = _CodeGenerator
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, max_output: int, max_range: int, max_digits: int, extra_filters: Mapping[str, Callable]):
        super().__init__(undefined=_StrictUndefined, autoescape=False, finalize=_vet)
        self.max_output, self.max_range, self.max_digits = max_output, max_range, max_digits
        self.budget = 10 * max_output
        self.globals.clear()  # drops lipsum, cycler, joiner, namespace
        self.globals.update(dict=dict, range=self.capped_range, now=_now)
        self.filters = {name: self.filters[name] for name in _SAFE_FILTERS}
        self.filters.update(self._capped_filters())
        self.filters.update(slugify=_slugify, date=_format_date, datetimeformat=_format_date, isoformat=_isoformat,
                            utm=_utm)
        self.filters[_LOOP_GUARD] = self.guard_loop
        self.filters.update(extra_filters)
        self.policies["json.dumps_kwargs"] = {"sort_keys": True, "ensure_ascii": False}

    # -- limits ---------------------------------------------------------------------------
    def grow(self, size: int, what: str, cap: int | None = None) -> None:
        """Refuse an operation whose result would be too big, before it allocates; charge the budget."""
        if cap is not None and size > cap:
            raise SecurityError(f"{what} would exceed {cap} characters")
        left = _BUDGET.get() - size
        if left < 0:
            raise SecurityError(f"template is too expensive (work budget of {self.budget} exceeded)")
        _BUDGET.set(left)

    def capped_range(self, *args: int) -> range:
        """range() limited to max_range items."""
        rng = range(*args)
        if len(rng) > self.max_range:
            raise SecurityError(f"range() is limited to {self.max_range} items")
        self.grow(len(rng), "range")
        return rng

    def guard_loop(self, iterable: Any) -> Any:
        """Charge {% for %} iterations to the budget, so nested loops cannot spin for minutes."""
        try:
            size = len(iterable)
        except TypeError:  # no len(): a lazy iterator, charged item by item
            return self._charged(iterable)
        self.grow(size, "loop")
        return iterable

    def _charged(self, iterable: Any) -> Iterator[Any]:
        """Yield the items of iterable, charging one unit of budget each."""
        for item in iterable:
            self.grow(1, "loop")
            yield item

    def guarded_concat(self, parts: tuple) -> str:
        """The '~' operator, size-checked."""
        texts = [str(part) for part in parts]
        self.grow(sum(map(len, texts)), "'~' result", self.max_output)
        return "".join(texts)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        """Check '*', '**', '+' and '%' operands so huge results are refused before computing them."""
        if operator == "**" and isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1:
            # right > 4*digits already implies too many digits (log10(2) > 1/4) and avoids float overflow
            if right > 4 * self.max_digits or right * math.log10(abs(left)) > self.max_digits:
                raise SecurityError(f"'**' result would exceed {self.max_digits} digits")
        elif operator == "*":
            if isinstance(left, int) and isinstance(right, int):
                if left.bit_length() + right.bit_length() > 3.33 * self.max_digits:
                    raise SecurityError(f"'*' result would exceed {self.max_digits} digits")
            else:
                seq, times = (left, right) if isinstance(right, int) else (right, left)
                if isinstance(times, int) and times > 0 and isinstance(seq, (str, bytes)):
                    self.grow(len(seq) * times, "string repetition", self.max_output)
                elif isinstance(times, int) and times > 0 and isinstance(seq, (list, tuple)):
                    self.grow(times * _weight(seq, self.budget // times), "list repetition")
        elif operator == "+":
            if isinstance(left, (str, bytes)) and isinstance(right, (str, bytes)):
                self.grow(len(left) + len(right), "'+' result", self.max_output)
            elif isinstance(left, (list, tuple)) and isinstance(right, (list, tuple)):
                self.grow(_weight(left, self.budget) + _weight(right, self.budget), "'+' result")
        elif operator == "%" and isinstance(left, str):
            for match in _PERCENT_SPEC.finditer(left):  # '%999999999s' would pad before we could check
                if any(g == "*" or (g and int(g) > self.max_output) for g in match.groups()):
                    raise SecurityError("'%' format width is too large")
        return super().call_binop(context, operator, left, right)

    # -- attribute access -----------------------------------------------------------------
    def getitem(self, obj: Any, argument: Any) -> Any:
        """Subscript; an undefined base fails with its own name rather than an attribute error."""
        if isinstance(obj, Undefined):
            obj._fail_with_undefined_error()
        return super().getitem(obj, argument)

    def getattr(self, obj: Any, attribute: str) -> Any:
        """Prefer mapping keys over methods: recipe data uses keys like 'items' or 'values'."""
        if isinstance(obj, Undefined):  # 'cycler.__init__' must say "unknown variable 'cycler'"
            obj._fail_with_undefined_error()
        if isinstance(obj, Mapping):
            try:
                return obj[attribute]
            except (TypeError, LookupError):
                pass
        return super().getattr(obj, attribute)

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        """Jinja's rules, plus a whitelist of methods on builtin values and no methods on classes."""
        if not super().is_safe_attribute(obj, attr, value):
            return False
        if isinstance(obj, type):  # e.g. dict.fromkeys(range(10000), big)
            return not callable(value)
        if callable(value) and isinstance(obj, _BUILTIN_VALUES):
            return any(isinstance(obj, kind) and attr in names for kind, names in _SAFE_METHODS.items())
        return True

    def unsafe_undefined(self, obj: Any, attribute: str) -> Undefined:
        """Raise at once: an Undefined could still be printed or returned as a value."""
        raise SecurityError(f"access to attribute {attribute!r} of {type(obj).__name__!r} object is unsafe")

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """Sandboxed str.format, refusing huge or nested (argument-driven) field widths."""
        wrapper = super().wrap_str_format(value)
        if wrapper is not None:
            for _, _, spec, _ in string.Formatter().parse(value.__self__):
                if spec and ("{" in spec or any(int(n) > self.max_output for n in re.findall(r"\d+", spec))):
                    raise SecurityError("format width is too large or computed")
        return wrapper

    # -- filters with size-dependent results --------------------------------------------
    def _capped_filters(self) -> dict[str, Callable]:
        """Wrap builtin filters whose output size depends on an argument."""
        cap, env = self.max_output, self

        def center(value: Any, width: int = 80) -> str:
            env.grow(max(len(str(value)), int(width)), "center result", cap)
            return jf.do_center(value, width)

        def indent(s: Any, width: int | str = 4, first: bool = False, blank: bool = False) -> str:
            pad = len(width) if isinstance(width, str) else int(width)
            env.grow(len(str(s)) + (str(s).count("\n") + 1) * pad, "indent result", cap)
            return jf.do_indent(s, width, first, blank)

        @pass_eval_context
        def replace(eval_ctx: Any, s: Any, old: Any, new: Any, count: int | None = None) -> str:
            s, old, new = str(s), str(old), str(new)
            hits = s.count(old) if old else len(s) + 1
            hits = hits if count is None or count < 0 else min(hits, count)
            env.grow(len(s) + hits * (len(new) - len(old)), "replace result", cap)
            return jf.do_replace(eval_ctx, s, old, new, count)

        @pass_environment
        def join(environment: Any, value: Any, d: str = "", attribute: Any = None) -> str:
            if attribute is not None:
                value = map(jf.make_attrgetter(environment, attribute), value)
            parts, size, sep = [], 0, str(d)
            for item in value:  # checked incrementally: the separator may be repeated 10,000 times
                parts.append(str(item))
                size += len(parts[-1]) + (len(sep) if len(parts) > 1 else 0)
                if size > cap:
                    raise SecurityError(f"join result would exceed {cap} characters")
            env.grow(size, "join result", cap)
            return sep.join(parts)

        @pass_environment
        def wordwrap(environment: Any, s: Any, width: int = 79, break_long_words: bool = True,
                     wrapstring: str | None = None, break_on_hyphens: bool = True) -> str:
            text = jf.do_wordwrap(environment, s, width, break_long_words, "\n", break_on_hyphens)
            sep = environment.newline_sequence if wrapstring is None else str(wrapstring)
            env.grow(len(text) + text.count("\n") * (len(sep) - 1), "wordwrap result", cap)
            return text.replace("\n", sep)

        def batch(value: Any, linecount: int, fill_with: Any = None) -> Any:
            env._check_groups(int(linecount), fill_with)
            return jf.do_batch(value, linecount, fill_with)

        def slice_(value: Any, slices: int, fill_with: Any = None) -> Any:
            env._check_groups(int(slices), fill_with)
            return jf.sync_do_slice(list(value), slices, fill_with)

        @pass_environment
        def sum_(environment: Any, iterable: Any, attribute: Any = None, start: Any = 0) -> Any:
            if not isinstance(start, (int, float)):  # summing lists/strings would bypass the caps
                raise SecurityError("sum() only adds numbers")
            return jf.sync_do_sum(environment, iterable, attribute, start)

        return dict(center=center, indent=indent, replace=replace, join=join, wordwrap=wordwrap,
                    batch=batch, slice=slice_, sum=sum_)

    def _check_groups(self, count: int, fill_with: Any) -> None:
        """batch/slice: bounded group count; the filler may be repeated once per group."""
        if count > self.max_range:
            raise SecurityError(f"cannot make more than {self.max_range} groups")
        if fill_with is not None and count > 0:
            self.grow(count * _weight(fill_with, self.budget // count), "fill values")


def _now() -> datetime:
    """Current time, timezone-aware UTC."""
    return datetime.now(timezone.utc)


def _slugify(value: Any) -> str:
    """'Fête de la Musique!' → 'fete-de-la-musique' (ASCII, lowercase, hyphens)."""
    text = unicodedata.normalize("NFKD", str(value)).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _utm(url: Any, source: str | None = None, medium: str | None = None, campaign: str | None = None,
         term: str | None = None, content: str | None = None) -> str:
    """Add UTM parameters to a link, keeping its other query parameters (and replacing older utm_ ones)."""
    parts = urlsplit(str(url))
    tags = {f"utm_{k}": str(v) for k, v in (("source", source), ("medium", medium), ("campaign", campaign),
                                            ("term", term), ("content", content)) if v not in (None, "")}
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in tags]
    return urlunsplit(parts._replace(query=urlencode(query + list(tags.items()))))


def _to_date(value: Any) -> date:
    """A datetime/date as is, an ISO-8601 string parsed, a number read as a UTC timestamp."""
    if isinstance(value, date):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, timezone.utc)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"not an ISO-8601 date: {value[:40]!r}") from None
    raise ValueError(f"cannot read a date from a {type(value).__name__} value")


def _format_date(value: Any, format: str = "%Y-%m-%d %H:%M") -> str:
    """Format a datetime or ISO-8601 string with a strftime format."""
    return _to_date(value).strftime(str(format))


def _isoformat(value: Any) -> str:
    """ISO-8601 text of a datetime or ISO-8601 string."""
    return _to_date(value).isoformat()


def _message(exc: Exception) -> str:
    """A one-line, human message for any template failure."""
    if isinstance(exc, TemplateSyntaxError):
        text = _UNKNOWN_NAME.sub(r"unknown \1 '\2'", exc.message or "invalid template").rstrip(".")
        text = f"template syntax error: {text} (line {exc.lineno})"
    elif isinstance(exc, UndefinedError) and _UNDEFINED_NAME.fullmatch(str(exc)):
        text = f"unknown variable {_UNDEFINED_NAME.fullmatch(str(exc))[1]!r}"
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


def _vet(value: Any, depth: int = 0) -> Any:
    """Fail on an Undefined (e.g. '[x.missing]') or a function ('{{ now }}') inside a result."""
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    if callable(value):
        raise SecurityError("the expression is a function, not a value (missing parentheses?)")
    if depth < 32 and isinstance(value, (list, tuple, dict)):
        for item in value.values() if isinstance(value, dict) else value:
            _vet(item, depth + 1)
    return value


def _is_template(value: str) -> bool:
    """Cheap test for the no-template fast path."""
    return "{{" in value or "{%" in value


class _Compiled(NamedTuple):
    native: bool  # single expression: render returns its value, not its text
    template: Template
    steps: frozenset[str]


class Templater:
    """Compiles and renders recipe templates in a hardened sandbox (see module docstring)."""

    def __init__(self, *, max_output: int = 100_000, max_range: int = 10_000,
                 max_power_result_digits: int = 1000, filters: Mapping[str, Callable] | None = None):
        self.max_output = max_output
        self._env = _Sandbox(max_output, max_range, max_power_result_digits, filters or {})
        # Recipes reuse the same few hundred sources: compile each once.
        self._compile = lru_cache(maxsize=4096)(self._compile_source)

    def render(self, value: Any, context: Mapping[str, Any]) -> Any:
        """Render strings inside dicts (values only) and lists; a lone '{{ expr }}' keeps its native type."""
        return self._render(value, self._scope(context))

    def _render(self, value: Any, scope: dict) -> Any:
        if isinstance(value, str):
            return self._run(self._compile(value, False), scope) if _is_template(value) else value
        if isinstance(value, dict):
            return {key: self._render(item, scope) for key, item in value.items()}
        if isinstance(value, list):
            return [self._render(item, scope) for item in value]
        return value

    def _scope(self, context: Mapping[str, Any]) -> dict:
        """The sandbox's globals and the context in one dict, built once for every template of a render()."""
        return {**self._env.globals, **context}

    def evaluate(self, expression: str, context: Mapping[str, Any]) -> bool:
        """Truthiness of an if: condition, bare ('x in y') or wrapped ('{{ x in y }}')."""
        if not isinstance(expression, str):  # YAML `if: true`
            return bool(expression)
        return bool(self._run(self._compile_condition(expression), self._scope(context)))

    def check(self, value: Any, loc: str) -> list[tuple[str, str]]:
        """Compile every template in value without rendering; return [(location, message)] errors."""
        errors: list[tuple[str, str]] = []
        for where, text in _walk(value, loc):
            try:
                self._compile(text, False)
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
        for _, text in _walk(value, ""):
            try:
                refs |= self._compile(text, False).steps
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
            return self._compile(text, True)
        compiled = self._compile(text, False)
        if not compiled.native:
            raise TemplateError("a condition must be a single expression")
        return compiled

    def _compile_source(self, source: str, bare_expression: bool) -> _Compiled:
        """Parse, vet and compile one source (a template, or a bare expression)."""
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
                expr = _single_expression(tree)
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
            steps = frozenset(_step_ids(tree))
            if expr is not None:  # evaluate into a variable to keep the native value
                tree = nodes.Template([nodes.Assign(nodes.Name(_RESULT, "store"), expr, lineno=1)], lineno=1)
                tree.set_environment(env)
            return _Compiled(expr is not None, env.from_string(tree), steps)
        except Exception as exc:
            raise TemplateError(_message(exc)) from None

    def _run(self, compiled: _Compiled, scope: dict) -> Any:
        """Execute a compiled template with a fresh work budget; cap and vet the result.

        `scope` holds the globals and the data (`_scope()`); the templates of one render() share it read-only
        instead of each copying it (a template's own variables go to its own context).
        """
        env, template = self._env, compiled.template
        token = _BUDGET.set(env.budget)
        try:
            ctx = template.new_context(scope, shared=True)
            if compiled.native:
                for _ in template.root_render_func(ctx):
                    pass
                result = ctx.vars[_RESULT]
                if isinstance(result, (Iterator, range, MappingView)):  # lazy filter results → plain lists
                    result = list(result)
                elif isinstance(result, str):  # Markup (from tojson) → plain str
                    result = str.__str__(result)
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
        except Exception as exc:
            raise TemplateError(_message(exc)) from None
        finally:
            _BUDGET.reset(token)


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
        if isinstance(node.node, nodes.Name) and node.node.name == "steps":
            if isinstance(node, nodes.Getattr):
                yield node.attr
            elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
                yield node.arg.value


def _walk(value: Any, loc: str) -> Iterator[tuple[str, str]]:
    """Yield (location, source) for every template string in value, as render() walks it."""
    if isinstance(value, str):
        if _is_template(value):
            yield loc, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, f"{loc}.{key}" if loc else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, f"{loc}[{index}]")
