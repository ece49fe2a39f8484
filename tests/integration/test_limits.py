"""Fair limits in two tiers (issue #13) through the real gateway and onep-sim: each limit is
attacked from many source ports of 127.0.0.2 while a well-behaved client on 127.0.0.3 is still
served, and the state the attack held is freed in bounded time (watched on /metrics, no sleeps).
The IPv6 /64 grouping is covered by the core's unit tests (tests/unit/core/source_limits_test.cpp)."""
import socket
import time
import unittest

import coap
from gwproc import Gateway
from simproc import DEMO_CIK, SimProcess

ATTACKER = "127.0.0.2"
GOOD = "127.0.0.3"

# Short transmission parameters so that MAX_TRANSMIT_SPAN (a Block1 transfer stuck at block 0)
# and MAX_TRANSMIT_WAIT (an observer that never ACKs) pass within seconds: 1 s x 3 x 1.5.
COAP = """  ack_timeout: 1s
  max_retransmit: 2
  separate_response_after: 500ms
  amplification_factor: 3
"""

LIMITS = """limits:
  per_source:
    in_flight: %(src_in_flight)d
    safe_requests: %(src_safe)d
    rate: %(src_rate)d
    burst: %(src_burst)d
  per_address:
    block1_transfers: 4
    observers: 4
    in_flight: %(addr_in_flight)d
    safe_requests: %(addr_safe)d
    rate: %(addr_rate)d
    burst: %(addr_burst)d
"""

DEFAULTS = dict(src_in_flight=2, src_safe=1000, src_rate=1000, src_burst=1000,
                addr_in_flight=4, addr_safe=1000, addr_rate=100000, addr_burst=100000)


class Socket(coap.Client):
    """A coap.Client bound to one local address (a port of its own)."""

    def __init__(self, host, port, local):
        super().__init__(host, port)
        self.sock.bind((local, 0))


def response(sock, timeout=5.0):
    """The next response on `sock`, past empty ACKs (a slow answer comes separately); a CON
    response is not acknowledged: an attacker never does."""
    deadline = time.monotonic() + timeout
    while True:
        m = sock.receive(max(0.0, deadline - time.monotonic()))
        if m is None or m.code != 0:
            return m


