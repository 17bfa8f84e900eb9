"""Ids, scopes, records, claim timing, the registry and migrations: bad input is named."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from mintgate.shell import (
    ClaimTiming,
    CredentialId,
    CredentialRecord,
    CredentialType,
    MemoryStore,
    MigrationError,
    Minted,
    Registry,
    Scope,
    StaticApiKey,
    StoredToken,
    UnknownType,
    migrate_all,
)
from mintgate.shell.store_contract import record
from mintgate.shell.testing import PlainCipher

pytestmark = pytest.mark.anyio


def test_a_credential_id_is_a_canonical_uuid_string() -> None:
    made = CredentialId.new()
    assert CredentialId.parse(str(made)) == made
    assert isinstance(made, str)
    assert {str(made): 1}[made] == 1  # hashes as the text it is
    for bad in ("nope", str(made).upper(), str(made)[:-1], 42):
        with pytest.raises(ValueError, match="a credential id is a UUID"):
            CredentialId.parse(bad)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "a scope is a non-empty string"),
        ("acme", "segment 1 'acme' must be kind:name"),
        ("org:acme/Team:eng", "segment 2 'Team:eng' has kind 'Team'"),
        ("org:acme/team:-eng", "segment 2 'team:-eng' has name '-eng'"),
        ("org:" + "a" * 65, "too long"),
        ("/".join(["a:b"] * 9), "9 deep; at most 8"),
    ],
)
def test_a_bad_scope_names_the_bad_segment(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        Scope.parse(text)


def test_scope_containment_is_by_whole_segments() -> None:
    acme = Scope.parse("org:acme")
    assert acme.contains("org:acme/team:eng")
    assert acme.contains("org:acme")
    assert not Scope.parse("org:acm").contains("org:acme")
    assert not acme.contains("org:acme-labs")
    assert Scope.parse("org:acme/team:eng").parent == acme
    assert acme.child("team", "eng") == "org:acme/team:eng"


def test_a_record_hides_its_state_and_token_and_names_bad_fields() -> None:
    token = StoredToken("the-access-token", 2e9, 1.9e9)
    made = record(secret="the-api-key", token=token)
    assert "the-api-key" not in repr(made)
    assert "the-access-token" not in repr(made)
    with pytest.raises(ValueError, match="tag 'no spaces' does not match"):
        record(tags=("no spaces",))
    with pytest.raises(ValueError, match="revision must be an integer >= 1"):
        attrs.evolve(made, revision=0)
    with pytest.raises(ValueError, match=r"StoredToken\.expires_at must be a finite Unix time"):
        StoredToken("t", float("inf"), 1.0)


def test_a_stamped_record_is_a_copy_with_the_stores_numbers_checked() -> None:
    made = record(tags=("a", "b"))
    stamped = made.stamped(3, 10.0, 20.0)
    assert (stamped.revision, stamped.created_at, stamped.updated_at) == (3, 10.0, 20.0)
    assert stamped == attrs.evolve(made, revision=3, created_at=10.0, updated_at=20.0)
    assert (made.revision, made.created_at) == (1, 0.0)  # the record given is unchanged
    for revision in (0, True, 1.0):
        with pytest.raises(ValueError, match="revision must be an integer >= 1"):
            made.stamped(revision, 1.0, 1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"updated_at must be a finite"):
        made.stamped(1, 1.0, float("nan"))


def test_claim_timing_names_the_values_that_break_its_rule() -> None:
    assert ClaimTiming(ttl=60, request_timeout=8, persist_bound=10).renewal_interval == 20.0
    with pytest.raises(ValueError, match=r"= 58 s is more than ttl \(30 s\)"):
        ClaimTiming(ttl=30, request_timeout=8, persist_bound=10, renewal_interval=20)
    with pytest.raises(ValueError, match=r"ClaimTiming\.ttl must be a number"):
        ClaimTiming(ttl="60", request_timeout=8, persist_bound=10)  # type: ignore[arg-type]


def test_a_type_validates_its_input_by_field_name() -> None:
    key = StaticApiKey()
    assert key.validate({"api_key": "k"}) == {"api_key": "k"}
    with pytest.raises(ValueError, match="static_api_key has no field 'apikey'"):
        key.validate({"apikey": "k"})
    with pytest.raises(ValueError, match="needs the field 'api_key'"):
        key.validate({})
    with pytest.raises(ValueError, match="field 'api_key' must be a non-empty string"):
        key.validate({"api_key": 5})


def test_the_registry_refuses_a_duplicate_and_names_an_unknown_type() -> None:
    registry = Registry([StaticApiKey()])
    with pytest.raises(ValueError, match="'static_api_key' is registered already"):
        registry.add(StaticApiKey())
    with pytest.raises(UnknownType, match="no credential type 'nope'"):
        registry["nope"]


class Versioned:
    """A user's own type at version 3: ``{"user": ..., "password": ...}``."""

    name = "basic_login"
    version = 3
    secret_fields = frozenset({"password"})
    default_config = StaticApiKey.default_config

    def validate(self, data: Any) -> dict[str, Any]:
        return dict(data)

    async def mint(self, state: Any) -> Any:
        return state, Minted(f"session-of-{state['user']}", expires_in=600)


