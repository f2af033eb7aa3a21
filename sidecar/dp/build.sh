#!/bin/sh
# Builds dist/bin/weft-tlsd, the sidecar's native TLS data path (OpenSSL). Without the OpenSSL
# headers it skips with a message and removes any old binary: the sidecar then serves every
# container with node:tls, so installing weft never fails on this.
set -e
out=dist/bin/weft-tlsd
mkdir -p dist/bin
if ! command -v cc >/dev/null 2>&1; then
  rm -f "$out"
  echo "weft: skipping $out (native TLS data path): no C compiler; apt-get install -y gcc libc6-dev libssl-dev. The sidecar will use node:tls." >&2
  exit 0
fi
if ! printf '#include <openssl/ssl.h>\nint main(void){return SSL_library_init() == 0;}\n' | cc -x c -o /dev/null - -lssl -lcrypto >/dev/null 2>&1; then
  rm -f "$out"
  echo "weft: skipping $out (native TLS data path): no OpenSSL development files; apt-get install -y libssl-dev. The sidecar will use node:tls." >&2
  exit 0
fi
cc -O2 -Wall -Wextra -o "$out" sidecar/dp/weft-tlsd.c -lssl -lcrypto
