"""Fail `make install` if the installed pjsua2 is not a server build."""

import sys

from vio_sbc.sip.limits import read_limits

lim = read_limits()
print(f"[install] pjsua2 {lim.version}: max calls {lim.max_calls}, conference ports "
      f"{lim.max_conf_ports} ({lim.library})")
if lim.max_calls < 1024:
    sys.exit(f"[install] pjsua2 at {lim.library} allows only {lim.max_calls} calls: "
             "not a server build (rebuild with scripts/build-pjsua2.sh)")

# Every patch in scripts/pjproject-patches/ must be in the installed library: a stale
# wheel would make `sip.stranger_response: drop` refuse to start.
from vio_sbc.sip import native  # noqa: E402
from vio_sbc.sip.guard import INSTALL  # noqa: E402

if native.symbol(INSTALL) is None:
    sys.exit(f"[install] {lim.library} lacks {INSTALL} (20-sip-guard.patch): "
             "rebuild with scripts/build-pjsua2.sh")
print(f"[install] patches: 20-sip-guard ({INSTALL})")
