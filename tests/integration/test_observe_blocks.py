"""Observe with values larger than a block or a datagram (RFC 7959 §2.6) and Observe numbers
from the wall clock (RFC 7641 §4.4), through the real gateway and onep-sim: libcoap's
coap-client observing with 64-byte blocks and raw observers that check every datagram."""
import os
import select
import subprocess
import time
import unittest

import coap
from gwproc import Gateway, coap_client_command
from simproc import DEMO_CIK, SimProcess, demo_state

MAX_MESSAGE_SIZE = 1152  # the gateway's default coap.max_message_size
ALIASES = ("big", "libcoapbig", "forty", "clock")
FORM = {"X-Exosite-CIK": DEMO_CIK, "Content-Type": "application/x-www-form-urlencoded"}


def value_of(size, tag):
    """`size` bytes that differ from one write to the next (`tag`) and along the value, so that
    a block from the wrong offset or an old value shows."""
    body = ("%s:" % tag).encode()
    i = 0
    while len(body) < size:
        body += b"%05d," % i
        i += 1
    return body[:size]


class RawObserver(coap.Client):
    """Checks the size of every datagram the gateway sends it."""

    def __init__(self, case, host, port):
        super().__init__(host, port)
        self.case = case

    def receive(self, timeout=5.0):
        deadline = time.monotonic() + timeout
        while True:
            self.sock.settimeout(max(0.0, deadline - time.monotonic()))
            try:
                data, _ = self.sock.recvfrom(65536)
            except (TimeoutError, OSError):
                if time.monotonic() >= deadline:
                    return None
                continue
            self.case.assertLessEqual(len(data), MAX_MESSAGE_SIZE,
                                      "a %d-byte datagram from the gateway" % len(data))
            return coap.decode(data)

    def register(self, alias, block2=None):
        self.token = coap.os_token()
        options = [(coap.OPT_OBSERVE, b"")]
        if block2 is not None:
            options.append((coap.OPT_BLOCK2, coap.uint_bytes(block2)))
        return self.exchange(coap.request(coap.GET, "/1a/" + alias, [DEMO_CIK], token=self.token,
                                          options=options))

    def notification(self, want=None, timeout=15.0):
        """The next notification for our token (ACKed); with `want`, the first whose payload
        starts with it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = self.receive(deadline - time.monotonic())
            if m is None:
                return None
            if m.type == coap.CON:
                self.send(coap.Message(coap.ACK, 0, m.mid))
            if m.token != self.token or m.opt(coap.OPT_OBSERVE) is None:
                continue
            if want is not None and not m.payload.startswith(want):
                continue
            return m
        return None

    def rest_of(self, alias, first):
        """RFC 7959 §2.6: the blocks after a notification's first, by GET + Block2 without
        Observe; returns the whole value, checking that every block has the first one's ETag."""
        block = coap.bytes_uint(first.opt(coap.OPT_BLOCK2))
        szx, more = block & 7, bool(block & 8)
        body, num = first.payload, 1
        while more:
            r = self.exchange(coap.request(coap.GET, "/1a/" + alias, [DEMO_CIK],
                                           options=[(coap.OPT_BLOCK2,
                                                     coap.uint_bytes(num << 4 | szx))]))
            self.case.assertIsNotNone(r, "block %d not answered" % num)
            self.case.assertEqual(coap.code_str(r.code), "2.05")
            self.case.assertEqual(r.opt(coap.OPT_ETAG), first.opt(coap.OPT_ETAG))
            got = coap.bytes_uint(r.opt(coap.OPT_BLOCK2))
            self.case.assertEqual(got >> 4, num)
            body += r.payload
            more, num = bool(got & 8), num + 1
        return body


