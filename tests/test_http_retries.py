"""The outbound client's retries against a local server: which requests are replayed, how long it waits, when it stops.

The client's sleep is injected: it records the delays the client chose instead of waiting, so no test sleeps
and none asserts on the clock; the server's log says what was sent and in which order.
"""
from __future__ import annotations

import email.utils
import time

import pytest

from beffroi.http import HttpClient, RetryAfterTooLongError
from beffroi.retrying import retry_after_seconds

from .helpers import recipe
from .servers.http_base import Scripted, ScriptedServer

LOOPBACK = ["127.0.0.0/8"]


class OkServer(ScriptedServer):
    """Answers 200 `ok` unless told to fail first (`reply_next`)."""

    def route(self, seen):
        return Scripted(200, body=b"ok")


@pytest.fixture
def server():
    with OkServer() as running:
        yield running


@pytest.fixture
def delays():
    """The waits the client asked for, in order."""
    return []


@pytest.fixture
def client(delays):
    with HttpClient(allowed_networks=LOOPBACK, timeout=5.0, sleep=delays.append) as http:
        yield http


def test_a_post_answered_503_is_sent_once_even_with_an_idempotency_key(server, client, delays):
    server.reply_next(503, times=5)
    response = client.post(f"{server.url}/statuses", json={"a": 1}, headers={"Idempotency-Key": "k1"})
    assert response.status_code == 503
    assert [r.method for r in server.requests] == ["POST"] and delays == []


def test_a_post_declared_idempotent_is_retried_up_to_the_attempt_cap(server, client, delays):
    server.reply_next(503, times=5)
    response = client.post(f"{server.url}/statuses", json={"a": 1}, idempotent=True)
    assert response.status_code == 503  # the last answer is returned, not raised
    assert len(server.requests) == 3 and len(delays) == 2


def test_a_post_declared_idempotent_succeeds_when_the_server_recovers(server, client):
    server.reply_next(502)
    assert client.post(f"{server.url}/x", json={}, idempotent=True).text == "ok"
    assert len(server.requests) == 2


def test_get_retries_with_full_jitter_within_the_exponential_bound(server, delays):
    server.reply_next(500, times=5)
    with HttpClient(allowed_networks=LOOPBACK, attempts=5, backoff_base=2.0, sleep=delays.append) as client:
        assert client.get(f"{server.url}/feed").status_code == 500
    assert len(server.requests) == 5 and len(delays) == 4
    assert all(0 <= delay <= 2.0 * 2**n for n, delay in enumerate(delays))


def test_retry_after_in_seconds_is_waited_as_asked(server, client, delays):
    server.reply_next(429, headers={"Retry-After": "7"})
    server.reply_next(503, headers={"Retry-After": "3"})
    assert client.get(f"{server.url}/feed").text == "ok"
    assert delays == [7.0, 3.0] and len(server.requests) == 3


def test_retry_after_as_an_http_date_is_waited_until_then(server, client, delays):
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    server.reply_next(503, headers={"Retry-After": when})
    assert client.get(f"{server.url}/feed").text == "ok"
    [delay] = delays
    assert 0 < delay <= 30


def test_a_retry_after_beyond_the_budget_ends_the_retries_naming_the_wait(server, client, delays):
    server.reply_next(503, headers={"Retry-After": "3600"})
    with pytest.raises(RetryAfterTooLongError, match=r"answered 503 and asked to wait 3600 s \(Retry-After\)") as info:
        client.get(f"{server.url}/feed")
    assert (info.value.status, info.value.wait) == (503, 3600.0)
    assert len(server.requests) == 1 and delays == []


def test_the_total_delay_cap_spans_all_the_attempts(server, delays):
    server.reply_next(429, times=3, headers={"Retry-After": "40"})
    with HttpClient(allowed_networks=LOOPBACK, attempts=5, max_retry_delay=60, sleep=delays.append) as client:
        with pytest.raises(RetryAfterTooLongError, match=r"asked to wait 40 s .* the 20 s of retry time left"):
            client.get(f"{server.url}/feed")
    assert delays == [40.0] and len(server.requests) == 2


def test_backoff_never_waits_past_the_total_cap(server, delays):
    server.reply_next(500, times=9)
    with HttpClient(allowed_networks=LOOPBACK, attempts=9, backoff_base=100, backoff_max=100, max_retry_delay=1,
                    sleep=delays.append) as client:
        assert client.get(f"{server.url}/feed").status_code == 500
    assert len(server.requests) == 9 and sum(delays) <= 1


def test_a_429_is_resent_when_the_caller_says_the_server_refused_it_unseen(server, client, delays):
    server.reply_next(429, headers={"Retry-After": "2"})
    server.reply_next(503)
    response = client.post(f"{server.url}/records", json={}, resend_on_429=True)
    assert response.status_code == 503  # a 5xx may have been acted on: not sent again
    assert len(server.requests) == 2 and delays == [2.0]


def test_retry_after_http_date_parsing():
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert retry_after_seconds("2") == 2.0
    assert retry_after_seconds("soon") is None


def test_the_http_request_action_replays_a_post_only_when_the_step_says_it_is_idempotent(make_engine, server):
    engine = make_engine(allowed_networks=LOOPBACK)
    server.reply_next(503, times=2)
    steps = [{"id": "plain", "uses": "http.request", "on_error": "continue",
              "with": {"method": "POST", "url": f"{server.url}/plain", "json": {}}},
             {"id": "deduplicated", "uses": "http.request",
              "with": {"method": "POST", "url": f"{server.url}/dedup", "json": {}, "idempotent": True}}]
    run = engine.run_recipe(engine.validate(recipe(*steps)), {})
    plain, deduplicated = run["steps"]
    assert plain["status"] == "failed" and "answered 503" in plain["error"]
    assert deduplicated["status"] == "succeeded" and deduplicated["output"]["text"] == "ok"
    assert [r.path for r in server.requests] == ["/plain", "/dedup", "/dedup"]
