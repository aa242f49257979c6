"""The browser fixtures themselves: a request off loopback is aborted and recorded, a console error is collected."""
from __future__ import annotations

from .conftest import is_loopback, problems


def test_a_request_off_loopback_is_aborted_and_recorded(page):
    with page.expect_event("requestfailed") as failed:
        page.set_content('<img src="http://example.org/pixel.png" alt="">')
    assert (failed.value.failure or "").startswith("net::ERR_BLOCKED_BY_CLIENT")
    assert page.offsite == ["GET http://example.org/pixel.png"]
    page.offsite.clear()  # seen; the fixture asserts the list is empty at teardown


def test_console_errors_are_collected(page):
    with page.expect_console_message(lambda m: m.type == "error"):
        page.evaluate("console.error('boom')")
    assert any("boom" in p for p in problems(page))


def test_what_counts_as_loopback():
    assert is_loopback("http://127.0.0.1:8000/docs") and is_loopback("http://localhost/x")
    assert is_loopback("ws://[::1]:9/") and is_loopback("data:image/png;base64,AA==")
    assert not is_loopback("https://cdn.redoc.ly/x.svg") and not is_loopback("http://127.0.0.1.example.org/")
    assert not is_loopback("ftp://10.0.0.1/")
