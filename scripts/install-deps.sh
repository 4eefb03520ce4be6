#!/usr/bin/env bash
# Installs the Debian packages the build, the service and the tests need, when any is missing.
# Safe to run again: it does nothing when everything is there. Non-interactive (CI has no stdin);
# uses sudo when not root; tries twice, since a mirror can fail for a moment.
set -euo pipefail
PKGS=(libnghttp2-dev libprotobuf-c-dev protobuf-c-compiler protobuf-compiler libprotobuf-dev grpc-proto
      libpq-dev zlib1g-dev postgresql nghttp2-client nghttp2-server curl python3-venv)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}"
SUDO=()
if [ "$(id -u)" != 0 ]; then
  SUDO=(sudo); [ -t 0 ] || SUDO=(sudo -n) # no terminal to ask for a password on: fail instead of hanging
fi
for attempt in 1 2; do
  if "${SUDO[@]}" apt-get update -qq \
     && "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
          -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}" >/dev/null; then
    exit 0
  fi
  [ $attempt = 2 ] || { echo "apt-get failed; trying again in 10 s" >&2; sleep 10; }
done
echo "could not install: ${missing[*]}" >&2
exit 1
