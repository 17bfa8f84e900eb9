"""MemoryStore keeps the StateStore contract, sealed and plain, and matches a dict model."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import settings

from mintgate.shell import Clock, MemoryStore
from mintgate.shell.store_contract import StateStoreContract, model_test, record
from mintgate.shell.testing import PlainCipher


class TestMemoryStoreSealed(StateStoreContract):
    @pytest.fixture
    def make_store(self) -> Any:
        return lambda clock, cipher: MemoryStore(cipher, clock=clock)


class TestMemoryStorePlain(StateStoreContract):
    """Without a cipher, what could not be opened cannot be tested: the rest holds."""

    @pytest.fixture
    def make_store(self) -> Any:
        return lambda clock, cipher: MemoryStore(None, clock=clock)

    async def test_an_unreadable_record_is_named_and_still_listed(  # type: ignore[override]
        self, store: Any
    ) -> None:
        pytest.skip("a plain MemoryStore opens nothing")

    async def test_a_listing_names_the_key_that_sealed_each_record(  # type: ignore[override]
        self, store: Any
    ) -> None:
        assert store.cipher is None
        made = await store.create(record())
        assert [summary.sealed_by for summary in (await store.list(None)).items] == [None]
        assert made.revision == 1


MemoryStoreModel = model_test(lambda: MemoryStore(PlainCipher(), clock=Clock(lambda: 1e9)))
MemoryStoreModel.TestCase.settings = settings(max_examples=60, stateful_step_count=30)
TestMemoryStoreMatchesADict = MemoryStoreModel.TestCase
