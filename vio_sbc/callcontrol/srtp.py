"""SRTP (SDES, RFC 4568) offer/answer policy per trunk: one table over plain facts. Pure.

A trunk's `media.srtp` is `off`, `optional` or `mandatory`. An INVITE's audio offer is
one of: no SDP at all (we make the offer), plain (`RTP/AVP`, no `a=crypto`),
best-effort (`RTP/AVP` with `a=crypto`: the peer takes either), or `RTP/SAVP` (SRTP
or nothing). We support the suites in `SUITES` (the two Twilio and Asterisk offer);
crypto lines naming only other suites count as no usable crypto.

`decide_srtp(policy, offer)` gives the answer (`SrtpPlan`: encrypted or not, and the
pjsua mode of the account that must take the call so pjsua builds that answer), or a
refusal (`SrtpRefusal`, always 488: RFC 3261 "Not Acceptable Here" for a session
description we will not take) with the reason for the log.

| policy    | plain    | best-effort (usable) | SAVP (usable) | crypto, none usable          |
|-----------|----------|----------------------|---------------|------------------------------|
| off       | plain    | plain                | 488           | plain (AVP) / 488 (SAVP)     |
| optional  | plain    | SRTP                 | SRTP          | plain (AVP) / 488 (SAVP)     |
| mandatory | 488      | SRTP                 | SRTP          | 488                          |
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

SrtpPolicy = Literal["off", "optional", "mandatory"]
SUITES = ("AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32")
SRTP_PROFILES = ("RTP/SAVP", "RTP/SAVPF")
_CRYPTO = re.compile(r"a=crypto:\s*\d+\s+([A-Za-z0-9_]+)")


@dataclass(frozen=True, slots=True)
class MediaOffer:
    """The first audio stream of an SDP offer."""

    profile: str  # RTP/AVP, RTP/SAVP, UDP/TLS/RTP/SAVP...
    suites: tuple[str, ...] = ()  # a=crypto suites, in the offer's order

    @property
    def requires_srtp(self) -> bool:
        return self.profile.upper() in SRTP_PROFILES or "SAVP" in self.profile.upper()

    @property
    def usable(self) -> tuple[str, ...]:
        return tuple(s for s in self.suites if s in SUITES)


@dataclass(frozen=True, slots=True)
class SrtpPlan:
    srtp: bool  # the call's media is encrypted (expected; pjsua negotiates it)
    mode: SrtpPolicy  # pjsua srtpUse of the account that takes the call


@dataclass(frozen=True, slots=True)
class SrtpRefusal:
    reason: str  # why, for the log line and the call row (never sent)
    mode: SrtpPolicy  # account that lets the INVITE reach the application's 488
    label: str  # vio_rejected_requests_total{reason}
    status: int = 488


def read_offer(sdp: str) -> MediaOffer | None:
    """The audio stream of an SDP body; None when there is no audio `m=` line (no SDP:
    a delayed offer)."""
    profile: str | None = None
    suites: list[str] = []
    for raw in sdp.splitlines():
        line = raw.strip()
        if line.startswith("m="):
            if profile is not None:
                break  # only the first audio stream
            parts = line[2:].split()
            if len(parts) >= 3 and parts[0].lower() == "audio":
                profile = parts[2]
        elif profile is not None and (m := _CRYPTO.match(line)):
            suites.append(m.group(1).upper())
    return None if profile is None else MediaOffer(profile, tuple(suites))


def decide_srtp(policy: SrtpPolicy, offer: MediaOffer | None,
                trunk: str = "") -> SrtpPlan | SrtpRefusal:
    """How to answer `offer` on a trunk with `policy` (see the module's table)."""
    on = f" on trunk {trunk}" if trunk else ""
    if offer is None:  # we make the offer: as the policy says
        return SrtpPlan(policy != "off", policy)
    usable = offer.usable
    if offer.requires_srtp and policy == "off":
        return SrtpRefusal(f"SRTP-only offer ({offer.profile}) but media.srtp is off{on}",
                           "optional", "srtp_not_enabled")
    if offer.requires_srtp and not usable:
        return SrtpRefusal(f"{offer.profile} offer with no supported crypto suite "
                           f"(offered: {', '.join(offer.suites) or 'none'}; supported: "
                           f"{', '.join(SUITES)})", "optional", "srtp_no_suite")
    if policy == "mandatory" and not usable:
        what = "plain RTP offer" if not offer.suites else (
            f"offer with unsupported crypto ({', '.join(offer.suites)})")
        return SrtpRefusal(f"{what} but media.srtp is mandatory{on}", "optional",
                           "srtp_required")
    if policy == "off" or not usable:
        return SrtpPlan(False, "off")
    return SrtpPlan(True, "optional")


def answered_suite(sdp: str) -> str | None:
    """The crypto suite of an SDP answer's audio stream (what the call runs with), or
    None: unencrypted."""
    offer = read_offer(sdp)
    return offer.usable[0] if offer is not None and offer.usable else None
