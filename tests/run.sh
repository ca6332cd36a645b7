#!/usr/bin/env bash
# The whole test suite: installs what the tests need (Debian packages), builds,
# and runs unit tests, fuzz smoke tests, promtool rule tests and the
# integration suite against the real mail stack and a real Prometheus.
# Then the unit tests and fuzz smoke again under ASan+UBSan, and each fuzz
# target under libFuzzer for a short while.
# Every stage runs even when an earlier one failed, except what needs a build
# that failed (and nothing runs without the dependencies); failing tests print
# their output as they fail, and the end names each stage that failed.
#   MAILSTACK_SKIP_SANITIZE=1  skip the sanitizer and libFuzzer passes
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

failed=()
# stage NAME COMMAND...: runs one stage; a failure is remembered, not fatal.
stage() {
  local name=$1
  shift
  echo "== tests/run.sh: $name" >&2
  if "$@"; then return 0; fi
  echo "== tests/run.sh: stage failed: $name" >&2
  failed+=("$name")
  return 1
}

stage "install test dependencies" bash deploy/install-deps.sh --test || exit 1

jobs=$(nproc)
# The one list of fuzz targets is MAILSTACK_FUZZ_TARGETS in tests/fuzz/CMakeLists.txt (one line).
read -ra fuzzers < <(sed -n 's/^set(MAILSTACK_FUZZ_TARGETS[[:space:]]\(.*\))[[:space:]]*$/\1/p' tests/fuzz/CMakeLists.txt)
((${#fuzzers[@]})) || { echo "tests/run.sh: no fuzz targets found in tests/fuzz/CMakeLists.txt" >&2; exit 1; }

build() {
  cmake -S . -B build -DMAILSTACK_BUILD_TESTS=ON >/dev/null && cmake --build build -j"$jobs"
}
if stage "build" build; then
  stage "ctest (unit, fuzz smoke, static, integration)" ctest --test-dir build --output-on-failure -j"$jobs"
fi

libfuzzer() {
  local t work rc=0
  for t in "${fuzzers[@]}"; do
    work=$(mktemp -d)
    if ! cp tests/fuzz/corpus/"$t"/* "$work"/; then
      echo "libFuzzer: $t: no corpus in tests/fuzz/corpus/$t" >&2
      rc=1
      rm -rf "$work"
      continue
    fi
    echo "libFuzzer: $t for 20s"
    if ./build-fuzz/tests/fuzz/"${t}"_fuzz -max_total_time=20 -max_len=4096 -print_final_stats=0 "$work" \
        2>build-fuzz/"${t}"_fuzz.log; then
      grep -E '^Done [0-9]+ runs' build-fuzz/"${t}"_fuzz.log || true
    else
      echo "libFuzzer: $t failed:" >&2
      tail -50 build-fuzz/"${t}"_fuzz.log >&2
      rc=1
    fi
    rm -rf "$work"
  done
  return "$rc"
}

if [[ "${MAILSTACK_SKIP_SANITIZE:-0}" != 1 ]]; then
  build_asan() {
    cmake -S . -B build-asan -DMAILSTACK_BUILD_TESTS=ON -DMAILSTACK_SANITIZE=ON >/dev/null &&
      cmake --build build-asan -j"$jobs" --target mailstack_unit_tests "${fuzzers[@]/%/_fuzz}"
  }
  if stage "ASan+UBSan build" build_asan; then
    stage "ASan+UBSan ctest (unit, fuzz smoke)" \
      env ASAN_OPTIONS=detect_leaks=1 ctest --test-dir build-asan --output-on-failure -j"$jobs" -L 'unit|fuzz'
  fi

  build_fuzz() {
    CC=clang CXX=clang++ cmake -S . -B build-fuzz -DMAILSTACK_BUILD_TESTS=ON -DMAILSTACK_LIBFUZZER=ON >/dev/null &&
      cmake --build build-fuzz -j"$jobs" --target "${fuzzers[@]/%/_fuzz}"
  }
  if stage "libFuzzer build" build_fuzz; then
    stage "libFuzzer (20 s a target)" libfuzzer
  fi
fi

if ((${#failed[@]})); then
  echo "tests/run.sh: FAILED stages:" >&2
  printf '  - %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "tests/run.sh: all stages passed" >&2
