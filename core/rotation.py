"""`beffroi secrets rotate`: move every connection secret to a new key, resumably."""
from __future__ import annotations

import os
from pathlib import Path

from .engine import Engine
from .errors import SetupError
from .secrets import (
    KEY_FILE,
    NEXT_KEY_FILE,
    embedded_keys,
    is_passphrase,
    key_problem,
    new_key_text,
    write_key_file,
)


def rotate(engine: Engine, new_key: str | None = None) -> str:
    """Re-encrypt all secrets under a new key and return a report line.

    Embedded mode: the new key is written to `secret.key.next` first, rows are re-encrypted one by
    one, then the file replaces `secret.key`. An interruption leaves both files; running again
    continues with the same new key. With BEFFROI_SECRET_KEY, pass the new key (BEFFROI_NEW_SECRET_KEY)
    and set it as BEFFROI_SECRET_KEY once this has finished; with no new key, a passphrase's data still under
    its pre-scrypt derivation (SHA-256) moves to its scrypt key. A weak new key is refused (SetupError).
    """
    if new_key and (problem := key_problem(new_key, "BEFFROI_NEW_SECRET_KEY")):
        raise SetupError(problem)
    if engine.settings.secret_key:
        current = engine.settings.secret_key.get_secret_value()
        if new_key:
            done, total = engine.connections.rotate(engine.connections.make_box([new_key, current]))
            return f"re-encrypted {done} of {total} connection(s); now set BEFFROI_SECRET_KEY to the new key"
        if is_passphrase(current):  # an install from before scrypt: move its data to the stretched key
            done, total = engine.connections.rotate(engine.connections.make_box([current]))
            return (f"re-encrypted {done} of {total} connection(s) under the scrypt-stretched passphrase; "
                    "BEFFROI_SECRET_KEY stays as it is")
        raise SystemExit("error: BEFFROI_SECRET_KEY is set: give the new key in BEFFROI_NEW_SECRET_KEY")
    folder = Path(engine.settings.data_dir)
    pending = folder / NEXT_KEY_FILE
    current = embedded_keys(folder)[0]
    if not pending.exists():
        write_key_file(pending, new_key or new_key_text())
    next_key = pending.read_text().strip()
    done, total = engine.connections.rotate(engine.connections.make_box([next_key, current]))
    os.replace(pending, folder / KEY_FILE)  # atomic: from here on the new key is the only key
    return f"re-encrypted {done} of {total} connection(s) under a new key in {folder / KEY_FILE}"
