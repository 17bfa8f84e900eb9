"""A credential at rest: its record, what of it is sealed, and how a store says what went wrong.

A :class:`CredentialRecord` is what a store keeps per credential: who it is (id, scope, type
and state version), its state (a mapping that holds its secrets: a client secret, a refresh
token), the last access token (so a restart serves it instead of minting), metadata in clear
(display name, tags, wall-clock times) and a ``revision`` for compare-and-swap.

A store seals the state and the token through a :class:`Cipher` given at construction, with
associated data that binds the sealed bytes to the record's id, scope, type and state version:
a sealed state copied to another record, or a record moved to another scope by editing the
file, fails to open. Metadata stays in clear, so a store can list records without opening any.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any, Protocol, final, runtime_checkable

import attrs

from mintgate.shell._ids import CredentialId, Scope

__all__ = [
    "Cipher",
    "CredentialRecord",
    "RecordExists",
    "RecordNotFound",
    "RecordSummary",
    "RecordUnreadable",
    "RevisionConflict",
    "StaleFence",
    "StoreError",
    "StoreUnavailable",
    "StoredToken",
    "associated_data",
    "check_tags",
    "open_state",
    "open_token",
    "seal_state",
    "seal_token",
]

_TAG = re.compile(r"[A-Za-z0-9._:-]{1,64}")
MAX_TAGS = 32


@runtime_checkable
class Cipher(Protocol):
    """Seals a record's secret parts. ``open`` raises (anything; a ``reason`` attribute, if it
    has one, is what ``RecordUnreadable`` says) when the bytes were not sealed with this
    associated data under a key it holds. ``key_id`` names the key that sealed some bytes,
    read from them without opening (None when the cipher has no keys or cannot tell; it never
    raises): listings show it, and re-encryption skips what the primary key sealed."""

    def seal(self, plaintext: bytes, associated_data: bytes) -> bytes: ...

    def open(self, sealed: bytes, associated_data: bytes) -> bytes: ...

    def key_id(self, sealed: bytes) -> str | None: ...


class StoreError(Exception):
    """What a store raises; its message names the record and never holds a secret."""


class RecordNotFound(StoreError, LookupError):
    """No record has this id."""

    def __init__(self, credential_id: str) -> None:
        super().__init__(f"no credential record {credential_id}")
        self.credential_id = credential_id


class RecordExists(StoreError):
    """``create`` of an id that is already stored."""

    def __init__(self, credential_id: str) -> None:
        super().__init__(f"credential record {credential_id} exists already")
        self.credential_id = credential_id


class RecordUnreadable(StoreError):
    """A stored record that cannot be opened or parsed; the others are not affected."""

    def __init__(self, credential_id: str, reason: str) -> None:
        super().__init__(f"credential record {credential_id} cannot be read: {reason}")
        self.credential_id = credential_id
        self.reason = reason


class RevisionConflict(StoreError):
    """Compare-and-swap lost: the record moved on since it was read."""

    def __init__(self, credential_id: str, expected: int, current: int) -> None:
        super().__init__(
            f"credential record {credential_id} is at revision {current}, not {expected}: "
            "read it again and retry"
        )
        self.credential_id = credential_id
        self.expected_revision = expected
        self.current_revision = current


class StaleFence(StoreError):
    """A write with a claim's fence after a newer claim was granted: its holder lost it."""

    def __init__(self, credential_id: str, fence: int, newest: int) -> None:
        super().__init__(
            f"credential record {credential_id}: fence {fence} is stale (claim {newest} was "
            "granted since); the write is refused"
        )
        self.credential_id = credential_id
        self.fence = fence
        self.newest_fence = newest


class StoreUnavailable(StoreError):
    """The store could not do it now (busy, locked, I/O); nothing was changed."""


