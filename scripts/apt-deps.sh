#!/usr/bin/env bash
# Install the Debian packages vio_sbc needs, only those missing (quick when all present).
#   build of pjsua2: swig, dev headers of Debian's srtp/gsm/speex/openssl/uuid
#   run: espeak-ng (offline text to speech); test: sip-tester (SIPp), baresip (a TLS + SRTP
#   peer), openssl (the tests' throwaway CA),
#   chromium + chromium-driver (the console's real-browser tests, driven by selenium)
#   cluster (docs/cluster.md): kamailio + its modules (the SIP front), postgresql-15 (the
#   shared store; the tests start a throwaway server of their own with initdb/pg_ctl)
set -euo pipefail
PKGS=(build-essential swig dpkg-dev xz-utils patch libsrtp2-dev libgsm1-dev libspeex-dev
      libspeexdsp-dev libssl-dev uuid-dev espeak-ng sip-tester baresip openssl chromium
      chromium-driver
      kamailio kamailio-extra-modules kamailio-postgres-modules kamailio-tls-modules
      kamailio-utils-modules postgresql-15)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  exit 0
fi
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
echo "[apt-deps] installing: ${missing[*]}" >&2
$SUDO apt-get update -q >&2
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
