#!/usr/bin/env bash
# Quick start: install build dependencies, build, and run mailstack_exporter
# on :10587 (with the embedded default config unless
# /etc/mailstack_exporter/config.yml exists). Extra arguments go to the exporter.
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DMAILSTACK_BUILD_TESTS=OFF >/dev/null
cmake --build build -j"$(nproc)" --target mailstack_exporter
exec ./build/mailstack_exporter "$@"
