#!/usr/bin/env bash
# What users do today: one `keytool -importcert` per certificate (one JVM each).
# Usage: keytool_loop.sh CERT_DIR STORE STORETYPE    (store password in $BENCH_PW)
# Each CERT_DIR/<alias>.pem is imported under <alias>.
set -euo pipefail
dir=$1 store=$2 storetype=$3
for cert in "$dir"/*.pem; do
    alias=$(basename "$cert" .pem)
    keytool -importcert -noprompt -alias "$alias" -file "$cert" \
        -keystore "$store" -storetype "$storetype" -storepass:env BENCH_PW >/dev/null
done
