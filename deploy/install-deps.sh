#!/usr/bin/env bash
# Installs the Debian 12 packages mailstack_exporter needs.
#   deploy/install-deps.sh          build dependencies only
#   deploy/install-deps.sh --test   also everything the test suite runs against:
#                                   the real mail stack, Prometheus, promtool,
#                                   Alertmanager, the peer exporter for benchmarks,
#                                   clang for libFuzzer.
set -euo pipefail

build_pkgs=(
  build-essential cmake pkg-config git
  prometheus-cpp-dev libcivetweb-dev libyaml-cpp-dev libssl-dev libc-ares-dev libsystemd-dev
  # prometheus-cpp's CMake config always looks for zlib and curl (push is on in Debian's build)
  zlib1g-dev libcurl4-openssl-dev
  libgtest-dev libgmock-dev libbenchmark-dev
)
test_pkgs=(
  python3 curl openssl procps iproute2
  postfix dovecot-imapd dovecot-pop3d opendkim opendkim-tools nsd bind9-dnsutils swaks
  dbus-daemon util-linux systemd
  dovecot-managesieved dovecot-sieve
  prometheus prometheus-alertmanager prometheus-postfix-exporter prometheus-blackbox-exporter
  clang libclang-rt-14-dev
  stress-ng   # tests/stress.sh: the CPU load it runs the tests under
  clang-format   # the clang_format_check test
  clang-tidy   # the cognitive-complexity check
  python3-spf   # its OpenSPF RFC 7208 test suite, fed to the SPF evaluator
  dovecot-lmtpd   # the logs and roundtrip tests deliver over LMTP into Dovecot
  rsyslog   # the logs test reads Debian's traditional mail.log written by a real rsyslog
  systemd-journal-remote   # writes real journal files for the journal source's tests
)

pkgs=("${build_pkgs[@]}")
if [[ "${1:-}" == "--test" ]]; then
  pkgs+=("${test_pkgs[@]}")
  # Postfix asks a debconf question; the suite writes its own config.
  echo 'postfix postfix/main_mailer_type select No configuration' | debconf-set-selections
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # Packaged daemons must not autostart (they would take the test ports).
  policy_rc=/usr/sbin/policy-rc.d
  created_policy=0
  if [[ ! -e $policy_rc ]]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy_rc"
    chmod +x "$policy_rc"
    created_policy=1
  fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if ((created_policy)); then rm -f "$policy_rc"; fi
fi
