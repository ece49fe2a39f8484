"""Observed Read (RFC 7641) through the real gateway, bridged to onep-sim's long-polls: raw
observers and libcoap's coap-client -s."""
import os
import select
import subprocess
import time
import unittest

import coap
from gwproc import Gateway, coap_client_command
from simproc import DEMO_CIK, SimProcess, demo_state

ALIASES = ("reg", "hundred", "unacked", "reset", "between", "libcoap", "revoked", "plain",
           "non", "libcoap-non")
FORM = {"X-Exosite-CIK": DEMO_CIK, "Content-Type": "application/x-www-form-urlencoded"}


class Observer(coap.Client):
    def register(self, alias="humidity", observe=b"", token=None, mtype=coap.CON):
        self.token = token or coap.os_token()
        req = coap.request(coap.GET, "/1a/" + alias, [DEMO_CIK], token=self.token, mtype=mtype,
                           options=[(coap.OPT_OBSERVE, observe)])
        return self.exchange(req)

    def deregister(self, alias="humidity"):
        req = coap.request(coap.GET, "/1a/" + alias, [DEMO_CIK], token=self.token,
                           options=[(coap.OPT_OBSERVE, b"\x01")])
        return self.exchange(req)

    def plain_request(self, method, path, queries=(), timeout=10.0):
        """A request without Observe carrying the observation's token: its answer, passing over
        (and acknowledging) notifications, which carry the same token."""
        req = coap.request(method, path, queries, token=self.token)
        self.send(req)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = self.receive(deadline - time.monotonic())
            if m is None:
                return None
            if m.type == coap.CON:
                self.send(coap.Message(coap.ACK, 0, m.mid))
            if m.token != self.token or m.code == 0 or m.opt(coap.OPT_OBSERVE) is not None:
                continue
            return m
        return None

    def next_notification(self, timeout=10.0, ack=True, skip=b"initial", any_token=False):
        """The next notification for our token (for any token with any_token, so that a test
        can assert the token itself). The long-poll starts one second back (upstream
        timestamps have one-second resolution), so the value current at registration may come
        once more; `skip` passes over it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = self.receive(deadline - time.monotonic())
            if m is None:
                return None
            if m.token != self.token and not any_token:
                continue
            skipped = skip is not None and m.payload == skip
            if (ack or skipped) and m.type == coap.CON:
                self.send(coap.Message(coap.ACK, 0, m.mid))
            if skipped:
                continue
            return m
        return None


def next_second():
    """Upstream timestamps have one-second resolution and writes to one dataport faster than
    once a second are undefined upstream: a test that writes twice waits for the next second."""
    now = time.time()
    time.sleep(max(0.0, int(now) + 1 - now))


class Observe(unittest.TestCase):
    upstream_extra = ""

    @classmethod
    def setUpClass(cls):
        cls.state = demo_state(ALIASES)
        cls.sim = SimProcess(state=cls.state)
        cls.gw = Gateway(cls.sim.url, coap_extra="  ack_timeout: 300ms\n  separate_response_after: 200ms\n  max_retransmit: 2\n",
                         config_extra="observe:\n  poll_timeout: 2s\n", metrics=True)

    @classmethod
    def tearDownClass(cls):
        cls.gw.close()
        cls.sim.close()
        os.unlink(cls.state)

    def observer(self):
        o = Observer(self.gw.host, self.gw.port)
        self.addCleanup(o.close)
        return o

    def longpolls(self, alias):
        return self.sim.stats()["longpolls_by_target"].get("/onep:v1/stack/alias?" + alias, 0)

    def wait_longpolls(self, n, alias):
        # Counted per dataport: another test's poll, closing at its own pace, cannot interfere.
        self.sim.wait_for(lambda: self.longpolls(alias) == n, timeout=15)

    def write_through_gateway(self, value, alias="humidity"):
        c = coap.Client(self.gw.host, self.gw.port)
        try:
            r = c.exchange(coap.request(coap.POST, "/1a/" + alias, [DEMO_CIK], value.encode()))
            self.assertEqual(coap.code_str(r.code), "2.04")
        finally:
            c.close()

    def write_on_sim(self, value, alias="humidity"):
        status, _, _ = self.sim.request("POST", "/onep:v1/stack/alias", "%s=%s" % (alias, value), FORM)
        self.assertEqual(status, 204)

    def test_registration_answers_value_with_observe(self):
        o = self.observer()
        for encoding in (b"", b"\x00"):  # Observe 0 as zero bytes and as one byte
            r = o.register(alias="reg", observe=encoding)
            self.assertEqual(coap.code_str(r.code), "2.05")
            self.assertIsNotNone(r.opt(coap.OPT_OBSERVE))
            self.assertEqual(r.opt(coap.OPT_MAX_AGE), bytes([120]))
            self.wait_longpolls(1, "reg")
            o.deregister(alias="reg")  # Observe 1 with the same token ends the relation
            self.wait_longpolls(0, "reg")

    def test_hundred_observers_one_longpoll_every_write_reaches_all(self):
        observers = [self.observer() for _ in range(100)]
        latest = {}  # observer -> Observe value of its registration, then of its last notification
        for o in observers:
            r = o.register(alias="hundred")
            self.assertEqual(coap.code_str(r.code), "2.05")
            self.assertIsNotNone(r.opt(coap.OPT_OBSERVE))
            latest[o] = r.opt_uint(coap.OPT_OBSERVE)  # zero bytes: 0
        self.wait_longpolls(1, "hundred")
        self.assertEqual(self.longpolls("hundred"), 1)  # one long-poll, not 100

        for value, write in (("gw-1", self.write_through_gateway), ("sim-2", self.write_on_sim)):
            write(value, alias="hundred")
            for i, o in enumerate(observers):
                n = o.next_notification(any_token=True)
                self.assertIsNotNone(n, "observer %d missed %s" % (i, value))
                self.assertEqual(n.token, o.token, "observer %d got another's token" % i)
                self.assertEqual(n.payload.decode(), value)
                # RFC 7641 §3.4: a client takes a notification only if its Observe value is
                # fresher than the last one it took (24-bit serial arithmetic); a stale one
                # would be discarded and the write lost to this observer.
                seq = n.opt_uint(coap.OPT_OBSERVE)
                self.assertIsNotNone(seq, "observer %d: notification without Observe" % i)
                self.assertTrue(coap.is_fresher(latest[o], seq),
                                "observer %d: Observe %d after %d is not fresher"
                                % (i, seq, latest[o]))
                latest[o] = seq
                self.assertEqual(n.type, coap.CON)
                self.assertEqual(n.opt_uint(coap.OPT_CONTENT_FORMAT), 0)
                self.assertEqual(n.opt(coap.OPT_MAX_AGE), bytes([120]))

        # The last observer leaving closes the long-poll.
        for o in observers:
            self.assertEqual(coap.code_str(o.deregister(alias="hundred").code), "2.05")
        self.wait_longpolls(0, "hundred")

    def test_observer_that_stops_acking_is_dropped(self):
        o = self.observer()
        o.register(alias="unacked")
        self.wait_longpolls(1, "unacked")
        self.write_on_sim("unacked", alias="unacked")
        first = o.next_notification(ack=False)
        self.assertEqual(first.payload, b"unacked")
        # ACK_TIMEOUT 300 ms and two retransmissions: the same notification again, then gone.
        again = o.next_notification(ack=False)
        self.assertEqual(again.mid, first.mid)
        self.wait_longpolls(0, "unacked")

    def test_rst_to_a_notification_ends_the_observation(self):
        o = self.observer()
        o.register(alias="reset")
        self.wait_longpolls(1, "reset")
        self.write_on_sim("reset-me", alias="reset")
        n = o.next_notification(ack=False)
        o.send(coap.Message(coap.RST, 0, n.mid))
        self.wait_longpolls(0, "reset")

    def test_write_between_two_longpolls_is_notified(self):
        o = self.observer()
        o.register(alias="between")
        self.wait_longpolls(1, "between")
        # The next poll fails once, so the gateway waits (backs off) with no poll outstanding.
        self.sim.fault(match="/onep:v1/stack/alias?between", action="status", status=503, times=1)
        self.write_on_sim("kick", alias="between")  # ends the current poll; the next one gets 503
        self.assertEqual(o.next_notification().payload, b"kick")
        self.wait_longpolls(0, "between")
        next_second()
        self.write_on_sim("while-no-poll", alias="between")
        n = o.next_notification(timeout=15)
        self.assertIsNotNone(n)
        self.assertEqual(n.payload, b"while-no-poll")
        o.deregister(alias="between")
        self.wait_longpolls(0, "between")
        self.sim.clear_faults()

    def test_upstream_401_ends_every_observation_with_a_final_error(self):
        observers = [self.observer() for _ in range(3)]
        for o in observers:
            o.register(alias="revoked")
        self.wait_longpolls(1, "revoked")
        self.sim.fault(match="/onep:v1/stack/alias?revoked", action="status", status=401)
        self.addCleanup(self.sim.clear_faults)
        self.write_on_sim("ends-the-poll", alias="revoked")  # the running poll answers; the next gets 401
        for o in observers:
            while True:
                n = o.next_notification(timeout=15)
                self.assertIsNotNone(n, "no final notification")
                if coap.code_str(n.code) != "2.05":
                    break
            self.assertEqual(coap.code_str(n.code), "4.01")
            self.assertIsNone(n.opt(coap.OPT_OBSERVE))  # final: RFC 7641 §3.2
        self.wait_longpolls(0, "revoked")

    def test_plain_get_with_the_observation_token_ends_nothing(self):
        # Clients reuse one token (often the empty one) for every request: a timestamp read and a
        # plain read of the observed dataport with that token must leave the observation and its
        # long-poll alone (RFC 7641 §3.6: Observe 1 deregisters, a GET without Observe does not).
        o = self.observer()
        r = o.register(alias="plain")
        self.assertIsNotNone(r.opt(coap.OPT_OBSERVE))
        self.wait_longpolls(1, "plain")
        ts = o.plain_request(coap.GET, "/ts")
        self.assertEqual(coap.code_str(ts.code), "2.05")
        self.assertIsNone(ts.opt(coap.OPT_OBSERVE))
        read = o.plain_request(coap.GET, "/1a/plain", [DEMO_CIK])
        self.assertEqual(coap.code_str(read.code), "2.05")
        self.assertIsNone(read.opt(coap.OPT_OBSERVE))
        self.write_on_sim("still-observed", alias="plain")
        n = o.next_notification(timeout=15)
        self.assertIsNotNone(n, "a plain GET ended the observation")
        self.assertEqual(n.payload, b"still-observed")
        self.wait_longpolls(1, "plain")  # polling again for the next change
        o.deregister(alias="plain")
        self.wait_longpolls(0, "plain")

    def test_non_registration_gets_non_notifications_after_one_con(self):
        """RFC 7641 §4.5: the first notification is CON (its ACK gives the gateway the client's
        round trip); later ones are NON, which need no ACK; an RST naming one ends the
        relation (§3.6)."""
        o = self.observer()
        r = o.register(alias="non", mtype=coap.NON)
        self.assertEqual(r.type, coap.NON)
        self.assertIsNotNone(r.opt(coap.OPT_OBSERVE))
        self.wait_longpolls(1, "non")
        before = self.gw.metric("coap_gateway_non_notifications_total")
        self.write_on_sim("first", alias="non")
        first = o.next_notification()  # ACKed
        self.assertEqual((first.type, first.payload), (coap.CON, b"first"))
        next_second()
        self.write_on_sim("second", alias="non")
        second = o.next_notification()
        self.assertEqual((second.type, second.payload), (coap.NON, b"second"))
        self.assertGreater(self.gw.metric("coap_gateway_non_notifications_total"), before)
        o.send(coap.Message(coap.RST, 0, second.mid))
        self.wait_longpolls(0, "non")

    def test_coap_client_observe_with_non(self):
        """libcoap's coap-client -N registers with NON and takes the NON notifications."""
        before = self.gw.metric("coap_gateway_non_notifications_total")
        self.coap_client_observe("libcoap-non", ["-N"], ["one", "two", "three"])
        self.assertGreaterEqual(self.gw.metric("coap_gateway_non_notifications_total"),
                                before + 2)

    def test_coap_client_observe(self):
        self.coap_client_observe("libcoap", [], ["observed-by-libcoap"])

    def coap_client_observe(self, alias, extra, values):
        cmd = coap_client_command() + extra + ["-s", "30", "-B", "30",
                                               self.gw.uri("/1a/%s?%s" % (alias, DEMO_CIK))]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        def stop():
            proc.kill()
            proc.wait()
            proc.stdout.close()
            proc.stderr.close()
        self.addCleanup(stop)
        fd = proc.stdout.fileno()
        pending = [b""]  # read but not yet matched: a later read_until starts from here

        def read_until(text, timeout=15):
            """Reads coap-client's output until `text` appears (an empty text would match at
            once, before anything was read); consumes the output up to the end of the match."""
            self.assertTrue(text)
            buf, deadline = pending[0], time.monotonic() + timeout
            while text not in buf:
                left = deadline - time.monotonic()
                self.assertGreater(left, 0, "coap-client never printed %r (got %r)" % (text, buf))
                ready, _, _ = select.select([fd], [], [], left)
                if ready:
                    chunk = os.read(fd, 4096)
                    self.assertTrue(chunk, "coap-client exited (got %r)" % buf)
                    buf += chunk
            end = buf.index(text) + len(text)
            pending[0] = buf[end:]
            return buf[:end]

        read_until(b"initial")  # registration answered with the current value
        self.wait_longpolls(1, alias)
        for i, value in enumerate(values):
            if i:
                next_second()
            self.write_through_gateway(value, alias=alias)
            read_until(value.encode())


if __name__ == "__main__":
    unittest.main(verbosity=2)
