"""``MemoryStore``: the ``StateStore`` port in a dict, for tests and single-process programs.

Without a cipher it keeps the records as they are; with one it seals each record's state and
token exactly as a persistent store does, so the binding of sealed parts to their record (and
what a wrong key does) can be tested without a file. Its methods never await anything, so each
is atomic on the event loop.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import final

import attrs
from returns.result import Failure, Result, Success

from mintgate.shell._clock import Clock
from mintgate.shell._ids import CredentialId, Scope
from mintgate.shell._records import (
    Cipher,
    CredentialRecord,
    RecordExists,
    RecordNotFound,
    RecordSummary,
    RevisionConflict,
    StaleFence,
    check_tags,
    open_state,
    open_token,
    seal_state,
    seal_token,
)
from mintgate.shell._store import Claim, ClaimHeld, Page, decode_cursor, encode_cursor

__all__ = ["MemoryStore", "check_claim_args", "check_page_args"]


@attrs.frozen
class _Sealed:
    summary: RecordSummary
    state: bytes
    token: bytes | None


@attrs.frozen
class _Holding:
    owner: str
    fence: int
    expires_at: float
    ttl: float


def _summary(row: CredentialRecord | _Sealed) -> RecordSummary:
    return row.summary() if isinstance(row, CredentialRecord) else row.summary


def check_claim_args(owner: object, ttl: object) -> float:
    """The ttl, after checking both (a ``ValueError`` naming the bad one)."""
    if not isinstance(owner, str) or not owner or len(owner) > 200:
        raise ValueError(f"a claim's owner is a non-empty string of at most 200, got {owner!r}")
    if isinstance(ttl, bool) or not isinstance(ttl, int | float) or not math.isfinite(ttl):
        raise ValueError(f"a claim's ttl is a number of seconds, got {ttl!r}")
    if ttl <= 0:
        raise ValueError(f"a claim's ttl must be positive, got {ttl!r}")
    return float(ttl)


def check_page_args(scope: object, tags: Sequence[str], limit: object) -> tuple[Scope | None, int]:
    """The scope (None: every record) and limit of a listing, checked with its tags."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 1000:
        raise ValueError(f"list() limit must be an integer in 1..1000, got {limit!r}")
    check_tags(tags)
    return (None if scope is None else Scope.parse(scope)), limit


