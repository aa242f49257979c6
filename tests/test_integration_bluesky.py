"""Integration tier: smms.publish's `bluesky` connector against the REAL Bluesky reference PDS.

`tests/servers/real_pds/install.sh` (run by .ci/run) installs `@atproto/pds`, a PLC directory
(`@did-plc/server`, in memory) and a Node 22 runtime from the npm registry into BEFFROI_PDS_HOME
(default ~/.cache/beffroi-pds), outside the repo. `tests/servers/real_pds/index.mjs` starts both on 127.0.0.1
with ephemeral ports, SQLite and blobs in a temporary folder, no crawler, app view or email: nothing leaves the
machine. One network serves the whole session; every test signs up its own account (handle `*.test`) and
publishes with an app password made on the PDS. Where the PDS is not installed, these tests skip saying so.
"""
from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import pytest
from sqlalchemy import delete, update

from beffroi import deliveries
from beffroi.store.builtin_tables import DeliveryRow
from beffroi.store.models import RunRow

from .helpers import recipe
from .servers.http_base import PNG, StaticServer

HOME = Path(os.environ.get("BEFFROI_PDS_HOME") or Path.home() / ".cache" / "beffroi-pds")
NODE = HOME / "node_modules" / ".bin" / "node"
START = Path(__file__).parent / "servers" / "real_pds" / "index.mjs"
POST = "app.bsky.feed.post"
START_TIMEOUT = 60.0

TEXT = "Fête à Liège 🎉 : tout le programme https://example.org/fête?utm_source=bluesky #Liège #Wallonie"


def _missing() -> str | None:
    if not NODE.exists() or not (HOME / "node_modules" / "@atproto" / "pds").is_dir():
        return (f"the Bluesky reference PDS is not installed in {HOME} "
                "(bash tests/servers/real_pds/install.sh installs it; .ci/run does)")
    return None


