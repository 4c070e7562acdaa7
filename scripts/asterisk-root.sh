#!/bin/sh
# A Debian sid root with Asterisk (22 at the time of writing) for the opt-in interop test
# tests/integration/test_asterisk.py. Needs root and network access to deb.debian.org;
# the machine's own apt sources are untouched. Usage:
#
#   sudo scripts/asterisk-root.sh /var/tmp/asterisk-root
#   VIO_ASTERISK_ROOT=/var/tmp/asterisk-root .venv/bin/python -m pytest -m asterisk \
#       tests/integration/test_asterisk.py
#
# (The test is skipped unless VIO_ASTERISK_ROOT names such a root.)
set -eu
dir=${1:?usage: asterisk-root.sh DIR}
command -v debootstrap >/dev/null || { echo "needs debootstrap (apt-get install debootstrap)" >&2; exit 2; }
if [ ! -x "$dir/usr/sbin/asterisk" ]; then
    [ -d "$dir/usr" ] || debootstrap --variant=minbase sid "$dir" http://deb.debian.org/debian
    chroot "$dir" apt-get -o Acquire::Check-Valid-Until=false update
    DEBIAN_FRONTEND=noninteractive chroot "$dir" apt-get -o Acquire::Check-Valid-Until=false \
        install -y --no-install-recommends asterisk
fi
chroot "$dir" asterisk -V
