#!/usr/bin/env bash
# The whole test suite: installs what the tests need (Debian packages), builds,
# and runs unit tests, fuzz smoke tests, promtool rule tests and the
# integration suite against the real mail stack and a real Prometheus.
# Then the unit tests and fuzz smoke again under ASan+UBSan, and each fuzz
# target under libFuzzer for a short while.
#   MAILSTACK_SKIP_SANITIZE=1  skip the sanitizer and libFuzzer passes
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/install-deps.sh --test

jobs=$(nproc)
fuzzers=(config duration flags showq queue_file mail_reply spf dkim dmarc)   # tests/fuzz/<name>_fuzz.cc
cmake -S . -B build -DMAILSTACK_BUILD_TESTS=ON >/dev/null
cmake --build build -j"$jobs"
ctest --test-dir build --output-on-failure -j"$jobs"

if [[ "${MAILSTACK_SKIP_SANITIZE:-0}" != 1 ]]; then
  cmake -S . -B build-asan -DMAILSTACK_BUILD_TESTS=ON -DMAILSTACK_SANITIZE=ON >/dev/null
  cmake --build build-asan -j"$jobs" --target mailstack_unit_tests "${fuzzers[@]/%/_fuzz}"
  ASAN_OPTIONS=detect_leaks=1 ctest --test-dir build-asan --output-on-failure -j"$jobs" -L 'unit|fuzz'

  CC=clang CXX=clang++ cmake -S . -B build-fuzz -DMAILSTACK_BUILD_TESTS=ON -DMAILSTACK_LIBFUZZER=ON >/dev/null
  cmake --build build-fuzz -j"$jobs" --target "${fuzzers[@]/%/_fuzz}"
  for t in "${fuzzers[@]}"; do
    work=$(mktemp -d)
    cp tests/fuzz/corpus/$t/* "$work"/
    echo "libFuzzer: $t for 20s"
    ./build-fuzz/tests/fuzz/${t}_fuzz -max_total_time=20 -max_len=4096 -print_final_stats=0 "$work" \
      2>build-fuzz/${t}_fuzz.log || { tail -50 build-fuzz/${t}_fuzz.log; exit 1; }
    grep -E '^Done [0-9]+ runs' build-fuzz/${t}_fuzz.log || true
    rm -rf "$work"
  done
fi
