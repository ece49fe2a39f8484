"""The answers real clients expect, end to end with raw datagrams against the real coap-gateway
and onep-sim: preconditions the gateway cannot evaluate (RFC 7252 §5.4.1, §5.10.8), NON requests
with unrecognised critical options (§4.3), methods no route takes (§5.8), Max-Age on reads
(§5.10.5), 4.13 with Size1 and a Block1 hint (RFC 7959 §2.9.3), and the Block2 store refusing a
POST before it runs rather than after."""
import unittest

import cbor_mini
import coap
from gwproc import Gateway, GatewayCase
from simproc import DEMO_CIK

OPT_IF_MATCH, OPT_IF_NONE_MATCH = 1, 5


class FieldAnswers(GatewayCase):
    def ask(self, m, client=None):
        r = (client or self.client()).exchange(m)
        self.assertIsNotNone(r, "no answer")
        return r

    def writes(self):
        return [r for r in self.sim.requests()
                if r["method"] == "POST" and r["target"].startswith("/onep:v1/stack/alias")]

    def assertCode(self, r, code):
        self.assertEqual(coap.code_str(r.code), code, r.payload)

    def test_if_match_and_if_none_match_are_4_02_and_write_nothing(self):
        for option in ((OPT_IF_MATCH, b"\x01\x02"), (OPT_IF_MATCH, b""), (OPT_IF_NONE_MATCH, b"")):
            r = self.ask(coap.request(coap.POST, "/1a/humidity", [DEMO_CIK], b"41",
                                      options=[option]))
            self.assertCode(r, "4.02")
            self.assertEqual(r.type, coap.ACK)
            self.assertIn(b"not supported", r.payload)
        self.assertEqual(self.writes(), [])
        # The same write without a precondition runs.
        self.assertCode(self.ask(coap.request(coap.POST, "/1a/humidity", [DEMO_CIK], b"41")), "2.04")
        self.assertEqual(len(self.writes()), 1)

    def test_non_with_unrecognised_critical_option_gets_rst(self):
        c = self.client()
        for mid, option in ((0x4101, (9, b"x")), (0x4102, (OPT_IF_MATCH, b"\x07"))):
            m = coap.request(coap.POST, "/1a/humidity", [DEMO_CIK], b"42", mtype=coap.NON, mid=mid,
                             options=[option])
            c.send(m)
            r = c.receive()
            self.assertIsNotNone(r, "no RST")
            self.assertEqual((r.type, r.code, r.mid), (coap.RST, 0, mid))
        self.assertEqual(self.writes(), [])

    def test_method_on_no_route_is_4_05_on_any_path(self):
        for method in (coap.code(0, 5), coap.code(0, 6), coap.code(0, 7), coap.code(0, 31)):
            for path in ("/nowhere", "/1a/temp", "/ts"):
                r = self.ask(coap.request(method, path, [DEMO_CIK]))
                self.assertCode(r, "4.05")
        self.assertCode(self.ask(coap.request(coap.GET, "/nowhere")), "4.04")
        self.assertEqual(self.sim.requests(), [])

    def test_read_carries_max_age_0_and_observe_its_own(self):
        r = self.ask(coap.request(coap.GET, "/1a/temp", [DEMO_CIK]))
        self.assertCode(r, "2.05")
        max_ages = [v for n, v in r.options if n == coap.OPT_MAX_AGE]
        self.assertEqual(max_ages, [b""])  # Max-Age 0, in zero bytes

        c = self.client()
        reg = coap.request(coap.GET, "/1a/temp", [DEMO_CIK], options=[(coap.OPT_OBSERVE, b"")])
        r = self.ask(reg, c)
        self.assertCode(r, "2.05")
        self.assertIsNotNone(r.opt(coap.OPT_OBSERVE))
        max_ages = [coap.bytes_uint(v) for n, v in r.options if n == coap.OPT_MAX_AGE]
        self.assertEqual(max_ages, [120])  # observe.max_age
        c.exchange(coap.request(coap.GET, "/1a/temp", [DEMO_CIK], token=reg.token,
                                options=[(coap.OPT_OBSERVE, b"\x01")]))

    def test_oversized_datagram_is_4_13_with_max_body_and_block1_hint(self):
        r = self.ask(coap.request(coap.POST, "/rpc", payload=b"x" * 1400))
        self.assertCode(r, "4.13")
        self.assertEqual(r.opt_uint(coap.OPT_SIZE1), 64 * 1024)  # block.max_body, not 1152
        block1 = coap.bytes_uint(r.opt(coap.OPT_BLOCK1))
        self.assertEqual((block1 >> 4, bool(block1 & 8), block1 & 7), (0, False, 6))


