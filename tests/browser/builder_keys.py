"""The builder with the keyboard only, as the browser tests of whole recipes use it: Tab (or Shift+Tab) to a control
and Enter, the catalog's chooser, a step added below the focused card, the data-insert panel; `checked` runs axe-core
and keeps a screenshot."""
from __future__ import annotations

import re

from .conftest import axe_violations, screenshot


def focused(page) -> str:
    return page.evaluate("""() => { const e = document.activeElement;
        return `${e.tagName.toLowerCase()}#${e.id} ${(e.innerText || e.value || '').slice(0, 40)}`; }""")


def tab_to(page, selector: str, *, back: bool = False, limit: int = 120) -> None:
    """Press Tab (or Shift+Tab) until the element matching `selector` has the focus, as a person reading the
    page with the keyboard does; fail with the way taken when it is not reached."""
    way = []
    for _ in range(limit):
        page.keyboard.press("Shift+Tab" if back else "Tab")
        if page.evaluate("s => document.activeElement.matches(s)", selector):
            return
        way.append(focused(page))
    raise AssertionError(f"{selector} not reached by the keyboard; focus went through {way}")


def skip_to_main(page) -> None:
    """The page's first Tab stop is its skip link: Enter puts the focus at the start of the main content."""
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.getAttribute('href')") == "#main", focused(page)
    page.keyboard.press("Enter")


def activate(page, selector: str, *, back: bool = False) -> None:
    """Tab to a link or button and press Enter: from the start of the main content, or (`back`) Shift+Tab from
    where the focus is."""
    if not back:
        skip_to_main(page)
    tab_to(page, selector, back=back)
    page.keyboard.press("Enter")


def checked(page, name: str) -> None:
    """axe-core finds nothing, and the page is kept as a screenshot."""
    assert axe_violations(page) == [], page.url
    screenshot(page, name)


def choose(page, query: str, key: str) -> None:
    """The catalog's chooser: type in its search, then Tab to the choice and press Enter."""
    skip_to_main(page)
    tab_to(page, "#q")
    page.keyboard.type(query)
    page.locator("#choose-count").filter(has_text=re.compile(r"\d")).wait_for()  # filtered as typed
    tab_to(page, f'button[name="uses"][value="{key}"]')
    page.keyboard.press("Enter")


def choose_trigger(page, query: str, key: str) -> None:
    """"Choose the trigger" (from the start of the main content), chosen in the catalog; the trigger's card then
    has the focus."""
    activate(page, 'button[value="trigger"]')
    page.wait_for_url(re.compile(r"/edit/choose\?at=trigger"))
    choose(page, query, key)
    page.wait_for_url(re.compile(r"done=trigger"))
    assert page.evaluate("document.activeElement.id") == "trigger"


def add_step(page, query: str, key: str, step_id: str, index: int) -> None:
    """"Add a step below" the card that has the focus (the first "add" button after it), chosen in the catalog;
    the new card then has the focus, and its id is typed over the one proposed."""
    tab_to(page, 'button[name="action"][value^="add:"]')
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/edit/choose\?at="))
    choose(page, query, key)
    page.wait_for_url(re.compile(rf"done=added&at={index}"))
    assert page.evaluate("document.activeElement.id") == f"steps[{index}]"  # the new card's heading
    tab_to(page, f'[id="steps[{index}].id"]')
    page.keyboard.press("Control+A")
    page.keyboard.type(step_id)


def insert(page, index: int, field: str, expression: str) -> None:
    """The step's data-insert panel, reached by Tab after the field being written: open it (when it is not yet),
    Tab to the data and press Enter; the expression goes in at the cursor and the focus back to the field."""
    panel = f'[id="steps[{index}]-insert"]'
    tab_to(page, f"{panel} summary")
    if not page.evaluate("document.activeElement.parentElement.open"):
        page.keyboard.press("Enter")
    button = f'{panel} button[data-insert="{expression}"]'
    page.locator(button).wait_for()
    tab_to(page, button)
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == f"steps[{index}].with.{field}", focused(page)


def type_in(page, field_id: str, text: str) -> None:
    tab_to(page, f'[id="{field_id}"]')
    page.keyboard.type(text)
