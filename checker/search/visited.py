"""The visited set: every state seen so far, by key, behind one small interface.

Two kinds, both plain Python sets underneath (so membership and insertion stay at C speed in
the search loops): :class:`Visited` holds whole packed states, exactly; :class:`Fingerprints`
holds 64-bit fingerprints, as TLC does, and reports the probability that two of the distinct
states it stored share one (then one of them would be skipped).

>>> seen = Fingerprints()
>>> seen.update(range(1000))
>>> seen.exact, f"{seen.collision_probability():.1e}"
(False, '2.7e-14')
"""

from __future__ import annotations


class Visited(set):
    """Keys that are whole states: no collision is possible."""

    exact = True

    def collision_probability(self) -> float:
        """The chance that two distinct stored states share a key."""
        return 0.0


class Fingerprints(Visited):
    """Keys that are 64-bit fingerprints of states."""

    exact = False

    def collision_probability(self) -> float:
        """About n²/2⁶⁵ for n uniformly hashed states (the birthday bound TLC reports)."""
        n = len(self)
        return n * n / 2.0**65


def visited_for(kernel) -> Visited:
    """The visited set a kernel's keys need: exact for packed states, fingerprints otherwise."""
    return Visited() if kernel.exact else Fingerprints()
