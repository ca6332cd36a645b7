#!/usr/bin/env bash
# Regenerates the DKIM fixtures of the golden test (tests/integration/test_golden.py), whose fake DNS server
# publishes the keys:
#   mail.txt                 RSA 2048, opendkim-genkey's record format (key_file of selector mail; published)
#   ed.pub.pem               ed25519 public key, PEM (key_file of selector ed; published)
#   rotated-published.pub.pem  RSA 1024 public key published for selector rotated
#   rotated.private          RSA 1024 private key, PEM: key_file of selector rotated, NOT the published one
# Throwaway test keys. Regenerating changes the golden scrape only where it shows key sizes (it does not
# show keys), but run UPDATE_GOLDEN=1 afterwards all the same.
set -euo pipefail
cd "$(dirname "$0")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
b64() { openssl pkey -pubin -in "$1" -outform DER | base64 -w0; }
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$work/mail.key" 2>/dev/null
openssl pkey -in "$work/mail.key" -pubout -out "$work/mail.pub"
p=$(b64 "$work/mail.pub")
# As opendkim-genkey writes it: the record in zone-file syntax, p= split into quoted strings.
{
  printf 'mail._domainkey\tIN\tTXT\t( "v=DKIM1; h=sha256; k=rsa; "\n\t  "p=%s"\n' "${p:0:200}"
  printf '\t  "%s" )  ; ----- DKIM key mail for example.test\n' "${p:200}"
} > mail.txt
openssl genpkey -algorithm ED25519 -out "$work/ed.key" 2>/dev/null
openssl pkey -in "$work/ed.key" -pubout -out ed.pub.pem
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out "$work/old.key" 2>/dev/null
openssl pkey -in "$work/old.key" -pubout -out rotated-published.pub.pem
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out rotated.private 2>/dev/null
chmod 644 rotated.private
