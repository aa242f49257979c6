"""Connection secrets at rest: encrypted, bound to their connection, rotatable without loss."""
from __future__ import annotations

import base64
import hashlib
import stat

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import select, text

from beffroi.rotation import rotate
from beffroi.secrets import SecretBox, SecretsError, new_key_text
from beffroi.store.models import ConnectionRow

from .conftest import make_settings
from .helpers import RecordingPlugin

CONFIG = {"base_url": "https://social.example", "token": "tok-PLAINTEXT-4242"}


@pytest.fixture
def engine(make_engine, database_url):
    return make_engine(database_url, plugins=[RecordingPlugin()])


def dump(engine) -> str:
    with engine.db.engine.connect() as conn:
        rows = conn.execute(text("SELECT id, name, type, config, secrets, key_id FROM connections")).all()
    return repr(rows)


def test_database_holds_no_plaintext_and_key_file_is_private(engine, tmp_path):
    engine.connections.save("acct", "testapi", CONFIG)
    assert "tok-PLAINTEXT-4242" not in dump(engine)
    key_file = tmp_path / "data" / "secret.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert engine.connections.resolve(["acct"], None)[0].config.token.get_secret_value() == "tok-PLAINTEXT-4242"


def test_ciphertext_copied_to_another_connection_does_not_decrypt(engine):
    engine.connections.save("one", "testapi", CONFIG)
    engine.connections.save("two", "testapi", {**CONFIG, "token": "other-token-1"})
    with engine.db.engine.begin() as conn:
        conn.execute(text("UPDATE connections SET secrets = (SELECT secrets FROM connections WHERE name = 'one') "
                          "WHERE name = 'two'"))
    with pytest.raises(SecretsError):
        engine.connections.resolve(["two"], None)
    assert engine.connections.resolve(["one"], None)[0].name == "one"


def test_wrong_key_does_not_decrypt():
    blob = SecretBox(new_key_text()).seal("abc", {"token": "x"})
    with pytest.raises(SecretsError):
        SecretBox(new_key_text()).open("abc", blob)


def test_rotation_is_resumable_and_loses_nothing(make_engine, database_url, tmp_path):
    engine = make_engine(database_url, plugins=[RecordingPlugin()])
    for i in range(5):
        engine.connections.save(f"acct-{i}", "testapi", {**CONFIG, "token": f"token-number-{i}"})
    old_key = (tmp_path / "data" / "secret.key").read_text()
    # an interrupted rotation: the new key file was written and two rows were moved
    new_key = new_key_text()
    (tmp_path / "data" / "secret.key.next").write_text(new_key)
    from beffroi.secrets import SecretBox as Box

    moved = 0
    with engine.db.engine.connect() as conn:
        ids = [r.id for r in conn.execute(text("SELECT id FROM connections ORDER BY name"))][:2]
    for row_id in ids:
        with engine.db.session() as session:
            from beffroi.store.models import ConnectionRow

            row = session.get(ConnectionRow, row_id)
            box = Box([new_key, old_key])
            row.secrets, row.key_id = box.seal(row.id, box.open(row.id, row.secrets)), box.key_id
            moved += 1
    # a fresh engine (a restart mid-rotation) still reads every secret
    again = make_engine(database_url, plugins=[RecordingPlugin()])
    assert [c.config.token.get_secret_value()
            for c in again.connections.resolve([f"acct-{i}" for i in range(5)], None)] \
        == [f"token-number-{i}" for i in range(5)]
    report = rotate(again)
    assert report.startswith("re-encrypted 3 of 5")
    assert (tmp_path / "data" / "secret.key").read_text().strip() == new_key.strip()
    assert not (tmp_path / "data" / "secret.key.next").exists()
    assert rotate(make_engine(database_url, plugins=[RecordingPlugin()])).startswith("re-encrypted 5 of 5")
    final = make_engine(database_url, plugins=[RecordingPlugin()])
    assert final.connections.resolve(["acct-4"], None)[0].config.token.get_secret_value() == "token-number-4"
    assert old_key.strip() not in (tmp_path / "data" / "secret.key").read_text()


