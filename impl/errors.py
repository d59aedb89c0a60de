"""The errors of impl/: one root class, one subclass per boundary.

impl/ must not import checker/, so it has its own root error; its CLI turns any of these into
one line on stderr and exit code 2.
"""

from __future__ import annotations


class ImplError(Exception):
    """Root of every error raised on purpose by impl/."""


class MessageError(ImplError, ValueError):
    """A message or durable record that would be invalid was about to be built."""


class StorageError(ImplError):
    """The durable vote file cannot be read or written; the message names the file."""


class WireError(ImplError):
    """A datagram was refused by the codec.

    ``reason`` is a short, stable code (``"bad-mac"``, ``"oversized"``, ...) that the server
    uses as the key of its drop counters.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class ConfigError(ImplError):
    """Bad configuration of a node or cluster (ids, addresses, timeouts, key)."""
