#!/usr/bin/env bash
# The whole test suite on a fresh Debian machine with Node 20: installs the
# system packages the tests start (PostgreSQL, Redis, nginx and the set-misc module ingress-nginx has built in, Caddy, Chromium), the npm packages, and
# runs the type check, the linter and `npm test`.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(postgresql redis-server nginx libnginx-mod-http-set-misc libnginx-mod-http-headers-more-filter caddy chromium)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update
  # The tests start their own servers: keep the packages from starting system services.
  policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    policy=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
    $sudo chmod +x "$policy"
  fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${missing[@]}"
  [ -z "$policy" ] || $sudo rm -f "$policy"
fi

npm ci --no-audit --no-fund
npm run typecheck
npm run lint
npm test