PASSPHRASE = "the city hall keeps its keys in the tower, 1589"


def stored_row(engine, name: str) -> ConnectionRow:
    with engine.db.session() as session:
        row = session.scalar(select(ConnectionRow).where(ConnectionRow.name == name))
        session.expunge(row)
        return row


def the_salt(engine) -> bytes:
    with engine.db.engine.connect() as conn:
        return base64.b64decode(conn.execute(text("SELECT value FROM installation")).scalar_one())


def sha256_key() -> bytes:
    """How a passphrase became a key before scrypt."""
    return hashlib.sha256(PASSPHRASE.encode()).digest()


def opens(key: bytes, row: ConnectionRow) -> bool:
    try:
        AESGCM(key).decrypt(row.secrets[:12], row.secrets[12:], row.id.encode())
    except InvalidTag:
        return False
    return True


def test_a_passphrase_is_stretched_with_scrypt_and_the_stored_salt(make_engine, database_url):
    engine = make_engine(database_url, plugins=[RecordingPlugin()], secret_key=PASSPHRASE)
    engine.connections.save("acct", "testapi", CONFIG)
    row = stored_row(engine, "acct")
    salt = the_salt(engine)
    assert len(salt) == 16
    assert not opens(sha256_key(), row)
    assert opens(hashlib.scrypt(PASSPHRASE.encode(), salt=salt, n=2**15, r=8, p=1, maxmem=2**26, dklen=32), row)


def test_two_engines_on_one_database_derive_the_same_key(make_engine, database_url, tmp_path):
    first = make_engine(database_url, plugins=[RecordingPlugin()], secret_key=PASSPHRASE)
    first.connections.save("acct", "testapi", CONFIG)
    # another machine: its own data folder, the same database and passphrase
    elsewhere = make_settings(tmp_path / "elsewhere", database_url, secret_key=PASSPHRASE)
    other = make_engine(plugins=[RecordingPlugin()], settings=elsewhere)
    assert other.connections.box.key_id == first.connections.box.key_id
    assert other.connections.resolve(["acct"], None)[0].config.token.get_secret_value() == CONFIG["token"]


def test_rotate_moves_data_sealed_before_scrypt_and_it_stays_readable_meanwhile(make_engine, database_url):
    engine = make_engine(database_url, plugins=[RecordingPlugin()], secret_key=PASSPHRASE)
    for name in ("old-one", "old-two", "new"):
        engine.connections.save(name, "testapi", {**CONFIG, "token": f"token-of-{name}"})
    for name in ("old-one", "old-two"):  # as an install from before scrypt wrote them
        with engine.db.session() as session:
            row = session.scalar(select(ConnectionRow).where(ConnectionRow.name == name))
            nonce = b"\x00" * 11 + name[-1].encode()
            row.secrets = nonce + AESGCM(sha256_key()).encrypt(nonce, b'{"token": "token-of-%s"}' % name.encode(),
                                                                 row.id.encode())
            row.key_id = hashlib.sha256(sha256_key()).hexdigest()[:12]
    upgraded = make_engine(database_url, plugins=[RecordingPlugin()], secret_key=PASSPHRASE)
    names = ["old-one", "old-two", "new"]
    tokens = [c.config.token.get_secret_value() for c in upgraded.connections.resolve(names, None)]
    assert tokens == [f"token-of-{n}" for n in names]
    assert rotate(upgraded) == ("re-encrypted 2 of 3 connection(s) under the scrypt-stretched passphrase; "
                                "BEFFROI_SECRET_KEY stays as it is")
    assert not any(opens(sha256_key(), stored_row(upgraded, n)) for n in names)
    assert {stored_row(upgraded, n).key_id for n in names} == {upgraded.connections.box.key_id}
    tokens = [c.config.token.get_secret_value() for c in upgraded.connections.resolve(names, None)]
    assert tokens == [f"token-of-{n}" for n in names]
    assert rotate(upgraded).startswith("re-encrypted 0 of 3")
