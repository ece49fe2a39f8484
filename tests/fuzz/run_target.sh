#!/usr/bin/env bash
# Runs one libFuzzer target for a bounded time; the command of a `fuzz_*` CTest entry.
#   run_target.sh BINARY SEED_CORPUS WORK_DIR LIBFUZZER_ARG...
# New inputs go to WORK_DIR/corpus (the seeds in the source tree are only read), a crashing,
# leaking or slow input to WORK_DIR/<kind>-<sha1>. libFuzzer exits non-zero on a crash, an
# ASan/UBSan/LSan report, a timeout or running out of memory, and so does this.
set -euo pipefail
binary=$1 seeds=$2 work=$3
shift 3
if [ ! -x "$binary" ]; then
  echo "FAIL: fuzz target $binary is missing (the fuzz_build entry builds it)" >&2
  exit 1
fi
if [ ! -d "$seeds" ] || [ -z "$(ls -A "$seeds")" ]; then
  echo "FAIL: seed corpus $seeds is missing or empty" >&2
  exit 1
fi
rm -rf "$work"
mkdir -p "$work/corpus"
# halt_on_error: the first report ends the run; UBSan is already non-recoverable (-fno-sanitize-recover).
export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:${UBSAN_OPTIONS:-}"
# file:line in reports (Debian's llvm-14 keeps the symbolizer off PATH).
if [ -z "${ASAN_SYMBOLIZER_PATH:-}" ] && [ -x /usr/lib/llvm-14/bin/llvm-symbolizer ]; then
  export ASAN_SYMBOLIZER_PATH=/usr/lib/llvm-14/bin/llvm-symbolizer
fi
status=0
"$binary" -detect_leaks=1 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$work/" "$@" "$work/corpus" "$seeds" || status=$?
if ((status != 0)); then
  echo "FAIL: $(basename "$binary") exited with $status; reproducer(s):" >&2
  ls "$work" | grep -v '^corpus$' | sed "s|^|  $work/|" >&2 || true
fi
exit "$status"
