#!/usr/bin/env python3
"""The per-address tier groups IPv6 sources by /64 (issue #13), seen from real sockets: many
addresses of one /64 share one allowance, while a client of another /64 is served.

IPv6 loopback has a single address, so the test runs itself again in a network namespace of
its own (`unshare --net`, as root) whose loopback it gives the addresses it needs; nothing
leaves that namespace. Skipped, with the reason, where a namespace cannot be made."""
import subprocess
import unittest

import coap
import netns
from gwproc import Gateway
from simproc import DEMO_CIK, SimProcess
from test_limits import COAP, DEFAULTS, LIMITS, Socket, response, wait_until

GATEWAY = "fd00::1"
# Twelve addresses of the gateway's /64 (fd00::/64), each a host of its own.
ATTACKERS = ["fd00::%x" % (0x10 + i) for i in range(12)]
GOOD = "fd00:0:0:1::5"  # another /64


def configure_namespace():
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    for address, prefix in [(GATEWAY, 64)] + [(a, 64) for a in ATTACKERS] + [(GOOD, 64)]:
        # nodad: usable at once (duplicate address detection would hold it "tentative").
        subprocess.run(["ip", "-6", "addr", "add", "%s/%d" % (address, prefix), "dev", "lo",
                        "nodad"], check=True)


class PerSlash64(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = SimProcess()

    @classmethod
    def tearDownClass(cls):
        cls.sim.close()

    def test_observe_relations_per_slash_64(self):
        gw = Gateway(self.sim.url, listen=("[%s]:0" % GATEWAY,), coap_extra=COAP,
                     config_extra=LIMITS % dict(DEFAULTS, addr_in_flight=1000), metrics=True)
        self.addCleanup(gw.close)
        attackers = [Socket(gw.host, gw.port, a) for a in ATTACKERS]
        for s in attackers:
            self.addCleanup(s.close)
            s.send(coap.request(coap.GET, "/1a/humidity", [DEMO_CIK],
                                options=[(coap.OPT_OBSERVE, b"")]))
        answers = [response(s) for s in attackers]
        self.assertTrue(all(m is not None and m.code == coap.code(2, 5) for m in answers),
                        [m and coap.code_str(m.code) for m in answers])
        # Twelve hosts, one /64: they share the per-address allowance of 4 relations.
        observed = sum(1 for m in answers if m.opt(coap.OPT_OBSERVE) is not None)
        self.assertEqual(observed, 4)
        good = Socket(gw.host, gw.port, GOOD)
        self.addCleanup(good.close)
        r = good.exchange(coap.request(coap.GET, "/1a/humidity", [DEMO_CIK],
                                       options=[(coap.OPT_OBSERVE, b"")]))
        self.assertEqual(r.code, coap.code(2, 5))
        self.assertIsNotNone(r.opt(coap.OPT_OBSERVE), "another /64 was refused")
        wait_until(lambda: gw.metric("coap_gateway_observations_active") == 5, 10,
                   "five relations in /metrics")


if __name__ == "__main__":
    netns.main(configure_namespace)
