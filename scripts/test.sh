#!/usr/bin/env bash
# Installs what is needed, builds with warnings as errors, and runs every test: unit,
# integration, fuzz (the libFuzzer targets, built with clang in <build>/fuzz and each run for
# GW_FUZZ_SECONDS) and sanitize (the integration suites against coap-gateway and onep-sim built
# with ASan+UBSan in <build>/sanitize). ctest builds the two instrumented trees itself, in the
# setup entries fuzz_build and sanitize_build, so a failure there shows in its summary.
# `scripts/test.sh -L unit` runs a subset; arguments go to ctest.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh" -DGW_WERROR=ON
cd "${GW_BUILD_DIR:-$root/build}"
ctest --output-on-failure -j "$(nproc)" "$@"
