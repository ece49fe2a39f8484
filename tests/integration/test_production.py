"""Running the gateway as a service: systemd notifications, reload on SIGHUP, graceful stop with
a slow upstream call in flight, and the Prometheus metrics endpoint."""
import os
import signal
import socket
import tempfile
import time
import unittest
import urllib.request

import coap
from gwproc import Gateway
from simproc import DEMO_CIK, SimProcess


class NotifySocket:
    """A test-owned sd_notify socket (AF_UNIX datagrams), as systemd provides NOTIFY_SOCKET."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="notify-")
        self.path = os.path.join(self.dir, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)

    def expect(self, prefix, timeout=15):
        """Messages up to and including the first that starts with `prefix`."""
        seen = []
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no %r notification; got %r" % (prefix, seen))
            self.sock.settimeout(left)
            msg = self.sock.recv(4096).decode()
            seen.append(msg)
            if msg.startswith(prefix):
                return seen

    def close(self):
        self.sock.close()
        os.unlink(self.path)
        os.rmdir(self.dir)


def scrape(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.status, r.read().decode()


def metric(text, name, labels=""):
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + (("{" + labels) if labels else "")) and not line.startswith("#"):
            head = line.rsplit(" ", 1)[0]
            if labels or head == name or head.startswith(name + "{"):
                total += float(line.rsplit(" ", 1)[1])
    return total


class Production(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = SimProcess()

    @classmethod
    def tearDownClass(cls):
        cls.sim.close()

    def setUp(self):
        self.sim.clear_faults()

    def gateway(self, **kw):
        gw = Gateway(self.sim.url, **kw)
        self.addCleanup(gw.close)
        return gw

    def ask(self, gw, method, path, queries=(), payload=b""):
        c = coap.Client(gw.host, gw.port)
        try:
            return c.exchange(coap.request(method, path, queries, payload))
        finally:
            c.close()

    def test_sd_notify_ready_reloading_watchdog_stopping(self):
        notify = NotifySocket()
        self.addCleanup(notify.close)
        gw = self.gateway(env={"NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "200000"})
        seen = notify.expect("READY=1")
        self.assertEqual(seen[-1], "READY=1")
        notify.expect("WATCHDOG=1")  # every WATCHDOG_USEC / 2
        gw.proc.send_signal(signal.SIGHUP)
        seen = notify.expect("RELOADING=1")
        self.assertIn("MONOTONIC_USEC=", seen[-1])
        notify.expect("READY=1")
        gw.proc.send_signal(signal.SIGTERM)
        notify.expect("STOPPING=1")
        self.assertEqual(gw.proc.wait(30), 0)

    def test_reload_applies_a_new_log_level_and_refuses_a_broken_file(self):
        gw = self.gateway()
        base = gw.config_text()
        self.assertIn("level: debug", base)
        gw.rewrite_config(base.replace("level: debug", "level: info\n  access: true"))
        gw.proc.send_signal(signal.SIGHUP)
        gw.wait_for_log("configuration reloaded")
        self.assertEqual(coap.code_str(self.ask(gw, coap.GET, "/1a/temp", [DEMO_CIK]).code), "2.05")
        gw.wait_for_log("access: 127.0.0.1:")
        self.assertIn("cik=a32c", gw.log())
        self.assertNotIn(DEMO_CIK, gw.log())  # never a CIK in clear

        gw.rewrite_config(base + "coap:\n  bogus: 1\n")
        gw.proc.send_signal(signal.SIGHUP)
        gw.wait_for_log("reload refused")
        # The old configuration keeps serving.
        self.assertEqual(coap.code_str(self.ask(gw, coap.GET, "/ts").code), "2.05")

        gw.rewrite_config(base.replace("workers: 1", "workers: 2"))
        gw.proc.send_signal(signal.SIGHUP)
        gw.wait_for_log("workers changed: takes effect after a restart")

    def test_network_bytes_in_log_lines_are_escaped(self):
        # A dataport whose alias holds a newline that would forge a log line and an ESC sequence
        # that would clear an operator's terminal; observing it logs the alias (debug level).
        evil = "evil\ninfo gateway: forged\x1b[2J"
        state = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False)
        self.addCleanup(os.unlink, state.name)
        state.write('devices:\n  - vendor: demo\n    model: gateway\n    sn: "0001"\n'
                    '    cik: %s\n    dataports:\n      "evil\\ninfo gateway: forged\\e[2J": "1"\n'
                    % DEMO_CIK)
        state.close()
        sim = SimProcess(state=state.name)
        self.addCleanup(sim.close)
        gw = Gateway(sim.url)
        self.addCleanup(gw.close)
        gw.rewrite_config(gw.config_text().replace("level: debug", "level: debug\n  access: true"))
        gw.proc.send_signal(signal.SIGHUP)
        gw.wait_for_log("configuration reloaded")

        c = coap.Client(gw.host, gw.port)
        self.addCleanup(c.close)
        token = b"evil"
        r = c.exchange(coap.request(coap.GET, "/1a/" + evil, [DEMO_CIK], token=token,
                                    options=[(coap.OPT_OBSERVE, b"")]))
        self.assertEqual(coap.code_str(r.code), "2.05")
        self.assertEqual(r.payload, b"1")
        escaped = "evil\\x0ainfo gateway: forged\\x1b[2J"
        gw.wait_for_log("long-poll started for a32c\u2026 " + escaped)
        gw.wait_for_log("info access: ")

        raw = open(gw.stderr_path, "rb").read()
        self.assertNotIn(b"\x1b", raw)  # no ESC reaches a terminal
        lines = raw.decode().splitlines()
        self.assertFalse([l for l in lines if l.startswith("info gateway: forged")], lines)
        # Exactly one access line for the one request, and each line a whole log line.
        self.assertEqual(len([l for l in lines if l.startswith("info access: ")]), 1, lines)
        for line in lines:
            self.assertRegex(line, r"^(trace|debug|info|warn|error) [a-z]+: ")

    def test_reload_with_new_pool_settings_drops_nothing_in_flight(self):
        gw = self.gateway(coap_extra="  separate_response_after: 200ms\n")
        base = gw.config_text()
        self.sim.fault(match="/onep:v1/stack/alias", delay_ms=1000, times=1)
        c = coap.Client(gw.host, gw.port)
        self.addCleanup(c.close)
        req = coap.request(coap.POST, "/1a/humidity", [DEMO_CIK], b"across-reload")
        c.send(req)
        self.assertEqual(c.receive().type, coap.ACK)  # the empty ACK: the call is in flight
        gw.rewrite_config(base.replace("upstream:\n", "upstream:\n  connections: 3\n  timeout: 20s\n"))
        gw.proc.send_signal(signal.SIGHUP)
        gw.wait_for_log("configuration reloaded")
        self.assertNotIn("upstream.connections changed", gw.log())  # applied live
        answer = c.receive(timeout=15)
        self.assertEqual(coap.code_str(answer.code), "2.04")
        c.send(coap.Message(coap.ACK, 0, answer.mid))
        # And the new pool serves what comes next.
        self.assertEqual(coap.code_str(self.ask(gw, coap.GET, "/1a/humidity", [DEMO_CIK]).code),
                         "2.05")

    def test_sigterm_lets_a_slow_call_finish_and_exits_zero(self):
        gw = self.gateway(coap_extra="  separate_response_after: 200ms\n",
                          config_extra="shutdown:\n  grace: 10s\n")
        self.sim.fault(match="/onep:v1/stack/alias", delay_ms=1500, times=1)
        c = coap.Client(gw.host, gw.port)
        self.addCleanup(c.close)
        req = coap.request(coap.POST, "/1a/humidity", [DEMO_CIK], b"during-stop")
        c.send(req)
        ack = c.receive()
        self.assertEqual((ack.type, ack.code), (coap.ACK, 0))  # the write is under way upstream
        gw.proc.send_signal(signal.SIGTERM)
        gw.wait_for_log("draining")
        # A new request during the drain is turned away, to be retried elsewhere.
        late = coap.Client(gw.host, gw.port)
        self.addCleanup(late.close)
        r = late.exchange(coap.request(coap.GET, "/ts"))
        self.assertEqual(coap.code_str(r.code), "5.03")
        self.assertIsNotNone(r.opt(coap.OPT_MAX_AGE))
        answer = c.receive(timeout=15)
        self.assertEqual(coap.code_str(answer.code), "2.04")
        c.send(coap.Message(coap.ACK, 0, answer.mid))
        self.assertEqual(gw.proc.wait(30), 0)
        self.assertEqual(self.sim.dataport(DEMO_CIK, "humidity")["values"][-1][1], "during-stop")

    def test_metrics_move_with_traffic(self):
        gw = self.gateway(metrics=True)
        base = gw.metrics_url.rsplit("/", 1)[0]
        self.assertEqual(scrape(base + "/healthz")[0], 200)
        self.assertEqual(scrape(base + "/readyz")[0], 200)
        _, before = scrape(gw.metrics_url)
        self.assertIn("# TYPE coap_gateway_requests_total counter", before)
        for _ in range(3):
            self.assertEqual(coap.code_str(self.ask(gw, coap.GET, "/1a/temp", [DEMO_CIK]).code),
                             "2.05")
        self.ask(gw, coap.GET, "/no/such")
        c = coap.Client(gw.host, gw.port)
        self.addCleanup(c.close)
        c.send_raw(b"\x49\x01\x00\x01" + b"123456789")  # malformed CON: RST
        self.assertEqual(c.receive().type, coap.RST)
        # The worker publishes its counters after it sends what a batch produced, so the RST can
        # arrive before /metrics counts it: wait (bounded) for the last event to show.
        deadline = time.monotonic() + 10
        while True:
            _, after = scrape(gw.metrics_url)
            if (metric(after, "coap_gateway_malformed_total") >
                    metric(before, "coap_gateway_malformed_total") or
                    time.monotonic() > deadline):
                break
            time.sleep(0.02)  # polling /metrics against a deadline
        self.assertEqual(metric(after, "coap_gateway_requests_total",
                                'procedure="read",code="2.05"') -
                         metric(before, "coap_gateway_requests_total",
                                'procedure="read",code="2.05"'), 3)
        self.assertGreaterEqual(metric(after, "coap_gateway_requests_total",
                                       'procedure="none",code="4.04"'), 1)
        self.assertGreater(metric(after, "coap_gateway_upstream_requests_total"),
                           metric(before, "coap_gateway_upstream_requests_total"))
        self.assertGreater(metric(after, "coap_gateway_malformed_total"),
                           metric(before, "coap_gateway_malformed_total"))
        self.assertGreater(metric(after, "coap_gateway_request_duration_seconds_count"),
                           metric(before, "coap_gateway_request_duration_seconds_count"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
