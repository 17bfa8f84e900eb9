"""The ``StateStore`` contract: one suite every store runs (memory, SQLite, later Redis, yours).

Needs pytest, hypothesis and anyio's pytest plugin (``pip install 'mintgate[testing]'``). To
check a store, subclass :class:`StateStoreContract` in a test module and give it a
``make_store`` fixture: a function of a ``Clock`` and a ``Cipher`` that returns a fresh, empty
store using both::

    class TestPostgresStore(StateStoreContract):
        @pytest.fixture
        def make_store(self, database_url):
            return lambda clock, cipher: PostgresStore(database_url, cipher, clock=clock)

Every test runs on the anyio backends your ``anyio_backend`` fixture names. For the
model-based check, :func:`model_test` builds a hypothesis ``RuleBasedStateMachine`` that runs
random operations against a store and a plain dict and compares them after every step.
"""

from __future__ import annotations

import string
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TypeVar

import anyio
import attrs
import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from returns.result import Failure, Success

from mintgate.shell._clock import Clock
from mintgate.shell._ids import CredentialId, Scope
from mintgate.shell._records import (
    Cipher,
    CredentialRecord,
    RecordExists,
    RecordNotFound,
    RecordSummary,
    RecordUnreadable,
    RevisionConflict,
    StaleFence,
    StoredToken,
)
from mintgate.shell._store import Claim, ClaimHeld, StateStore
from mintgate.shell.testing import CipherRefused, PlainCipher

__all__ = ["ManualWall", "StateStoreContract", "SwitchableCipher", "model_test", "record"]

T = TypeVar("T")
MakeStore = Callable[[Clock, Cipher], StateStore]

START = 1_800_000_000.0


