#!/usr/bin/env bash
# Build a server-grade pjsua2 wheel from pjproject source and cache it.
#
# The PyPI pjsua2 wheels are compiled with PJSUA_MAX_CALLS=4; a softswitch
# needs its own build.  Source, in order of preference:
#   1. $PJPROJECT_SRC — a pjproject source directory or tarball (.tar.gz/.tar.bz2/.tar.xz)
#   2. Debian's asterisk source package (suites sid), whose component tarball
#      asterisk_*.orig-pjproject.tar.xz carries pjproject 2.17 (fetched with a
#      private apt config; the machine's sources are left untouched).
#
# Output: $VIO_WHEEL_CACHE (default ~/.cache/vio_sbc/wheels)/pjsua2-*.whl
# Usage:  scripts/build-pjsua2.sh PYTHON   (prints the wheel path on its last line)
set -euo pipefail

PY="${1:-python3}"
MAX_CALLS="${VIO_PJ_MAX_CALLS:-1024}"
MAX_CONF_PORTS="${VIO_PJ_MAX_CONF_PORTS:-4096}"
MAX_HANDLES="${VIO_PJ_MAX_HANDLES:-8192}"
CACHE="${VIO_WHEEL_CACHE:-$HOME/.cache/vio_sbc/wheels}"
PYTAG="$("$PY" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')"
KEY="calls${MAX_CALLS}-ports${MAX_CONF_PORTS}-h${MAX_HANDLES}-${PYTAG}"
# Our source patches (scripts/pjproject-patches/NN-name.patch, applied in order with
# `patch -p1`); their hash is part of the cache key, so editing one rebuilds.
PATCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/pjproject-patches"
mapfile -t PATCHES < <(ls "$PATCH_DIR"/*.patch 2>/dev/null | LC_ALL=C sort)
if (( ${#PATCHES[@]} )); then
  KEY="$KEY-p$(cat "${PATCHES[@]}" | sha256sum | cut -c1-12)"
fi
OUT="$CACHE/$KEY"

log() { printf '[build-pjsua2] %s\n' "$*" >&2; }

existing="$(ls "$OUT"/pjsua2-*.whl 2>/dev/null | head -1 || true)"
if [[ -n "$existing" ]]; then
  log "cached wheel: $existing"
  echo "$existing"
  exit 0
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/vio-pjbuild.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
log "work dir $WORK; limits: calls=$MAX_CALLS conf_ports=$MAX_CONF_PORTS ioqueue_handles=$MAX_HANDLES"

# --- 1. source -------------------------------------------------------------
SRC=""
if [[ -n "${PJPROJECT_SRC:-}" ]]; then
  if [[ -d "$PJPROJECT_SRC" ]]; then
    log "using pjproject directory $PJPROJECT_SRC"
    cp -a "$PJPROJECT_SRC" "$WORK/pjproject"
  elif [[ -f "$PJPROJECT_SRC" ]]; then
    log "unpacking $PJPROJECT_SRC"
    mkdir -p "$WORK/pjproject"
    tar -xf "$PJPROJECT_SRC" -C "$WORK/pjproject" --strip-components=1
  else
    log "PJPROJECT_SRC=$PJPROJECT_SRC is neither a directory nor a file"; exit 1
  fi
  SRC="$WORK/pjproject"
else
  log "fetching Debian's asterisk source package (sid) for its pjproject component"
  APTD="$WORK/apt"
  mkdir -p "$APTD/sources" "$APTD/lists/partial" "$APTD/cache/archives/partial"
  cat > "$APTD/sources/sid-src.sources" <<SRCS
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: sid
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRCS
  APTOPTS=(-o "Dir::Etc::SourceList=/dev/null" -o "Dir::Etc::SourceParts=$APTD/sources"
           -o "Dir::State::Lists=$APTD/lists" -o "Dir::Cache=$APTD/cache"
           -o "Acquire::Check-Valid-Until=false" -o "APT::Sandbox::User=root")
  apt-get "${APTOPTS[@]}" update -q >&2
  mkdir -p "$WORK/dl"
  (cd "$WORK/dl" && apt-get "${APTOPTS[@]}" source --download-only asterisk >&2)
  tarball="$(ls "$WORK"/dl/asterisk_*.orig-*pjproject*.tar.* | head -1)"
  log "pjproject tarball: $(basename "$tarball")"
  mkdir -p "$WORK/pjproject"
  tar -xf "$tarball" -C "$WORK/pjproject" --strip-components=1
  SRC="$WORK/pjproject"
fi
[[ -f "$SRC/configure" || -f "$SRC/aconfigure" ]] || { log "no pjproject tree in $SRC"; exit 1; }

# --- 2. patch and configure --------------------------------------------------
cd "$SRC"
for p in "${PATCHES[@]}"; do
  log "patch $(basename "$p")"
  patch -p1 --forward --batch < "$p" >&2 || { log "patch $(basename "$p") does not apply to this pjproject"; exit 1; }
done
# Debian's repack drops this file but the Makefile still lists it.
[[ -f pjmedia/src/pjmedia-audiodev/bdimad_dev.c ]] || : > pjmedia/src/pjmedia-audiodev/bdimad_dev.c
cat > pjlib/include/pj/config_site.h <<CFG
/* vio_sbc server build */
#define PJSUA_MAX_CALLS            $MAX_CALLS
#define PJSUA_MAX_PLAYERS          64
#define PJSUA_MAX_RECORDERS        64
#define PJSUA_MAX_CONF_PORTS       $MAX_CONF_PORTS
#define PJSUA_MAX_ACC              64
#define PJ_IOQUEUE_MAX_HANDLES     $MAX_HANDLES
#define PJSIP_MAX_TSX_COUNT        (64*1024-1)
#define PJSIP_MAX_DIALOG_COUNT     (64*1024-1)
#define PJ_OS_HAS_CHECK_STACK      0
#define PJ_LOG_MAX_LEVEL           5
#define PJMEDIA_HAS_VIDEO          0
#define PJMEDIA_CONF_USE_SWITCH_BOARD 0
CFG
log "configure"
export CFLAGS="-O2 -fPIC -DNDEBUG"
./configure --enable-epoll --disable-video --disable-sound --disable-libwebrtc \
  --disable-libyuv --disable-opus --disable-upnp --disable-v4l2 --disable-ffmpeg \
  --disable-sdl --disable-openh264 --disable-vpx --disable-bcg729 --disable-silk \
  --disable-lyra --disable-ilbc-codec --disable-g7221-codec --disable-android-mediacodec \
  --with-external-srtp --with-external-gsm --with-external-speex --enable-speex-resample \
  > "$WORK/configure.log" 2>&1 || { tail -40 "$WORK/configure.log" >&2; exit 1; }

# --- 3. build ----------------------------------------------------------------
JOBS="$(nproc 2>/dev/null || echo 2)"
log "make dep"
make dep > "$WORK/dep.log" 2>&1 || { tail -40 "$WORK/dep.log" >&2; exit 1; }
log "make -j$JOBS (about 2-3 minutes on 2 cores)"
make -j"$JOBS" > "$WORK/make.log" 2>&1 &
mpid=$!
while kill -0 "$mpid" 2>/dev/null; do
  sleep 15
  kill -0 "$mpid" 2>/dev/null && log "  ... still building ($(grep -c -E '^(gcc|g\+\+|cc)' "$WORK/make.log" || true) compile steps so far)"
done
wait "$mpid" || { tail -40 "$WORK/make.log" >&2; exit 1; }

log "SWIG python binding"
cd pjsip-apps/src/swig/python
export PATH="$(dirname "$PY"):$PATH"
make PYTHON="$PY" > "$WORK/swig.log" 2>&1 || make > "$WORK/swig.log" 2>&1 || { tail -40 "$WORK/swig.log" >&2; exit 1; }
mkdir -p "$OUT"
"$PY" -m pip wheel --no-deps --no-build-isolation -w "$OUT" . > "$WORK/wheel.log" 2>&1 \
  || { tail -40 "$WORK/wheel.log" >&2; exit 1; }
wheel="$(ls "$OUT"/pjsua2-*.whl | head -1)"
log "built $wheel"
echo "$wheel"
