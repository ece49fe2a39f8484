"""Liveness: a worker whose loop stops turning makes /healthz answer 503 and withholds the systemd
watchdog pings (so systemd restarts the service); both come back when the loop turns again.

The worker is stopped through the test-only stall hook (app/stall_hook.hpp): with
COAP_GATEWAY_TEST_HOOKS=1, SIGUSR2 blocks worker 0's thread and the next SIGUSR2 releases it.
Without the variable the hook is not installed at all."""
import signal
import socket
import time
import unittest
import urllib.error
import urllib.request

import coap
from gwproc import Gateway
from simproc import DEMO_CIK, SimProcess
from test_production import NotifySocket

# Pings every WATCHDOG_USEC / 2 = 300 ms; a worker is stalled after 1 s without a heartbeat
# (the heartbeat comes every 500 ms). max_stall stays below WatchdogSec (600 ms * 2 = 1.2 s),
# as the gateway wants.
WATCHDOG_USEC = 1200000
MAX_STALL = "1s"
HOOKS = {"COAP_GATEWAY_TEST_HOOKS": "1"}


def healthz(gw):
    url = gw.metrics_url.replace("/metrics", "/healthz")
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def wait_until(predicate, timeout, what):
    """Polls `predicate` until true; fails the test at the deadline."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("not within %ss: %s" % (timeout, what))
        time.sleep(0.02)


class Liveness(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = SimProcess()

    @classmethod
    def tearDownClass(cls):
        cls.sim.close()

    def gateway(self, env, workers=2):
        gw = Gateway(self.sim.url, workers=workers, metrics=True, env=env,
                     config_extra="watchdog:\n  max_stall: %s\n" % MAX_STALL)
        self.addCleanup(gw.close)
        return gw

    def drain(self, notify):
        """The notifications already sent, without waiting."""
        got = []
        notify.sock.setblocking(False)
        try:
            while True:
                got.append(notify.sock.recv(4096).decode())
        except BlockingIOError:
            pass
        finally:
            notify.sock.setblocking(True)
        return got

    def pings_within(self, notify, seconds):
        """The WATCHDOG=1 notifications that arrive within `seconds`."""
        pings = 0
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return pings
            notify.sock.settimeout(left)
            try:
                pings += notify.sock.recv(4096).decode() == "WATCHDOG=1"
            except socket.timeout:
                return pings

    def test_a_stuck_worker_stops_the_watchdog_pings_and_fails_healthz(self):
        notify = NotifySocket()
        self.addCleanup(notify.close)
        gw = self.gateway(dict(HOOKS, NOTIFY_SOCKET=notify.path, WATCHDOG_USEC=str(WATCHDOG_USEC)))
        notify.expect("READY=1")
        notify.expect("WATCHDOG=1")
        self.assertEqual(healthz(gw), 200)
        self.assertGreaterEqual(self.pings_within(notify, 1.5), 2)  # healthy: every 600 ms

        gw.proc.send_signal(signal.SIGUSR2)  # worker 0 stops turning
        wait_until(lambda: healthz(gw) == 503, 10, "/healthz reports the stuck worker")
        gw.wait_for_log("worker 0 stuck for more than 1000 ms")
        # Every check from here on sees the stall: whatever was sent before is stale.
        self.drain(notify)
        self.assertEqual(self.pings_within(notify, 2.0), 0, "pings went on with a worker stuck")
        self.assertEqual(healthz(gw), 503)

        gw.proc.send_signal(signal.SIGUSR2)  # released: the loop turns again
        notify.expect("WATCHDOG=1", timeout=10)
        wait_until(lambda: healthz(gw) == 200, 10, "/healthz recovers")
        gw.wait_for_log("every worker is running again")

        # The released worker serves again, and the gateway still stops cleanly.
        for _ in range(8):  # clients on both workers (the kernel hashes each client's port)
            c = coap.Client(gw.host, gw.port)
            self.addCleanup(c.close)
            r = c.exchange(coap.request(coap.GET, "/1a/temp", [DEMO_CIK]))
            self.assertEqual(coap.code_str(r.code), "2.05")
        self.assertEqual(gw.stop(), 0)

    def test_sigterm_while_a_worker_is_stuck_still_stops(self):
        gw = self.gateway(HOOKS, workers=1)
        gw.proc.send_signal(signal.SIGUSR2)
        wait_until(lambda: healthz(gw) == 503, 10, "/healthz reports the stuck worker")
        self.assertEqual(gw.stop(timeout=20), 0)

    def test_without_the_variable_there_is_no_hook(self):
        gw = self.gateway({"COAP_GATEWAY_TEST_HOOKS": ""}, workers=1)
        self.assertEqual(healthz(gw), 200)
        # No handler installed: SIGUSR2 keeps its default action and ends the process.
        gw.proc.send_signal(signal.SIGUSR2)
        self.assertEqual(gw.proc.wait(10), -signal.SIGUSR2)
        self.assertNotIn("test hook", gw.log())


if __name__ == "__main__":
    unittest.main()
