#!/usr/bin/env bash
# The whole test suite on a fresh Debian machine: installs the system packages
# the tests start (PostgreSQL, Redis, nginx and the set-misc module ingress-nginx has built in, Caddy, Chromium),
# Node 24 when the machine's Node is older than 22 (into .runtime/, see
# scripts/setup.sh), the npm packages, and runs the type check, the linter and
# `npm test` on that Node.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

packages=(postgresql redis-server nginx libnginx-mod-http-set-misc libnginx-mod-http-headers-more-filter caddy chromium)
install_packages "${packages[@]}"
use_node 22

npm ci --no-audit --no-fund
npm run typecheck
npm run lint
npm test
