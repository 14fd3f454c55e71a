#!/usr/bin/env bash
# One `openssl pkcs12 -export` per client, as a shell loop does it.
# Usage: openssl_loop.sh CLIENT_DIR OUT_DIR ITERATIONS|default   (password in $BENCH_PW)
# CLIENT_DIR holds ca.pem and client-NNNN.pem / client-NNNN.key; trust.pem (the CAs the
# library adds as trusted entries) goes in with -certfile so both sides hold the same certificates.
set -euo pipefail
clients=$1 out=$2 iterations=$3
mkdir -p "$out"
iter=()
if [ "$iterations" != default ]; then iter=(-iter "$iterations"); fi
for cert in "$clients"/client-*.pem; do
    name=$(basename "$cert" .pem)
    openssl pkcs12 -export -in "$cert" -inkey "$clients/$name.key" \
        -certfile "$clients/trust.pem" -name "$name" "${iter[@]}" \
        -out "$out/$name.p12" -passout env:BENCH_PW
done
