"""Fail `make install` if the installed pjsua2 is not a server build."""

import ctypes
import sys

from vio_sbc.rtp.guard import COUNTERS, SYMBOL
from vio_sbc.sip import native
from vio_sbc.sip.guard import INSTALL as GUARD
from vio_sbc.sip.guard import MAX_PACKET
from vio_sbc.sip.limits import read_limits
from vio_sbc.sip.trust import SET_DECIDER as TRUST

lim = read_limits()
print(f"[install] pjsua2 {lim.version}: max calls {lim.max_calls}, conference ports "
      f"{lim.max_conf_ports} ({lim.library})")
if lim.max_calls < 1024:
    sys.exit(f"[install] pjsua2 at {lim.library} allows only {lim.max_calls} calls: "
             "not a server build (rebuild with scripts/build-pjsua2.sh)")
missing = [name for name, kind in ((SYMBOL, ctypes.c_int), (COUNTERS, None))
           if native.symbol(name, kind) is None]
if missing:
    sys.exit(f"[install] pjsua2 at {lim.library} lacks {', '.join(missing)}: built without "
             "scripts/pjproject-patches/10-rtp-source-check.patch (rebuild with "
             "scripts/build-pjsua2.sh)")
if native.symbol(GUARD) is None:
    sys.exit(f"[install] pjsua2 at {lim.library} lacks {GUARD}: built without "
             "scripts/pjproject-patches/20-sip-guard.patch (rebuild with "
             "scripts/build-pjsua2.sh)")
if native.symbol(TRUST) is None:
    sys.exit(f"[install] pjsua2 at {lim.library} lacks {TRUST}: built without "
             "scripts/pjproject-patches/21-dialog-trust.patch (rebuild with "
             "scripts/build-pjsua2.sh)")
for patch, symbol in (("22-tcp-guard", "vio_tp_accept"), ("23-sip-limits", MAX_PACKET),
                      ("25-conn-reuse", "vio_conn_reuse"), ("30-media-tap", "vio_tap_create")):
    if native.symbol(symbol) is None:
        sys.exit(f"[install] pjsua2 at {lim.library} lacks {symbol}: built without "
                 f"scripts/pjproject-patches/{patch}.patch (rebuild with "
                 "scripts/build-pjsua2.sh)")
print(f"[install] patches: 10-rtp-source-check ({SYMBOL}), 20-sip-guard ({GUARD}), "
      f"21-dialog-trust ({TRUST}), 22-tcp-guard, 23-sip-limits, 25-conn-reuse, 30-media-tap")
