"""Regression test: the gateway refuses a port another socket holds, exiting cleanly.

An early exit tears down what start-up had already made (workers, upstream clients, their
io_contexts); the use-after-free at exit fixed in e3a1eeb showed only under ASan. Started with a CoAP port (UDP) and then with
a metrics port (TCP) already bound by this test, it must exit with status 1 and say "cannot
listen". Run through run_suite.py, which also fails on any sanitizer report it leaves."""
import os
import socket
import subprocess
import tempfile
import unittest

BIN_DIR = os.environ.get("GW_BIN_DIR", os.path.join(os.path.dirname(__file__), "../../build/bin"))


class TakenPort(unittest.TestCase):
    def run_gateway(self, config):
        with tempfile.TemporaryDirectory(prefix="gw-taken-") as d:
            path = os.path.join(d, "gateway.yaml")
            with open(path, "w") as f:
                f.write(config)
            # Bounded: a gateway that started anyway would run until the timeout fails the test.
            return subprocess.run([os.path.join(BIN_DIR, "coap-gateway"), "--config", path],
                                  capture_output=True, timeout=60, stdin=subprocess.DEVNULL)

    def assert_refused(self, r):
        err = r.stderr.decode(errors="replace")
        self.assertEqual(r.returncode, 1, "exit status; stderr:\n" + err)
        self.assertIn("cannot listen", err)

    def test_coap_port_taken(self):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
            taken.bind(("127.0.0.1", 0))
            port = taken.getsockname()[1]
            self.assert_refused(self.run_gateway(
                'workers: 2\ncoap:\n  listen: ["127.0.0.1:%d"]\n'
                'upstream:\n  url: "http://127.0.0.1:9"\n' % port))

    def test_second_coap_port_taken(self):
        # The first address binds, the second does not: what was opened must be closed again.
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
            taken.bind(("127.0.0.1", 0))
            port = taken.getsockname()[1]
            self.assert_refused(self.run_gateway(
                'workers: 2\ncoap:\n  listen: ["127.0.0.1:0", "127.0.0.1:%d"]\n'
                'upstream:\n  url: "http://127.0.0.1:9"\n' % port))

    def test_metrics_port_taken(self):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            self.assert_refused(self.run_gateway(
                'workers: 2\ncoap:\n  listen: ["127.0.0.1:0"]\n'
                'upstream:\n  url: "http://127.0.0.1:9"\n'
                'metrics:\n  listen: "127.0.0.1:%d"\n' % port))


if __name__ == "__main__":
    unittest.main(verbosity=2)
