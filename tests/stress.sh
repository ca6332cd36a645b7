#!/usr/bin/env bash
# Hunts tests that pass or fail by timing: runs the unit and fuzz-smoke tests
# and the integration modules over and over while a CPU hog keeps every core
# busy, and counts each test's failures. Not part of .ci/run; run it before a
# release and after any change to a test that waits for something.
#
#   tests/stress.sh [--unit N] [--integration N] [--load ARGS | --no-load] [-R REGEX] [--build DIR]
#     --unit N          passes of the unit and fuzz-smoke tests (default 30)
#     --integration N   passes of every integration module (default 5; 0 skips them)
#     --load ARGS       stress-ng arguments for the load (default "--cpu <cores>"); e.g.
#                       "--cpu 2 --hdd 1" adds disk writes, as a build running alongside does
#     --no-load         no load (to tell load-only failures from plain ones)
#     -R REGEX          only tests whose name matches (ctest -R)
#     --build DIR       build tree to use (default build; built here if needed)
#
# The default load is `stress-ng --cpu <cores>`: one busy worker per core, at
# normal priority, so every test competes for CPU with a hog on each core.
# Output: one line per pass, then a table of the tests that failed with their
# failure count; each failing pass's ctest output is kept in DIR/stress/.
# Exit status 0 only if nothing failed.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

unit_passes=30
integration_passes=5
load=1
load_args=""
regex=""
build=build
while (($#)); do
  case "$1" in
    --unit|--integration)
      [[ ${2:-} =~ ^[0-9]+$ ]] || { echo "tests/stress.sh: $1 takes a number of passes" >&2; exit 2; }
      if [[ $1 == --unit ]]; then unit_passes=$2; else integration_passes=$2; fi
      shift 2 ;;
    --load) load_args=${2:?--load takes stress-ng arguments}; shift 2 ;;
    --no-load) load=0; shift ;;
    -R) regex=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "tests/stress.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

cores=$(nproc)
[[ -n $load_args ]] || load_args="--cpu $cores"
logs=$build/stress
rm -rf "$logs"
mkdir -p "$logs"
if ! { cmake -S . -B "$build" -DMAILSTACK_BUILD_TESTS=ON && cmake --build "$build" -j"$cores"; } >"$logs/build.log" 2>&1; then
  tail -40 "$logs/build.log" >&2
  echo "tests/stress.sh: build failed (all of it in $logs/build.log)" >&2
  exit 1
fi

hog_pid=""
stop_hog() { if [[ -n $hog_pid ]]; then kill "$hog_pid" 2>/dev/null; wait "$hog_pid" 2>/dev/null; hog_pid=""; fi; }
trap stop_hog EXIT
if ((load)); then
  command -v stress-ng >/dev/null || { echo "tests/stress.sh: needs stress-ng (apt-get install stress-ng)" >&2; exit 1; }
  # --timeout: the hog ends by itself even if this script is killed before its trap runs.
  # shellcheck disable=SC2086  # the arguments are words
  stress-ng $load_args --timeout 6h --quiet &
  hog_pid=$!
  load_text="stress-ng $load_args"
else
  load_text="none"
fi

declare -A failures=()  # test name -> failed passes
declare -A ran=()       # label -> passes run
started=$(date +%s)

# pass LABEL N CTEST-ARGS...: one ctest run; failed tests are counted.
pass() {
  local label=$1 n=$2
  shift 2
  local out=$logs/$label-$n.log t0=$SECONDS
  local args=(--test-dir "$build" --output-on-failure --no-tests=error "$@")
  [[ -n $regex ]] && args+=(-R "$regex")
  ctest "${args[@]}" >"$out" 2>&1
  local rc=$? summary names
  summary=$(grep -E 'tests passed|No tests were found' "$out" | tail -1)
  # ctest lists failures as "<tab>  12 - name (Failed)" after "The following tests FAILED:".
  names=$(sed -n '/The following tests FAILED:/,$p' "$out" | sed -n 's/^[[:space:]]*[0-9]\+ - \(.*\) (.*)$/\1/p')
  printf '%-12s pass %3d  %4ds  %s\n' "$label" "$n" $((SECONDS - t0)) "${summary:-no ctest summary (see $out)}"
  # A pass that failed without naming a test (ctest error, no tests found, killed) counts as a failure too.
  if ((rc != 0)) && [[ -z $names ]]; then names="<$label: ctest exit $rc without naming a failed test>"; fi
  local name
  while IFS= read -r name; do
    [[ -z $name ]] && continue
    failures[$name]=$((${failures[$name]:-0} + 1))
    echo "    failed: $name"
  done <<<"$names"
  ((rc == 0)) && [[ -z $names ]] && rm -f "$out"
  ran[$label]=$n
}

for ((i = 1; i <= unit_passes; i++)); do pass unit+fuzz "$i" -j"$cores" -L 'unit|fuzz'; done
for ((i = 1; i <= integration_passes; i++)); do pass integration "$i" -L integration; done
stop_hog

echo
echo "stress: load $load_text; ${ran[unit+fuzz]:-0} passes of unit+fuzz, ${ran[integration]:-0} of integration;" \
  "$(( $(date +%s) - started ))s"
if ((${#failures[@]} == 0)); then
  echo "stress: no test failed"
  exit 0
fi
echo "stress: failures (test: failed passes):"
for name in "${!failures[@]}"; do echo "  $name: ${failures[$name]}"; done | sort
echo "stress: ctest output of each failing pass is in $logs/"
exit 1