def old(state: dict[str, Any], version: int = 1) -> CredentialRecord:
    return CredentialRecord(CredentialId.new(), "org:a", "basic_login", version, state)


def chain() -> Registry:
    registry = Registry([Versioned()])
    registry.add_migration("basic_login", 1, 2, lambda s: {"user": s["login"], "pw": s["pw"]})
    registry.add_migration("basic_login", 2, 3, lambda s: {"user": s["user"], "password": s["pw"]})
    return registry


async def test_a_users_own_type_mints_from_an_upgraded_state() -> None:
    upgraded = chain().upgrade(old({"login": "ann", "pw": "secret"}))
    state, minted = await chain()["basic_login"].mint(upgraded.state)
    assert (state, minted.value) == (upgraded.state, "session-of-ann")
    assert isinstance(chain()["basic_login"], CredentialType)


def test_a_migration_chain_upgrades_in_memory() -> None:
    stored = old({"login": "ann", "pw": "secret"})
    upgraded = chain().upgrade(stored)
    assert (upgraded.version, dict(upgraded.state)) == (3, {"user": "ann", "password": "secret"})
    assert stored.version == 1  # pure: the record read is unchanged
    assert chain().upgrade(upgraded) is upgraded


def test_a_missing_or_raising_step_names_the_type_the_versions_and_the_record() -> None:
    registry = Registry([Versioned()])
    registry.add_migration("basic_login", 2, 3, lambda s: {"boom": s["missing"]})
    stored = old({"login": "ann", "pw": "secret"})
    with pytest.raises(MigrationError, match="no migration from version 1") as caught:
        registry.upgrade(stored)
    assert stored.id in str(caught.value)
    with pytest.raises(MigrationError, match=r"the migration 2 -> 3 raised KeyError") as caught:
        registry.upgrade(old({"pw": "secret"}, version=2))
    assert "secret" not in str(caught.value)
    with pytest.raises(ValueError, match="goes forward"):
        registry.add_migration("basic_login", 3, 2, dict)


async def test_migrate_all_stores_the_upgrades_and_leaves_a_failure_untouched() -> None:
    store = MemoryStore(PlainCipher())
    good = await store.create(old({"login": "ann", "pw": "secret"}))
    bad = await store.create(old({"nothing": "here"}))
    current = await store.create(old({"user": "bo", "password": "x"}, version=3))
    report = await migrate_all(store, chain())
    assert (report.upgraded, report.current) == (1, 1)
    assert [failed_id for failed_id, _ in report.failed] == [bad.id]
    assert (await store.get(good.id)).version == 3
    assert (await store.get(good.id)).revision == 2
    assert await store.get(bad.id) == bad  # left byte for byte as stored
    assert await store.get(current.id) == current
