"""``SQLiteStore``: the ``StateStore`` port in one SQLite file, shared by several processes.

The standard library's ``sqlite3``, run through ``anyio.to_thread`` so the event loop never
waits on the disk. The file is in WAL mode (readers do not block the writer) with a busy
timeout; every write is one ``BEGIN IMMEDIATE`` transaction, so two processes serialise on the
file's lock and compare-and-swap is ``UPDATE ... WHERE id = ? AND revision = ?`` inside it.
Claims live in the same file, so a fence check and the write it guards are one transaction.
Each record's state and token are sealed through the ``Cipher`` given; its metadata is in
clear, so ``list`` opens nothing. ``database is locked`` and other SQLite errors leave as
:class:`~mintgate.shell.StoreUnavailable` naming the file and the operation; a row that cannot
be parsed is :class:`~mintgate.shell.RecordUnreadable` for that record only.

``synchronous=NORMAL``: a committed transaction survives the process being killed; a power loss
may lose the last ones, never the file.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar, final

import anyio
import anyio.to_thread
from returns.result import Failure, Result, Success

from mintgate.shell import (
    Cipher,
    Claim,
    ClaimHeld,
    Clock,
    CredentialId,
    CredentialRecord,
    Page,
    RecordExists,
    RecordNotFound,
    RecordSummary,
    RecordUnreadable,
    RevisionConflict,
    Scope,
    StaleFence,
    StoreUnavailable,
)
from mintgate.shell._memory_store import check_claim_args, check_page_args
from mintgate.shell._records import open_state, open_token, seal_state, seal_token
from mintgate.shell._store import decode_cursor, encode_cursor

__all__ = ["SCHEMA_VERSION", "SQLiteStore"]

T = TypeVar("T")

log = logging.getLogger("mintgate.adapters")

SCHEMA_VERSION = 2
"""The layout this code writes; a file at a newer version is refused, an older one upgraded."""

_SCHEMA: dict[int, str] = {
    1: """
    CREATE TABLE records (
        id TEXT PRIMARY KEY,
        scope TEXT NOT NULL,
        type TEXT NOT NULL,
        version INTEGER NOT NULL,
        state BLOB NOT NULL,
        token BLOB,
        display_name TEXT NOT NULL,
        tags TEXT NOT NULL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        revision INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX records_by_scope ON records (scope, id);
    CREATE TABLE record_tags (
        tag TEXT NOT NULL,
        id TEXT NOT NULL,
        PRIMARY KEY (tag, id)
    ) WITHOUT ROWID;
    CREATE TABLE claims (
        id TEXT PRIMARY KEY,
        owner TEXT,
        fence INTEGER NOT NULL,
        expires_at REAL NOT NULL,
        ttl REAL NOT NULL
    ) WITHOUT ROWID;
    """,
    # A rowid table: a WITHOUT ROWID row longer than about 1 KB (a state and a JWT-sized token)
    # spills into an overflow page of its own, 4.6 KB per record instead of 1.4 KB.
    2: """
    CREATE TABLE records_v2 (
        id TEXT NOT NULL UNIQUE,
        scope TEXT NOT NULL,
        type TEXT NOT NULL,
        version INTEGER NOT NULL,
        state BLOB NOT NULL,
        token BLOB,
        display_name TEXT NOT NULL,
        tags TEXT NOT NULL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        revision INTEGER NOT NULL
    );
    INSERT INTO records_v2 SELECT * FROM records ORDER BY id;
    DROP TABLE records;
    ALTER TABLE records_v2 RENAME TO records;
    CREATE INDEX records_by_scope ON records (scope, id);
    """,
}
"""Each schema version's statements, applied in order to a file at an older one."""

_COLUMNS = (
    "scope, type, version, state, token, display_name, tags, created_at, updated_at, revision"
)
_SUMMARY = "id, scope, type, version, display_name, tags, created_at, updated_at, revision, state"


@final
class SQLiteStore:
    """Credential records in a SQLite file.

    Args:
        path: The file (created, with its schema, on first use).
        cipher: Seals each record's state and token (a ``Keyring`` in production;
            ``PlainCipher`` in tests).
        clock: Its ``wall()`` stamps records and times claims.
        busy_timeout: Seconds a transaction waits for another process's lock before the
            operation fails with ``StoreUnavailable``.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        cipher: Cipher,
        *,
        clock: Clock | None = None,
        busy_timeout: float = 5.0,
    ) -> None:
        self.path = Path(path)
        self._cipher = cipher
        self._clock = Clock() if clock is None else clock
        self._busy_timeout = float(busy_timeout)
        self._connection: sqlite3.Connection | None = None
        self._lock = threading.Lock()  # one connection, used by one worker thread at a time

    @property
    def cipher(self) -> Cipher | None:
        """What seals its records' states and tokens."""
        return self._cipher

    def __repr__(self) -> str:
        return f"SQLiteStore({str(self.path)!r})"

    # -- plumbing ----------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(
            self.path,
            timeout=self._busy_timeout,
            isolation_level=None,  # we BEGIN ourselves
            check_same_thread=False,  # used from worker threads, one at a time (our lock)
        )
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute(f"PRAGMA busy_timeout={int(self._busy_timeout * 1000)}")
        self._migrate_schema(connection)
        return connection

    def _migrate_schema(self, connection: sqlite3.Connection) -> None:
        connection.execute("BEGIN IMMEDIATE")
        try:
            connection.execute("CREATE TABLE IF NOT EXISTS mintgate_schema (version INTEGER)")
            row = connection.execute("SELECT max(version) FROM mintgate_schema").fetchone()
            version = row[0] or 0
            if version > SCHEMA_VERSION:
                raise StoreUnavailable(
                    f"the SQLite store {self.path} has schema version {version}, newer than "
                    f"this mintgate's {SCHEMA_VERSION}: upgrade mintgate to use it"
                )
            for step in range(version + 1, SCHEMA_VERSION + 1):
                for statement in _SCHEMA[step].split(";"):
                    if statement.strip():
                        connection.execute(statement)
                connection.execute("INSERT INTO mintgate_schema (version) VALUES (?)", (step,))
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise

    def _run(self, operation: str, fn: Callable[[sqlite3.Connection], T]) -> T:
        with self._lock:
            try:
                if self._connection is None:
                    self._connection = self._connect()
                return fn(self._connection)
            except sqlite3.Error as error:
                connection = self._connection
                if connection is not None and connection.in_transaction:
                    connection.execute("ROLLBACK")
                text = str(error)
                busy = "locked" in text or "busy" in text
                why = (
                    f"busy: another process held the file's lock for {self._busy_timeout:g} s"
                    if busy
                    else f"{type(error).__name__}: {text[:120]}"
                )
                raise StoreUnavailable(
                    f"the SQLite store {self.path} could not {operation} ({why}); nothing was "
                    "changed"
                ) from None

    async def _call(self, operation: str, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await anyio.to_thread.run_sync(self._run, operation, fn)

    def close(self) -> None:
        """Close the file (the next operation opens it again)."""
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await anyio.to_thread.run_sync(self.close)

    # -- rows --------------------------------------------------------------------------------

    def _row(self, record: CredentialRecord) -> tuple[Any, ...]:
        return (
            record.id,
            record.scope,
            record.type,
            record.version,
            seal_state(self._cipher, record),
            seal_token(self._cipher, record),
            record.display_name,
            json.dumps(list(record.tags)),
            record.created_at,
            record.updated_at,
            record.revision,
        )

    def _record(self, credential_id: str, row: Sequence[Any]) -> CredentialRecord:
        scope, type_name, version, state, token, name, tags, created, updated, revision = row
        try:
            opened = open_state(self._cipher, state, credential_id, scope, type_name, version)
            stored = open_token(self._cipher, token, credential_id, scope, type_name, version)
            return CredentialRecord(
                credential_id, scope, type_name, version, opened, stored, name,
                json.loads(tags), created, updated, revision,
            )  # fmt: skip
        except RecordUnreadable:
            raise
        except (ValueError, TypeError) as error:
            raise RecordUnreadable(credential_id, f"its row does not parse ({error})") from None

    @staticmethod
    def _write_tags(connection: sqlite3.Connection, record: CredentialRecord) -> None:
        connection.execute("DELETE FROM record_tags WHERE id = ?", (record.id,))
        connection.executemany(
            "INSERT INTO record_tags (tag, id) VALUES (?, ?)",
            [(tag, record.id) for tag in record.tags],
        )

    @staticmethod
    def _insert(
        connection: sqlite3.Connection, record: CredentialRecord, row: tuple[Any, ...]
    ) -> None:
        try:
            connection.execute(
                f"INSERT INTO records (id, {_COLUMNS}) VALUES ({', '.join('?' * 11)})", row
            )
        except sqlite3.IntegrityError:
            raise RecordExists(record.id) from None
        SQLiteStore._write_tags(connection, record)

    # -- the port ----------------------------------------------------------------------------

    async def get(self, credential_id: CredentialId) -> CredentialRecord:
        credential_id = CredentialId.parse(credential_id)

        def read(connection: sqlite3.Connection) -> CredentialRecord:
            row = connection.execute(
                f"SELECT {_COLUMNS} FROM records WHERE id = ?", (credential_id,)
            ).fetchone()
            if row is None:
                raise RecordNotFound(credential_id)
            return self._record(credential_id, row)

        return await self._call("read a record", read)

    def _stamped(self, record: CredentialRecord) -> CredentialRecord:
        now = self._clock.wall()
        return record.stamped(1, now, now)

    async def create(self, record: CredentialRecord) -> CredentialRecord:
        def write(connection: sqlite3.Connection) -> CredentialRecord:
            stored = self._stamped(record)
            row = self._row(stored)
            connection.execute("BEGIN IMMEDIATE")
            try:
                self._insert(connection, stored, row)
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")
            return stored

        return await self._call("create a record", write)

    async def create_many(
        self, records: Sequence[CredentialRecord]
    ) -> list[Result[CredentialRecord, Exception]]:
        def write(connection: sqlite3.Connection) -> list[Result[CredentialRecord, Exception]]:
            results: list[Result[CredentialRecord, Exception]] = []
            prepared: list[tuple[int, CredentialRecord, tuple[Any, ...]]] = []
            for index, record in enumerate(records):  # seal first: a bad one fails alone
                try:
                    stored = self._stamped(record)
                    prepared.append((index, stored, self._row(stored)))
                    results.append(Success(stored))
                except Exception as error:
                    results.append(Failure(error))
            if not prepared:
                return results
            connection.execute("BEGIN IMMEDIATE")
            try:
                # Ids already stored (or twice in the batch) fail alone; the rest go in with
                # one executemany each, inside this one transaction: nothing can slip between.
                ids = [stored.id for _, stored, _ in prepared]
                taken: set[str] = set()
                for start in range(0, len(ids), 500):
                    chunk = ids[start : start + 500]
                    marks = ", ".join("?" * len(chunk))
                    found = connection.execute(
                        f"SELECT id FROM records WHERE id IN ({marks})", chunk
                    )
                    taken.update(row[0] for row in found)
                rows, tags = [], []
                for index, stored, row in prepared:
                    if stored.id in taken:
                        results[index] = Failure(RecordExists(stored.id))
                        continue
                    taken.add(stored.id)
                    rows.append(row)
                    tags += [(tag, stored.id) for tag in stored.tags]
                connection.executemany(
                    f"INSERT INTO records (id, {_COLUMNS}) VALUES ({', '.join('?' * 11)})", rows
                )
                connection.executemany("INSERT INTO record_tags (tag, id) VALUES (?, ?)", tags)
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")
            return results

        return await self._call("create records", write)

    async def update(
        self, record: CredentialRecord, expected_revision: int, fence: int | None = None
    ) -> CredentialRecord:
        def write(connection: sqlite3.Connection) -> CredentialRecord:
            connection.execute("BEGIN IMMEDIATE")
            try:
                found = connection.execute(
                    "SELECT revision, created_at FROM records WHERE id = ?", (record.id,)
                ).fetchone()
                if found is None:
                    raise RecordNotFound(record.id)
                current, created = found
                if current != expected_revision:
                    raise RevisionConflict(record.id, expected_revision, current)
                if fence is not None:
                    newest = self._newest_fence(connection, record.id)
                    if fence < newest:
                        raise StaleFence(record.id, fence, newest)
                stored = record.stamped(current + 1, created, self._clock.wall())
                row = self._row(stored)
                connection.execute(
                    "UPDATE records SET scope = ?, type = ?, version = ?, state = ?, token = ?, "
                    "display_name = ?, tags = ?, created_at = ?, updated_at = ?, revision = ? "
                    "WHERE id = ? AND revision = ?",
                    (*row[1:], record.id, expected_revision),
                )
                self._write_tags(connection, stored)
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")
            return stored

        return await self._call("update a record", write)

    async def delete(
        self, credential_id: CredentialId, expected_revision: int | None = None
    ) -> None:
        credential_id = CredentialId.parse(credential_id)

        def write(connection: sqlite3.Connection) -> None:
            connection.execute("BEGIN IMMEDIATE")
            try:
                found = connection.execute(
                    "SELECT revision FROM records WHERE id = ?", (credential_id,)
                ).fetchone()
                if found is None:
                    raise RecordNotFound(credential_id)
                if expected_revision is not None and found[0] != expected_revision:
                    raise RevisionConflict(credential_id, expected_revision, found[0])
                connection.execute("DELETE FROM records WHERE id = ?", (credential_id,))
                connection.execute("DELETE FROM record_tags WHERE id = ?", (credential_id,))
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")

        await self._call("delete a record", write)

    async def list(
        self,
        scope: Scope | None,
        tags: Sequence[str] = (),
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page:
        scope, limit = check_page_args(scope, tags, limit)
        after = "" if cursor is None else decode_cursor(cursor)
        wanted = sorted(set(tags))

        def read(connection: sqlite3.Connection) -> Page:
            sql = f"SELECT {_SUMMARY} FROM records WHERE id > ?"
            params: list[Any] = [after]
            if scope is not None:  # whole segments, and no LIKE: '_' is a character here
                sql += " AND (scope = ? OR substr(scope, 1, ?) = ?)"
                params += [scope, len(scope) + 1, scope + "/"]
            if wanted:
                marks = ", ".join("?" * len(wanted))
                sql += (
                    f" AND id IN (SELECT id FROM record_tags WHERE tag IN ({marks})"
                    " GROUP BY id HAVING count(*) = ?)"
                )
                params += [*wanted, len(wanted)]
            sql += " ORDER BY id LIMIT ?"
            params.append(limit + 1)
            rows = connection.execute(sql, params).fetchall()
            items = [summary for row in rows[:limit] if (summary := self._summary(row)) is not None]
            more = len(rows) > limit
            return Page(tuple(items), encode_cursor(rows[limit - 1][0]) if more else None)

        return await self._call("list records", read)

    def _summary(self, row: Sequence[Any]) -> RecordSummary | None:
        """A listed row's metadata (its seal's key id read by the cipher, not opened); None
        (and a warning) for a row whose metadata does not parse: it is left out of the
        listing, and ``get`` names what is wrong with it."""
        credential_id, scope, type_name, version, name, tags, created, updated, revision = row[:9]
        try:
            return RecordSummary(
                CredentialId.parse(credential_id), Scope.parse(scope), type_name, version, name,
                tuple(json.loads(tags)), created, updated, revision, self._cipher.key_id(row[9]),
            )  # fmt: skip
        except (ValueError, TypeError):
            log.warning(
                "credential record %s: its metadata does not parse; not listed", credential_id
            )
            return None

    # -- claims ------------------------------------------------------------------------------

    @staticmethod
    def _newest_fence(connection: sqlite3.Connection, credential_id: str) -> int:
        row = connection.execute(
            "SELECT fence FROM claims WHERE id = ?", (credential_id,)
        ).fetchone()
        return 0 if row is None else int(row[0])

    async def claim(self, credential_id: CredentialId, owner: str, ttl: float) -> Claim | ClaimHeld:
        credential_id = CredentialId.parse(credential_id)
        ttl = check_claim_args(owner, ttl)

        def write(connection: sqlite3.Connection) -> Claim | ClaimHeld:
            connection.execute("BEGIN IMMEDIATE")
            try:
                now = self._clock.wall()
                row = connection.execute(
                    "SELECT owner, fence, expires_at FROM claims WHERE id = ?", (credential_id,)
                ).fetchone()
                held_by, fence, until = (None, 0, 0.0) if row is None else row
                if held_by is not None and until > now:
                    if held_by != owner:
                        connection.execute("ROLLBACK")
                        return ClaimHeld(credential_id, held_by, until)
                else:
                    fence += 1  # a new holder
                connection.execute(
                    "INSERT OR REPLACE INTO claims (id, owner, fence, expires_at, ttl) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (credential_id, owner, fence, now + ttl, ttl),
                )
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")
            return Claim(credential_id, owner, fence, now + ttl)

        return await self._call("take a claim", write)

    async def renew(self, claim: Claim, ttl: float | None = None) -> Claim:
        given = None if ttl is None else check_claim_args(claim.owner, ttl)

        def write(connection: sqlite3.Connection) -> Claim:
            connection.execute("BEGIN IMMEDIATE")
            try:
                row = connection.execute(
                    "SELECT owner, fence, ttl FROM claims WHERE id = ?", (claim.credential_id,)
                ).fetchone()
                if row is None or row[0] != claim.owner or row[1] != claim.fence:
                    newest = 0 if row is None else int(row[1])
                    raise StaleFence(claim.credential_id, claim.fence, newest)
                expires = self._clock.wall() + (row[2] if given is None else given)
                connection.execute(
                    "UPDATE claims SET expires_at = ?, ttl = ? WHERE id = ?",
                    (expires, row[2] if given is None else given, claim.credential_id),
                )
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")
            return Claim(claim.credential_id, claim.owner, claim.fence, expires)

        return await self._call("renew a claim", write)

    async def release(self, claim: Claim) -> bool:
        def write(connection: sqlite3.Connection) -> bool:
            released = connection.execute(
                "UPDATE claims SET owner = NULL WHERE id = ? AND owner = ? AND fence = ?",
                (claim.credential_id, claim.owner, claim.fence),
            ).rowcount
            return bool(released)

        return await self._call("release a claim", write)
