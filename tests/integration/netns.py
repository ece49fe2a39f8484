"""Runs a test script again inside a network namespace of its own (`unshare --net`, as root),
for tests that need what a shared machine cannot give them: addresses of their own on the
loopback, or sysctls such as the ephemeral port range. Nothing leaves the namespace. Where one
cannot be made, the script prints why and passes as skipped.

    if __name__ == "__main__":
        netns.main(configure)   # configure() runs inside, before the tests
"""
import os
import subprocess
import sys
import unittest

INSIDE = "GW_TEST_IN_NETNS"


def main(configure):
    if os.environ.get(INSIDE):
        configure()
        unittest.main(module="__main__")
        return
    if os.geteuid() != 0:
        print("skipped: making a network namespace needs root")
        return
    probe = subprocess.run(["unshare", "--net", "true"], capture_output=True)
    if probe.returncode != 0:
        print("skipped: this machine cannot make a network namespace: %s"
              % probe.stderr.decode(errors="replace").strip())
        return
    env = dict(os.environ, **{INSIDE: "1"})
    sys.exit(subprocess.run(["unshare", "--net", sys.executable] + sys.argv, env=env).returncode)
