"""Webhook delivery checks: token, HMAC-SHA256 (GitHub format), timestamped HMAC, public, config problems."""
from __future__ import annotations

import hashlib
import hmac

import pytest
from starlette.datastructures import Headers, QueryParams

from beffroi import WebhookConfig
from beffroi.webhooks import WebhookRejected, config_problems, delivery_id, sign, verify

SECRET = "s3cr3t-Shared-Value"
BODY = b'{"email": "ann@example.org", "name": "Ann"}'
NOW = 1_767_600_000


def cfg(**values) -> WebhookConfig:
    return WebhookConfig.model_validate(values)


def check(config, headers=None, query=None, body=BODY, now=NOW):
    verify(config, headers=Headers(headers or {}), query=QueryParams(query or {}), body=body, now=now)


def rejected(config, headers=None, query=None, body=BODY, now=NOW) -> WebhookRejected:
    with pytest.raises(WebhookRejected) as info:
        check(config, headers, query, body, now)
    exc = info.value
    assert SECRET not in exc.message and SECRET not in str(exc)
    return exc


def github_signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# -- token --------------------------------------------------------------------------------------
def test_token_in_header_is_accepted_whatever_the_header_case():
    check(cfg(secret=SECRET), {"x-beffroi-token": SECRET})
    verify(cfg(secret=SECRET), headers={"X-BEFFROI-TOKEN": SECRET}, query={}, body=BODY)  # plain dicts too


def test_token_in_custom_header():
    check(cfg(secret=SECRET, token_header="X-Form-Key"), {"X-Form-Key": SECRET})
    assert rejected(cfg(secret=SECRET, token_header="X-Form-Key"), {"X-Beffroi-Token": SECRET}).status == 401


def test_token_in_query_is_accepted():
    check(cfg(secret=SECRET), query={"token": SECRET})


def test_wrong_token_is_refused_in_header_and_query():
    for headers, query in (({"X-Beffroi-Token": "guess"}, None), (None, {"token": "guess"}),
                           ({"X-Beffroi-Token": SECRET + "x"}, None), ({"X-Beffroi-Token": "é-non-ascii"}, None)):
        exc = rejected(cfg(secret=SECRET), headers, query)
        assert (exc.status, exc.message) == (401, "invalid token")
        assert "guess" not in exc.message


def test_missing_token_says_where_to_put_it():
    exc = rejected(cfg(secret=SECRET))
    assert exc.status == 401
    assert "X-Beffroi-Token" in exc.message and "?token=" in exc.message
    assert rejected(cfg(secret=SECRET), {"X-Beffroi-Token": ""}).status == 401


def test_header_token_wins_over_query_token():
    assert rejected(cfg(secret=SECRET), {"X-Beffroi-Token": "wrong"}, {"token": SECRET}).message == "invalid token"


# -- hmac-sha256 (GitHub) ------------------------------------------------------------------------
def test_github_signature_is_accepted():
    config = cfg(check="hmac-sha256", secret=SECRET)
    check(config, {"X-Hub-Signature-256": github_signature(SECRET, BODY)})
    check(config, {"x-hub-signature-256": github_signature(SECRET, BODY).upper().replace("SHA256=", "sha256=")})
    check(config, sign(SECRET, BODY))  # what our own sender helper produces


def test_signature_over_another_body_or_key_is_refused():
    config = cfg(check="hmac-sha256", secret=SECRET)
    for presented in (github_signature(SECRET, BODY + b" "), github_signature("other", BODY)):
        exc = rejected(config, {"X-Hub-Signature-256": presented})
        assert exc.status == 401 and "invalid signature" in exc.message
        assert presented[7:] not in exc.message


def test_malformed_signature_is_refused():
    config = cfg(check="hmac-sha256", secret=SECRET)
    good_hex = github_signature(SECRET, BODY)[7:]
    for presented in (good_hex, "sha1=" + good_hex, "sha256=" + good_hex[:-1], "sha256=" + "zz" * 32, "sha256="):
        exc = rejected(config, {"X-Hub-Signature-256": presented})
        assert exc.status == 401 and "malformed signature" in exc.message


def test_missing_signature_names_the_header():
    exc = rejected(cfg(check="hmac-sha256", secret=SECRET, signature_header="X-Signature"),
                   {"X-Hub-Signature-256": github_signature(SECRET, BODY)})
    assert exc.status == 401 and "missing signature" in exc.message and "X-Signature" in exc.message


def test_token_is_not_accepted_where_a_signature_is_required():
    assert rejected(cfg(check="hmac-sha256", secret=SECRET), {"X-Beffroi-Token": SECRET},
                    {"token": SECRET}).status == 401


