"""Fail `make install` if the installed pjsua2 is not a server build."""

import sys

from vio_sbc.sip.limits import read_limits

lim = read_limits()
print(f"[install] pjsua2 {lim.version}: max calls {lim.max_calls}, conference ports "
      f"{lim.max_conf_ports} ({lim.library})")
if lim.max_calls < 1024:
    sys.exit(f"[install] pjsua2 at {lim.library} allows only {lim.max_calls} calls: "
             "not a server build (rebuild with scripts/build-pjsua2.sh)")
