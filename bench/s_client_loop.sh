#!/usr/bin/env bash
# The Stage 1 check as people script it today: one `openssl s_client` per connection.
# For each HOST:PORT in ENDPOINTS: the chain the server presents, verified against SERVER_CA,
# and the leaf's expiry (`openssl x509 -enddate`); then, for each identity, a request sent
# with that client certificate and the server's status line (200: accepted).
# Usage: s_client_loop.sh ENDPOINTS SERVER_NAME SERVER_CA G1_CERT G1_KEY G2_CERT G2_KEY
set -uo pipefail
endpoints=$1 name=$2 ca=$3
identities=("$4" "$5" "$6" "$7")
while read -r endpoint; do
    printf '%s ' "$endpoint"
    openssl s_client -connect "$endpoint" -servername "$name" -CAfile "$ca" \
        -verify_return_error </dev/null 2>/dev/null | openssl x509 -noout -enddate
    for i in 0 2; do
        printf 'GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n' "$name" |
            openssl s_client -quiet -connect "$endpoint" -servername "$name" -CAfile "$ca" -verify_return_error \
            -cert "${identities[i]}" -key "${identities[i + 1]}" 2>/dev/null | head -n 1
    done
done <"$endpoints"