@pytest.fixture(scope="session")
def pds(tmp_path_factory):
    """The local network: {'pds': url, 'plc': url, 'admin_password', 'pds_version', 'node_version'}."""
    if reason := _missing():
        pytest.skip(reason)
    data = tmp_path_factory.mktemp("pds")
    log = (data / "pds.log").open("wb")
    env = {**os.environ, "BEFFROI_PDS_HOME": str(HOME), "BEFFROI_PDS_DATA": str(data / "data")}
    # stdin stays open as long as this process lives: the network stops by itself if pytest is killed.
    process = subprocess.Popen([str(NODE), str(START)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=log, env=env)

    def failed(why: str):
        process.kill()
        process.wait()
        log.flush()
        pytest.fail(f"the reference PDS did not start ({why}): {(data / 'pds.log').read_text()[-2000:]}")

    ready, _, _ = select.select([process.stdout], [], [], START_TIMEOUT)
    line = process.stdout.readline() if ready else b""
    if not line:
        failed(f"no address after {START_TIMEOUT:g} s" if not ready else f"exit code {process.wait()}")
    network = json.loads(line)
    deadline = time.monotonic() + 10
    while True:
        try:
            if httpx.get(f"{network['pds']}/xrpc/_health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            failed("/xrpc/_health does not answer")
        time.sleep(0.1)
    yield network
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    log.close()


def xrpc(pds, method: str, *, token: str | None = None, **body) -> dict:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = httpx.post(f"{pds['pds']}/xrpc/{method}", json=body, headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def account(pds):
    """A new account on the PDS with an app password: {'handle', 'did', 'password', 'app_password'}."""
    handle = f"c{uuid.uuid4().hex[:10]}.test"
    password = uuid.uuid4().hex
    created = xrpc(pds, "com.atproto.server.createAccount", handle=handle, email=f"{handle}@example.org",
                   password=password)
    app = xrpc(pds, "com.atproto.server.createAppPassword", token=created["accessJwt"], name="beffroi")
    return {"handle": created["handle"], "did": created["did"], "password": password, "app_password": app["password"]}


def records(pds, account) -> list[dict]:
    """Every post of the account, as the PDS lists them."""
    response = httpx.get(f"{pds['pds']}/xrpc/com.atproto.repo.listRecords",
                         params={"repo": account["did"], "collection": POST, "limit": 100}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["records"]


@pytest.fixture
def engine(make_engine, pds, account):
    engine = make_engine(allowed_networks=["127.0.0.0/8"])
    engine.connections.save("city-bluesky", "bluesky", {"service": pds["pds"], "handle": account["handle"],
                                                        "app_password": account["app_password"]})
    return engine


def publish(engine, with_, connection, **step_options):
    step = {"id": "announce", "uses": "smms.publish", "with": with_, "connection": connection, **step_options}
    return engine.run_recipe(engine.validate(recipe(step)), {})


def retry(engine, run_id: str) -> str:
    """What POST /api/runs/{id}/retry does, then run it here."""
    with engine.db.session() as session:
        session.execute(update(RunRow).where(RunRow.id == run_id).values(status="queued", error=None,
                                                                         finished_at=None))
    return engine.runner.execute(run_id)


def broken_mastodon(engine) -> None:
    """A `broken-mastodon` connection to a closed port on 127.0.0.1: every attempt fails, as retryable."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    engine.connections.save("broken-mastodon", "mastodon", {"base_url": f"http://127.0.0.1:{closed}",
                                                            "access_token": "tok"})


def byte_range(text: str, part: str) -> dict:
    start = text.encode().index(part.encode())
    return {"byteStart": start, "byteEnd": start + len(part.encode())}


def test_a_post_with_accents_a_link_and_hashtags_is_read_back_with_its_facets(engine, pds, account):
    run = publish(engine, {"text": TEXT, "language": "fr"}, "city-bluesky")
    step = run["steps"][0]
    assert run["status"] == "succeeded", step["error"]
    [result] = step["output"]["results"]
    did, rkey = account["did"], result["id"].rsplit("/", 1)[-1]
    assert result["id"] == f"at://{did}/{POST}/{rkey}" and result["network"] == "bluesky"
    assert result["url"] == f"https://bsky.app/profile/{account['handle']}/post/{rkey}"

    response = httpx.get(f"{pds['pds']}/xrpc/com.atproto.repo.getRecord",
                         params={"repo": did, "collection": POST, "rkey": rkey}, timeout=10)
    assert response.status_code == 200, response.text
    got = response.json()
    assert got["uri"] == result["id"] and got["cid"]
    post = got["value"]
    assert post["$type"] == POST and post["text"] == TEXT and post["langs"] == ["fr"]
    link = "https://example.org/fête?utm_source=bluesky"
    assert post["facets"] == [
        {"index": byte_range(TEXT, link), "features": [{"$type": "app.bsky.richtext.facet#link", "uri": link}]},
        {"index": byte_range(TEXT, "#Liège"), "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "Liège"}]},
        {"index": byte_range(TEXT, "#Wallonie"),
         "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "Wallonie"}]},
    ]
    assert byte_range(TEXT, link) == {"byteStart": 41, "byteEnd": 85}  # é, à, è, ê: 2 bytes, 🎉: 4
    assert [r["uri"] for r in records(pds, account)] == [result["id"]]
    assert account["app_password"] not in str(engine.runs.detail(run["id"]))


def test_a_retried_step_and_a_retried_run_post_only_once(engine, pds, account):
    broken_mastodon(engine)  # the step fails after Bluesky has posted, and fails again on retry
    run = publish(engine, {"text": TEXT}, ["city-bluesky", "broken-mastodon"],
                  retry={"attempts": 2, "backoff": "10ms"})
    step = run["steps"][0]
    assert run["status"] == "failed" and step["attempts"] == 2
    assert step["error"].startswith("broken-mastodon: Mastodon could not be reached (")
    assert step["error"].endswith("(already published on city-bluesky, not again on a retry)")
    [post] = records(pds, account)
    assert post["value"]["text"] == TEXT

    assert retry(engine, run["id"]) == "failed"
    assert [r["uri"] for r in records(pds, account)] == [post["uri"]]


def test_a_step_whose_journal_entry_was_lost_finds_its_post_by_its_record_key(engine, pds, account):
    """The second safeguard: without the journal entry, the same record key makes the PDS refuse a second post."""
    broken_mastodon(engine)
    run = publish(engine, {"text": TEXT}, ["city-bluesky", "broken-mastodon"])
    assert run["status"] == "failed"
    [post] = records(pds, account)
    key = f"{run['id']}:announce"
    assert deliveries.done(engine.db, key, "city-bluesky") is not None
    with engine.db.session() as session:  # as if the process died between the post and its journal entry
        session.execute(delete(DeliveryRow).where(DeliveryRow.idempotency_key == key))

    assert retry(engine, run["id"]) == "failed"  # Mastodon is still down
    assert [r["uri"] for r in records(pds, account)] == [post["uri"]]
    assert deliveries.done(engine.db, key, "city-bluesky")["id"] == post["uri"]


def test_a_wrong_app_password_fails_the_step_saying_the_credentials_were_refused(engine, pds, account):
    engine.connections.save("city-bluesky", "bluesky", {"service": pds["pds"], "handle": account["handle"],
                                                        "app_password": "aaaa-bbbb-cccc-dddd"})
    run = publish(engine, {"text": TEXT}, "city-bluesky", retry={"attempts": 3, "backoff": "10ms"})
    step = run["steps"][0]
    assert run["status"] == "failed"
    assert step["error"] == (f"city-bluesky: Bluesky refused the credentials for @{account['handle']} "
                             "(Invalid identifier or password); check the handle and the app password")
    assert step["attempts"] == 1  # not retried: the password will not get better
    assert records(pds, account) == []


@pytest.fixture
def image_server():
    """Serves /affiche.png on 127.0.0.1."""
    with StaticServer((PNG, "image/png")) as server:
        yield server.url


def test_an_image_is_uploaded_as_a_blob_with_its_alt_text(engine, pds, account, image_server):
    alt = "Affiche de la Fête de Wallonie : un coq rouge sur fond jaune"
    run = publish(engine, {"text": TEXT, "image_url": f"{image_server}/affiche.png", "image_alt": alt},
                  "city-bluesky")
    assert run["status"] == "succeeded", run["steps"][0]["error"]
    [post] = records(pds, account)
    [image] = post["value"]["embed"]["images"]
    assert post["value"]["embed"]["$type"] == "app.bsky.embed.images" and image["alt"] == alt
    blob = image["image"]
    assert blob["mimeType"] == "image/png" and blob["size"] == len(PNG)
    response = httpx.get(f"{pds['pds']}/xrpc/com.atproto.sync.getBlob",
                         params={"did": account["did"], "cid": blob["ref"]["$link"]}, timeout=10)
    assert response.status_code == 200 and response.content == PNG


def test_images_from_documents_are_uploaded_as_blobs_with_their_alt_texts(engine, pds, account):
    folder = engine.settings.data_dir / "documents"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "affiche.png").write_bytes(PNG)
    (folder / "plan.png").write_bytes(PNG)
    images = [{"path": "affiche.png", "alt": "Affiche : un coq rouge"}, {"path": "plan.png", "alt": "Plan du site"}]
    run = publish(engine, {"text": TEXT, "images": images}, "city-bluesky")
    assert run["status"] == "succeeded", run["steps"][0]["error"]
    [post] = records(pds, account)
    embedded = post["value"]["embed"]["images"]
    assert [image["alt"] for image in embedded] == ["Affiche : un coq rouge", "Plan du site"]
    for image in embedded:
        response = httpx.get(f"{pds['pds']}/xrpc/com.atproto.sync.getBlob",
                             params={"did": account["did"], "cid": image["image"]["ref"]["$link"]}, timeout=10)
        assert response.status_code == 200 and response.content == PNG
