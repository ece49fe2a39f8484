#!/usr/bin/env bash
# Configures and builds an instrumented tree beside the main one; the setup step of the `fuzz`
# and `sanitize` CTest entries (tests/fuzz/CMakeLists.txt, tests/sanitize/CMakeLists.txt).
#   build_tree.sh SOURCE TREE CXX LAUNCHER TARGET... -- CMAKE_ARG...
# LAUNCHER is the main tree's compiler launcher (ccache) or empty. Any failure fails the entry,
# and with it every entry that needs the tree.
set -euo pipefail
src=$1 tree=$2 cxx=$3 launcher=$4
shift 4
targets=()
while (($#)) && [ "$1" != "--" ]; do targets+=("$1"); shift; done
(($#)) && shift
cmake -S "$src" -B "$tree" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER="$cxx" ${launcher:+-DCMAKE_CXX_COMPILER_LAUNCHER="$launcher"} "$@"
cmake --build "$tree" -j "$(nproc)" --target "${targets[@]}"
