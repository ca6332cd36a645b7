#!/usr/bin/env bash
# Regenerates the TLS fixtures the golden test's fake mail servers serve (tests/integration/test_golden.py):
# root CA -> intermediate -> leaf mail.example.test, and fullchain.pem (leaf + intermediate) as the servers
# send it. The keys are throwaway test keys. Dates and serials are fixed so the golden scrape holds the exact
# timestamps; regenerating changes keys, serials and fingerprints, so run UPDATE_GOLDEN=1 afterwards.
set -euo pipefail
cd "$(dirname "$0")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
cat > "$work/ca.cnf" <<'CNF'
[ ca ]
default_ca = ca_default
[ ca_default ]
dir = WORK
database = $dir/index.txt
new_certs_dir = $dir
serial = $dir/serial
default_md = sha256
policy = policy_any
unique_subject = no
copy_extensions = none
[ policy_any ]
commonName = supplied
organizationName = optional
[ v3_ca ]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ v3_leaf ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:mail.example.test
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
CNF
sed -i "s|WORK|$work|" "$work/ca.cnf"
: > "$work/index.txt"
echo 2000 > "$work/serial"
sign() {  # sign NAME ISSUER_CRT ISSUER_KEY EXT START END SUBJECT
  openssl req -new -key "$work/$1.key" -subj "$7" -out "$work/$1.csr"
  if [[ "$2" == self ]]; then
    openssl ca -batch -notext -selfsign -config "$work/ca.cnf" -keyfile "$work/$1.key" -extensions "$4" \
      -startdate "$5" -enddate "$6" -in "$work/$1.csr" -out "$1.pem" 2>/dev/null
  else
    openssl ca -batch -notext -config "$work/ca.cnf" -cert "$2" -keyfile "$3" -extensions "$4" \
      -startdate "$5" -enddate "$6" -in "$work/$1.csr" -out "$1.pem" 2>/dev/null
  fi
}
for k in ca intermediate server; do key "$work/$k.key"; done
sign ca self "" v3_ca 20230101000000Z 21000101000000Z "/CN=Golden Test Root CA"
sign intermediate ca.pem "$work/ca.key" v3_ca 20230101000000Z 21000101000000Z "/CN=Golden Test Intermediate"
sign server intermediate.pem "$work/intermediate.key" v3_leaf 20240301120000Z 20980707070707Z \
  "/O=Mailstack Golden/CN=mail.example.test"
cp "$work/server.key" server.key
cat server.pem intermediate.pem > fullchain.pem
