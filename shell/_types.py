"""What a credential *is*: a ``CredentialType``, the ``Registry`` of types, and migrations.

A type names a kind of credential (``oauth2_refresh_token``), says which fields of its state
are secret, turns the JSON a person or a program gives into a valid state (``validate``), and
mints from a state (``mint``), returning the state as the mint left it (a rotated refresh
token) beside the token. A type's state layout has a ``version``; a record written by an older
version is brought up to date by **migrations**, plain functions from the old state (a dict) to
the new, applied by ``Registry.upgrade`` when the record is read (it writes nothing) and stored
by ``migrate_all`` with compare-and-swap.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol, final, runtime_checkable

import attrs

from mintgate.policy import RefreshConfig
from mintgate.shell._minted import Minted
from mintgate.shell._records import CredentialRecord, RecordUnreadable, RevisionConflict, StoreError
from mintgate.shell._store import StateStore

__all__ = [
    "CredentialType",
    "MigrationError",
    "MigrationReport",
    "Registry",
    "StaticApiKey",
    "UnknownType",
    "check_fields",
    "migrate_all",
]

Migration = Callable[[dict[str, Any]], Mapping[str, Any]]


@runtime_checkable
class CredentialType(Protocol):
    """A kind of credential.

    Attributes:
        name: Its name in records (``[a-z][a-z0-9_]*``).
        version: The version of its state's layout; records of older versions are migrated.
        secret_fields: State fields that are secrets (hidden everywhere they are shown).
        default_config: The refresh policy its credentials get unless told otherwise.
    """

    name: str
    version: int
    secret_fields: frozenset[str]
    default_config: RefreshConfig

    def validate(self, data: Mapping[str, object]) -> dict[str, Any]:
        """A valid state from input (JSON): a ``ValueError`` naming the field, unknown fields
        refused by name."""
        ...

    async def mint(self, state: Mapping[str, Any]) -> tuple[Mapping[str, Any], Minted[str]]:
        """A token, and the state as the mint left it."""
        ...


class UnknownType(StoreError, LookupError):
    """A record's type is not in the registry."""


class MigrationError(StoreError):
    """A record cannot be brought to its type's version; it is left as stored."""


def check_fields(
    type_name: str,
    data: Mapping[str, object],
    required: Iterable[str],
    optional: Iterable[str] = (),
) -> dict[str, str]:
    """The input's fields as strings, checked: every required one present and non-empty, no
    field the type does not know (``ValueError`` naming it, never its value)."""
    if not isinstance(data, Mapping):
        raise ValueError(f"{type_name} input must be a JSON object, got {type(data).__name__}")
    required, known = tuple(required), {*required, *optional}
    unknown = sorted(str(key) for key in data if key not in known)
    if unknown:
        raise ValueError(
            f"{type_name} has no field {unknown[0]!r}; its fields: {', '.join(sorted(known))}"
        )
    state: dict[str, str] = {}
    for key in sorted(known):
        value = data.get(key)
        if value is None:
            if key in required:
                raise ValueError(f"{type_name} needs the field {key!r}")
            continue
        if not isinstance(value, str) or not value:
            raise ValueError(f"{type_name} field {key!r} must be a non-empty string")
        state[key] = value
    return state


@final
class StaticApiKey:
    """``static_api_key``: a key that never expires; ``{"api_key": "..."}``."""

    name = "static_api_key"
    version = 1
    secret_fields = frozenset({"api_key"})
    default_config = RefreshConfig()

    def validate(self, data: Mapping[str, object]) -> dict[str, Any]:
        return check_fields(self.name, data, required=("api_key",))

    async def mint(self, state: Mapping[str, Any]) -> tuple[Mapping[str, Any], Minted[str]]:
        return state, Minted(state["api_key"])


