#!/usr/bin/env python3
"""Runs one test suite against the ASan+UBSan build of coap-gateway and onep-sim; the command
of a `sanitize_*` CTest entry (tests/sanitize/CMakeLists.txt).

    run_suite.py BIN_DIR LOG_DIR SCRIPT.py
    run_suite.py BIN_DIR LOG_DIR -m unittest -v test_a test_b ...

The suite finds the binaries through GW_BIN_DIR. Every sanitizer report of every process it
starts goes to a file under LOG_DIR (ASan, LSan and UBSan `log_path`), not to the process's
stderr, so a report fails the entry even when the suite itself passed: a report in a process
the suite ended with SIGKILL, or in one whose stderr the suite never reads. The entry passes
only when the suite passed and LOG_DIR stays empty."""
import os
import shutil
import subprocess
import sys

# Reports end the process (halt_on_error; the build also has -fno-sanitize-recover=all), with a
# status no test expects from the gateway (it exits 0, 1 or 2 itself). LeakSanitizer checks at
# every normal exit and uses ASan's options. (The binaries are clang's: GCC's UBSan runtime
# ignores log_path, tests/sanitize/CMakeLists.txt.)
EXIT_ON_REPORT = 86


def sanitizer_env(log_dir):
    env = dict(os.environ)
    env["ASAN_OPTIONS"] = ":".join([
        "halt_on_error=1", "detect_leaks=1", "exitcode=%d" % EXIT_ON_REPORT,
        "abort_on_error=0", "strict_init_order=1", "detect_stack_use_after_return=1",
        "log_path=" + os.path.join(log_dir, "asan")])
    env["UBSAN_OPTIONS"] = ":".join([
        "halt_on_error=1", "print_stacktrace=1", "exitcode=%d" % EXIT_ON_REPORT,
        "log_path=" + os.path.join(log_dir, "ubsan")])
    return env


def instrumented(path):
    """Whether a binary was built with ASan (so a wrong tree cannot pass for a checked one)."""
    with open(path, "rb") as f:
        return b"__asan_init" in f.read()


def check_binaries(bin_dir):
    for name in ("coap-gateway", "onep-sim"):
        path = os.path.join(bin_dir, name)
        if not os.access(path, os.X_OK):
            sys.exit("FAIL: %s is missing (the sanitize_build entry builds it)" % path)
        if not instrumented(path):
            sys.exit("FAIL: %s is not built with AddressSanitizer" % path)


def reports(log_dir):
    """The text of every non-empty report file under log_dir."""
    found = []
    for name in sorted(os.listdir(log_dir)):
        path = os.path.join(log_dir, name)
        with open(path, errors="replace") as f:
            text = f.read()
        if text.strip():
            found.append((path, text))
    return found


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    bin_dir, log_dir, script = sys.argv[1:4]
    check_binaries(bin_dir)
    shutil.rmtree(log_dir, ignore_errors=True)
    os.makedirs(log_dir)
    env = sanitizer_env(log_dir)
    env["GW_BIN_DIR"] = bin_dir
    status = subprocess.run([sys.executable, script] + sys.argv[4:], env=env).returncode
    found = reports(log_dir)
    for path, text in found:
        print("=== sanitizer report %s\n%s" % (path, text), file=sys.stderr)
    if found:
        print("FAIL: %d sanitizer report(s) in %s" % (len(found), log_dir), file=sys.stderr)
    if status != 0:
        print("FAIL: %s exited with %d" % (" ".join([os.path.basename(script)] + sys.argv[4:]),
                                            status), file=sys.stderr)
    sys.exit(1 if found or status != 0 else 0)


if __name__ == "__main__":
    main()
