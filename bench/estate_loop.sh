#!/usr/bin/env bash
# What people script today to see when an estate's certificates expire: `keytool -list -rfc`
# per PKCS#12 or JKS store (one JVM each), then `openssl x509 -enddate` per certificate.
# Usage: estate_loop.sh STORE_DIR    (store password in $BENCH_PW; prints one notAfter= line each)
set -euo pipefail
dir=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for store in "$dir"/*; do
    case "$store" in
        *.pem) cat "$store" ;;
        *.p12) keytool -list -rfc -keystore "$store" -storetype PKCS12 -storepass:env BENCH_PW ;;
        *.jks) keytool -list -rfc -keystore "$store" -storetype JKS -storepass:env BENCH_PW ;;
    esac | awk -v dir="$tmp" '
        /-----BEGIN CERTIFICATE-----/ { n++; out = sprintf("%s/cert-%04d.pem", dir, n) }
        out { print > out }
        /-----END CERTIFICATE-----/ { close(out); out = "" }'
    for cert in "$tmp"/cert-*.pem; do
        [ -e "$cert" ] || continue
        echo "$store: $(openssl x509 -enddate -noout -in "$cert")"
    done
    rm -f "$tmp"/cert-*.pem
done
