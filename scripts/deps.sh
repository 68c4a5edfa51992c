#!/usr/bin/env bash
# Installs the Debian packages fnbox needs, only when one is missing.
# Runs apt-get update first; uses sudo when not root.
set -euo pipefail

PACKAGES=(build-essential pkg-config duktape-dev libseccomp-dev libssl-dev openssl
          libsqlite3-dev libmicrohttpd-dev libcap-dev libcurl4-openssl-dev
          libjansson-dev libcmocka-dev python3-pytest python3-requests wrk nodejs
          jq xxd)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "deps: not root and no sudo; install: ${missing[*]}" >&2; exit 1; }
  SUDO="sudo"
fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