class ManualWall:
    """A wall clock the test moves (claims expire by it)."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class SwitchableCipher:
    """``PlainCipher`` under a named key (``key``, written before the sealed bytes, as a real
    cipher's header names its key), that can be told to refuse every ``open``, as a lost key
    would."""

    def __init__(self) -> None:
        self.inner = PlainCipher()
        self.refuse = False
        self.key = "key-1"

    def seal(self, plaintext: bytes, associated_data: bytes) -> bytes:
        return self.key.encode() + b"|" + self.inner.seal(plaintext, associated_data)

    def key_id(self, sealed: bytes) -> str | None:
        name, bar, _ = sealed.partition(b"|")
        return name.decode() if bar else None

    def open(self, sealed: bytes, associated_data: bytes) -> bytes:
        if self.refuse:
            raise CipherRefused("the key is gone")
        return self.inner.open(sealed.partition(b"|")[2], associated_data)


def record(
    scope: str = "org:acme/team:eng",
    *,
    tags: tuple[str, ...] = (),
    secret: str = "s3cr3t-value",
    credential_id: CredentialId | None = None,
    token: StoredToken | None = None,
) -> CredentialRecord:
    """A record to store in tests."""
    return CredentialRecord(
        credential_id or CredentialId.new(),
        scope,
        "static_api_key",
        1,
        {"api_key": secret},
        token,
        display_name="a test credential",
        tags=tags,
    )


class StateStoreContract:
    """The contract every ``StateStore`` keeps; subclass it with a ``make_store`` fixture."""

    pytestmark = pytest.mark.anyio

    @pytest.fixture
    def make_store(self) -> MakeStore:  # pragma: no cover - the subclass gives it
        raise NotImplementedError("give the contract a make_store fixture")

    @pytest.fixture
    def wall(self) -> ManualWall:
        return ManualWall()

    @pytest.fixture
    def cipher(self) -> SwitchableCipher:
        return SwitchableCipher()

    @pytest.fixture
    def store(
        self, make_store: MakeStore, wall: ManualWall, cipher: SwitchableCipher
    ) -> StateStore:
        return make_store(Clock(wall), cipher)

    # -- records -----------------------------------------------------------------------------

    async def test_a_created_record_reads_back_whole(
        self, store: StateStore, wall: ManualWall
    ) -> None:
        token = StoredToken("access-token-value", START + 3600.0, START - 5.0)
        made = record(tags=("prod", "billing", "prod"), token=token)
        stored = await store.create(attrs.evolve(made, revision=7))
        assert stored.revision == 1  # whatever was given
        assert (stored.created_at, stored.updated_at) == (START, START)
        got = await store.get(made.id)
        assert got == stored
        assert got.tags == ("billing", "prod")
        assert got.token == token
        assert "s3cr3t-value" not in repr(got)

    async def test_create_refuses_an_id_that_exists(self, store: StateStore) -> None:
        made = await store.create(record())
        with pytest.raises(RecordExists):
            await store.create(record(credential_id=made.id, secret="other"))
        assert (await store.get(made.id)).state == {"api_key": "s3cr3t-value"}

    async def test_a_missing_record_is_not_found(self, store: StateStore) -> None:
        missing = CredentialId.new()
        with pytest.raises(RecordNotFound) as caught:
            await store.get(missing)
        assert isinstance(caught.value, LookupError)
        assert missing in str(caught.value)
        with pytest.raises(RecordNotFound):
            await store.update(record(credential_id=missing), expected_revision=1)
        with pytest.raises(RecordNotFound):
            await store.delete(missing)

    async def test_update_is_compare_and_swap(self, store: StateStore, wall: ManualWall) -> None:
        made = await store.create(record())
        wall.now += 10.0
        second = await store.update(attrs.evolve(made, state={"api_key": "v2"}), 1)
        assert (second.revision, second.created_at, second.updated_at) == (2, START, START + 10)
        with pytest.raises(RevisionConflict) as caught:
            await store.update(attrs.evolve(made, state={"api_key": "lost"}), 1)
        assert (caught.value.expected_revision, caught.value.current_revision) == (1, 2)
        assert (await store.get(made.id)).state == {"api_key": "v2"}

    async def test_delete_takes_an_optional_revision(self, store: StateStore) -> None:
        first, second = await store.create(record()), await store.create(record())
        with pytest.raises(RevisionConflict):
            await store.delete(first.id, expected_revision=5)
        await store.delete(first.id, expected_revision=1)
        await store.delete(second.id)
        for gone in (first, second):
            with pytest.raises(RecordNotFound):
                await store.get(gone.id)

    async def test_create_many_writes_each_record_or_none_of_it(self, store: StateStore) -> None:
        existing = await store.create(record())
        batch = [record(), record(credential_id=existing.id), record()]
        results = await store.create_many(batch)
        assert [type(result) for result in results] == [Success, Failure, Success]
        assert isinstance(results[1].failure(), RecordExists)
        assert (await store.get(batch[0].id)).revision == 1
        assert (await store.get(batch[2].id)).revision == 1
        assert (await store.get(existing.id)).state == {"api_key": "s3cr3t-value"}
        assert await store.create_many([]) == []

    async def test_an_unreadable_record_is_named_and_still_listed(
        self, store: StateStore, cipher: SwitchableCipher
    ) -> None:
        made = await store.create(record(scope="org:acme"))
        cipher.refuse = True
        with pytest.raises(RecordUnreadable) as caught:
            await store.get(made.id)
        assert made.id in str(caught.value)
        assert "the key is gone" in str(caught.value)
        page = await store.list(Scope.parse("org:acme"))
        assert [summary.id for summary in page.items] == [made.id]

    async def test_a_listing_names_the_key_that_sealed_each_record(
        self, store: StateStore, cipher: SwitchableCipher
    ) -> None:
        assert store.cipher is cipher
        first, second = await store.create(record()), await store.create(record())
        cipher.key = "key-2"  # a rotation: what is written from now on is sealed anew
        await store.update(first, expected_revision=1)
        third = await store.create(record())
        page = await store.list(None)
        sealed_by = {summary.id: summary.sealed_by for summary in page.items}
        assert sealed_by == {first.id: "key-2", second.id: "key-1", third.id: "key-2"}
        assert (await store.get(second.id)).state == second.state

    # -- listing -----------------------------------------------------------------------------

    async def test_list_takes_the_scopes_subtree_by_whole_segments(self, store: StateStore) -> None:
        inside = [await store.create(record(scope)) for scope in ("org:acme", "org:acme/team:eng")]
        for scope in ("org:acme-labs", "org:acm", "org:other/team:acme"):
            await store.create(record(scope))
        page = await store.list(Scope.parse("org:acme"))
        assert {s.id for s in page.items} == {r.id for r in inside}
        assert [s.id for s in page.items] == sorted(s.id for s in page.items)
        assert page.next_cursor is None
        assert len((await store.list(None)).items) == 5

    async def test_list_wants_every_tag(self, store: StateStore) -> None:
        both = await store.create(record(tags=("prod", "billing")))
        await store.create(record(tags=("prod",)))
        await store.create(record())
        page = await store.list(Scope.parse("org:acme"), tags=["billing", "prod"])
        assert [s.id for s in page.items] == [both.id]
        assert len((await store.list(Scope.parse("org:acme"), tags=["prod"])).items) == 2

    async def test_wildcard_characters_in_names_match_only_themselves(
        self, store: StateStore
    ) -> None:
        literal = await store.create(record("org:a_b", tags=("x_y",)))
        for scope in ("org:aXb", "org:a-b", "org:a.b"):
            await store.create(record(scope, tags=("xzy", "x-y")))
        assert [s.id for s in (await store.list(Scope.parse("org:a_b"))).items] == [literal.id]
        tagged = await store.list(None, tags=["x_y"])
        assert [s.id for s in tagged.items] == [literal.id]

    async def test_pages_follow_each_other_in_id_order(self, store: StateStore) -> None:
        made = sorted([(await store.create(record())).id for _ in range(7)])
        seen: list[str] = []
        cursor = None
        for _ in range(10):
            page = await store.list(Scope.parse("org:acme"), limit=3, cursor=cursor)
            seen += [summary.id for summary in page.items]
            cursor = page.next_cursor
            if cursor is None:
                break
        assert seen == made

    async def test_a_bad_listing_is_named(self, store: StateStore) -> None:
        scope = Scope.parse("org:acme")
        with pytest.raises(ValueError, match=r"limit must be an integer in 1\.\.1000"):
            await store.list(scope, limit=0)
        with pytest.raises(ValueError, match="not a cursor a store handed out"):
            await store.list(scope, cursor="nonsense")
        with pytest.raises(ValueError, match="does not match"):
            await store.list(scope, tags=["no spaces allowed"])

    # -- claims ------------------------------------------------------------------------------

    async def test_a_claim_is_held_until_its_ttl_and_the_fence_grows(
        self, store: StateStore, wall: ManualWall
    ) -> None:
        credential = CredentialId.new()
        first = await store.claim(credential, "worker-a", 30.0)
        assert isinstance(first, Claim)
        assert (first.fence, first.expires_at) == (1, START + 30.0)
        held = await store.claim(credential, "worker-b", 30.0)
        assert held == ClaimHeld(credential, "worker-a", START + 30.0)
        again = await store.claim(credential, "worker-a", 30.0)
        assert isinstance(again, Claim)
        assert again.fence == 1  # the same holder: a renewal
        wall.now += 31.0
        second = await store.claim(credential, "worker-b", 30.0)
        assert isinstance(second, Claim)
        assert second.fence == 2
        with pytest.raises(StaleFence):
            await store.renew(first)
        assert not await store.release(first)  # not the holder any more
        assert await store.release(second)
        third = await store.claim(credential, "worker-a", 30.0)
        assert isinstance(third, Claim)
        assert third.fence == 3  # every new holder, even after a release

    async def test_renew_extends_a_held_claim(self, store: StateStore, wall: ManualWall) -> None:
        claim = await store.claim(CredentialId.new(), "worker-a", 30.0)
        assert isinstance(claim, Claim)
        wall.now += 20.0
        renewed = await store.renew(claim)
        assert (renewed.fence, renewed.expires_at) == (1, START + 50.0)
        longer = await store.renew(renewed, ttl=100.0)
        assert longer.expires_at == START + 120.0

    async def test_a_write_with_a_stale_fence_is_refused(
        self, store: StateStore, wall: ManualWall
    ) -> None:
        made = await store.create(record())
        old = await store.claim(made.id, "stalled", 10.0)
        assert isinstance(old, Claim)
        wall.now += 11.0  # it stalls past its ttl; another takes the claim and writes
        new = await store.claim(made.id, "fresh", 10.0)
        assert isinstance(new, Claim)
        written = await store.update(attrs.evolve(made, state={"api_key": "v2"}), 1, new.fence)
        with pytest.raises(StaleFence) as caught:
            await store.update(attrs.evolve(written, state={"api_key": "late"}), 2, old.fence)
        assert (caught.value.fence, caught.value.newest_fence) == (1, 2)
        assert (await store.get(made.id)).state == {"api_key": "v2"}
        await store.update(attrs.evolve(written, state={"api_key": "admin"}), 2)  # unfenced

    async def test_bad_claim_arguments_are_named(self, store: StateStore) -> None:
        with pytest.raises(ValueError, match="owner"):
            await store.claim(CredentialId.new(), "", 10.0)
        with pytest.raises(ValueError, match="ttl"):
            await store.claim(CredentialId.new(), "me", 0.0)


# -- the model-based check --------------------------------------------------------------------

_IDS = [CredentialId.parse(f"00000000-0000-4000-8000-{n:012d}") for n in range(6)]
_SCOPES = ["org:a", "org:a/team:x", "org:a/team:x_y", "org:ab", "org:b"]
_TAGS = ["p", "q", "r_s"]


def _run(step: Callable[[], Awaitable[T]]) -> T:
    return anyio.run(step)


def model_test(make_store: Callable[[], StateStore]) -> type[RuleBasedStateMachine]:
    """A state machine that runs random creates, updates (right and wrong revisions), deletes,
    gets and listings against ``make_store()`` and a dict, and compares them after each step."""

    class StoreMatchesADict(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.store = make_store()
            self.model: dict[CredentialId, CredentialRecord] = {}

        @rule(
            index=st.integers(0, len(_IDS) - 1),
            scope=st.sampled_from(_SCOPES),
            tags=st.sets(st.sampled_from(_TAGS)),
            secret=st.text(string.ascii_letters, min_size=1, max_size=8),
        )
        def create(self, index: int, scope: str, tags: set[str], secret: str) -> None:
            made = record(scope, tags=tuple(tags), secret=secret, credential_id=_IDS[index])
            if made.id in self.model:
                with pytest.raises(RecordExists):
                    _run(lambda: self.store.create(made))
            else:
                self.model[made.id] = _run(lambda: self.store.create(made))

        @rule(index=st.integers(0, len(_IDS) - 1), off=st.sampled_from([0, 0, 0, 1, -1]))
        def update(self, index: int, off: int) -> None:
            credential = _IDS[index]
            known = self.model.get(credential)
            revision = (known.revision if known else 1) + off
            change = record(credential_id=credential, secret=f"rev-{revision}", tags=("p",))
            if known is None:
                with pytest.raises(RecordNotFound):
                    _run(lambda: self.store.update(change, revision))
            elif off:
                with pytest.raises(RevisionConflict):
                    _run(lambda: self.store.update(change, revision))
            else:
                self.model[credential] = _run(lambda: self.store.update(change, revision))

        @rule(index=st.integers(0, len(_IDS) - 1))
        def delete(self, index: int) -> None:
            credential = _IDS[index]
            if credential in self.model:
                _run(lambda: self.store.delete(credential))
                del self.model[credential]
            else:
                with pytest.raises(RecordNotFound):
                    _run(lambda: self.store.delete(credential))

        @rule(
            scope=st.sampled_from([None, *_SCOPES]),
            tags=st.sets(st.sampled_from(_TAGS), max_size=2),
            limit=st.integers(1, 4),
        )
        def listing(self, scope: str | None, tags: set[str], limit: int) -> None:
            wanted = None if scope is None else Scope.parse(scope)
            expected = sorted(
                (
                    r.summary()
                    for r in self.model.values()
                    if (wanted is None or wanted.contains(r.scope)) and tags <= set(r.tags)
                ),
                key=lambda summary: summary.id,
            )
            seen: list[RecordSummary] = []
            cursor = None
            for _ in range(len(_IDS) + 1):
                page = _run(partial(self.store.list, wanted, sorted(tags), limit, cursor))
                assert len(page.items) <= limit
                seen += page.items
                cursor = page.next_cursor
                if cursor is None:
                    break
            assert seen == expected

        @invariant()
        def every_record_reads_as_the_model_says(self) -> None:
            for credential in _IDS:
                known = self.model.get(credential)
                if known is None:
                    with pytest.raises(RecordNotFound):
                        _run(partial(self.store.get, credential))
                else:
                    assert _run(partial(self.store.get, credential)) == known

    return StoreMatchesADict
