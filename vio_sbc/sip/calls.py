"""The switch's live calls (main thread): the table, what each tick does for them, and
the release of ended calls' media.

A call is on the table from the moment it is routed (inbound) or dialled (outbound)
until `vio_sbc.sip.callend` closes it; its media port is released on the tick after
(`retire`): pjsua may still call into a call during the callback that ended it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from vio_sbc.sip.call import SbcCall
from vio_sbc.sip.xfer import start_transfer


class CallTable:
    def __init__(self) -> None:
        self.calls: dict[str, SbcCall] = {}
        self._retired: list[SbcCall] = []

    def __len__(self) -> int:
        return len(self.calls)

    def __iter__(self) -> Iterator[SbcCall]:
        return iter(list(self.calls.values()))

    def get(self, call_id: str) -> SbcCall | None:
        return self.calls.get(call_id)

    def add(self, call: SbcCall) -> None:
        self.calls[call.id] = call

    def forget(self, call: SbcCall) -> None:
        """Off the table; its media goes on the next `reap`."""
        self.calls.pop(call.id, None)
        self.retire(call)

    def retire(self, call: SbcCall) -> None:
        """Keep a call that is over (or was never on the table) until the next `reap`."""
        self._retired.append(call)

    def live(self, trunk: str, direction: str | None = None) -> int:
        """Live calls on `trunk` (of one direction, if given)."""
        return sum(1 for c in self.calls.values()
                   if c.route is not None and c.route.trunk.name == trunk
                   and (direction is None or c.direction == direction))

    def live_on_number(self, number: str) -> int:
        """Live inbound calls on `number` (its `max_calls`)."""
        return sum(1 for c in self.calls.values()
                   if c.route is not None and c.direction == "inbound"
                   and c.route.number.number == number)

    def by_direction_and_trunk(self) -> dict[tuple[str, str], int]:
        counts: dict[tuple[str, str], int] = {}
        for call in self.calls.values():
            key = (call.direction, call.route.trunk.name if call.route else "")
            counts[key] = counts.get(key, 0) + 1
        return counts

    def tick(self) -> None:
        """Media direction of every call, and what the agents asked for once their
        audio has played (hang up, transfer)."""
        for call in list(self.calls.values()):
            call.sync_tx()
            pending = call.pending_action
            if pending is None or (call.session is not None and call.session.playing):
                continue
            call.pending_action = None
            if pending.action == "hangup":
                call.end("agent")
            else:
                start_transfer(call, pending.target)

    def reap(self) -> None:
        if self._retired:
            retired, self._retired = self._retired, []
            for call in retired:
                call.release_media()
            del retired

    def clear(self) -> None:
        self._retired.clear()
        self.calls.clear()

    def listing(self) -> list[dict[str, Any]]:
        """The live-call table of `vio-sbc status`, oldest first."""
        now = time.monotonic()
        out: list[dict[str, Any]] = []
        for call in sorted(self.calls.values(), key=lambda c: c.created):
            route = call.route
            out.append({"id": call.id, "direction": call.direction,
                        "trunk": route.trunk.name if route else None,
                        "number": route.number.number if route else None,
                        "agent": route.agent.name if route else None,
                        "state": call.state.state.value, "caller": call.caller,
                        "callee": call.callee, "age_s": round(now - call.created, 1)})
        return out
