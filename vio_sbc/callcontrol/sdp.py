"""SDP answer rules pjmedia's negotiator does not apply, as plain text functions.

pjmedia builds an answer from our local capabilities and copies our own `fmtp` for
telephone-event (`0-16`) into it whatever the offer said: to an offer of `0-15` we
answered `0-16`, an event the offerer never said it understands. RFC 4733 §7.1.1:
the answerer lists the events it will receive, which can only be events the offerer
can send, so the answer carries the intersection of both lists. The SIP adapter
(`vio_sbc.sip.call`, `onCallSdpCreated`) passes the local SDP pjsua is about to
negotiate and the remote offer through `answer_telephone_events` before the
negotiator runs; no pjsua2 here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

TELEPHONE_EVENT = "telephone-event"
DEFAULT_EVENTS = frozenset(range(16))  # RFC 4733 §2.4.1: no fmtp means 0-15
MAX_EVENT = 255


def parse_events(value: str) -> frozenset[int]:
    """The events of an RFC 4733 fmtp list (`0-15,66,70-74`); malformed parts and
    events above 255 are left out (an offer's junk never widens an answer)."""
    events: set[int] = set()
    for part in value.replace(" ", "").split(","):
        lo, sep, hi = part.partition("-")
        if not lo.isdigit() or (sep and not hi.isdigit()):
            continue
        first, last = int(lo), int(hi) if sep else int(lo)
        if first > last or last > MAX_EVENT:
            continue
        events.update(range(first, last + 1))
    return frozenset(events)


def format_events(events: Iterable[int]) -> str:
    """`{0..15, 16, 32}` -> `0-16,32`: sorted, runs collapsed."""
    out: list[str] = []
    ordered = sorted(set(events))
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        out.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ",".join(out)


@dataclass
class _Media:
    """One `m=` section: its lines (the `m=` line first)."""

    lines: list[str]

    @property
    def kind(self) -> str:
        return self.lines[0][2:].split(" ", 1)[0]

    def rtpmaps(self) -> dict[str, tuple[str, int]]:
        """Payload type -> (encoding name in lower case, clock rate)."""
        maps: dict[str, tuple[str, int]] = {}
        for ln in self.lines:
            if not ln.startswith("a=rtpmap:"):
                continue
            pt, _, rest = ln[len("a=rtpmap:"):].partition(" ")
            name, _, params = rest.strip().partition("/")
            rate = params.split("/", 1)[0]
            if rate.isdigit():
                maps[pt.strip()] = (name.lower(), int(rate))
        return maps

    def fmtp(self, pt: str) -> tuple[int, str] | None:
        """(line index, value) of the payload type's fmtp line, if any."""
        prefix = f"a=fmtp:{pt} "
        for i, ln in enumerate(self.lines):
            if ln.startswith(prefix):
                return i, ln[len(prefix):].strip()
        return None

    def events_by_rate(self) -> dict[int, frozenset[int]]:
        """Clock rate -> the events its telephone-event format lists (first one wins)."""
        out: dict[int, frozenset[int]] = {}
        for pt, (name, rate) in self.rtpmaps().items():
            if name != TELEPHONE_EVENT or rate in out:
                continue
            f = self.fmtp(pt)
            out[rate] = DEFAULT_EVENTS if f is None else parse_events(f[1])
        return out

    def drop_format(self, pt: str) -> None:
        m = self.lines[0].split(" ")
        self.lines[0] = " ".join(m[:3] + [p for p in m[3:] if p != pt])
        self.lines[:] = [self.lines[0]] + [
            ln for ln in self.lines[1:]
            if not (ln.startswith(f"a=rtpmap:{pt} ") or ln.startswith(f"a=fmtp:{pt} "))
        ]


def _split(sdp: str) -> tuple[list[str], list[_Media], str]:
    """Session lines, media sections, and the line ending the text uses."""
    eol = "\r\n" if "\r\n" in sdp else "\n"
    session: list[str] = []
    media: list[_Media] = []
    for ln in sdp.split(eol):
        if ln.startswith("m="):
            media.append(_Media([ln]))
        elif media:
            media[-1].lines.append(ln)
        else:
            session.append(ln)
    return session, media, eol


def answer_telephone_events(local: str, offer: str) -> str:
    """`local` (the SDP pjsua will answer from) with each telephone-event format's
    event list cut to what the offer's telephone-event at the same clock rate lists
    (matched by `m=` position, else the offer's first section of the same media kind).
    A format whose intersection is empty is removed (with its rtpmap and fmtp); one the
    offer has no telephone-event for is left alone (the negotiator drops it). Nothing
    else in the text changes: an unchanged answer is returned as it came."""
    _, offered = _split(offer)[:2]
    session, media, eol = _split(local)
    changed = False
    for i, sec in enumerate(media):
        theirs = offered[i] if i < len(offered) and offered[i].kind == sec.kind else next(
            (o for o in offered if o.kind == sec.kind), None)
        if theirs is None:
            continue
        their_events = theirs.events_by_rate()
        for pt, (name, rate) in sec.rtpmaps().items():
            if name != TELEPHONE_EVENT or rate not in their_events:
                continue
            f = sec.fmtp(pt)
            ours = DEFAULT_EVENTS if f is None else parse_events(f[1])
            both = ours & their_events[rate]
            if not both:
                sec.drop_format(pt)
                changed = True
                continue
            value = format_events(both)
            if f is not None and f[1] == value:
                continue
            line = f"a=fmtp:{pt} {value}"
            if f is not None:
                sec.lines[f[0]] = line
            else:
                at = next(j for j, ln in enumerate(sec.lines)
                          if ln.startswith(f"a=rtpmap:{pt} "))
                sec.lines.insert(at + 1, line)
            changed = True
    if not changed:
        return local
    return eol.join(session + [ln for sec in media for ln in sec.lines])
