"""The reply slot of an RPC call, shared by the transports.

A caller creates a :class:`Waiter`, registers it under the call's id, sends the
request and waits on ``event``; whoever receives the reply calls :meth:`set`.
A leaf module: it imports nothing of :mod:`cumulo.messaging`, so every
transport can use it without a cycle.
"""

from __future__ import annotations

import threading


class Waiter:
    """One call's reply: ``reply`` is None until :meth:`set`, then ``event`` is set."""

    __slots__ = ("event", "reply")

    def __init__(self) -> None:
        self.event = threading.Event()
        self.reply: str | None = None

    def set(self, reply: str) -> None:
        """Store the reply (the JSON body) and wake the caller."""
        self.reply = reply
        self.event.set()
