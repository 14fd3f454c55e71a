#!/usr/bin/env bash
# A supplier's runbook for the prod G1+G2 job, as openssl + keytool commands.
#
# Usage: runbook.sh NHS_BUNDLE EXTRA_CA CLIENT_CERT CLIENT_KEY OUT_DIR   (password in $BENCH_PW)
#
# Writes what `truststore-builder build --env prod --cert ... --key ... --add EXTRA_CA` writes:
# truststore.pem/.p12/.jks, keystore.p12/.jks (key entry + chain + the CAs as trusted
# entries), client-chain.pem and client-key.pem.
set -euo pipefail
bundle=$1 extra_ca=$2 cert=$3 key=$4 out=$5
mkdir -p "$out/cas"
store=(-storepass:env BENCH_PW -noprompt)

# 1. Split the downloaded CA bundle (and the extra CA) into one file per certificate.
cat "$bundle" "$extra_ca" | awk -v dir="$out/cas" '
    /-----BEGIN CERTIFICATE-----/ { n++; file = sprintf("%s/ca-%02d.pem", dir, n) }
    file { print > file }
    /-----END CERTIFICATE-----/ { close(file); file = "" }'

# 2. The PEM trust store, and a check that the client certificate chains to it.
cat "$out"/cas/ca-*.pem > "$out/truststore.pem"
openssl verify -CAfile "$out/truststore.pem" "$cert" >/dev/null

# 3. The JKS and PKCS#12 trust stores: one keytool -importcert per CA, per store.
for ca in "$out"/cas/ca-*.pem; do
    alias=$(basename "$ca" .pem)
    keytool -importcert -alias "$alias" -file "$ca" -keystore "$out/truststore.jks" \
        -storetype JKS "${store[@]}" >/dev/null
    keytool -importcert -alias "$alias" -file "$ca" -keystore "$out/truststore.p12" \
        -storetype PKCS12 "${store[@]}" >/dev/null
done

# 4. The PKCS#12 key store from the key and certificate, with its chain.
openssl pkcs12 -export -in "$cert" -inkey "$key" -certfile "$extra_ca" -name client \
    -out "$out/keystore.p12" -passout env:BENCH_PW

# 5. The JKS key store, converted from the PKCS#12 one.
keytool -importkeystore -srckeystore "$out/keystore.p12" -srcstoretype PKCS12 \
    -srcstorepass:env BENCH_PW -destkeystore "$out/keystore.jks" -deststoretype JKS \
    -deststorepass:env BENCH_PW -noprompt >/dev/null 2>&1

# 6. The CAs into both key stores, as trusted entries.
for ca in "$out"/cas/ca-*.pem; do
    alias=$(basename "$ca" .pem)
    keytool -importcert -alias "$alias" -file "$ca" -keystore "$out/keystore.p12" \
        -storetype PKCS12 "${store[@]}" >/dev/null
    keytool -importcert -alias "$alias" -file "$ca" -keystore "$out/keystore.jks" \
        -storetype JKS "${store[@]}" >/dev/null
done

# 7. The client's PEM files.
cat "$cert" "$extra_ca" > "$out/client-chain.pem"
install -m 600 "$key" "$out/client-key.pem"
