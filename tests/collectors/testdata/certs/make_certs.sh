#!/usr/bin/env bash
# Regenerates the certificate fixtures of tests/collectors/tls/certificates_collector_test.cc:
# root CA -> intermediate -> leaf (valid until 2099), an expired leaf (2001), a self-signed cert, and a
# bundle (leaf + intermediate) as Let's Encrypt's fullchain.pem is. Dates are fixed so the tests can
# assert exact timestamps. EC P-256 keys keep the files small.
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
echo 1000 > "$work/serial"
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
for k in root intermediate leaf expired self; do key "$work/$k.key"; done
sign root self "" v3_ca 20200101000000Z 21000101000000Z "/CN=Test Root CA"
sign intermediate root.pem "$work/root.key" v3_ca 20200101000000Z 21000101000000Z "/CN=Test Intermediate"
sign leaf intermediate.pem "$work/intermediate.key" v3_leaf 20240102030405Z 20990605040302Z "/O=Mailstack/CN=mail.example.test"
sign expired intermediate.pem "$work/intermediate.key" v3_leaf 20000101000000Z 20010101000000Z "/CN=old.example.test"
sign self self "" v3_leaf 20200101000000Z 21000101000000Z "/CN=selfsigned.example.test"
cat leaf.pem intermediate.pem > fullchain.pem
echo "not a certificate" > garbage.pem
rm -f expired.pem.tmp