def _finite(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite Unix time, got {value!r}")
    return float(value)


def _optional_finite(name: str, value: object) -> float | None:
    return None if value is None else _finite(name, value)


@final
@attrs.frozen
class StoredToken:
    """The last access token of a credential, wall-clock: what a restart serves without minting.

    Attributes:
        value: The token (hidden from ``repr``).
        expires_at: Unix time it expires, or None if it never does.
        issued_at: Unix time it was issued (the mint's start).
    """

    value: str = attrs.field(repr=False)
    expires_at: float | None
    issued_at: float

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.value, str) or not self.value:
            raise ValueError("StoredToken.value must be a non-empty string")
        expires = _optional_finite("StoredToken.expires_at", self.expires_at)
        object.__setattr__(self, "expires_at", expires)
        object.__setattr__(self, "issued_at", _finite("StoredToken.issued_at", self.issued_at))


def check_tags(value: Iterable[str]) -> tuple[str, ...]:
    """Tags sorted and deduplicated, each checked (a ``ValueError`` naming a bad one)."""
    if isinstance(value, str):
        raise ValueError(f"tags must be a collection of tags, not the string {value[:40]!r}")
    tags = tuple(sorted(set(value)))
    for tag in tags:
        if not isinstance(tag, str) or not _TAG.fullmatch(tag):
            raise ValueError(f"tag {str(tag)[:80]!r} does not match [A-Za-z0-9._:-]{{1,64}}")
    if len(tags) > MAX_TAGS:
        raise ValueError(f"a record has at most {MAX_TAGS} tags, got {len(tags)}")
    return tags


def _credential_id(value: object) -> CredentialId:
    return CredentialId.parse(value)


def _scope(value: object) -> Scope:
    return Scope.parse(value)


def _state(value: Mapping[str, Any]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"a record's state is a mapping, got {type(value).__name__}")
    return dict(value)


def _state_repr(state: Mapping[str, Any]) -> str:
    """The state by field name only: its values may be secrets (the type knows which; the
    record does not need to)."""
    return "{" + ", ".join(f"{key!r}: ..." for key in state) + "}"


@final
@attrs.frozen
class CredentialRecord:
    """One credential as a store keeps it.

    Attributes:
        id: Its id.
        scope: The tenant path it belongs to.
        type: Its credential type's name (``oauth2_client_credentials``...).
        version: The version of the state's layout (the type's, when it was written).
        state: What the type needs to mint (values hidden from ``repr``); sealed at rest.
        token: The last access token, or None; sealed at rest.
        display_name: For people; in clear.
        tags: Labels matching ``[A-Za-z0-9._:-]{1,64}`` (sorted, no duplicates); in clear.
        created_at, updated_at: Wall-clock Unix times; in clear.
        revision: Compare-and-swap counter: 1 on create, one more per update.
    """

    id: CredentialId = attrs.field(converter=_credential_id)
    scope: Scope = attrs.field(converter=_scope)
    type: str
    version: int
    state: Mapping[str, Any] = attrs.field(converter=_state, repr=_state_repr)
    token: StoredToken | None = None
    display_name: str = ""
    tags: tuple[str, ...] = attrs.field(default=(), converter=check_tags)
    created_at: float = 0.0
    updated_at: float = 0.0
    revision: int = 1

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.type, str) or not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", self.type):
            raise ValueError(
                f"a record's type is a name like oauth2_refresh_token, got {self.type!r}"
            )
        for name in ("version", "revision"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"CredentialRecord.{name} must be an integer >= 1, got {value!r}")
        if not isinstance(self.display_name, str) or len(self.display_name) > 200:
            raise ValueError("CredentialRecord.display_name must be a string of at most 200")
        _finite("CredentialRecord.created_at", self.created_at)
        _finite("CredentialRecord.updated_at", self.updated_at)

    def stamped(self, revision: int, created_at: float, updated_at: float) -> CredentialRecord:
        """The record as a store writes it: its revision and times set by the store. A copy,
        not a rebuild: the rest was checked when this record was made, and a store writes many
        records in one batch."""
        _finite("CredentialRecord.created_at", created_at)
        _finite("CredentialRecord.updated_at", updated_at)
        if isinstance(revision, bool) or not isinstance(revision, int) or revision < 1:
            raise ValueError(f"CredentialRecord.revision must be an integer >= 1, got {revision!r}")
        stamped = object.__new__(CredentialRecord)
        put = object.__setattr__
        for name in _KEPT_WHEN_STAMPED:
            put(stamped, name, getattr(self, name))
        put(stamped, "revision", revision)
        put(stamped, "created_at", float(created_at))
        put(stamped, "updated_at", float(updated_at))
        return stamped

    def summary(self, sealed_by: str | None = None) -> RecordSummary:
        """What a listing shows of it: everything in clear."""
        return RecordSummary(
            self.id,
            self.scope,
            self.type,
            self.version,
            self.display_name,
            self.tags,
            self.created_at,
            self.updated_at,
            self.revision,
            sealed_by,
        )


