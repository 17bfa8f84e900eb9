"""The host's heap of wake times against a plain dict: the same members come due, in order."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from mintgate.shell._wakeups import Wakeups


class Member:
    __slots__ = ("_wake_at", "_wake_seq", "name")

    def __init__(self, name: int) -> None:
        self.name = name
        self._wake_at: float | None = None
        self._wake_seq = 0


# One operation: ("schedule", member index, time or None) or ("pop", time).
operations = st.lists(
    st.one_of(
        st.tuples(
            st.just("schedule"),
            st.integers(0, 7),
            st.none() | st.integers(0, 50).map(float),
        ),
        st.tuples(st.just("pop"), st.integers(0, 60).map(float)),
    ),
    max_size=200,
)


@given(operations)
@settings(max_examples=300)
def test_the_heap_wakes_what_a_dict_of_wake_times_would(ops: list[tuple[object, ...]]) -> None:
    members = [Member(i) for i in range(8)]
    wakeups: Wakeups[Member] = Wakeups()
    model: dict[int, tuple[float, int]] = {}  # member -> (time, order it was scheduled in)
    order = 0
    for op in ops:
        if op[0] == "schedule":
            index, when = op[1], op[2]
            assert isinstance(index, int)
            assert when is None or isinstance(when, float)
            wakeups.schedule(members[index], when)
            order += 1
            if when is None:
                model.pop(index, None)
            else:
                model[index] = (when, order)
        else:
            now = op[1]
            assert isinstance(now, float)
            due = [member.name for member in wakeups.pop_due(now)]
            expected = sorted((entry, i) for i, entry in model.items() if entry[0] <= now)
            assert due == [i for _, i in expected]
            for i in due:
                del model[i]
        for i, member in enumerate(members):
            assert member._wake_at == (model[i][0] if i in model else None)
        assert len(wakeups) <= 2 * len(model) + 64
        if model:
            assert wakeups.earliest() == min(when for when, _ in model.values())
        else:
            assert wakeups.earliest() == math.inf


def test_stale_entries_are_dropped_when_they_outnumber_the_live_ones() -> None:
    member = Member(0)
    wakeups: Wakeups[Member] = Wakeups()
    for i in range(10_000):
        wakeups.schedule(member, float(i))
    assert len(wakeups) <= 2 + 64
    assert [m.name for m in wakeups.pop_due(9_998.0)] == []
    assert [m.name for m in wakeups.pop_due(9_999.0)] == [0]
    assert len(wakeups) == 0
