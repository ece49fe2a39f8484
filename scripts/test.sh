#!/usr/bin/env bash
# Installs what is needed, builds with warnings as errors, and runs every test (unit and
# integration). `scripts/test.sh -L unit` runs a subset; arguments go to ctest.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh" -DGW_WERROR=ON
cd "${GW_BUILD_DIR:-$root/build}"
ctest --output-on-failure -j "$(nproc)" "$@"
