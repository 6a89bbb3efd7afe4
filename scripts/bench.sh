#!/usr/bin/env bash
# `npm run bench`: installs what the benchmark starts when it is missing
# (PostgreSQL, Redis, nginx with the headers-more module the shipped config
# needs, wrk) with apt-get, takes Node 24 (scripts/setup.sh), builds, and runs
# bench/run.ts, which measures the compiled gatehouse on that Node.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

install_packages postgresql redis-server nginx libnginx-mod-http-headers-more-filter wrk
use_node 24
[ -d node_modules ] || npm ci --no-audit --no-fund
npm run build
exec node --import tsx bench/run.ts "$@"