# -- hmac-sha256-timestamped ---------------------------------------------------------------------
def timestamped():
    return cfg(check="hmac-sha256-timestamped", secret=SECRET)


def test_timestamped_signature_is_accepted_within_the_window_edges():
    for ts in (NOW, NOW - 300, NOW + 300):
        check(timestamped(), sign(SECRET, BODY, ts))


def test_timestamp_outside_the_window_is_refused_and_says_so():
    for ts, word in ((NOW - 301, "old"), (NOW + 301, "future")):
        exc = rejected(timestamped(), sign(SECRET, BODY, ts))
        assert exc.status == 400 and "300 s" in exc.message and word in exc.message


def test_timestamp_is_part_of_what_is_signed():
    headers = sign(SECRET, BODY, NOW - 10)
    headers["X-Beffroi-Timestamp"] = str(NOW)  # replay with a fresh timestamp
    assert rejected(timestamped(), headers).status == 401
    plain = {"X-Hub-Signature-256": github_signature(SECRET, BODY), "X-Beffroi-Timestamp": str(NOW)}
    assert rejected(timestamped(), plain).status == 401


def test_missing_or_malformed_timestamp_is_a_bad_request():
    headers = sign(SECRET, BODY, NOW)
    del headers["X-Beffroi-Timestamp"]
    exc = rejected(timestamped(), headers)
    assert exc.status == 400 and "missing timestamp" in exc.message
    for value in ("yesterday", "1767600000.5", "-5", "2026-01-05T08:00:00Z"):
        exc = rejected(timestamped(), {**sign(SECRET, BODY, NOW), "X-Beffroi-Timestamp": value})
        assert exc.status == 400 and "malformed timestamp" in exc.message


def test_timestamped_uses_the_configured_headers_and_the_real_clock_by_default():
    import time

    ts = int(time.time())
    signed = sign(SECRET, BODY, ts)
    config = cfg(check="hmac-sha256-timestamped", secret=SECRET, signature_header="X-Sig", timestamp_header="X-Ts")
    verify(config, headers={"X-Sig": signed["X-Hub-Signature-256"], "X-Ts": str(ts)}, query={}, body=BODY)


# -- none / public / no secret ------------------------------------------------------------------
def test_no_check_is_accepted_only_when_public():
    check(cfg(check="none", public=True))
    assert rejected(cfg(check="none")).status == 401


def test_a_check_without_a_secret_refuses_everything():
    for kind in ("token", "hmac-sha256", "hmac-sha256-timestamped"):
        for secret in (None, ""):
            exc = rejected(cfg(check=kind, secret=secret), {"X-Beffroi-Token": "", **sign("", BODY, NOW)},
                           {"token": ""})
            assert (exc.status, exc.message) == (401, "webhook has no secret configured")


def test_public_does_not_weaken_a_configured_check():
    assert rejected(cfg(secret=SECRET, public=True)).status == 401


# -- delivery id, sign, config problems ----------------------------------------------------------
def test_delivery_id():
    config = cfg(secret=SECRET, delivery_header="X-GitHub-Delivery")
    assert delivery_id(config, Headers({"x-github-delivery": " 72d3162e "})) == "72d3162e"
    assert delivery_id(config, {"X-GITHUB-DELIVERY": "abc"}) == "abc"
    assert delivery_id(config, Headers({})) is None
    assert delivery_id(config, Headers({"X-GitHub-Delivery": "  "})) is None
    assert delivery_id(cfg(secret=SECRET), Headers({"X-GitHub-Delivery": "abc"})) is None
    long = delivery_id(config, Headers({"X-GitHub-Delivery": "x" * 1000}))
    assert long.startswith("sha256:") and len(long) < 100
    assert long == delivery_id(config, Headers({"X-GitHub-Delivery": "x" * 1000}))


def test_sign_produces_the_documented_headers():
    assert sign(SECRET, BODY) == {"X-Hub-Signature-256": github_signature(SECRET, BODY)}
    assert sign(SECRET, BODY, 42) == {"X-Beffroi-Timestamp": "42",
                                      "X-Hub-Signature-256": github_signature(SECRET, b"42." + BODY)}


def test_config_problems():
    assert config_problems(cfg(secret=SECRET)) == []
    assert config_problems(cfg(check="hmac-sha256-timestamped", secret=SECRET)) == []
    assert config_problems(cfg(check="none", public=True)) == []
    assert config_problems(cfg(check="none")) == ["a webhook needs a check (token or HMAC) unless with.public is true"]
    for kind in ("token", "hmac-sha256", "hmac-sha256-timestamped"):
        assert config_problems(cfg(check=kind)) == [f"with.secret is required for check {kind}"]
        assert config_problems(cfg(check=kind, secret="")) == [f"with.secret is required for check {kind}"]
