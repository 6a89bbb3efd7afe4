# Sourced by scripts/test.sh and scripts/bench.sh (from the repository root).
#
# install_packages NAME...  installs the Debian packages that are missing, with
#                           apt-get (root or sudo), without starting their services.
# use_node MAJOR            puts a Node.js of at least MAJOR first on PATH: the
#                           machine's when it is recent enough, otherwise Node 24
#                           LTS from the npm registry's node-linux-<arch> package,
#                           installed once into .runtime/ (git-ignored).

install_packages() {
  local missing=() package
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
  done
  [ "${#missing[@]}" -gt 0 ] || return 0
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update
  # The tests start their own servers: keep the packages from starting system services.
  local policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    policy=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
    $sudo chmod +x "$policy"
  fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${missing[@]}"
  [ -z "$policy" ] || $sudo rm -f "$policy"
}

node_major() {
  "${1:-node}" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0
}

use_node() {
  local wanted="$1"
  if [ "$(node_major)" -ge "$wanted" ]; then
    echo "Node $(node --version) ($(command -v node))"
    return 0
  fi
  local arch
  case "$(uname -m)" in
    x86_64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) echo "no Node.js package for $(uname -m): install Node.js $wanted or newer" >&2; return 1 ;;
  esac
  local bin="$PWD/.runtime/node_modules/node-linux-$arch/bin"
  if [ "$(node_major "$bin/node")" -lt "$wanted" ]; then
    echo "the machine's Node is $(node --version 2>/dev/null || echo missing): installing Node 24 into .runtime/"
    npm install --prefix .runtime --no-save --no-package-lock --no-audit --no-fund "node-linux-$arch@24"
  fi
  export PATH="$bin:$PATH"
  echo "Node $(node --version) ($bin/node)"
}