@final
class MemoryStore:
    """Records in memory.

    Args:
        cipher: Seal states and tokens as a persistent store would (``PlainCipher`` in tests);
            None keeps plain records.
        clock: Its ``wall()`` stamps records and times claims.
    """

    def __init__(self, cipher: Cipher | None = None, *, clock: Clock | None = None) -> None:
        self._cipher = cipher
        self._clock = Clock() if clock is None else clock
        self._rows: dict[CredentialId, CredentialRecord | _Sealed] = {}
        self._claims: dict[CredentialId, _Holding] = {}
        self._fences: dict[CredentialId, int] = {}

    @property
    def cipher(self) -> Cipher | None:
        """What seals its records' states and tokens."""
        return self._cipher

    def __repr__(self) -> str:
        return f"<MemoryStore, {len(self._rows)} records>"

    # -- records -----------------------------------------------------------------------------

    def _put(self, record: CredentialRecord) -> None:
        if self._cipher is None:
            self._rows[record.id] = record
        else:
            state, token = seal_state(self._cipher, record), seal_token(self._cipher, record)
            summary = record.summary(self._cipher.key_id(state))
            self._rows[record.id] = _Sealed(summary, state, token)

    def _read(self, credential_id: CredentialId) -> CredentialRecord:
        row = self._rows.get(credential_id)
        if row is None:
            raise RecordNotFound(credential_id)
        if isinstance(row, CredentialRecord):
            return row
        assert self._cipher is not None
        s = row.summary
        state = open_state(self._cipher, row.state, s.id, s.scope, s.type, s.version)
        token = open_token(self._cipher, row.token, s.id, s.scope, s.type, s.version)
        return CredentialRecord(
            s.id, s.scope, s.type, s.version, state, token, s.display_name, s.tags,
            s.created_at, s.updated_at, s.revision,
        )  # fmt: skip

    def _revision(self, credential_id: CredentialId) -> int | None:
        row = self._rows.get(credential_id)
        return None if row is None else _summary(row).revision

    async def get(self, credential_id: CredentialId) -> CredentialRecord:
        return self._read(CredentialId.parse(credential_id))

    async def create(self, record: CredentialRecord) -> CredentialRecord:
        if record.id in self._rows:
            raise RecordExists(record.id)
        now = self._clock.wall()
        stored = record.stamped(1, now, now)
        self._put(stored)
        return stored

    async def create_many(
        self, records: Sequence[CredentialRecord]
    ) -> list[Result[CredentialRecord, Exception]]:
        results: list[Result[CredentialRecord, Exception]] = []
        for record in records:
            try:
                results.append(Success(await self.create(record)))
            except Exception as error:  # each record on its own: the others go on
                results.append(Failure(error))
        return results

    async def update(
        self, record: CredentialRecord, expected_revision: int, fence: int | None = None
    ) -> CredentialRecord:
        current = self._revision(record.id)
        if current is None:
            raise RecordNotFound(record.id)
        if current != expected_revision:
            raise RevisionConflict(record.id, expected_revision, current)
        newest = self._fences.get(record.id, 0)
        if fence is not None and fence < newest:
            raise StaleFence(record.id, fence, newest)
        created = _summary(self._rows[record.id]).created_at
        stored = record.stamped(current + 1, created, self._clock.wall())
        self._put(stored)
        return stored

    async def delete(
        self, credential_id: CredentialId, expected_revision: int | None = None
    ) -> None:
        credential_id = CredentialId.parse(credential_id)
        current = self._revision(credential_id)
        if current is None:
            raise RecordNotFound(credential_id)
        if expected_revision is not None and current != expected_revision:
            raise RevisionConflict(credential_id, expected_revision, current)
        del self._rows[credential_id]

    async def list(
        self,
        scope: Scope | None,
        tags: Sequence[str] = (),
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page:
        scope, limit = check_page_args(scope, tags, limit)
        after = None if cursor is None else decode_cursor(cursor)
        wanted = set(tags)
        found = sorted(map(_summary, self._rows.values()), key=lambda summary: summary.id)
        chosen = [
            s
            for s in found
            if (scope is None or scope.contains(s.scope))
            and wanted <= set(s.tags)
            and (after is None or s.id > after)
        ]
        page = tuple(chosen[:limit])
        more = len(chosen) > limit
        return Page(page, encode_cursor(page[-1].id) if more else None)

    # -- claims ------------------------------------------------------------------------------

    async def claim(self, credential_id: CredentialId, owner: str, ttl: float) -> Claim | ClaimHeld:
        credential_id = CredentialId.parse(credential_id)
        ttl = check_claim_args(owner, ttl)
        now = self._clock.wall()
        held = self._claims.get(credential_id)
        if held is not None and held.expires_at > now:
            if held.owner != owner:
                return ClaimHeld(credential_id, held.owner, held.expires_at)
            fence = held.fence  # the holder claiming again: a renewal
        else:
            fence = self._fences.get(credential_id, 0) + 1
            self._fences[credential_id] = fence
        self._claims[credential_id] = _Holding(owner, fence, now + ttl, ttl)
        return Claim(credential_id, owner, fence, now + ttl)

    async def renew(self, claim: Claim, ttl: float | None = None) -> Claim:
        held = self._claims.get(claim.credential_id)
        newest = self._fences.get(claim.credential_id, 0)
        if held is None or held.fence != claim.fence or held.owner != claim.owner:
            raise StaleFence(claim.credential_id, claim.fence, newest)
        ttl = held.ttl if ttl is None else check_claim_args(claim.owner, ttl)
        expires = self._clock.wall() + ttl
        self._claims[claim.credential_id] = _Holding(claim.owner, claim.fence, expires, ttl)
        return Claim(claim.credential_id, claim.owner, claim.fence, expires)

    async def release(self, claim: Claim) -> bool:
        held = self._claims.get(claim.credential_id)
        if held is None or held.fence != claim.fence or held.owner != claim.owner:
            return False
        del self._claims[claim.credential_id]
        return True
