"""The host's wake times: one heap for every driver, with stale entries skipped, not searched.

A host with a hundred thousand credentials sleeps until the earliest of their wake times, so it
needs the minimum of a set whose members move: each step of a driver may move its wake time. A
heap gives the minimum; moving a member pushes a new entry and leaves the old one where it is,
marked stale by a sequence number the member holds (``_wake_seq``): popping skips it. Removing
an entry from the middle of a heap would cost a search; this costs one comparison when the
entry comes up. The heap is rebuilt from its live entries when stale ones outnumber them, so it
never holds more than about twice the members that have a wake time.
"""

from __future__ import annotations

import heapq
import math
from typing import Generic, Protocol, TypeVar

__all__ = ["Wakeups"]


class Schedulable(Protocol):
    """What the heap keeps in its members: their wake time and the sequence number of the
    entry that holds it (0: none)."""

    _wake_at: float | None
    _wake_seq: int


T = TypeVar("T", bound=Schedulable)

_SLACK = 64  # stale entries tolerated beyond the live count before a rebuild


class Wakeups(Generic[T]):
    """Members' wake times; the earliest first."""

    __slots__ = ("_heap", "_live", "_seq")

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, T]] = []
        self._live = 0  # entries that are some member's current wake time
        self._seq = 0

    def __len__(self) -> int:
        """Entries held, stale ones included (at most about twice the live ones)."""
        return len(self._heap)

    def earliest(self) -> float:
        """The earliest wake time, or inf. Stale entries on top are dropped first, so a timer
        set to it never wakes for a member that has moved on."""
        heap = self._heap
        while heap and heap[0][2]._wake_seq != heap[0][1]:
            heapq.heappop(heap)
        return heap[0][0] if heap else math.inf

    def schedule(self, member: T, when: float | None) -> None:
        """Make ``when`` the member's wake time (None: it has none)."""
        if member._wake_seq:
            self._live -= 1  # its entry goes stale
            member._wake_seq = 0
        member._wake_at = when
        if when is None:
            return
        self._seq += 1
        member._wake_seq = self._seq
        heap = self._heap
        heapq.heappush(heap, (when, self._seq, member))
        self._live += 1
        if len(heap) > 2 * self._live + _SLACK:
            heap[:] = [entry for entry in heap if entry[2]._wake_seq == entry[1]]
            heapq.heapify(heap)

    def pop_due(self, now: float) -> list[T]:
        """The members whose wake time is ``now`` or earlier, earliest first; each loses it."""
        heap = self._heap
        due = []
        while heap and heap[0][0] <= now:
            _, seq, member = heapq.heappop(heap)
            if member._wake_seq == seq:
                member._wake_seq, member._wake_at = 0, None
                self._live -= 1
                due.append(member)
        return due

    def clear(self) -> None:
        """Forget every entry (the members' own marks are theirs to reset)."""
        self._heap.clear()
        self._live = 0
