#!/usr/bin/env sh
# Runs a command on Node.js 22.13+ (the floor: `node:sqlite` without a flag; Azure runs the app on Node 22).
#
#   scripts/node22.sh npm ci        # any command, with Node 22 first on PATH
#   scripts/node22.sh               # only prints the folder holding that `node` (for PATH)
#
# When the machine's `node` is already 22.13 or newer it is used as is. Otherwise the Node.js binary that the
# npm registry ships as the package `node-linux-<arch>` (the one the `node` package installs) is fetched once,
# with npm's integrity check, into `.tools/` (git-ignored), and its version is verified. Running it again
# fetches nothing.
set -eu

NODE22_VERSION=22.23.5 # the newest 22.x; bump to take a later one
MIN_MAJOR=22
MIN_MINOR=13

root=$(cd "$(dirname "$0")/.." && pwd)

recent_enough() { # $1 = a version like v22.13.0
  major=$(echo "$1" | sed -n 's/^v\([0-9]*\)\..*/\1/p')
  minor=$(echo "$1" | sed -n 's/^v[0-9]*\.\([0-9]*\)\..*/\1/p')
  [ -n "$major" ] && [ -n "$minor" ] || return 1
  [ "$major" -gt "$MIN_MAJOR" ] || { [ "$major" -eq "$MIN_MAJOR" ] && [ "$minor" -ge "$MIN_MINOR" ]; }
}

bin_dir=
if command -v node >/dev/null 2>&1 && recent_enough "$(node --version)"; then
  bin_dir=$(dirname "$(command -v node)")
else
  case "$(uname -s)" in
    Linux) os=linux ;; # the registry's darwin packages stop before the newest 22.x: use your own Node there
    *) echo "node22.sh: no Node.js package for $(uname -s); install Node.js $MIN_MAJOR.$MIN_MINOR+ yourself" >&2; exit 1 ;;
  esac
  case "$(uname -m)" in
    x86_64 | amd64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) echo "node22.sh: no Node.js package for $(uname -m); install Node.js $MIN_MAJOR.$MIN_MINOR+ yourself" >&2; exit 1 ;;
  esac
  dir="$root/.tools/node-v$NODE22_VERSION-$os-$arch"
  if [ "$("$dir/bin/node" --version 2>/dev/null || true)" != "v$NODE22_VERSION" ]; then
    echo "node22.sh: fetching Node.js $NODE22_VERSION (npm package node-$os-$arch) into .tools/" >&2
    tmp="$root/.tools/.download-$$"
    rm -rf "$tmp" "$dir"
    mkdir -p "$tmp"
    trap 'rm -rf "$tmp"' EXIT
    (cd "$tmp" && npm pack --silent "node-$os-$arch@$NODE22_VERSION" >/dev/null)
    mkdir -p "$tmp/x"
    tar -xzf "$tmp"/node-"$os-$arch"-*.tgz -C "$tmp/x"
    mv "$tmp/x/package" "$dir"
    rm -rf "$tmp"
    trap - EXIT
    got=$("$dir/bin/node" --version 2>/dev/null || echo none)
    if [ "$got" != "v$NODE22_VERSION" ]; then
      echo "node22.sh: the fetched node reports $got, expected v$NODE22_VERSION" >&2
      rm -rf "$dir"
      exit 1
    fi
  fi
  bin_dir="$dir/bin"
fi

if [ "$#" -eq 0 ]; then
  echo "$bin_dir"
  exit 0
fi
PATH="$bin_dir:$PATH"
export PATH
exec "$@"