_KEPT_WHEN_STAMPED = tuple(
    field.name
    for field in attrs.fields(CredentialRecord)
    if field.name not in ("revision", "created_at", "updated_at")
)


@final
@attrs.frozen
class RecordSummary:
    """A record's metadata, as ``list`` returns it: nothing sealed is opened to build it.
    ``sealed_by`` is the id of the key that sealed its state, as the store's cipher reads it
    (None without a cipher, or with one that has no keys)."""

    id: CredentialId
    scope: Scope
    type: str
    version: int
    display_name: str
    tags: tuple[str, ...]
    created_at: float
    updated_at: float
    revision: int
    sealed_by: str | None = None


def associated_data(record_id: str, scope: str, type_name: str, version: int, part: str) -> bytes:
    """What a sealed part is bound to: moving it to another record, scope, type, state version
    or part makes it fail to open."""
    return "\0".join(
        ("mintgate-record-v1", part, record_id, scope, type_name, str(version))
    ).encode()


def seal_state(cipher: Cipher, record: CredentialRecord) -> bytes:
    plaintext = json.dumps(dict(record.state), separators=(",", ":"), sort_keys=True).encode()
    ad = associated_data(record.id, record.scope, record.type, record.version, "state")
    return cipher.seal(plaintext, ad)


def seal_token(cipher: Cipher, record: CredentialRecord) -> bytes | None:
    token = record.token
    if token is None:
        return None
    document = {"value": token.value, "expires_at": token.expires_at, "issued_at": token.issued_at}
    ad = associated_data(record.id, record.scope, record.type, record.version, "token")
    return cipher.seal(json.dumps(document).encode(), ad)


def open_state(
    cipher: Cipher, sealed: bytes, record_id: str, scope: str, type_name: str, version: int
) -> dict[str, Any]:
    """The state of a stored record; ``RecordUnreadable`` naming why, if it cannot be."""
    ad = associated_data(record_id, scope, type_name, version, "state")
    document = _open(cipher, sealed, ad, record_id, "state")
    if not isinstance(document, dict):
        raise RecordUnreadable(record_id, "its state is not a JSON object")
    return document


def open_token(
    cipher: Cipher, sealed: bytes | None, record_id: str, scope: str, type_name: str, version: int
) -> StoredToken | None:
    if sealed is None:
        return None
    ad = associated_data(record_id, scope, type_name, version, "token")
    document = _open(cipher, sealed, ad, record_id, "token")
    try:
        return StoredToken(document["value"], document["expires_at"], document["issued_at"])
    except (KeyError, TypeError, ValueError):
        raise RecordUnreadable(record_id, "its token is not a stored token") from None


def _open(cipher: Cipher, sealed: bytes, ad: bytes, record_id: str, part: str) -> Any:
    try:
        plaintext = cipher.open(sealed, ad)
    except Exception as error:  # the cipher's reason, by type: its message may hold key material
        reason = getattr(error, "reason", None)
        why = reason if isinstance(reason, str) else type(error).__name__
        raise RecordUnreadable(record_id, f"its {part} does not open ({why})") from None
    try:
        return json.loads(plaintext)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise RecordUnreadable(record_id, f"its {part} is not valid JSON") from None
