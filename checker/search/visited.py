"""The visited set: every state seen so far, by key, behind one small interface.

Two kinds: :class:`Visited` holds whole packed states, exactly; :class:`Fingerprints` holds
64-bit fingerprints, as TLC does, and reports the probability that two of the distinct states
it stored share one (then one of them would be skipped). Both keep their keys in a plain
Python set, ``keys``, which the search loops use directly: membership and insertion stay at C
speed in the hot loop.

>>> seen = Fingerprints()
>>> seen.add(1); seen.add(2); 2 in seen, len(seen), seen.exact
(True, 2, False)
>>> f"{Fingerprints(range(1000)).collision_probability():.1e}"
'2.7e-14'
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable


class Visited:
    """Keys that are whole states: no collision is possible."""

    exact = True

    def __init__(self, keys: Iterable[Hashable] = ()) -> None:
        self.keys: set[Hashable] = set(keys)

    def __len__(self) -> int:
        return len(self.keys)

    def __contains__(self, key: Hashable) -> bool:
        return key in self.keys

    def add(self, key: Hashable) -> None:
        """Remember ``key``."""
        self.keys.add(key)

    def collision_probability(self) -> float:
        """The chance that two distinct stored states share a key."""
        return 0.0


class Fingerprints(Visited):
    """Keys that are 64-bit fingerprints of states."""

    exact = False

    def collision_probability(self) -> float:
        """About n²/2⁶⁵ for n uniformly hashed states (the birthday bound TLC reports)."""
        n = len(self.keys)
        return n * n / 2.0**65


def visited_for(kernel) -> Visited:
    """The visited set a kernel's keys need: exact for packed states, fingerprints otherwise."""
    return Visited() if kernel.exact else Fingerprints()
