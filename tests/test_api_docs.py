"""The API's documentation works offline: /docs and /redoc load only files this app serves, and
/openapi.json describes every body, errors as problem details (application/problem+json)."""
from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from beffroi.api import create_app

TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png", ".ico": "image/png"}


@pytest.fixture
def client(make_engine):
    return TestClient(create_app(make_engine()), base_url="http://beffroi.test")


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_load_only_files_of_this_app(client, page):
    answer = client.get(page)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
    assert answer.headers["x-content-type-options"] == "nosniff"
    html = answer.text
    assert not re.search(r"https?://(?!beffroi\.test)", html), "no address on another host"
    urls = re.findall(r'(?:src|href)="([^"]+)"', html) + re.findall(r"url: '([^']+)'", html)
    urls += re.findall(r'spec-url="([^"]+)"', html)
    assert any(u.endswith(".js") for u in urls) and any("favicon" in u for u in urls) and "/openapi.json" in urls
    for url in urls:
        assert url.startswith("/"), f"{url} is not on this origin"
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert asset.headers["x-content-type-options"] == "nosniff"
        expected = TYPES.get(url[url.rfind("."):], "application/json")
        assert asset.headers["content-type"].startswith(expected), (url, asset.headers["content-type"])
    policy = answer.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src 'self'" in policy and "http" not in policy


def test_the_swagger_page_script_is_allowed_by_its_hash_and_fetches_no_validator_badge(client):
    answer = client.get("/docs")
    assert "'sha256-" in answer.headers["content-security-policy"] and "'unsafe-inline'" not in \
        answer.headers["content-security-policy"].split("script-src")[1].split(";")[0]
    assert '"validatorUrl": null' in answer.text


def test_favicon_and_unknown_assets(client):
    favicon = client.get("/favicon.ico")
    assert favicon.status_code == 200 and favicon.headers["content-type"] == "image/png"
    assert favicon.content.startswith(b"\x89PNG")
    missing = client.get("/docs/assets/../../pyproject.toml")
    assert missing.status_code == 404
    assert client.get("/docs/assets/nothing.js").status_code == 404


def test_every_operation_documents_its_answers(client):
    document = client.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and {"Problem", "LocatedError", "Recipe"} <= set(schemas)
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            answers = operation["responses"]
            ok = [s for s in answers if s.startswith("2")]
            assert ok, where
            for status in ok:
                content = answers[status].get("content") or {}
                if status != "204" and "application/json" not in content:
                    assert content, f"{where} {status} documents no media type"  # a feed: JSON Feed, RSS
                elif status != "204":
                    schema = content["application/json"]["schema"]
                    assert schema.get("$ref") or schema.get("items", {}).get("$ref") or \
                        schema.get("type") == "object", f"{where} {status} has no model"
            for status, answer in answers.items():
                if status[0] in "45":
                    assert list(answer["content"]) == ["application/problem+json"], (where, status)
                    assert answer["content"]["application/problem+json"]["schema"] == \
                        {"$ref": "#/components/schemas/Problem"}, (where, status)
            if method in ("post", "put", "patch") and "requestBody" in operation:
                for content in operation["requestBody"]["content"].values():
                    assert content["schema"], where


def test_the_problem_model_is_what_errors_carry(make_engine):
    from beffroi.api.problems import Problem

    engine = make_engine()
    api = TestClient(create_app(engine), headers={"Authorization": f"Bearer {engine.tokens.create('a', 'admin')[1]}"})
    for answer in (TestClient(api.app).get("/api/recipes"), api.get("/api/recipes/nothing"),
                   api.post("/api/tokens", json={"name": "", "role": "boss"})):
        assert answer.headers["content-type"] == "application/problem+json"
        assert Problem.model_validate(answer.json()).model_dump(exclude_unset=True) == answer.json()
    assert [e["loc"] for e in answer.json()["errors"]] == ["name", "role"]