class ObserveBlocks(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.state = demo_state(ALIASES)
        cls.sim = SimProcess(state=cls.state)
        # Max-Age 2 s so that refreshes come within a test.
        cls.gw = Gateway(cls.sim.url,
                         coap_extra="  ack_timeout: 300ms\n  separate_response_after: 200ms\n",
                         config_extra="observe:\n  poll_timeout: 2s\n  max_age: 2s\n")

    @classmethod
    def tearDownClass(cls):
        cls.gw.close()
        cls.sim.close()
        os.unlink(cls.state)

    def observer(self):
        o = RawObserver(self, self.gw.host, self.gw.port)
        self.addCleanup(o.close)
        return o

    def longpolls(self, alias):
        return self.sim.stats()["longpolls_by_target"].get("/onep:v1/stack/alias?" + alias, 0)

    def write_on_sim(self, alias, value):
        status, _, _ = self.sim.request("POST", "/onep:v1/stack/alias",
                                        b"%s=%s" % (alias.encode(), value), FORM)
        self.assertEqual(status, 204)

    def next_second(self):
        # Upstream timestamps have one-second resolution: two writes in one second are one.
        now = time.time()
        time.sleep(max(0.0, int(now) + 1 - now))

    def test_large_value_reaches_plain_and_block_observers_whole(self):
        plain, small = self.observer(), self.observer()
        first = value_of(3000, "first")
        self.write_on_sim("big", first)
        for o, block2 in ((plain, None), (small, 2)):  # the gateway's 1024 and 64-byte blocks
            r = o.register("big", block2)
            self.assertEqual(coap.code_str(r.code), "2.05")
            self.assertIsNotNone(r.opt(coap.OPT_OBSERVE))
            self.assertEqual(o.rest_of("big", r), first)
        self.sim.wait_for(lambda: self.longpolls("big") >= 1, timeout=15)

        self.next_second()
        second = value_of(3000, "second")
        self.write_on_sim("big", second)
        for o, szx in ((plain, 6), (small, 2)):
            n = o.notification(want=b"second")
            self.assertIsNotNone(n, "no notification of the new value")
            block = coap.bytes_uint(n.opt(coap.OPT_BLOCK2))
            self.assertEqual(block & ~7, 0 << 4 | 8)
            # The amplification bound (docs/operations.md): until an observer has ACKed one of
            # our CONs, its first block is no larger than its budget allows; this one ACKs it
            # (notification() does), so the refresh below is at the full size.
            self.assertLessEqual(block & 7, szx)
            self.assertGreaterEqual(block & 7, 2)
            self.assertEqual(coap.bytes_uint(n.opt(coap.OPT_SIZE2)), 3000)
            self.assertEqual(len(n.payload), 16 << (block & 7))
            self.assertEqual(o.rest_of("big", n), second)

        # A Max-Age refresh (2 s here) is the first block again, never a cut without Block2.
        for o, szx in ((plain, 6), (small, 2)):
            n = o.notification(want=b"second", timeout=10)
            self.assertIsNotNone(n, "no Max-Age refresh")
            self.assertEqual(coap.bytes_uint(n.opt(coap.OPT_BLOCK2)), 8 | szx)
            self.assertEqual(len(n.payload), 16 << szx)

    def test_small_block_observer_does_not_cut_the_value_for_others(self):
        plain, small = self.observer(), self.observer()
        forty = value_of(40, "forty")
        self.write_on_sim("forty", forty)
        r = plain.register("forty")
        self.assertEqual(r.payload, forty)
        r = small.register("forty", block2=0)  # 16-byte blocks, registered second
        self.assertEqual(len(r.payload), 16)
        # The Max-Age refresh: the whole value to the plain observer, a first block to the other.
        n = plain.notification(timeout=10)
        self.assertIsNotNone(n)
        self.assertEqual(n.payload, forty)
        self.assertIsNone(n.opt(coap.OPT_BLOCK2))
        n = small.notification(timeout=10)
        self.assertIsNotNone(n)
        self.assertEqual(n.payload, forty[:16])
        self.assertEqual(coap.bytes_uint(n.opt(coap.OPT_BLOCK2)), 8)
        self.assertEqual(small.rest_of("forty", n), forty)

    def test_coap_client_with_64_byte_blocks_gets_whole_fresh_values(self):
        self.write_on_sim("libcoapbig", value_of(3000, "before"))
        cmd = coap_client_command() + ["-s", "30", "-b", "64", "-B", "30",
                                       self.gw.uri("/1a/libcoapbig?" + DEMO_CIK)]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

        def stop():
            proc.kill()
            proc.wait()
            proc.stdout.close()
            proc.stderr.close()
        self.addCleanup(stop)
        fd = proc.stdout.fileno()
        out = [b""]

        def wait_output(text, timeout=20):
            deadline = time.monotonic() + timeout
            while text not in out[0]:
                left = deadline - time.monotonic()
                self.assertGreater(left, 0, "coap-client never printed the whole value")
                ready, _, _ = select.select([fd], [], [], left)
                if ready:
                    chunk = os.read(fd, 65536)
                    self.assertTrue(chunk, "coap-client exited")
                    out[0] += chunk

        wait_output(value_of(3000, "before"))
        self.sim.wait_for(lambda: self.longpolls("libcoapbig") >= 1, timeout=15)
        self.next_second()
        after = value_of(3000, "after")
        self.write_on_sim("libcoapbig", after)
        wait_output(after)  # every byte of it, in order

    def test_observe_numbers_follow_the_wall_clock(self):
        o = self.observer()
        before = int(time.time() * 1024) & 0xFFFFFF
        r = o.register("clock")
        after = int(time.time() * 1024) & 0xFFFFFF
        seq = r.opt_uint(coap.OPT_OBSERVE)
        self.assertIsNotNone(seq)
        # RFC 7641 §4.4: numbered in 1/1024 s since the Unix epoch, so that a client that
        # registers again (here or on another instance) sees fresher numbers.
        # A number may run ahead of the clock by at most a second's ticks: a new relation starts
        # above the highest number the worker issued (other relations in the same tick).
        ahead = (after + 1024) & 0xFFFFFF
        self.assertFalse(coap.is_fresher(ahead, seq) and seq != ahead,
                         "Observe %d is more than 1 s ahead of the clock (%d)" % (seq, after))
        self.assertFalse(coap.is_fresher(seq, before) and seq != before,
                         "Observe %d is behind the clock (%d)" % (seq, before))
        # The same token again after Observe 1: fresher than the last number seen.
        dereg = coap.request(coap.GET, "/1a/clock", [DEMO_CIK], token=o.token,
                             options=[(coap.OPT_OBSERVE, b"\x01")])
        self.assertIsNotNone(o.exchange(dereg))
        again = o.exchange(coap.request(coap.GET, "/1a/clock", [DEMO_CIK], token=o.token,
                                        options=[(coap.OPT_OBSERVE, b"")]))
        self.assertTrue(coap.is_fresher(seq, again.opt_uint(coap.OPT_OBSERVE)), (seq, r, again))


if __name__ == "__main__":
    unittest.main(verbosity=2)