@final
class Registry:
    """The credential types a program knows, and the migrations of their states. Build it
    before use (at start-up), as a configuration."""

    def __init__(self, types: Iterable[CredentialType] = ()) -> None:
        self._types: dict[str, CredentialType] = {}
        self._steps: dict[tuple[str, int], tuple[int, Migration]] = {}
        for credential_type in types:
            self.add(credential_type)

    def __repr__(self) -> str:
        return f"Registry({', '.join(self._types)})"

    def __contains__(self, name: object) -> bool:
        return name in self._types

    def add(self, credential_type: CredentialType) -> None:
        """Know one more type. ``ValueError`` if its name is taken."""
        name = credential_type.name
        if name in self._types:
            raise ValueError(f"credential type {name!r} is registered already")
        version = credential_type.version
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise ValueError(f"credential type {name!r} has version {version!r}, not an int >= 1")
        self._types[name] = credential_type

    def __getitem__(self, name: str) -> CredentialType:
        try:
            return self._types[name]
        except KeyError:
            known = ", ".join(sorted(self._types)) or "none"
            raise UnknownType(
                f"no credential type {name!r} is registered; known: {known}"
            ) from None

    def add_migration(
        self, type_name: str, from_version: int, to_version: int, fn: Migration
    ) -> None:
        """``fn(old_state) -> new_state`` brings a state from one version to a later one."""
        if not (isinstance(from_version, int) and isinstance(to_version, int)):
            raise ValueError("migration versions are integers")
        if not 1 <= from_version < to_version:
            raise ValueError(
                f"a migration of {type_name!r} goes forward: {from_version} -> {to_version}"
            )
        if (type_name, from_version) in self._steps:
            raise ValueError(f"{type_name!r} has a migration from version {from_version} already")
        self._steps[(type_name, from_version)] = (to_version, fn)

    def upgrade(self, record: CredentialRecord) -> CredentialRecord:
        """The record at its type's current version (itself if it is): the migrations applied
        in order, in memory. ``MigrationError`` naming the type, the versions and the record."""
        target = self[record.type].version
        version = record.version
        if version == target:
            return record
        where = f"record {record.id} of type {record.type!r}"
        if version > target:
            raise MigrationError(
                f"{where} is at version {version}, newer than the registered {target}"
            )
        state = dict(record.state)
        while version < target:
            step = self._steps.get((record.type, version))
            if step is None:
                raise MigrationError(
                    f"{where}: no migration from version {version} (towards {target})"
                )
            to_version, fn = step
            try:
                migrated = fn(dict(state))
            except Exception as error:  # its message may quote the state: the type alone
                raise MigrationError(
                    f"{where}: the migration {version} -> {to_version} raised "
                    f"{type(error).__name__}"
                ) from None
            if not isinstance(migrated, Mapping):
                raise MigrationError(
                    f"{where}: the migration {version} -> {to_version} returned "
                    f"{type(migrated).__name__}, not a mapping"
                )
            state, version = dict(migrated), to_version
        if version != target:
            raise MigrationError(f"{where}: the migrations end at {version}, not {target}")
        return attrs.evolve(record, state=state, version=version)


@final
@attrs.frozen
class MigrationReport:
    """What ``migrate_all`` did: how many records it upgraded and stored, how many were
    current, and each one it could not, with the reason."""

    upgraded: int
    current: int
    failed: tuple[tuple[str, str], ...]


async def migrate_all(store: StateStore, registry: Registry) -> MigrationReport:
    """Store every record of the store upgraded to its type's version, with compare-and-swap
    (a record that moved meanwhile is read and upgraded again). A record that fails is
    reported and left as stored; the others go on."""
    upgraded = current = 0
    failed: list[tuple[str, str]] = []
    cursor: str | None = None
    while True:
        page = await store.list(None, limit=500, cursor=cursor)
        for summary in page.items:
            known = summary.type in registry
            if known and summary.version == registry[summary.type].version:
                current += 1
                continue
            try:
                for _ in range(5):  # another writer may move it between our read and write
                    record = await store.get(summary.id)
                    newer = registry.upgrade(record)
                    if newer is record:
                        current += 1
                        break
                    try:
                        await store.update(newer, expected_revision=record.revision)
                    except RevisionConflict:
                        continue
                    upgraded += 1
                    break
                else:
                    failed.append((summary.id, "it kept changing under compare-and-swap"))
            except (StoreError, RecordUnreadable) as error:
                failed.append((summary.id, str(error)))
        cursor = page.next_cursor
        if cursor is None:
            return MigrationReport(upgraded, current, tuple(failed))
