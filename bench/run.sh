#!/usr/bin/env bash
# The gateway's benchmark scenarios P1-P5 in one run, on loopback only (bench/README.md).
#   bash bench/run.sh [--quick] [--json PATH] [--observers N] [--build-dir DIR]
# Builds the three binaries it needs if the build directory exists, then hands over to run.py.
# Not a test: it prints figures and ratios and writes them as JSON; it asserts nothing.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build="$here/../build"
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  [ "${args[$i]}" = "--build-dir" ] && build="${args[$((i + 1))]}"
done
for tool in wrk coap-server-notls coap-client-notls; do
  command -v "$tool" >/dev/null || {
    echo "bench/run.sh: $tool is missing: run scripts/install-deps.sh" >&2
    exit 2
  }
done
if [ -f "$build/build.ninja" ] || [ -f "$build/Makefile" ]; then
  cmake --build "$build" -j2 --target coap-gateway onep-sim coap-load >/dev/null
fi
exec python3 "$here/run.py" --build-dir "$build" "$@"
