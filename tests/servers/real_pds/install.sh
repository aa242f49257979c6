#!/usr/bin/env bash
# Installs the Bluesky reference PDS (@atproto/pds), a PLC directory (@did-plc/server) and a Node 22 runtime
# (the `node` package) from the npm registry into BEFFROI_PDS_HOME (default ~/.cache/beffroi-pds), outside the
# repo, for tests/test_integration_bluesky.py. Idempotent: does nothing when that folder already holds what
# package.json asks for. better-sqlite3 is compiled for the Node 22 runtime with that runtime's own headers
# (its prebuilt binaries would come from outside the registries).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
home="${BEFFROI_PDS_HOME:-$HOME/.cache/beffroi-pds}"
stamp="$home/.installed"
wanted="$(cat "$here/package.json")"

if [[ -f "$stamp" && "$(cat "$stamp")" == "$wanted" ]] && [[ -x "$home/node_modules/.bin/node" ]]; then
    exit 0
fi
command -v npm >/dev/null || { echo "npm is not installed" >&2; exit 1; }
mkdir -p "$home"
rm -f "$stamp"
cp "$here/package.json" "$home/package.json"
cd "$home"
# The node package's preinstall puts the runtime (with its headers) in node_modules/node/node_modules/node-<os>-<cpu>
# before better-sqlite3's install script compiles against the headers named here.
headers="$home/node_modules/node/node_modules/node-linux-$(uname -m | sed 's/x86_64/x64/;s/aarch64/arm64/')"
node22="$home/node_modules/.bin/node"
install() { npm_config_nodedir="$headers" npm install --no-audit --no-fund --loglevel=error >/dev/null; }
sqlite_loads() { "$node22" -e "new (require('better-sqlite3'))(':memory:')" 2>/dev/null; }
install
if ! sqlite_loads; then
    if [[ ! -d "$headers/include/node" ]]; then  # a later npm install prunes what that preinstall added
        rm -rf "$home/node_modules/node"
        install
    fi
    [[ -d "$headers/include/node" ]] || { echo "the node package gave no Node headers" >&2; exit 1; }
    PATH="$home/node_modules/.bin:$PATH" npm_config_nodedir="$headers" \
        npm rebuild better-sqlite3 --loglevel=error >/dev/null
    sqlite_loads || { echo "better-sqlite3 does not load in $("$node22" --version)" >&2; exit 1; }
fi
[[ "$("$node22" --version)" == v22.* ]] || { echo "the node package gave no Node 22 runtime" >&2; exit 1; }
printf '%s' "$wanted" > "$stamp"
