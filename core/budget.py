"""The memory and loop budget of one template render.

A template may build values far larger than the memory they take: ``[a, a, a]`` holds three references to one
text, yet its text (``|string``, ``|tojson``, ``'%s' %``, the rendered output) repeats it three times, and
nesting such lists multiplies the size at every level. So the sandbox measures a value by its *expanded* size
(:func:`size_of`: the bytes CPython takes for the value, every shared reference counted again, as turning it
into text would) and refuses, before it happens, any operation whose result would not fit in what is left of
the render's budget (16 MiB). Results are charged as they are made, so the total a render allocates stays
within the budget whatever it does; loop iterations and calls are counted apart (100,000 per render).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from jinja2.exceptions import SecurityError

MEMORY_BUDGET = 16 * 2**20  # bytes one render may allocate, in total
MAX_ITERATIONS = 100_000  # loop iterations and calls of one render, all together
TEXT_FACTOR = 6  # text of a value may take up to 6 bytes per byte of it ('\x00' → '\u0000' in JSON)
_MAX_DEPTH = 64


class BudgetExceeded(SecurityError):
    """A template would allocate more than the budget, or loop too often; the message says which in plain words."""


class Budget:
    """What is left to the render in progress: bytes, loop iterations, and the sizes already measured."""

    __slots__ = ("_sizes", "iterations", "memory")

    def __init__(self, memory: int = MEMORY_BUDGET, iterations: int = MAX_ITERATIONS):
        self.memory, self.iterations = memory, iterations
        self._sizes: dict[int, tuple[Any, int]] = {}  # id → (value kept alive so the id stays its own, size)

    def charge(self, size: int) -> None:
        """Count size bytes against the render; refuse if they do not fit."""
        if size > self.memory:
            mib = MEMORY_BUDGET // 2**20
            raise BudgetExceeded(f"this template builds a value larger than {mib} MiB" if size > MEMORY_BUDGET
                                 else f"this template builds values larger than {mib} MiB in all")
        self.memory -= size

    def loop(self, count: int) -> None:
        """Count count loop iterations against the render."""
        self.iterations -= count
        if self.iterations < 0:
            raise BudgetExceeded(f"this template repeats its loops or calls more than {MAX_ITERATIONS:,} times")

    def size_of(self, value: Any, limit: int) -> int:
        """Expanded size of value in bytes; stops early, returning more than limit, once it exceeds limit."""
        return self._size(value, limit, 0)

    def _size(self, value: Any, limit: int, depth: int) -> int:
        if isinstance(value, (list, tuple, dict)):
            known = self._sizes.get(id(value))
            if known is not None and known[0] is value:
                return known[1]
            if depth > _MAX_DEPTH:  # absurdly deep data: too big rather than recursing forever
                return limit + 1
            total = sys.getsizeof(value)
            items = value.items() if isinstance(value, dict) else ((item, None) for item in value)
            for key, item in items:
                if total > limit:
                    return total  # not memoized: a partial size
                total += self._size(key, limit - total, depth + 1)
                if item is not None:
                    total += self._size(item, limit - total, depth + 1)
            self._sizes[id(value)] = (value, total)
            return total
        return sys.getsizeof(value)

    def fresh(self, value: Any) -> int:
        """Bytes a new result took: the value and, for a container, its direct items (counted as new, to be safe)."""
        size = sys.getsizeof(value)
        if isinstance(value, (list, tuple)):
            size += sum(map(sys.getsizeof, value))
        elif isinstance(value, dict):
            size += sum(sys.getsizeof(k) + sys.getsizeof(v) for k, v in value.items())
        return size


# The budget of the render in progress (per thread / task); the Templater sets a fresh one for each render().
# B039: the default, an empty Budget(0, 0), is never reached, so never charged: every render runs inside fresh()
CURRENT: ContextVar[Budget] = ContextVar("beffroi_template_budget", default=Budget(0, 0))  # noqa: B039 - see above


@contextmanager
def fresh() -> Iterator[None]:
    """A full budget for the render inside the block; the one in progress before it comes back after."""
    token = CURRENT.set(Budget())
    try:
        yield
    finally:
        CURRENT.reset(token)


def text_size(value: Any) -> int:
    """An upper bound of the length of str(value), measured without making it."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, (int, float)):
        return len(str(value))  # numbers are capped in digits: cheap
    if isinstance(value, (list, tuple, dict)):
        budget = CURRENT.get()
        return TEXT_FACTOR * budget.size_of(value, budget.memory // TEXT_FACTOR)
    return sys.getsizeof(value)


def charge_text(value: Any) -> None:
    """Before turning value into text: refuse if that text could exceed what is left, else reserve it."""
    if isinstance(value, str):  # already text: str() returns it, nothing new
        return
    budget = CURRENT.get()
    if isinstance(value, (list, tuple, dict)):
        budget.charge(TEXT_FACTOR * budget.size_of(value, budget.memory // TEXT_FACTOR))