class StoreFull(GatewayCase):
    """A Block2 store with room for one large RPC answer: a second POST while the first answer is
    still being fetched is refused before it runs; once the first was fetched to its last block,
    the second runs."""

    @classmethod
    def setUpClass(cls):
        from simproc import SimProcess
        cls.sim = SimProcess()
        cls.gw = Gateway(cls.sim.url,
                         config_extra="block:\n  cache_bytes: 6KiB\n  reserve_bytes: 4KiB\n")

    def rpc_calls(self):
        return self.sim.stats()["endpoints"].get("rpc", {}).get("requests", 0)

    def test_second_post_refused_before_running_until_the_first_was_fetched(self):
        for i in range(30):  # an RPC read answer of about 2.5 KiB
            status, _, _ = self.sim.request(
                "POST", "/onep:v1/stack/alias", "humidity=%s%02d" % ("x" * 70, i),
                {"X-Exosite-CIK": DEMO_CIK, "Content-Type": "application/x-www-form-urlencoded"})
            self.assertEqual(status, 204)
        self.sim.reset()
        body = cbor_mini.dumps({"auth": {"cik": DEMO_CIK},
                                "calls": [{"id": 1, "procedure": "read",
                                           "arguments": [{"alias": "humidity"}, {"limit": 30}]}]})
        cf = [(coap.OPT_CONTENT_FORMAT, bytes([60]))]

        first, second = self.client(), self.client()
        r = first.exchange(coap.request(coap.POST, "/rpc", payload=body, options=cf))
        self.assertEqual(coap.code_str(r.code), "2.05")
        self.assertTrue(coap.bytes_uint(r.opt(coap.OPT_BLOCK2)) & 8)
        got = r.payload
        # Later blocks at the size the gateway chose (RFC 7959 §2.4): under the amplification
        # bound an unverified client's first block is smaller than 1024.
        szx = coap.bytes_uint(r.opt(coap.OPT_BLOCK2)) & 7
        self.assertEqual(self.rpc_calls(), 1)

        r = second.exchange(coap.request(coap.POST, "/rpc", payload=body, options=cf))
        self.assertEqual(coap.code_str(r.code), "5.03", r.payload)
        self.assertIsNotNone(r.opt(coap.OPT_MAX_AGE))
        self.assertEqual(self.rpc_calls(), 1)  # refused before it ran

        num = 1
        while True:
            r = first.exchange(coap.request(coap.POST, "/rpc", payload=body,
                                            options=cf + [(coap.OPT_BLOCK2,
                                                           coap.uint_bytes((num << 4) | szx))]))
            self.assertEqual(coap.code_str(r.code), "2.05")
            got += r.payload
            if not coap.bytes_uint(r.opt(coap.OPT_BLOCK2)) & 8:
                break
            num += 1
        self.assertEqual(len(cbor_mini.loads(got)[0]["result"]), 30)

        # Fetched to its last block: evicted to make room, and the second POST runs once.
        r = second.exchange(coap.request(coap.POST, "/rpc", payload=body, options=cf))
        self.assertEqual(coap.code_str(r.code), "2.05", r.payload)
        self.assertEqual(self.rpc_calls(), 2)


if __name__ == "__main__":
    unittest.main(verbosity=2)
