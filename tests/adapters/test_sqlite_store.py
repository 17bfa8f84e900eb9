"""SQLiteStore keeps the StateStore contract on a real file, and what a file can do to it."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

import mintgate.adapters.sqlite as sqlite_module
from mintgate.adapters.sqlite import SCHEMA_VERSION, SQLiteStore
from mintgate.shell import (
    Claim,
    ClaimHeld,
    Clock,
    RecordExists,
    RecordUnreadable,
    Scope,
    StoredToken,
    StoreUnavailable,
)
from mintgate.shell.store_contract import StateStoreContract, model_test, record
from mintgate.shell.testing import PlainCipher

pytestmark = pytest.mark.anyio


class TestSQLiteStore(StateStoreContract):
    @pytest.fixture
    def make_store(self, tmp_path: Path) -> Any:
        files = iter(range(1000))
        return lambda clock, cipher: SQLiteStore(
            tmp_path / f"store-{next(files)}.db", cipher, clock=clock
        )


_models = iter(range(10**6))
_model_dir: list[Path] = []


def _model_store() -> SQLiteStore:
    return SQLiteStore(
        _model_dir[0] / f"model-{next(_models)}.db", PlainCipher(), clock=Clock(lambda: 1e9)
    )


SQLiteModel = model_test(_model_store)
SQLiteModel.TestCase.settings = settings(max_examples=25, stateful_step_count=25, deadline=None)


@pytest.fixture(autouse=True, scope="module")
def _model_files(tmp_path_factory: pytest.TempPathFactory) -> None:
    _model_dir.append(tmp_path_factory.mktemp("model"))


TestSQLiteStoreMatchesADict = SQLiteModel.TestCase


def raw(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


async def test_a_sealed_state_copied_to_another_record_does_not_open(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db", PlainCipher())
    first = await store.create(record(secret="first-secret"))
    second = await store.create(record(secret="second-secret"))
    with raw(store.path) as db:
        (sealed,) = db.execute("SELECT state FROM records WHERE id = ?", (first.id,)).fetchone()
        db.execute("UPDATE records SET state = ? WHERE id = ?", (sealed, second.id))
    with pytest.raises(RecordUnreadable) as caught:
        await store.get(second.id)
    assert second.id in str(caught.value)
    assert "first-secret" not in str(caught.value)
    assert (await store.get(first.id)).state == {"api_key": "first-secret"}  # the rest reads


async def test_a_record_moved_to_another_scope_in_the_file_does_not_open(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db", PlainCipher())
    made = await store.create(record("org:acme"))
    with raw(store.path) as db:
        db.execute("UPDATE records SET scope = 'org:evil' WHERE id = ?", (made.id,))
    with pytest.raises(RecordUnreadable, match="does not open"):
        await store.get(made.id)
    listed = await store.list(Scope.parse("org:evil"))
    assert [s.id for s in listed.items] == [made.id]  # listing opens nothing


async def test_a_corrupt_row_is_unreadable_alone(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db", PlainCipher())
    bad, good = await store.create(record()), await store.create(record())
    with raw(store.path) as db:
        db.execute("UPDATE records SET tags = 'not json' WHERE id = ?", (bad.id,))
    with pytest.raises(RecordUnreadable, match="does not parse"):
        await store.get(bad.id)
    assert (await store.get(good.id)).id == good.id
    listed = await store.list(None)
    assert [s.id for s in listed.items] == [good.id]  # the bad one is left out, with a warning


async def test_a_locked_file_is_store_unavailable_not_a_raw_error(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db", PlainCipher(), busy_timeout=0.2)
    made = await store.create(record())
    holder = raw(store.path)
    holder.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
    try:
        with pytest.raises(StoreUnavailable, match="busy: another process held") as caught:
            await store.create(record())
        assert "could not create a record" in str(caught.value)
        assert caught.value.__cause__ is None
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert (await store.get(made.id)).id == made.id


async def test_a_file_from_a_newer_mintgate_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    await SQLiteStore(path, PlainCipher()).create(record())
    with raw(path) as db:
        db.execute("INSERT INTO mintgate_schema (version) VALUES (?)", (SCHEMA_VERSION + 1,))
    with pytest.raises(StoreUnavailable, match="newer than this mintgate's"):
        await SQLiteStore(path, PlainCipher()).list(None)


async def test_a_version_1_file_is_upgraded_with_every_record_and_claim(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "s.db"
    monkeypatch.setattr(sqlite_module, "SCHEMA_VERSION", 1)  # the first layout: WITHOUT ROWID
    old = SQLiteStore(path, PlainCipher())
    token = StoredToken("t" * 900, 2e9, 1.9e9)
    made = [await old.create(record(tags=("a",), token=token)) for _ in range(20)]
    claim = await old.claim(made[0].id, "worker", 30.0)
    old.close()
    monkeypatch.undo()
    store = SQLiteStore(path, PlainCipher())
    assert [(await store.get(m.id)) for m in made] == made
    assert [s.id for s in (await store.list(None, tags=("a",), limit=50)).items] == sorted(
        m.id for m in made
    )
    assert isinstance(await store.claim(made[0].id, "other", 30.0), ClaimHeld)
    assert isinstance(claim, Claim)
    with raw(path) as db:
        versions = [v for (v,) in db.execute("SELECT version FROM mintgate_schema ORDER BY 1")]
        (table,) = db.execute("SELECT sql FROM sqlite_master WHERE name = 'records'").fetchone()
    assert versions == [1, SCHEMA_VERSION]
    assert "WITHOUT ROWID" not in table
    with pytest.raises(RecordExists):  # the id is still unique
        await store.create(made[1])


async def test_a_file_that_is_not_a_database_is_named(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreUnavailable, match=r"s\.db could not"):
        await SQLiteStore(path, PlainCipher()).list(None)
