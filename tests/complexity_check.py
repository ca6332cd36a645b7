#!/usr/bin/python3
"""No function in collectors/ or exporter/ above a clang-tidy cognitive complexity.

Runs, for every translation unit of collectors/ and exporter/ in the build's
compile_commands.json (configure with -DCMAKE_EXPORT_COMPILE_COMMANDS=ON, the
default of this project), exactly:

  clang-tidy -p BUILD -checks='-*,readability-function-cognitive-complexity' \
    -config="{CheckOptions: [{key: readability-function-cognitive-complexity.Threshold, value: 60}]}" FILE

(headers of collectors/ and exporter/ included) and fails listing every function
above the threshold, worst first.

usage: tests/complexity_check.py [BUILD_DIR] [--threshold N] [--jobs N]
"""
import argparse
import concurrent.futures
import json
import os
import re
import subprocess
import sys

SOURCE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WARNING = re.compile(r"^(?P<file>[^:\s]+):(?P<line>\d+):\d+: warning: function '(?P<func>[^']+)' has cognitive "
                     r"complexity of (?P<value>\d+) \(threshold (?P<threshold>\d+)\)")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("build_dir", nargs="?", default=os.path.join(SOURCE_DIR, "build"))
    ap.add_argument("--threshold", type=int, default=60)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()

    db_path = os.path.join(args.build_dir, "compile_commands.json")
    try:
        with open(db_path) as f:
            db = json.load(f)
    except OSError as e:
        sys.exit(f"complexity_check: {e}; configure with -DCMAKE_EXPORT_COMPILE_COMMANDS=ON")
    roots = tuple(os.path.join(SOURCE_DIR, d) + os.sep for d in ("collectors", "exporter"))
    files = sorted({os.path.realpath(e["file"]) for e in db if os.path.realpath(e["file"]).startswith(roots)})
    if not files:
        sys.exit(f"complexity_check: no collectors/ or exporter/ sources in {db_path}")
    config = ("{CheckOptions: [{key: readability-function-cognitive-complexity.Threshold, value: %d}]}" %
              args.threshold)
    header_filter = "^(%s)" % "|".join(re.escape(r) for r in roots)

    def tidy(path):
        proc = subprocess.run(["clang-tidy", "-p", args.build_dir, "-quiet",
                               "-checks=-*,readability-function-cognitive-complexity", "-config=" + config,
                               "-header-filter=" + header_filter, path],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        return path, proc.returncode, proc.stdout

    found = {}
    errors = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for path, rc, out in pool.map(tidy, files):
            for line in out.splitlines():
                m = WARNING.match(line)
                if m:
                    where = "%s:%s" % (os.path.relpath(m["file"], SOURCE_DIR), m["line"])
                    found[(where, m["func"])] = int(m["value"])
            if rc != 0:
                errors.append("%s: clang-tidy exited %d\n%s" % (os.path.relpath(path, SOURCE_DIR), rc, out))
    for e in errors:
        print(e)
    if found:
        print("functions above cognitive complexity %d:" % args.threshold)
        for (where, func), value in sorted(found.items(), key=lambda kv: -kv[1]):
            print("  %4d  %s  %s" % (value, func, where))
    print("complexity_check: %d translation units, %d functions above %d" % (len(files), len(found), args.threshold))
    return 1 if found or errors else 0


if __name__ == "__main__":
    sys.exit(main())
