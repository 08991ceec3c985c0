"""Repair queues of the engine's live trials: per trial, the failure times of its nodes in
repair, oldest first (repairs take a fixed time, so the oldest comes back first).

All queues live in one flat ring buffer: row i (trial id i) is ``ring[i * cap : (i + 1) *
cap]``, rows are never compacted, and the last element is a dump slot for masked writes.
``tail`` counts the nodes a trial sent to repair, ``head`` the nodes known to be back; an
absolute queue position ``pos`` lives at ``ring[id * cap + (pos & (cap - 1))]`` (``cap`` is a
power of two, so ``& (cap - 1)`` is ``% cap``). ``head`` is refreshed only when the count in
repair (``tail - head``, an upper bound while ``head`` is stale) could exceed the spares, so
most passes of the engine never look at the queues.

Internal to :mod:`colossim.campaign.engine`; its arrays are local scratch of one chunk.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["RepairQueues", "waits_in_pass"]

# Queue entries looked at first when popping the nodes back from repair (doubled while a
# whole window came back): twice the interruptions the engine draws per trial and pass.
_FIRST_WINDOW = 128


@dataclass(slots=True, kw_only=True)
class RepairQueues:
    """The repair queues of a chunk's live trials (mutable local scratch of the engine).

    Attributes:
        ring: the flat ring buffer of every trial's queue, plus a dump slot.
        cap: capacity of each trial's queue (a power of two).
        head: per live trial, absolute position of its oldest node still in repair.
        tail: per live trial, absolute position after its newest node in repair.
    """

    ring: np.ndarray
    cap: int
    head: np.ndarray
    tail: np.ndarray

    @classmethod
    def empty(
        cls, *, n_trials: int, nodes_in_repair_mean: float, events_per_pass: int
    ) -> RepairQueues:
        """Empty queues for ``n_trials`` trials, sized for the mean nodes in repair plus
        8 standard deviations (Poisson) and two passes of node failures (grown if needed)."""
        mean = nodes_in_repair_mean
        cap = 1 << max(6, math.ceil(math.log2(mean + 8.0 * math.sqrt(mean) + 2 * events_per_pass)))
        return cls(
            ring=np.zeros(n_trials * cap + 1),
            cap=cap,
            head=np.zeros(n_trials, dtype=np.int64),
            tail=np.zeros(n_trials, dtype=np.int64),
        )

    @property
    def max_queued(self) -> int:
        """Longest queue (an upper bound on the nodes in repair while ``head`` is stale)."""
        return int((self.tail - self.head).max(initial=0))

    def pop_returned(self, ids: np.ndarray, failed_before: np.ndarray) -> None:
        """Drop from each queue the nodes that failed at or before ``failed_before`` (s):
        they are back from repair."""
        self.head = _pop_returned(self.ring, self.cap, ids, self.head, self.tail, failed_before)

    def push(
        self,
        ids: np.ndarray,
        *,
        node: np.ndarray,
        node_cum: np.ndarray,
        ends: np.ndarray,
        n_node: np.ndarray,
        returned_before: np.ndarray,
    ) -> None:
        """Append the failure time of every node-replacing interruption of a pass.

        Args:
            ids: trial id of each live row.
            node: (rows, events) the interruption sends a node to repair.
            node_cum: running count of ``node`` along each row.
            ends: (rows, events) time of each interruption, s.
            n_node: per row, node failures that count (up to the row's last interruption).
            returned_before: per row, nodes that failed at or before this time are back, s
                (used to make room before growing the ring).
        """
        n_events = ends.shape[1]
        if self.max_queued + n_events >= self.cap:
            self.pop_returned(ids, returned_before)
            if self.max_queued + n_events >= self.cap:
                self.ring, self.cap = _grow_ring(self.ring, self.cap, ids, self.head)
        # Each node failure's queue slot, or the dump slot. Trials that ended in this pass
        # may push past their end: they are dropped.
        cap = self.cap
        slot = ids[:, None] * cap + ((self.tail[:, None] + node_cum - 1) & (cap - 1))
        self.ring.put(np.where(node, slot, self.ring.size - 1), ends)
        self.tail = self.tail + n_node

    def failed_at(self, ids: np.ndarray, rows: np.ndarray, offset: np.ndarray) -> np.ndarray:
        """Failure time of the ``offset``-th oldest node in repair of the given rows, s."""
        pos = self.head[rows] + offset
        return self.ring[ids[rows] * self.cap + (pos & (self.cap - 1))]

    def keep(self, live: np.ndarray) -> None:
        """Keep the rows of the trials still live (``live`` is a boolean mask)."""
        self.head, self.tail = self.head[live], self.tail[live]


def waits_in_pass(
    *,
    ring: np.ndarray,
    cap: int,
    ids: np.ndarray,
    head: np.ndarray,
    tail: np.ndarray,
    t: np.ndarray,
    ends: np.ndarray,
    node: np.ndarray,
    node_cum: np.ndarray,
    max_in_repair: int,
    repair_s: float,
) -> np.ndarray:
    """Wait for a healthy node after each interruption of a pass (wait policy), s.

    The nodes in repair at an interruption at time T are the queue entries (failures before
    the pass, then the pass's own node failures, all in time order) that failed after
    T - repair. `head` must be current at the pass start (every entry failed after
    t - repair). The count of entries back by T is a per-row ``searchsorted``, done for all
    rows at once on one flat array: each row's times are shifted into its own disjoint
    interval (relative to the row's pass start, plus row x stride), padding sorts last.
    Only the oldest entries of each queue are searched (those that can come back in the
    pass); the entry waited for is read directly from its queue position.
    """
    n, n_events = ends.shape
    rows = np.arange(n)[:, None]
    in_queue = tail - head
    longest = max(int(in_queue.max(initial=0)), 1)
    cum = node_cum[:, :n_events]
    # Column n_events of `fresh` is a dump slot for the other interruptions.
    fresh = np.zeros((n, n_events + 1))
    fresh[rows, np.where(node, cum - 1, n_events)] = ends
    fresh = fresh[:, :n_events]
    fresh_valid = np.arange(n_events)[None, :] < cum[:, -1:]
    # Relative times x - t + repair lie in (0, repair + pass span]; queries T - t too.
    top = repair_s + float((ends[:, -1] - t).max()) + 1.0
    offset = rows * (2.0 * top)
    start = t[:, None] - repair_s
    query = (offset + (ends - t[:, None])).ravel()
    keys_f = np.where(fresh_valid, offset + (fresh - start), offset + top + 0.5).ravel()
    back_f = np.searchsorted(keys_f, query, side="right").reshape(n, n_events) - rows * n_events
    # Old entries that may come back during the pass form a prefix of each queue: search a
    # window of the oldest entries, doubled while some row may have more coming back.
    width = min(longest, 2 * n_events + 16)
    while True:
        queued = ring.take(ids[:, None] * cap + ((head[:, None] + np.arange(width)) & (cap - 1)))
        valid = np.arange(width)[None, :] < in_queue[:, None]
        keys_q = np.where(valid, offset + (queued - start), offset + top + 0.5).ravel()
        back_q = np.searchsorted(keys_q, query, side="right").reshape(n, n_events) - rows * width
        if width == longest or not bool(((in_queue[:, None] > width) & (back_q == width)).any()):
            break
        width = min(2 * width, longest)
    back = back_q + back_f
    in_repair = in_queue[:, None] + cum - back
    over = in_repair - max_in_repair
    # The job restarts when the `over`-th oldest node in repair is back: queue position
    # back + over - 1, among the old entries or the pass's own failures.
    pos = back + over - 1
    old = pos < in_queue[:, None]
    when_old = ring.take(ids[:, None] * cap + ((head[:, None] + np.maximum(pos, 0)) & (cap - 1)))
    when_new = fresh[rows, np.clip(pos - in_queue[:, None], 0, n_events - 1)]
    when = np.where(old, when_old, when_new)
    return np.where(over > 0, np.maximum(when + repair_s - ends, 0.0), 0.0)


def _pop_returned(
    ring: np.ndarray,
    cap: int,
    ids: np.ndarray,
    head: np.ndarray,
    tail: np.ndarray,
    failed_before: np.ndarray,
) -> np.ndarray:
    """Advance each queue head past the nodes that failed at or before ``failed_before``
    (they are back from repair). The entries of a queue are in time order, so the ones back
    form a prefix of it; look at a window of the oldest entries, wider if it all came back."""
    width = min(max(int((tail - head).max(initial=0)), 1), _FIRST_WINDOW)
    while True:
        pos = head[:, None] + np.arange(width)[None, :]
        times = ring.take(ids[:, None] * cap + (pos & (cap - 1)))
        back = (pos < tail[:, None]) & (times <= failed_before[:, None])
        n_back = back.sum(axis=1)
        head = head + n_back
        if not bool((n_back == width).any()):
            return head
        width *= 2


def _grow_ring(
    ring: np.ndarray, cap: int, ids: np.ndarray, head: np.ndarray
) -> tuple[np.ndarray, int]:
    """Copy the live trials' queues into a ring of twice the capacity."""
    new_cap = cap * 2
    n_rows = (ring.size - 1) // cap
    new_ring = np.zeros(n_rows * new_cap + 1)
    pos = head[:, None] + np.arange(cap)[None, :]  # absolute queue positions of each row
    rows = ids[:, None]
    new_ring[rows * new_cap + (pos & (new_cap - 1))] = ring[rows * cap + (pos & (cap - 1))]
    return new_ring, new_cap
