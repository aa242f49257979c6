"""Hardened Jinja2 sandbox in which recipe templates run.

Recipes are written by users, so a template must never reach Python internals
nor exhaust memory or CPU: on top of Jinja's immutable sandbox we whitelist
globals, filters and builtin methods, refuse oversized results *before*
allocating them and charge every render a budget (:mod:`beffroi.budget`: the
bytes it allocates, its loop iterations and calls).
:class:`beffroi.templating.Templater` compiles and runs templates in it and
turns every failure into a one-line ``TemplateError``.
"""

from __future__ import annotations

import functools
import math
import re
import string
import sys
from collections.abc import Callable, Iterator, Mapping
from datetime import date, timedelta
from typing import Any

from jinja2 import StrictUndefined, Undefined, nodes
from jinja2 import filters as jf
from jinja2.compiler import CodeGenerator
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import pass_environment, pass_eval_context
from markupsafe import Markup, escape

from .budget import CURRENT, charge_text, text_size
from .filters import RECIPE_FILTERS, RECIPE_GLOBALS

_SAFE_FILTERS = (
    "abs batch capitalize center count d default dictsort e escape first float indent int items join last "
    "length list lower map max min reject rejectattr replace reverse round safe select selectattr slice "
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

_LOOP_GUARD = "__loop_guard__"  # internal filter wrapped around every {% for %} iterable
_PERCENT_SPEC = re.compile(r"%%|%(?:\([^)]*\))?[#0\- +]*(\*|\d*)(?:\.(\*|\d*))?")

# Filters that turn their whole input into text: a list or mapping given to them is measured first.
_TEXT_FILTERS = frozenset(
    "capitalize center indent join lower replace striptags string title tojson trim truncate upper urlencode "
    "wordcount wordwrap slugify e escape forceescape".split()
)


class MissingValue(UndefinedError):
    """A template used a field, key or index its data does not have; `obj` (missing for an unknown variable) and
    `name` say which, so the message can list what exists instead of Jinja's "'dict object' has no attribute"."""

    def __init__(self, message: str, obj: Any, name: Any):
        super().__init__(message)
        self.obj, self.name = obj, name


class _StrictUndefined(StrictUndefined):
    """StrictUndefined that raises MissingValue, also in repr() so '[x.missing]' cannot print 'Undefined'."""

    __slots__ = ()

    def _fail_with_undefined_error(self, *args: Any, **kwargs: Any) -> Any:
        raise MissingValue(self._undefined_message, self._undefined_obj, self._undefined_name)

    __repr__ = _fail_with_undefined_error


# Jinja binds the operators of its Undefined (str(), +, ==, iteration…) to its own failing function, not through
# attribute lookup: point each of them at ours, or only some failures would say what is missing.
for _name in dir(StrictUndefined):
    if getattr(StrictUndefined, _name) is Undefined._fail_with_undefined_error:
        setattr(_StrictUndefined, _name, _StrictUndefined._fail_with_undefined_error)


class _CodeGenerator(CodeGenerator):
    """Routes '~' concatenation through the sandbox so its size is checked before joining."""

    def visit_Concat(self, node: nodes.Concat, frame: Any) -> None:
        self.write("environment.guarded_concat((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class _Sandbox(ImmutableSandboxedEnvironment):
    """Immutable Jinja sandbox with whitelists, size caps and a per-render budget of memory and steps."""

    code_generator_class = _CodeGenerator
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, max_output: int, max_range: int, max_digits: int, extra_filters: Mapping[str, Callable]):
        super().__init__(undefined=_StrictUndefined, autoescape=False, finalize=_finalize)
        self.max_output, self.max_range, self.max_digits = max_output, max_range, max_digits
        self.globals.clear()  # drops lipsum, cycler, joiner, namespace
        self.globals.update(dict=dict, range=self.capped_range, **RECIPE_GLOBALS)
        self.filters = {name: self.filters[name] for name in _SAFE_FILTERS}
        self.filters.update(self._capped_filters())
        self.filters.update(RECIPE_FILTERS)
        self.filters[_LOOP_GUARD] = self.guard_loop
        self.filters.update(extra_filters)
        self.filters = {name: _charged_filter(name, f) for name, f in self.filters.items()}
        self.policies["json.dumps_kwargs"] = {"sort_keys": True, "ensure_ascii": False}
        self.concat = self.guarded_join  # type: ignore[method-assign]  # Jinja's concat is a "".join attribute; what compiled code joins a macro's or a {% set %} block's output with

    # -- limits ---------------------------------------------------------------------------
    def grow(self, size: int, what: str, cap: int | None = None) -> None:
        """Refuse an operation whose result would be too big, before it allocates; charge the budget."""
        if cap is not None and size > cap:
            raise SecurityError(f"{what} would exceed {cap} characters")
        CURRENT.get().charge(size)

    def capped_range(self, *args: int) -> range:
        """range() limited to max_range items."""
        rng = range(*args)
        if len(rng) > self.max_range:
            raise SecurityError(f"range() is limited to {self.max_range} items")
        return rng  # lazy: its items are charged when a loop or a filter makes them

    def guard_loop(self, iterable: Any) -> Any:
        """Count {% for %} iterations, so nested loops cannot spin for minutes."""
        try:
            size = len(iterable)
        except TypeError:  # no len(): a lazy iterator, counted item by item
            return _counted(iterable)
        CURRENT.get().loop(size)
        return iterable

    def guarded_concat(self, parts: tuple) -> str:
        """The '~' operator, size-checked."""
        for part in parts:
            charge_text(part)
        texts = [part if isinstance(part, Markup) else str(part) for part in parts]
        self.grow(sum(map(len, texts)), "'~' result", self.max_output)
        if any(isinstance(part, Markup) for part in texts):  # '|safe' HTML joined to data: escape the data only
            return Markup("").join(texts)
        return "".join(texts)

    def guarded_join(self, parts: Any) -> str:
        """Join the output a macro or a '{% set x %}' block captured, size-checked: a loop may repeat the same
        literal text 100,000 times in it, a list of references until joined."""
        parts = parts if isinstance(parts, list) else list(parts)
        self.grow(sum(map(len, parts)), "text of a block or macro", self.max_output)
        return "".join(parts)

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
                    self.grow(8 * len(seq) * times, "list repetition")  # one reference per item
        elif operator == "+":
            if isinstance(left, (str, bytes)) and isinstance(right, (str, bytes)):
                self.grow(len(left) + len(right), "'+' result", self.max_output)
            elif isinstance(left, (list, tuple)) and isinstance(right, (list, tuple)):
                self.grow(8 * (len(left) + len(right)), "'+' result")
        elif operator == "%" and isinstance(left, str):
            named = unnamed = 0
            for match in _PERCENT_SPEC.finditer(left):  # '%999999999s' would pad before we could check
                if any(g == "*" or (g and int(g) > self.max_output) for g in match.groups()):
                    raise SecurityError("'%' format width is too large")
                named, unnamed = (named + 1, unnamed) if match[0].startswith("%(") else (named, unnamed + 1)
            # '%(x)s' * 1000 % {'x': text} repeats one value: a named field may show the largest, any other
            # field the whole operand (one item of a tuple each)
            whole = sum(map(text_size, right)) if isinstance(right, tuple) else unnamed * text_size(right)
            largest = max(map(text_size, right.values()), default=0) if isinstance(right, Mapping) else 0
            self.grow(len(left) + whole + named * largest, "'%' result", self.max_output)
        return super().call_binop(context, operator, left, right)  # charged above when it can be large

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        """Count every call (macros, loop(), functions) as a step; charge what its result took."""
        budget = CURRENT.get()
        budget.loop(1)  # a macro calling itself twice needs no loop to run 2**40 times
        result = super().call(__context, __obj, *args, **kwargs)
        budget.charge(budget.fresh(result))
        return result

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
        if wrapper is None:
            return None
        fields = 0
        for _, name, spec, _ in string.Formatter().parse(value.__self__):
            if spec and ("{" in spec or any(int(n) > self.max_output for n in re.findall(r"\d+", spec))):
                raise SecurityError("format width is too large or computed")
            fields += name is not None

        @functools.wraps(wrapper)
        def measured(*args: Any, **kwargs: Any) -> str:
            # '{0}' * 1000 repeats one argument: any field may show the largest
            each = max(map(text_size, (*args, *kwargs.values())), default=0)
            self.grow(len(value.__self__) + fields * each, "format result", self.max_output)
            return wrapper(*args, **kwargs)
        return measured

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

        @pass_eval_context
        def join(eval_ctx: Any, value: Any, d: str = "", attribute: Any = None) -> str:
            if attribute is not None:
                value = map(jf.make_attrgetter(eval_ctx.environment, attribute), value)
            parts, size, sep = [], 0, d if isinstance(d, Markup) else str(d)
            for item in value:  # checked incrementally: the separator may be repeated 10,000 times
                parts.append(item if isinstance(item, Markup) else str(item))
                size += len(parts[-1]) + (len(sep) if len(parts) > 1 else 0)
                if size > cap:
                    raise SecurityError(f"join result would exceed {cap} characters")
            env.grow(size, "join result", cap)
            if eval_ctx.autoescape:  # in HTML: escape the data, keep what the author marked '|safe'
                return escape(sep).join(parts)
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

        @pass_eval_context
        def tojson(eval_ctx: Any, value: Any, indent: int | None = None) -> Any:
            if indent is not None and not 0 <= int(indent) <= 16:  # repeated on every line of the result
                raise SecurityError("tojson indent must be between 0 and 16")
            return jf.do_tojson(eval_ctx, value, indent)

        return {"center": center, "indent": indent, "replace": replace, "join": join, "wordwrap": wordwrap,
                "batch": batch, "slice": slice_, "sum": sum_, "tojson": tojson}

    def _check_groups(self, count: int, fill_with: Any) -> None:
        """batch/slice: bounded group count; the filler may be repeated once per group."""
        if count > self.max_range:
            raise SecurityError(f"cannot make more than {self.max_range} groups")
        if fill_with is not None and count > 0:
            self.grow(8 * count, "fill values")  # the filler is shared, not copied


def _counted(iterable: Any) -> Iterator[Any]:
    """Yield the items of a lazy iterable, counting each as a loop iteration."""
    budget = CURRENT.get()
    for item in iterable:
        budget.loop(1)
        yield item


def _charged_filter(name: str, func: Callable) -> Callable:
    """func, charging its result to the render's budget and, for a text filter, measuring its input first."""
    at = 1 if getattr(func, "jinja_pass_arg", None) else 0  # context/environment come before the value

    @functools.wraps(func)
    def charged(*args: Any, **kwargs: Any) -> Any:
        result = func(*args, **kwargs)
        budget = CURRENT.get()
        # on every filter of every render: the common case without further calls
        size = budget.fresh(result) if isinstance(result, (list, tuple, dict)) else sys.getsizeof(result)
        if size > budget.memory:
            budget.charge(size)  # raises
        budget.memory -= size
        return result

    @functools.wraps(func)
    def measured(*args: Any, **kwargs: Any) -> Any:
        if len(args) > at and not isinstance(args[at], str):
            charge_text(args[at])
        return charged(*args, **kwargs)
    return measured if name in _TEXT_FILTERS else charged


def _finalize(value: Any) -> Any:
    """What '{{ x }}' prints: vetted, and measured before Jinja turns it into text."""
    if isinstance(value, (str, int, float)):  # the common case, on the hot path: nothing to check
        return value
    charge_text(value)
    return _vet(value)


def _vet(value: Any, seen: set[int] | None = None) -> Any:
    """Fail on an Undefined (e.g. '[x.missing]') or a function ('{{ now }}') inside a result."""
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    if callable(value):
        raise SecurityError("the expression is a function, not a value (missing parentheses?)")
    if isinstance(value, (list, tuple, dict)):
        seen = set() if seen is None else seen
        if id(value) not in seen:  # a list shared 10**8 times over is vetted once
            seen.add(id(value))
            for item in value.values() if isinstance(value, dict) else value:
                _vet(item, seen)
    return value
