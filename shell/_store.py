"""The ``StateStore`` port: where credential records live, with compare-and-swap and claims.

Compare-and-swap (``update(record, expected_revision)``) stops a lost update: of two writers
that read revision 4, one writes 5 and the other is told ``RevisionConflict``. It does not stop
a refresh token being spent twice: both writers may already have sent it. A **claim** does: a
lease on one credential with a **fence**, a number that grows with every new holder. The holder
mints and writes with its fence; a write with a fence older than the newest claim is refused
(``StaleFence``), so a holder that stalled past its ttl cannot overwrite what the next holder
wrote. :class:`ClaimTiming` states the rule that keeps a live holder's claim from expiring
under it.

Every store runs one contract suite (:mod:`mintgate.shell.store_contract`); the memory store
is in the shell, SQLite in ``mintgate.adapters.sqlite``.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Sequence
from typing import Protocol, final

import attrs
from returns.result import Result

from mintgate.shell._ids import CredentialId, Scope
from mintgate.shell._records import Cipher, CredentialRecord, RecordSummary

__all__ = [
    "Claim",
    "ClaimHeld",
    "ClaimTiming",
    "Page",
    "StateStore",
    "decode_cursor",
    "encode_cursor",
]


@final
@attrs.frozen
class Claim:
    """A held claim: ``fence`` grows with every new holder; it lasts until ``expires_at``
    (wall-clock) unless renewed."""

    credential_id: CredentialId
    owner: str
    fence: int
    expires_at: float


@final
@attrs.frozen
class ClaimHeld:
    """A claim someone else holds: who, and until when (wall-clock)."""

    credential_id: CredentialId
    owner: str
    expires_at: float


@final
@attrs.frozen
class Page:
    """One page of a listing, ordered by id; ``next_cursor`` asks for the next (None: done)."""

    items: tuple[RecordSummary, ...]
    next_cursor: str | None


def _seconds(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"ClaimTiming.{name} must be a number of seconds, got {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"ClaimTiming.{name} must be positive and finite, got {value!r}")
    return float(value)


@final
@attrs.frozen
class ClaimTiming:
    """How long a claim lasts and how often its holder renews it.

    The rule: ``request_timeout + persist_bound + 2 x renewal_interval <= ttl``. A holder renews
    every ``renewal_interval``; between its last good renewal and its writing the result, at
    most one renewal may fail (a store blip), the request may take ``request_timeout`` and
    persisting ``persist_bound``: the claim must still hold then.

    Args:
        ttl: Seconds a claim lasts unless renewed.
        request_timeout: The token request's own deadline.
        persist_bound: Seconds writing the result may take.
        renewal_interval: Seconds between renewals; ``ttl / 3`` by default.

    Raises:
        ValueError: Naming the values when the rule does not hold.
    """

    ttl: float
    request_timeout: float
    persist_bound: float
    renewal_interval: float | None = None

    def __attrs_post_init__(self) -> None:
        for name in ("ttl", "request_timeout", "persist_bound"):
            object.__setattr__(self, name, _seconds(name, getattr(self, name)))
        given = self.ttl / 3 if self.renewal_interval is None else self.renewal_interval
        renewal = _seconds("renewal_interval", given)
        object.__setattr__(self, "renewal_interval", renewal)
        needed = self.request_timeout + self.persist_bound + 2 * renewal
        if needed > self.ttl:
            raise ValueError(
                f"ClaimTiming: request_timeout ({self.request_timeout:g} s) + persist_bound "
                f"({self.persist_bound:g} s) + 2 x renewal_interval ({renewal:g} s) = "
                f"{needed:g} s is more than ttl ({self.ttl:g} s): raise ttl or renew more often"
            )


def encode_cursor(last_id: str) -> str:
    """An opaque cursor after ``last_id``."""
    return base64.urlsafe_b64encode(f"after:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> CredentialId:
    """The id a cursor continues after; ``ValueError`` for one no store handed out."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    if not text.startswith("after:"):
        raise ValueError(f"not a cursor a store handed out: {cursor[:40]!r}")
    return CredentialId.parse(text.removeprefix("after:"))


class StateStore(Protocol):
    """Where credential records live. Every method is async; every failure is a
    :class:`~mintgate.shell.StoreError` (``RecordNotFound`` is also a ``LookupError``)."""

    @property
    def cipher(self) -> Cipher | None:
        """What seals its records' states and tokens (None: a store that keeps them plain)."""
        ...

    async def get(self, credential_id: CredentialId) -> CredentialRecord:
        """The record, opened. ``RecordNotFound``; ``RecordUnreadable`` naming why."""
        ...

    async def create(self, record: CredentialRecord) -> CredentialRecord:
        """Store a new record (its ``revision`` is 1 as stored). ``RecordExists``."""
        ...

    async def create_many(
        self, records: Sequence[CredentialRecord]
    ) -> list[Result[CredentialRecord, Exception]]:
        """One result per record, in order; each written whole or not at all (a bad one does
        not undo the others; no promise about the batch as a whole)."""
        ...

    async def update(
        self, record: CredentialRecord, expected_revision: int, fence: int | None = None
    ) -> CredentialRecord:
        """Replace the record if it is still at ``expected_revision`` (and, given a fence, no
        newer claim was granted); the stored record has revision + 1. ``RevisionConflict``,
        ``StaleFence``, ``RecordNotFound``."""
        ...

    async def delete(
        self, credential_id: CredentialId, expected_revision: int | None = None
    ) -> None:
        """Remove it (if still at ``expected_revision``, when given). ``RecordNotFound``,
        ``RevisionConflict``."""
        ...

    async def list(
        self,
        scope: Scope | None,
        tags: Sequence[str] = (),
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page:
        """Metadata of the records in ``scope``'s subtree (None: every record) having every
        tag, ordered by id, ``limit`` at a time (1-1000); nothing sealed is opened."""
        ...

    async def claim(self, credential_id: CredentialId, owner: str, ttl: float) -> Claim | ClaimHeld:
        """Take the claim on a credential for ``ttl`` seconds, or say who holds it. The same
        owner claiming again renews its claim (same fence)."""
        ...

    async def renew(self, claim: Claim, ttl: float | None = None) -> Claim:
        """Extend a claim still held by its holder (by its ttl again, or ``ttl``);
        ``StaleFence`` when another holder took it since."""
        ...

    async def release(self, claim: Claim) -> bool:
        """Give the claim up if ``claim`` is still the holder's; whether it was."""
        ...
