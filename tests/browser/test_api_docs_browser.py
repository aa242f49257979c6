"""The API documentation in real Chromium: Swagger UI and ReDoc render from files this app serves, with no
request off loopback (the `page` fixture aborts and asserts), no console error and nothing refused by the
Content-Security-Policy."""
from __future__ import annotations

from collections import Counter

from .conftest import axe_violations, problems, screenshot


def test_swagger_ui_renders_the_operations_offline(served, page):
    answer = page.goto(served.url("/docs"))
    assert answer is not None and answer.ok
    page.locator(".opblock-tag-section .opblock").first.wait_for()  # the operations, grouped by tag
    assert page.locator(".info .title").inner_text().startswith("Beffroi")
    assert page.locator(".opblock").count() >= 10
    assert page.locator("#operations-meta-health_api_health_get").is_visible()
    assert page.locator(".auth-wrapper .authorize").is_visible()  # the bearer scheme is declared
    assert problems(page) == []
    assert screenshot(page, "api-docs-swagger", full_page=False).stat().st_size > 10_000


def test_swagger_ui_axe_report(served, page):
    """Swagger UI is third-party: its violations are reported (`pytest -s`), not asserted; the page is ours."""
    page.goto(served.url("/docs"))
    page.locator(".opblock-tag-section .opblock").first.wait_for()
    violations = axe_violations(page)
    counts = Counter((v["id"], v["impact"]) for v in violations)
    print("\naxe (WCAG 2.1 A/AA) on /docs:", ", ".join(f"{i} ({impact}) x{n}" for (i, impact), n in counts.items()))
    assert all({"id", "impact", "target"} <= set(v) for v in violations)
    assert "html-has-lang" not in {v["id"] for v in violations}  # the HTML around Swagger UI is ours
    assert problems(page) == []


def test_redoc_renders_offline(served, page):
    answer = page.goto(served.url("/redoc"))
    assert answer is not None and answer.ok
    page.locator("[role=menuitem]").first.wait_for()  # ReDoc's side menu, built from /openapi.json
    page.get_by_role("heading", level=1).first.wait_for()
    assert "Beffroi" in page.get_by_role("heading", level=1).first.inner_text()
    assert problems(page) == []  # its Redocly badge comes from this app, not from cdn.redoc.ly
    assert screenshot(page, "api-docs-redoc", full_page=False).stat().st_size > 10_000