def wait_until(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("not within %ss: %s" % (timeout, what))
        time.sleep(0.05)  # polling /metrics with a deadline, not waiting for a fixed time


# Upstream admission (runner/upstream_admission.hpp): a lane of 2 connections + 6 queued is a
# capacity of 8; one address may hold max(4, 8/8) = 4 and safe requests stop at 8 - 8/8 = 7.
# The endpoint's own in-flight tiers are raised out of the way.
SMALL_UPSTREAM = "  connections: 2\n  queue: 6\n"


class LimitsCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = SimProcess()

    @classmethod
    def tearDownClass(cls):
        cls.sim.close()

    def setUp(self):
        self.sim.reset()
        self.sim.clear_faults()

    def start(self, **limits):
        values = dict(DEFAULTS, **limits)
        gw = Gateway(self.sim.url, coap_extra=COAP, config_extra=LIMITS % values, metrics=True)
        self.addCleanup(gw.close)
        return gw

    def sockets(self, gw, local, n):
        out = [Socket(gw.host, gw.port, local) for _ in range(n)]
        for s in out:
            self.addCleanup(s.close)
        return out

    def limited(self, gw, limit, tier="address"):
        import urllib.request
        with urllib.request.urlopen(gw.metrics_url, timeout=10) as r:
            text = r.read().decode()
        needle = 'coap_gateway_limited_total{limit="%s",tier="%s"} ' % (limit, tier)
        for line in text.splitlines():
            if line.startswith(needle):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    def wait_limited(self, gw, limit, count, tier="address"):
        """The worker publishes its counters after sending what a batch produced, so a client
        can see an answer before /metrics counts it: wait (bounded) for the count, then check
        that it is exact."""
        wait_until(lambda: self.limited(gw, limit, tier) >= count, 10,
                   "%s refusals (%s tier) counted" % (limit, tier))
        self.assertEqual(self.limited(gw, limit, tier), count)

    def good_read(self, gw, alias="temp"):
        c = self.sockets(gw, GOOD, 1)[0]
        started = time.monotonic()
        r = c.exchange(coap.request(coap.GET, "/1a/" + alias, [DEMO_CIK]), timeout=10)
        return r, time.monotonic() - started

    def test_block1_transfers_per_address(self):
        gw = self.start()
        attackers = self.sockets(gw, ATTACKER, 40)
        block0 = lambda: coap.request(coap.POST, "/1a/temp", [DEMO_CIK], payload=b"1" * 16,
                                      options=[(coap.OPT_BLOCK1, bytes([0x08]))])  # NUM 0, M, 16
        for s in attackers:
            s.send(block0())
        codes = [response(s) for s in attackers]
        started = sum(1 for m in codes if m is not None and m.code == coap.code(2, 31))
        refused = [m for m in codes if m is not None and m.code == coap.code(5, 3)]
        self.assertEqual(started, 4)
        self.assertEqual(len(refused), 36)
        self.assertTrue(all(m.opt_uint(coap.OPT_MAX_AGE) for m in refused))
        self.wait_limited(gw, "block1", 36)
        # The well-behaved client on another address uploads a whole body in two blocks.
        good = self.sockets(gw, GOOD, 1)[0]
        first = good.exchange(coap.request(coap.POST, "/1a/temp", [DEMO_CIK], payload=b"2" * 16,
                                           options=[(coap.OPT_BLOCK1, bytes([0x08]))]))
        self.assertEqual(first.code, coap.code(2, 31))
        last = good.exchange(coap.request(coap.POST, "/1a/temp", [DEMO_CIK], payload=b"5",
                                          options=[(coap.OPT_BLOCK1, bytes([0x10]))]))  # NUM 1
        self.assertEqual(last.code, coap.code(2, 4))
        # The attack's transfers never went past block 0: gone after MAX_TRANSMIT_SPAN (4.5 s).
        wait_until(lambda: gw.metric("coap_gateway_block_transfers_active") == 0, 15,
                   "Block1 transfers stuck at block 0 freed")

    def test_observe_relations_per_address(self):
        gw = self.start(addr_in_flight=1000)  # the registrations run at once
        attackers = self.sockets(gw, ATTACKER, 12)
        for s in attackers:
            s.send(coap.request(coap.GET, "/1a/humidity", [DEMO_CIK],
                                options=[(coap.OPT_OBSERVE, b"")]))
        answers = [response(s) for s in attackers]
        self.assertTrue(all(m is not None and m.code == coap.code(2, 5) for m in answers),
                        [m and coap.code_str(m.code) for m in answers])
        observed = sum(1 for m in answers if m.opt(coap.OPT_OBSERVE) is not None)
        self.assertEqual(observed, 4)
        self.wait_limited(gw, "observe", 8)
        good = self.sockets(gw, GOOD, 1)[0]
        token = coap.os_token()
        r = good.exchange(coap.request(coap.GET, "/1a/humidity", [DEMO_CIK], token=token,
                                       options=[(coap.OPT_OBSERVE, b"")]))
        self.assertIsNotNone(r.opt(coap.OPT_OBSERVE))
        r = good.exchange(coap.request(coap.GET, "/1a/humidity", [DEMO_CIK], token=token,
                                       options=[(coap.OPT_OBSERVE, b"\x01")]))
        self.assertEqual(r.code, coap.code(2, 5))
        # A new value goes to the attack's observers as CON notifications nobody ACKs: each
        # relation ends at MAX_RETRANSMIT (RFC 7641 §4.5), within MAX_TRANSMIT_WAIT.
        w = good.exchange(coap.request(coap.POST, "/1a/humidity", [DEMO_CIK], payload=b"77"))
        self.assertEqual(w.code, coap.code(2, 4))
        wait_until(lambda: gw.metric("coap_gateway_observations_active") == 0, 30,
                   "unacknowledged observers removed")

    def test_requests_in_flight_per_address(self):
        gw = self.start(src_in_flight=2, addr_in_flight=4)
        self.sim.fault(match="/onep:v1/stack/alias?humidity", delay_ms=3000)
        attackers = self.sockets(gw, ATTACKER, 40)
        for s in attackers:
            s.send(coap.request(coap.GET, "/1a/humidity", [DEMO_CIK]))
        # The 36 beyond the address's 4 are refused at once with 5.03 and Max-Age.
        wait_until(lambda: self.limited(gw, "in_flight") >= 36, 10, "in-flight refusals")
        self.assertEqual(self.limited(gw, "in_flight"), 36)
        self.assertLessEqual(gw.metric("coap_gateway_requests_in_flight"), 4)
        # Another address's read is not queued behind the slow calls.
        r, took = self.good_read(gw)
        self.assertEqual(r.code, coap.code(2, 5))
        self.assertLess(took, 2.0)
        wait_until(lambda: gw.metric("coap_gateway_requests_in_flight") == 0, 15,
                   "slow calls answered")

    def test_running_gets_per_address(self):
        gw = self.start(src_in_flight=1000, addr_in_flight=1000, src_safe=1, addr_safe=3)
        self.sim.fault(match="/onep:v1/stack/alias?humidity", delay_ms=3000)
        attackers = self.sockets(gw, ATTACKER, 20)
        for s in attackers:
            s.send(coap.request(coap.GET, "/1a/humidity", [DEMO_CIK]))
        wait_until(lambda: self.limited(gw, "safe_dedup") >= 17, 10, "safe dedup refusals")
        self.assertEqual(gw.metric("coap_gateway_safe_requests_running"), 3)
        r, took = self.good_read(gw)
        self.assertEqual(r.code, coap.code(2, 5))
        self.assertLess(took, 2.0)
        wait_until(lambda: gw.metric("coap_gateway_safe_requests_running") == 0, 15,
                   "running GETs answered")

    def test_token_bucket_drops_unverified_and_answers_verified_with_4_29(self):
        gw = self.start(src_rate=2, src_burst=3)
        # Unverified: the requests beyond the burst get nothing at all (no reflection).
        s = self.sockets(gw, ATTACKER, 1)[0]
        for mid in range(10):
            s.send(coap.request(coap.GET, "/ts", mid=mid))
        answers = []
        while True:
            m = s.receive(1.0)
            if m is None:
                break
            answers.append(m)
        self.assertLessEqual(len(answers), 3)
        self.assertTrue(all(m.code != coap.code(4, 29) for m in answers))
        self.wait_limited(gw, "rate_dropped", 7, "source")
        # Verified: it ACKs a CON of the gateway's (a separate response to a slow /ts).
        v = self.sockets(gw, ATTACKER, 1)[0]
        self.sim.fault(match="/timestamp", delay_ms=1200, times=1)
        r = v.exchange(coap.request(coap.GET, "/ts"), timeout=10)
        self.assertEqual(r.type, coap.CON)  # separate: exchange() ACKed it
        self.assertEqual(r.code, coap.code(2, 5))
        codes = [v.exchange(coap.request(coap.GET, "/ts"), timeout=5) for _ in range(6)]
        too_many = [m for m in codes if m is not None and m.code == coap.code(4, 29)]
        self.assertTrue(too_many, [m and coap.code_str(m.code) for m in codes])
        self.assertTrue(all(m.opt_uint(coap.OPT_MAX_AGE) >= 1 for m in too_many))
        self.wait_limited(gw, "rate_answered", len(too_many), "source")
        # Another address is served meanwhile.
        good = self.sockets(gw, GOOD, 1)[0]
        self.assertEqual(good.exchange(coap.request(coap.GET, "/ts")).code, coap.code(2, 5))

    def test_token_bucket_per_address_across_ports(self):
        gw = self.start(addr_rate=1, addr_burst=10)
        attackers = self.sockets(gw, ATTACKER, 30)
        for s in attackers:
            s.send(coap.request(coap.GET, "/ts"))
        wait_until(lambda: self.limited(gw, "rate_dropped", "address") >= 20, 10,
                   "per-address bucket drops")
        good = self.sockets(gw, GOOD, 1)[0]
        self.assertEqual(good.exchange(coap.request(coap.GET, "/ts")).code, coap.code(2, 5))

    def test_per_cik_write_limit(self):
        gw = Gateway(self.sim.url, coap_extra=COAP, metrics=True,
                     config_extra="limits:\n  per_cik:\n    writes: 1\n")
        self.addCleanup(gw.close)
        c = self.sockets(gw, GOOD, 1)[0]
        write = lambda v: c.exchange(coap.request(coap.POST, "/1a/temp", [DEMO_CIK],
                                                  payload=v.encode()))
        self.assertEqual(write("30").code, coap.code(2, 4))
        refused = write("31")
        self.assertEqual(refused.code, coap.code(4, 29))
        self.assertGreaterEqual(refused.opt_uint(coap.OPT_MAX_AGE), 1)
        values = [v for _, v in self.sim.dataport(DEMO_CIK, "temp")["values"]]
        self.assertIn("30", values)
        self.assertNotIn("31", values)  # refused before any upstream call

    def start_small(self):
        values = dict(DEFAULTS, src_in_flight=1000, addr_in_flight=1000)
        gw = Gateway(self.sim.url, coap_extra=COAP, upstream_extra=SMALL_UPSTREAM,
                     config_extra=LIMITS % values, metrics=True)
        self.addCleanup(gw.close)
        return gw

    def shed(self, gw, reason):
        import urllib.request
        with urllib.request.urlopen(gw.metrics_url, timeout=10) as r:
            text = r.read().decode()
        needle = 'coap_gateway_upstream_shed_total{reason="%s"} ' % reason
        for line in text.splitlines():
            if line.startswith(needle):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    def flood(self, gw, local, n):
        """n slow reads from n ports of `local`, not waited for."""
        attackers = self.sockets(gw, local, n)
        for s in attackers:
            s.send(coap.request(coap.GET, "/1a/humidity", [DEMO_CIK]))
        return attackers

    def test_one_address_holds_its_share_and_others_are_served(self):
        gw = self.start_small()
        self.sim.fault(match="/onep:v1/stack/alias?humidity", delay_ms=1500)
        self.flood(gw, ATTACKER, 20)
        # 4 go upstream; the other 16 are answered 5.03 at once, before they reach the pool.
        wait_until(lambda: self.shed(gw, "source_share") >= 16, 10, "reads over the share shed")
        self.assertEqual(self.shed(gw, "source_share"), 16)
        # Without the share the attack would have filled the pool's queue and this write would
        # be refused. It waits behind at most 4 slow calls on 2 connections.
        good = self.sockets(gw, GOOD, 1)[0]
        w = good.exchange(coap.request(coap.POST, "/1a/temp", [DEMO_CIK], payload=b"41"),
                          timeout=10)
        self.assertIsNotNone(w)
        self.assertEqual(w.code, coap.code(2, 4))
        self.assertIn("41", [v for _, v in self.sim.dataport(DEMO_CIK, "temp")["values"]])
        r, _ = self.good_read(gw)
        self.assertEqual(r.code, coap.code(2, 5))
        self.assertEqual(self.shed(gw, "safe_shed"), 0)
        wait_until(lambda: gw.metric("coap_gateway_requests_in_flight") == 0, 15,
                   "slow calls answered")

    def test_reads_are_shed_before_writes_and_a_refused_write_is_never_run(self):
        gw = self.start_small()
        self.sim.fault(match="/onep:v1/stack/alias?humidity", delay_ms=1500)
        # Two addresses at their share of 4 each: the 8th read is over the safe limit of 7.
        self.flood(gw, ATTACKER, 4)
        wait_until(lambda: gw.metric("coap_gateway_requests_in_flight") >= 4, 10,
                   "first address's reads upstream")
        self.flood(gw, "127.0.0.4", 4)
        wait_until(lambda: self.shed(gw, "safe_shed") >= 1, 10, "a read shed by the reserve")
        self.assertEqual(self.shed(gw, "safe_shed"), 1)
        # The reserve still takes one write; the next one finds the lane full.
        good = self.sockets(gw, GOOD, 1)[0]
        good.send(coap.request(coap.POST, "/1a/temp", [DEMO_CIK], payload=b"51"))
        wait_until(lambda: gw.metric("coap_gateway_requests_in_flight") >= 8, 10,
                   "the reserved write upstream")
        other = self.sockets(gw, "127.0.0.5", 1)[0]
        refused_write = coap.request(coap.POST, "/1a/temp", [DEMO_CIK], payload=b"52")
        r = other.exchange(refused_write, timeout=5)
        self.assertEqual(r.code, coap.code(5, 3))
        self.assertGreaterEqual(r.opt_uint(coap.OPT_MAX_AGE), 1)
        self.assertEqual(self.shed(gw, "full"), 1)
        # Once the lane is free, a retransmission of the refused write (same MID) gets the
        # 5.03 again from the dedup cache: it is never run late.
        wait_until(lambda: gw.metric("coap_gateway_requests_in_flight") == 0, 15,
                   "slow calls answered")
        again = other.exchange(refused_write, timeout=5)
        self.assertEqual(again.code, coap.code(5, 3))
        self.assertEqual(self.shed(gw, "full"), 1)  # not admitted, not even asked again
        values = [v for _, v in self.sim.dataport(DEMO_CIK, "temp")["values"]]
        self.assertIn("51", values)
        self.assertNotIn("52", values)
        # A new write (a new MID) goes through.
        w = other.exchange(coap.request(coap.POST, "/1a/temp", [DEMO_CIK], payload=b"53"))
        self.assertEqual(w.code, coap.code(2, 4))


if __name__ == "__main__":
    unittest.main()
