"""The CoAP endpoint of the real coap-gateway binary, over loopback, with libcoap's coap-client
and raw datagrams. No upstream is needed: these paths never leave the gateway."""
import os
import random
import signal
import socket
import struct
import subprocess
import tempfile
import unittest

import coap
from gwproc import BIN_DIR, Gateway, GatewayCase
from simproc import DEMO_CIK

# Nothing listens here: an upstream call would fail fast with 5.02.
DEAD_UPSTREAM = "http://127.0.0.1:9"


class Foundation(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.gw = Gateway(DEAD_UPSTREAM, listen=("127.0.0.1:0", "[::1]:0"), workers=2)

    @classmethod
    def tearDownClass(cls):
        cls.gw.close()

    def client(self):
        c = coap.Client(self.gw.host, self.gw.port)
        self.addCleanup(c.close)
        return c

    def test_well_known_core_lists_every_route(self):
        out, err = self.gw.coap_client("/.well-known/core")
        body = out.decode()
        for target in ("</1a>", "</ts>", "</rpc>", "</provision/activate>", "</provision/download>"):
            self.assertIn(target, body, err)

    def test_well_known_core_is_link_format(self):
        r = self.client().exchange(coap.request(coap.GET, "/.well-known/core"))
        self.assertEqual(coap.code_str(r.code), "2.05")
        self.assertEqual(r.opt_uint(coap.OPT_CONTENT_FORMAT), 40)
        self.assertEqual(r.type, coap.ACK)

    def test_unknown_path_is_4_04(self):
        out, err = self.gw.coap_client("/no/such/thing")
        self.assertIn("4.04", err)

    def test_wrong_method_on_known_path_is_4_05(self):
        r = self.client().exchange(coap.request(coap.DELETE, "/ts"))
        self.assertEqual(coap.code_str(r.code), "4.05")
        self.assertTrue(r.payload)  # a diagnostic

    def test_ping_is_answered_with_rst(self):
        c = self.client()
        c.send(coap.Message(coap.CON, 0, 0x1234))
        r = c.receive()
        self.assertIsNotNone(r)
        self.assertEqual((r.type, r.code, r.mid), (coap.RST, 0, 0x1234))

    def test_ipv6_listener(self):
        self.assertTrue(any(a.startswith("[::1]") for a in self.gw.addresses))
        port = int(self.gw.addresses[1].rsplit(":", 1)[1])
        c = coap.Client("::1", port)
        self.addCleanup(c.close)
        r = c.exchange(coap.request(coap.GET, "/.well-known/core"))
        self.assertEqual(coap.code_str(r.code), "2.05")

    def test_malformed_burst_then_valid_request(self):
        # RFC 7252 §4.2: a CON with a message format error is rejected with an RST, which needs
        # its Message ID, so its 4-byte header must be readable; a NON with one is dropped (§4.3),
        # and so is anything shorter than a header or with a version other than 1 (§3).
        c = self.client()
        con_errors = {
            0x0002: b"\x49\x01\x00\x02" + b"123456789",  # token length 9
            0x0003: b"\x40\x01\x00\x03\xff",             # payload marker, no payload
            0x0004: b"\x40\x01\x00\x04\xf0",             # option nibble 15
            0x0005: b"\x40\x01\x00\x05\xd1",             # truncated extended delta
            0x0006: b"\x40\x00\x00\x06\x01",             # empty message with a byte
        }
        # The same errors as NON (type bits 01), under MIDs of their own.
        non_errors = {mid | 0x100: bytes([d[0] | 0x10, d[1]]) + struct.pack("!H", mid | 0x100)
                      + d[4:] for mid, d in con_errors.items()}
        unreadable = [b"", b"\x40", b"\x40\x01\x00",        # shorter than a header
                      b"\x80\x01\x00\x07",                  # version 2
                      bytes(range(256))]                       # version 0
        for con, non in zip(con_errors.values(), non_errors.values()):
            c.send_raw(con)
            c.send_raw(non)
        for j in unreadable:
            c.send_raw(j)
        # A ping last: the datagrams of one client are handled in order, so once its RST is
        # back, every answer to the ones before it is too.
        c.send(coap.Message(coap.CON, 0, 0x7776))
        got = []
        while not got or (got[-1].type, got[-1].mid) != (coap.RST, 0x7776):
            m = c.receive()
            self.assertIsNotNone(m, "no RST for the ping; got %r" % got)
            got.append(m)
        rsts = sorted(m.mid for m in got[:-1] if m.type == coap.RST and m.code == 0)
        self.assertEqual(rsts, sorted(con_errors), got)
        self.assertEqual(len(got), len(con_errors) + 1, "answers to NON or unreadable: %r" % got)

        # Then a burst of random bytes (their MIDs kept clear of the ones above), and the
        # gateway still answers a valid request.
        rng = random.Random(7252)
        for n in range(1, 200):
            junk = bytearray(rng.randbytes(n))
            if n >= 4:
                junk[2:4] = struct.pack("!H", 0xF000 + n)
            c.send_raw(bytes(junk))
        r = c.exchange(coap.request(coap.GET, "/.well-known/core", mid=0x7777))
        self.assertIsNotNone(r)
        self.assertEqual(coap.code_str(r.code), "2.05")

    def test_format_error_in_con_gets_rst(self):
        c = self.client()
        c.send_raw(b"\x49\x01\xbe\xef" + b"123456789")
        r = c.receive()
        self.assertEqual((r.type, r.mid), (coap.RST, 0xBEEF))

    def test_unknown_critical_option_is_4_02(self):
        out, err = self.gw.coap_client("/.well-known/core", "-O", "9,x")
        self.assertIn("4.02", err)

    def test_unknown_elective_option_is_ignored(self):
        r = self.client().exchange(coap.request(coap.GET, "/.well-known/core",
                                                options=[(2050, b"x")]))
        self.assertEqual(coap.code_str(r.code), "2.05")

    def test_proxy_uri_is_5_05(self):
        r = self.client().exchange(coap.request(coap.GET, "/", options=[(35, b"coap://example.org/")]))
        self.assertEqual(coap.code_str(r.code), "5.05")

    def test_too_large_is_4_13_with_size1(self):
        r = self.client().exchange(coap.request(coap.POST, "/rpc", payload=b"x" * 1500))
        self.assertEqual(coap.code_str(r.code), "4.13")
        # RFC 7959 §2.9.3: the largest body taken (block.max_body), sent in Block1 blocks.
        self.assertEqual(r.opt_uint(coap.OPT_SIZE1), 64 * 1024)

    def test_non_request_gets_non_response(self):
        c = self.client()
        req = coap.request(coap.GET, "/.well-known/core", mtype=coap.NON, mid=1,
                           token=b"\x01\x02\x03\x04")
        c.send(req)
        r = c.receive()
        self.assertEqual(r.type, coap.NON)
        self.assertEqual(r.token, b"\x01\x02\x03\x04")

    def test_upstream_unreachable_is_5_02(self):
        r = self.client().exchange(coap.request(coap.GET, "/ts"))
        self.assertEqual(coap.code_str(r.code), "5.02")
        self.assertTrue(r.payload)


class DuplicateWrite(GatewayCase):
    """Deduplication against a real upstream (onep-sim), counted where it matters: upstream."""
    # Piggybacked answers only: the upstream delay below stays far under the threshold.
    coap_extra = "  ack_timeout: 10s\n  separate_response_after: 5s\n"

    def writes(self):
        return [r for r in self.sim.requests()
                if r["method"] == "POST" and r["target"].startswith("/onep:v1/stack/alias")]

    def test_retransmitted_write_is_answered_again_and_written_once(self):
        # RFC 7252 §4.5: a duplicate CON is acknowledged again, the request is not run again.
        # CoAPExample's shape: MID 0x37, empty token; every copy is the same bytes.
        c = self.client()
        raw = coap.encode(coap.request(coap.POST, "/1a/temp", [DEMO_CIK], b"written-once",
                                       mid=0x37, token=b""))
        self.sim.fault(match="/onep:v1/stack/alias", delay_ms=300, times=1)
        self.addCleanup(self.sim.clear_faults)
        c.send_raw(raw)
        self.sim.wait_for(lambda: len(self.writes()) == 1)  # logged before the delay
        c.send_raw(raw)  # a retransmission while the write runs upstream
        first = c.receive()
        self.assertIsNotNone(first)
        self.assertEqual((first.type, coap.code_str(first.code), first.mid),
                         (coap.ACK, "2.04", 0x37))
        c.send_raw(raw)  # a retransmission after the ACK was lost
        again = c.receive()
        self.assertIsNotNone(again)
        self.assertEqual(coap.encode(again), coap.encode(first))

        self.assertEqual(len(self.writes()), 1, self.writes())
        self.assertEqual(self.sim.stats()["endpoints"]["write"]["requests"], 1)
        values = [v for _, v in self.sim.dataport(DEMO_CIK, "temp")["values"]]
        self.assertIn("written-once", values)


class StartAndStop(unittest.TestCase):
    def test_sigterm_exits_zero(self):
        gw = Gateway(DEAD_UPSTREAM)
        try:
            self.assertEqual(gw.stop(signal.SIGTERM), 0)
        finally:
            gw.close()

    def test_sigint_exits_zero(self):
        gw = Gateway(DEAD_UPSTREAM)
        try:
            self.assertEqual(gw.stop(signal.SIGINT), 0)
        finally:
            gw.close()

    def run_gateway(self, *args):
        return subprocess.run([os.path.join(BIN_DIR, "coap-gateway")] + list(args),
                              capture_output=True, text=True, timeout=30)

    def test_check_config_accepts_the_example(self):
        example = os.path.join(os.path.dirname(__file__), "../../conf/gateway.example.yaml")
        r = self.run_gateway("--check-config", "--config", example)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_bad_config_is_refused_with_file_line_key(self):
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            f.write("coap:\n  listen:\n    - \"127.0.0.1:5683\"\n  ack_timeout: forever\nbogus: 1\n")
        self.addCleanup(os.unlink, f.name)
        for args in (["--check-config", "--config", f.name], ["--config", f.name]):
            r = self.run_gateway(*args)
            self.assertEqual(r.returncode, 2)
            self.assertIn("%s:4: coap.ack_timeout:" % f.name, r.stderr)
            self.assertIn("%s:5: bogus:" % f.name, r.stderr)

    def test_second_gateway_on_the_same_port_is_refused(self):
        # SO_REUSEPORT would let it silently take half of the first one's clients.
        first = Gateway(DEAD_UPSTREAM, workers=2)
        self.addCleanup(first.close)
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            # Its own address: under GW_TEST_TRANSPORT=dtls, first.port is the relay's.
            f.write('coap:\n  listen: ["%s"]\n' % first.addresses[0])
        self.addCleanup(os.unlink, f.name)
        r = self.run_gateway("--config", f.name)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("cannot listen", r.stderr)

    def test_version_and_help(self):
        self.assertIn("coap-gateway", self.run_gateway("--version").stdout)
        self.assertIn("--config", self.run_gateway("--help").stdout)
        self.assertEqual(self.run_gateway("--frobnicate").returncode, 2)

    def test_port_in_use_fails_at_start(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        self.addCleanup(s.close)
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            f.write('coap:\n  listen: ["127.0.0.1:%d"]\n' % s.getsockname()[1])
        self.addCleanup(os.unlink, f.name)
        r = self.run_gateway("--config", f.name)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("cannot listen", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
