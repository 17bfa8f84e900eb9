"""Encryption at rest: the envelope, the keyring's sources and errors, failures local to one
record, rotation and re-encryption (killed and resumed), and no secret in any byte we write."""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import pickle
import signal
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import attrs
import pytest

from mintgate.adapters.crypto import (
    OVERHEAD,
    Keyring,
    KeyringError,
    SealRefused,
    reencrypt,
)
from mintgate.adapters.sqlite import SQLiteStore
from mintgate.shell import (
    CredentialId,
    CredentialRecord,
    MemoryStore,
    RecordUnreadable,
    RevisionConflict,
    StateStore,
    StoredToken,
)
from mintgate.shell.store_contract import record
from mintgate.shell.testing import PlainCipher

pytestmark = pytest.mark.anyio

KEY_A, KEY_B = Keyring.generate(), Keyring.generate()
AD = b"mintgate-record-v1\0state\0some-id"


def key_hex(key: str) -> str:
    return hashlib.sha256(base64.b64decode(key)).digest()[:8].hex()


def raw(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


def row(path: Path, credential_id: str) -> tuple[Any, ...]:
    with raw(path) as db:
        return tuple(db.execute("SELECT * FROM records WHERE id = ?", (credential_id,)).fetchone())


# -- the envelope -----------------------------------------------------------------------------


def test_a_sealed_part_is_the_envelope_the_docs_describe() -> None:
    keyring = Keyring(KEY_A)
    plaintext = b'{"api_key":"k"}'
    sealed = keyring.seal(plaintext, AD)
    assert len(sealed) == len(plaintext) + OVERHEAD == len(plaintext) + 37
    assert sealed[0] == 1
    assert sealed[1:9] == hashlib.sha256(base64.b64decode(KEY_A)).digest()[:8]
    assert keyring.key_id(sealed) == keyring.primary_key_id == key_hex(KEY_A)
    assert keyring.open(sealed, AD) == plaintext
    again = keyring.seal(plaintext, AD)
    assert again[9:21] != sealed[9:21]  # a fresh nonce every time
    assert again[21:] != sealed[21:]
    assert keyring.key_id(b"") is None
    assert keyring.key_id(b"\x07" + sealed[1:]) is None


@pytest.mark.parametrize(
    ("where", "reason"),
    [
        (0, "envelope format"),  # the version
        (1, "does not hold"),  # the key id
        (12, "fails authentication"),  # the nonce
        (30, "fails authentication"),  # the ciphertext
        (-1, "fails authentication"),  # the tag
    ],
)
def test_one_byte_changed_anywhere_does_not_open(where: int, reason: str) -> None:
    keyring = Keyring(KEY_A)
    sealed = bytearray(keyring.seal(b"x" * 20, AD))
    sealed[where] ^= 0x01
    with pytest.raises(SealRefused, match=reason):
        keyring.open(bytes(sealed), AD)


def test_other_associated_data_or_a_short_input_does_not_open() -> None:
    keyring = Keyring(KEY_A)
    sealed = keyring.seal(b"secret", AD)
    with pytest.raises(SealRefused, match="sealed for another record"):
        keyring.open(sealed, AD + b"x")
    with pytest.raises(SealRefused, match="too short"):
        keyring.open(sealed[:36], AD)


def test_a_key_the_keyring_lacks_is_named_by_its_id_only() -> None:
    sealed = Keyring(KEY_A).seal(b"secret", AD)
    with pytest.raises(SealRefused) as caught:
        Keyring(KEY_B).open(sealed, AD)
    assert caught.value.reason == (
        f"it was sealed under key {key_hex(KEY_A)}, which the keyring does not hold"
    )
    assert Keyring(KEY_B, old=[KEY_A]).open(sealed, AD) == b"secret"  # rotation: old keys open


# -- the keyring's sources --------------------------------------------------------------------


def key_file(folder: Path, name: str, key: str, mode: int = 0o600) -> Path:
    path = folder / name
    path.write_text(key + "\n")
    path.chmod(mode)
    return path


def test_keys_come_from_code_then_variables_then_files(tmp_path: Path) -> None:
    a, b = key_hex(KEY_A), key_hex(KEY_B)
    env = {"MINTGATE_KEY": KEY_B, "MINTGATE_OLD_KEYS": KEY_A}
    assert Keyring(KEY_A, environ=env).key_ids == (a,)  # code first: the environment unread
    assert Keyring(environ=env).key_ids == (b, a)
    files = {
        "MINTGATE_KEY_FILE": str(key_file(tmp_path, "new", KEY_B)),
        "MINTGATE_OLD_KEY_FILES": str(key_file(tmp_path, "old", KEY_A)),
    }
    assert Keyring(environ=files).key_ids == (b, a)
    mixed = {"MINTGATE_KEY": KEY_B, "MINTGATE_OLD_KEY_FILES": files["MINTGATE_OLD_KEY_FILES"]}
    assert Keyring(environ=mixed).key_ids == (b, a)
    urlsafe = base64.urlsafe_b64encode(base64.b64decode(KEY_A)).decode().rstrip("=")
    assert Keyring(urlsafe).key_ids == (a,)
    assert Keyring(KEY_A, old=[KEY_A]).key_ids == (a,)  # a key given twice is one key


def test_a_key_file_beside_a_key_variable_is_ignored_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    env = {"MINTGATE_KEY": KEY_A, "MINTGATE_KEY_FILE": str(key_file(tmp_path, "k", KEY_B))}
    with caplog.at_level(logging.WARNING, "mintgate.adapters"):
        assert Keyring(environ=env).key_ids == (key_hex(KEY_A),)
    assert "MINTGATE_KEY_FILE is ignored" in caplog.text


def test_every_bad_source_is_named_and_no_key_is_shown(tmp_path: Path) -> None:
    short = base64.b64encode(os.urandom(16)).decode()
    cases: dict[str, dict[str, str]] = {
        "no key: pass one": {},
        "MINTGATE_KEY: the key is not base64": {"MINTGATE_KEY": "not base64 at all!"},
        "MINTGATE_KEY: the key decodes to 16 bytes": {"MINTGATE_KEY": short},
        "MINTGATE_OLD_KEYS item 2: the key decodes to 16": {
            "MINTGATE_KEY": KEY_A,
            "MINTGATE_OLD_KEYS": f"{KEY_B},{short}",
        },
        r"MINTGATE_KEY_FILE \(.*loose\): the key file is open to group or others \(mode 0644\); "
        "chmod 600": {"MINTGATE_KEY_FILE": str(key_file(tmp_path, "loose", KEY_A, 0o644))},
        "MINTGATE_OLD_KEY_FILES item 1 .* cannot be read \\(FileNotFoundError\\)": {
            "MINTGATE_KEY": KEY_A,
            "MINTGATE_OLD_KEY_FILES": str(tmp_path / "missing"),
        },
    }
    for message, env in cases.items():
        with pytest.raises(KeyringError, match=message) as caught:
            Keyring(environ=env)
        for key in (KEY_A, KEY_B, short):
            assert key not in str(caught.value)
        assert caught.value.__cause__ is None
        assert caught.value.__suppress_context__ or caught.value.__context__ is None
    with pytest.raises(KeyringError, match="primary: the key decodes to 16 bytes"):
        Keyring(short)
    with pytest.raises(KeyringError, match="old key 1: the key is not base64"):
        Keyring(KEY_A, old=["%%%"])
    with pytest.raises(KeyringError, match="old keys were passed without a primary"):
        Keyring(old=[KEY_A], environ={})
    with pytest.raises(KeyringError, match="not one string"):
        Keyring(KEY_A, old=KEY_B)


def test_generate_makes_a_new_32_byte_key_each_time() -> None:
    keys = {Keyring.generate() for _ in range(50)}
    assert len(keys) == 50
    assert all(len(base64.b64decode(key, validate=True)) == 32 for key in keys)


def test_no_key_shows_in_repr_or_pickles() -> None:
    keyring = Keyring(KEY_A, old=[KEY_B])
    assert repr(keyring) == f"Keyring(primary={key_hex(KEY_A)}, old=[{key_hex(KEY_B)}])"
    for key in (KEY_A, KEY_B):
        for form in (key, base64.b64decode(key).hex()):
            assert form not in repr(keyring)
            assert form not in repr(vars(keyring))
    with pytest.raises(TypeError, match="not pickled"):
        pickle.dumps(keyring)


# -- failure is local, through the SQLite store ------------------------------------------------


async def test_swapped_moved_or_foreign_records_fail_alone(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    store = SQLiteStore(path, Keyring(KEY_A))
    first, second, moved, fine = [await store.create(record(secret=f"s-{n}")) for n in range(4)]
    foreign = await SQLiteStore(path, Keyring(KEY_B)).create(record(secret="theirs"))
    with raw(path) as db:
        sealed = {i: db.execute("SELECT state FROM records WHERE id = ?", (i,)).fetchone()[0]
                  for i in (first.id, second.id)}  # fmt: skip
        db.execute("UPDATE records SET state = ? WHERE id = ?", (sealed[first.id], second.id))
        db.execute("UPDATE records SET state = ? WHERE id = ?", (sealed[second.id], first.id))
        db.execute("UPDATE records SET scope = 'org:elsewhere' WHERE id = ?", (moved.id,))
    for broken, reason in (
        (first, "fails authentication"),
        (second, "fails authentication"),
        (moved, "fails authentication"),
        (foreign, f"sealed under key {key_hex(KEY_B)}, which the keyring does not hold"),
    ):
        with pytest.raises(RecordUnreadable, match=reason) as caught:
            await store.get(broken.id)
        assert caught.value.credential_id == broken.id
        assert KEY_A not in str(caught.value)
        assert KEY_B not in str(caught.value)
    assert (await store.get(fine.id)).state == {"api_key": "s-3"}
    listed = {s.id: s.sealed_by for s in (await store.list(None)).items}
    assert len(listed) == 5  # every record lists, the unreadable ones too
    assert listed[foreign.id] == key_hex(KEY_B)
    assert listed[fine.id] == key_hex(KEY_A)


# -- rotation and re-encryption ---------------------------------------------------------------


async def test_rotation_opens_old_records_and_reencrypt_moves_them_to_the_new_key(
    tmp_path: Path,
) -> None:
    path = tmp_path / "c.db"
    old_store = SQLiteStore(path, Keyring(KEY_A))
    made = [await old_store.create(record(secret=f"secret-{n}")) for n in range(30)]
    old_store.close()
    rotated = Keyring(KEY_B, old=[KEY_A])
    store = SQLiteStore(path, rotated)
    assert (await store.get(made[0].id)).state == {"api_key": "secret-0"}
    newer = await store.create(record(secret="new"))
    with raw(path) as db:  # one record no key can open: reported, and left as it is
        db.execute("UPDATE records SET scope = 'org:moved' WHERE id = ?", (made[5].id,))
    untouched = row(path, made[5].id)

    report = await reencrypt(store, rotated, page_size=7)
    assert (report.resealed, report.skipped) == (29, 1)  # `newer` is under the new key already
    assert [(i, "fails authentication" in why) for i, why in report.failed] == [(made[5].id, True)]
    assert row(path, made[5].id) == untouched  # byte for byte
    again = await reencrypt(store, rotated)
    assert (again.resealed, again.skipped, len(again.failed)) == (0, 30, 1)

    only_new = SQLiteStore(path, Keyring(KEY_B))  # the old key can go now
    for n, made_record in enumerate(made):
        if n != 5:
            opened = await only_new.get(made_record.id)
            assert opened.state == {"api_key": f"secret-{n}"}
            assert opened.revision == 2  # resealed by one compare-and-swap
    assert (await only_new.get(newer.id)).revision == 1


async def test_reencrypt_refuses_a_store_that_seals_with_something_else(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="the store built with this keyring"):
        await reencrypt(SQLiteStore(tmp_path / "c.db", PlainCipher()), Keyring(KEY_A))
    with pytest.raises(ValueError, match="the store built with this keyring"):
        await reencrypt(MemoryStore(), Keyring(KEY_A))


@attrs.define
class Racing:
    """A store where another writer updates a record between our read and our write, once."""

    inner: MemoryStore
    raced: set[CredentialId] = attrs.Factory(set)
    conflicts: int = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def get(self, credential_id: CredentialId) -> CredentialRecord:
        read = await self.inner.get(credential_id)
        if credential_id not in self.raced:
            self.raced.add(credential_id)
            await self.inner.update(read, read.revision)  # the other writer
        return read

    async def update(
        self, record: CredentialRecord, expected_revision: int, fence: int | None = None
    ) -> CredentialRecord:
        try:
            return await self.inner.update(record, expected_revision, fence)
        except RevisionConflict:
            self.conflicts += 1
            raise


async def test_reencrypt_reads_again_a_record_written_meanwhile() -> None:
    old = MemoryStore(Keyring(KEY_A))
    made = [await old.create(record(secret=f"s{n}")) for n in range(3)]
    rotated = Keyring(KEY_B, old=[KEY_A])
    inner = MemoryStore(rotated)
    for made_record in made:  # the same records, sealed under the old key
        inner._rows[made_record.id] = old._rows[made_record.id]
    store = Racing(inner)
    report = await reencrypt(cast("StateStore", store), rotated)
    assert store.conflicts == 3  # each first write lost the race, and was read again
    assert (report.resealed, report.failed) == (3, ())
    assert {s.sealed_by for s in (await inner.list(None)).items} == {key_hex(KEY_B)}


REENCRYPT_CHILD = """
import sys
import anyio
from mintgate.adapters.crypto import Keyring, reencrypt
from mintgate.adapters.sqlite import SQLiteStore

keyring = Keyring(sys.argv[2], old=[sys.argv[3]])
store = SQLiteStore(sys.argv[1], keyring)
update, done = store.update, [0]

async def slowly(record, expected_revision, fence=None):
    written = await update(record, expected_revision, fence)
    done[0] += 1
    if done[0] == 40:
        print("40", flush=True)  # the parent kills us here
        await anyio.sleep(60)
    return written

store.update = slowly
anyio.run(reencrypt, store, keyring)
"""


async def test_reencrypt_killed_midway_resumes_where_it_stopped(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    store = SQLiteStore(path, Keyring(KEY_A))
    made = [await store.create(record(secret=f"secret-{n}")) for n in range(100)]
    store.close()
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(REENCRYPT_CHILD), str(path), KEY_B, KEY_A],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "40"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    rotated = Keyring(KEY_B, old=[KEY_A])
    store = SQLiteStore(path, rotated)
    report = await reencrypt(store, rotated)
    assert (report.resealed, report.skipped, report.failed) == (60, 40, ())
    only_new = SQLiteStore(path, Keyring(KEY_B))
    for n, made_record in enumerate(made):
        assert (await only_new.get(made_record.id)).state == {"api_key": f"secret-{n}"}


# -- no secret in any byte we write -----------------------------------------------------------


def forms(secret: bytes) -> Iterator[bytes]:
    """The secret as it could sit in a file: raw, hex, UTF-16, and base64 at each alignment."""
    yield secret
    yield secret.hex().encode()
    yield secret.hex().upper().encode()
    text = secret.decode("latin-1")
    yield text.encode("utf-16-le")
    yield text.encode("utf-16-be")
    for skip in range(3):  # base64 inside a longer stream: whole 3-byte groups only
        chunk = secret[skip:]
        chunk = chunk[: len(chunk) // 3 * 3]
        yield base64.b64encode(chunk)
        yield base64.urlsafe_b64encode(chunk)


def found_in(paths: list[Path], secret: bytes) -> list[str]:
    hits = []
    for path in paths:
        data = path.read_bytes()
        hits += [f"{path.name}: {form[:12]!r}" for form in forms(secret) if form in data]
    return hits


async def write_recognisable_credentials(store: SQLiteStore) -> list[bytes]:
    secrets = [f"RECOGNISABLE-{part}-{os.urandom(6).hex()}".encode() for part in "ABCDE"]
    api_key, client_secret, refresh_token, access_token, rotated = (s.decode() for s in secrets)
    plain = await store.create(record(secret=api_key))
    oauth = CredentialRecord(
        CredentialId.new(),
        "org:acme",
        "oauth2_refresh_token",
        1,
        {"client_secret": client_secret, "refresh_token": refresh_token, "client_id": "app"},
        StoredToken(access_token, expires_at=2e9, issued_at=1.9e9),
        display_name="grep target",
    )
    made = (await store.create_many([oauth]))[0].unwrap()
    await store.update(attrs.evolve(made, state={**made.state, "refresh_token": rotated}), 1)
    await store.update(attrs.evolve(plain, display_name="updated"), 1)
    return secrets


async def test_no_secret_or_key_in_any_byte_of_the_database_wal_or_shm(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    path = tmp_path / "c.db"
    store = SQLiteStore(path, Keyring(KEY_A))
    secrets = await write_recognisable_credentials(store)
    files = [path, path.with_name("c.db-wal"), path.with_name("c.db-shm")]
    assert all(file.exists() for file in files)  # the store is open: WAL and shm are there
    assert path.with_name("c.db-wal").stat().st_size > 0
    keys = [base64.b64decode(KEY_A), KEY_A.encode()]
    for secret in secrets + keys:
        assert found_in(files, secret) == []
    store.close()  # closing checkpoints the WAL into the database
    for secret in secrets + keys:
        assert found_in([file for file in files if file.exists()], secret) == []
    for secret in secrets:
        assert secret.decode() not in caplog.text
    assert KEY_A not in caplog.text

    control = tmp_path / "plain.db"  # the same grep finds them when nothing is encrypted
    plain_secrets = await write_recognisable_credentials(SQLiteStore(control, PlainCipher()))
    control_files = [control, control.with_name("plain.db-wal")]
    assert all(found_in(control_files, secret) for secret in plain_secrets)
