"""Exactly-once writes and fresh reads for clients that reuse Message IDs, through the real
gateway against the real onep-sim: CoAPExample polls with byte-identical GETs (MID 0x37, empty
token) and must see new values; a repeated Block1 block sent NON with a new MID (the message
layer cannot recognise it) must never run the request twice."""
import time
import unittest

import cbor_mini
import coap
from gwproc import GatewayCase
from simproc import DEMO_CIK

FORM = {"X-Exosite-CIK": DEMO_CIK, "Content-Type": "application/x-www-form-urlencoded"}


def block1(num, more, szx):
    return coap.uint_bytes((num << 4) | (8 if more else 0) | szx)


class ExactlyOnce(GatewayCase):
    coap_extra = "  replay_window: 200ms\n"

    def write_upstream(self, value):
        """A value written by someone else (a web app), straight to the One Platform."""
        status, _, _ = self.sim.request("POST", "/onep:v1/stack/alias", "humidity=" + value, FORM)
        self.assertEqual(status, 204)

    def ask_non(self, c, m, timeout=5.0):
        """Sends a NON request and returns the response with its token, or None."""
        c.send(m)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r = c.receive(deadline - time.monotonic())
            if r is None:
                return None
            if r.token == m.token:
                return r
        return None

    def test_fixed_mid_poller_sees_a_fresh_value(self):
        self.write_upstream("first")
        c = self.client()
        poll = coap.request(coap.GET, "/1a/humidity", [DEMO_CIK], mid=0x37, token=b"")
        r = c.exchange(poll)
        self.assertEqual(coap.code_str(r.code), "2.05")
        self.assertEqual(r.payload, b"first")
        self.write_upstream("second")

        # The same bytes again and again, as CoAPExample polls: within the replay window the
        # cached answer, after it the new value (not EXCHANGE_LIFETIME later).
        seen = []

        def fresh():
            answer = c.exchange(poll)
            seen.append(answer.payload if answer else None)
            return answer is not None and answer.payload == b"second"

        self.sim.wait_for(fresh, timeout=5)
        self.assertTrue(all(p in (b"first", b"second") for p in seen), seen)

    def test_fixed_mid_write_retransmitted_writes_once(self):
        c = self.client()
        write = coap.request(coap.POST, "/1a/humidity", [DEMO_CIK], b"77", mid=0x37, token=b"")
        before = len(self.sim.dataport(DEMO_CIK, "humidity")["values"])
        first = c.exchange(write)
        self.assertEqual(coap.code_str(first.code), "2.04")
        # The ACK was "lost": the client sends the very same datagram again, seconds later.
        for _ in range(3):
            again = c.exchange(write)
            self.assertEqual(coap.code_str(again.code), "2.04")
        self.assertEqual(len(self.sim.dataport(DEMO_CIK, "humidity")["values"]), before + 1)

    def test_repeated_block1_blocks_sent_non_run_the_request_once(self):
        body = cbor_mini.dumps({"auth": {"cik": DEMO_CIK},
                                "calls": [{"id": i, "procedure": "read",
                                           "arguments": [{"alias": "temp"}, {"limit": 1}]}
                                          for i in range(4)]})
        szx, size = 2, 64
        blocks = [body[i:i + size] for i in range(0, len(body), size)]
        self.assertGreaterEqual(len(blocks), 3)
        c = self.client()

        def send_block(num):
            more = num + 1 < len(blocks)
            m = coap.request(coap.POST, "/rpc", payload=blocks[num], mtype=coap.NON,
                             options=[(coap.OPT_CONTENT_FORMAT, bytes([60])),
                                      (coap.OPT_BLOCK1, block1(num, more, szx))])
            return self.ask_non(c, m)

        r = send_block(0)
        self.assertEqual(coap.code_str(r.code), "2.31")
        r = send_block(1)
        self.assertEqual(coap.code_str(r.code), "2.31")
        # Block 1 again with a new MID and token (its 2.31 was lost): the same 2.31 again.
        r = send_block(1)
        self.assertEqual(coap.code_str(r.code), "2.31")
        self.assertEqual(r.opt(coap.OPT_BLOCK1), block1(1, True, szx))
        for num in range(2, len(blocks)):
            final = send_block(num)
        self.assertEqual(coap.code_str(final.code), "2.05")
        answer = cbor_mini.loads(final.payload)
        self.assertEqual(len(answer), 4)
        # The final block again, NON with a new MID: the stored answer, no second RPC call.
        again = send_block(len(blocks) - 1)
        self.assertEqual(coap.code_str(again.code), "2.05")
        self.assertEqual(again.payload, final.payload)
        self.assertEqual(self.sim.stats()["endpoints"]["rpc"]["requests"], 1)


if __name__ == "__main__":
    unittest.main()
