#!/bin/sh
# Builds dist/native/weft-dns-udp.node, the UDP fast path of `weft dns` (recvmmsg/sendmmsg, a
# Node-API addon: dns/native/weft-dns-udp.c). Without a C compiler or Node's headers it skips with
# a message and removes any old build: `weft dns` then serves UDP with node:dgram, so installing
# weft never fails on this.
set -e
out=dist/native/weft-dns-udp.node
mkdir -p dist/native
skip() {
  rm -f "$out"
  echo "weft: skipping $out (native UDP path of weft dns): $1. weft dns will use node:dgram." >&2
  exit 0
}
command -v cc >/dev/null 2>&1 || skip "no C compiler; apt-get install -y gcc libc6-dev"
# Node's headers (node_api.h, uv.h): beside this node (official tarballs and Debian/NodeSource
# packages install them in PREFIX/include/node), then node-gyp's cache for this version.
prefix=$(dirname "$(dirname "$(node -p process.execPath 2>/dev/null || echo /usr/bin/node)")")
version=$(node -p 'process.versions.node' 2>/dev/null || echo unknown)
inc=""
for d in "$prefix/include/node" /usr/include/node /usr/local/include/node "${HOME:-/root}/.cache/node-gyp/$version/include/node"; do
  if [ -f "$d/node_api.h" ] && [ -f "$d/uv.h" ]; then inc=$d; break; fi
done
[ -n "$inc" ] || skip "no Node.js headers (node_api.h, uv.h) for node $version; install the nodejs headers (e.g. npx node-gyp install)"
cc -O2 -Wall -Wextra -shared -fPIC -I"$inc" -o "$out" dns/native/weft-dns-udp.c || skip "the compiler failed (see above)"
