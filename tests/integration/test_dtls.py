"""coaps (DTLS 1.2, RFC 7252 §9) on the real binaries over loopback: libcoap's OpenSSL and
GnuTLS clients (Debian libcoap3-bin) for Read, Write, Observe and a Block2 download with a PSK
and with certificates; wrong keys, unknown identities, garbage and truncated records, plain CoAP
sent to the coaps port, a handshake abandoned half way, and a ClientHello flood answered with
stateless cookies only. Python has no DTLS: the ClientHellos are written by hand below.

libcoap's clients exit 0 on most errors, so their output is parsed. Every wait is bounded."""
import os
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
import unittest

import coap
from gwproc import Gateway
from simproc import SimProcess

DEMO_CIK = "a32c85ba9dda45823be416246cf8b433baa068d7"
OPENSSL = "coap-client-openssl"
GNUTLS = "coap-client-gnutls"
CLIENTS = (OPENSSL, GNUTLS)
PSK_FILE = ("# test keys\n"
            "device-1: text:secret-one\n"
            "device\\:2: hex:6b65792d74776f\n"
            "doomed: text:short-lived\n")
FIRMWARE = "/provision/download/demo/gateway/firmware.bin?" + DEMO_CIK


# libcoap logs to stdout too ("Nov 27 12:04:01.319 ERR  cannot send CoAP pdu").
LOG_LINE = re.compile(rb"^[A-Z][a-z]{2} +\d+ \d\d:\d\d:\d\d\.\d+ ")


def answer(out):
    """What a libcoap client printed as the response payload, its log lines left out."""
    return b"\n".join(l for l in out.splitlines() if not LOG_LINE.match(l)).strip()


def need(program):
    if shutil.which(program) is None:
        raise unittest.SkipTest("%s is missing (Debian package libcoap3-bin)" % program)


def client_hello(cookie=b"", seq=0, suite=b"\xc0\xa8"):
    """A minimal DTLS 1.2 ClientHello record (RFC 6347 §4.2.1, RFC 5246 §7.4.1.2) offering
    one cipher suite (TLS_PSK_WITH_AES_128_CCM_8), with `cookie` from a HelloVerifyRequest."""
    body = (b"\xfe\xfd" + os.urandom(32) + b"\x00" + bytes([len(cookie)]) + cookie +
            b"\x00\x02" + suite + b"\x01\x00")
    handshake = (b"\x01" + struct.pack(">I", len(body))[1:] + struct.pack(">H", seq) +
                 b"\x00\x00\x00" + struct.pack(">I", len(body))[1:] + body)
    return (b"\x16\xfe\xfd\x00\x00" + struct.pack(">Q", seq)[2:] +
            struct.pack(">H", len(handshake)) + handshake)


def hello_verify_cookie(record):
    """The cookie of a HelloVerifyRequest record, or None when `record` is none."""
    if len(record) < 13 + 12 + 3 or record[0] != 22 or record[13] != 3:
        return None
    body = record[25:]
    return body[3:3 + body[2]]


def receive(sock, timeout):
    ready, _, _ = select.select([sock], [], [], timeout)
    return sock.recv(65535) if ready else None


def wait_until(predicate, what, timeout=15):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.02)


class DtlsCase(unittest.TestCase):
    """A sim and a gateway with one coaps listener on 127.0.0.1:0 and the PSK file above."""
    dtls_extra = ""
    coap_more = ""  # more keys under coap:, after the dtls section

    @classmethod
    def setUpClass(cls):
        need(OPENSSL)
        cls.dir = tempfile.mkdtemp(prefix="dtls-test-")
        cls.psk_path = os.path.join(cls.dir, "psk.txt")
        with open(cls.psk_path, "w") as f:
            f.write(PSK_FILE)
        cls.sim = SimProcess()
        extra = ('  dtls:\n    listen: ["127.0.0.1:0"]\n    psk_file: "%s"\n' % cls.psk_path +
                 cls.dtls_extra + cls.coap_more)
        cls.gw = Gateway(cls.sim.url, coap_extra=extra, metrics=True, dtls_listens=1,
                         log_extra="  access: true\n")
        host, port = cls.gw.dtls_addresses[0].rsplit(":", 1)
        cls.dtls_host, cls.dtls_port = host, int(port)

    @classmethod
    def tearDownClass(cls):
        cls.gw.close()
        cls.sim.close()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def coaps(self, path):
        return "coaps://%s:%d%s" % (self.dtls_host, self.dtls_port, path)

    def run_client(self, program, path, *args, identity="device-1", key="secret-one",
                   timeout=5):
        """Runs a libcoap client over coaps; (stdout bytes, stderr text)."""
        cmd = [program, "-B", str(timeout)]
        if identity is not None:
            cmd += ["-u", identity, "-k", key]
        r = subprocess.run(cmd + list(args) + [self.coaps(path)], capture_output=True,
                           timeout=timeout + 20)
        return r.stdout, r.stderr.decode(errors="replace")

    def metric(self, name, labels=None):
        """One series of a metric (labels as a dict), or the sum of all of them."""
        import urllib.request
        with urllib.request.urlopen(self.gw.metrics_url, timeout=10) as r:
            text = r.read().decode()
        total = 0.0
        want = None if labels is None else ",".join('%s="%s"' % kv for kv in labels.items())
        for line in text.splitlines():
            if line.startswith("#"):
                continue
            series, value = line.rsplit(" ", 1)
            head, _, rest = series.partition("{")
            if head != name:
                continue
            if want is None or rest.rstrip("}") == want:
                total += float(value)
        return total

    def sessions(self):
        return self.metric("coap_gateway_dtls_sessions_open")

    def wait_sessions(self, n, timeout=15):
        wait_until(lambda: self.sessions() == n, "%d coaps sessions (now %s)" %
                   (n, self.sessions()), timeout)

    def udp(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        self.addCleanup(s.close)
        return s

    def observe(self, program, alias, identity="device-1", key="secret-one"):
        """Starts an observing client; returns a function that reads its output until a text."""
        proc = subprocess.Popen([program, "-s", "30", "-B", "30", "-u", identity, "-k", key,
                                 self.coaps("/1a/%s?%s" % (alias, DEMO_CIK))],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)

        def stop():
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            proc.stdout.close()
            proc.stderr.close()
        self.addCleanup(stop)
        pending = [b""]

        def read_until(text, timeout=15):
            buf, deadline = pending[0], time.monotonic() + timeout
            while text not in buf:
                left = deadline - time.monotonic()
                self.assertGreater(left, 0, "%s never printed %r (got %r)" % (program, text, buf))
                ready, _, _ = select.select([proc.stdout], [], [], left)
                if ready:
                    chunk = os.read(proc.stdout.fileno(), 4096)
                    self.assertTrue(chunk, "%s exited (got %r)" % (program, buf))
                    buf += chunk
            pending[0] = buf[buf.index(text) + len(text):]
        read_until.proc = proc
        return read_until


class PskInterop(DtlsCase):
    def test_write_then_read_with_both_libraries(self):
        for program in CLIENTS:
            with self.subTest(program=program):
                need(program)
                value = "coaps-%s" % program[-7:]
                out, err = self.run_client(program, "/1a/temp?" + DEMO_CIK, "-m", "post",
                                           "-e", value)
                self.assertNotRegex(err, r"\b[45]\.\d\d\b")
                points = self.sim.dataport(DEMO_CIK, "temp")["values"]
                self.assertEqual(points[-1][1], value, "the Write did not reach the upstream")
                out, err = self.run_client(program, "/1a/temp?" + DEMO_CIK)
                self.assertEqual(answer(out), value.encode(), err)

    def test_identity_with_an_escaped_colon_and_a_hex_key(self):
        # psk_file: "device\\:2: hex:6b65792d74776f" is identity "device:2", key "key-two"; the
        # access log names the identity the handshake authenticated.
        out, err = self.run_client(OPENSSL, "/1a/temp?" + DEMO_CIK, identity="device:2",
                                   key="key-two")
        self.assertNotEqual(answer(out), b"", err)
        self.gw.wait_for_log("dtls=psk:device:2")

    def test_block2_download_matches_the_plain_download(self):
        plain = os.path.join(self.dir, "plain.bin")
        subprocess.run(["coap-client-notls", "-B", "10", "-b", "128", "-o", plain,
                        self.gw.uri(FIRMWARE)], capture_output=True, timeout=30)
        with open(plain, "rb") as f:
            expected = f.read()
        self.assertEqual(len(expected), 5000)
        for program in CLIENTS:
            with self.subTest(program=program):
                need(program)
                target = os.path.join(self.dir, program + ".bin")
                self.run_client(program, FIRMWARE, "-b", "128", "-o", target, timeout=10)
                with open(target, "rb") as f:
                    self.assertEqual(f.read(), expected)

    def test_observe_with_both_libraries(self):
        for program in CLIENTS:
            with self.subTest(program=program):
                need(program)
                read_until = self.observe(program, "humidity")
                tag = program[-7:]
                self.wait_sessions(1)
                self.write_plain("humidity", "first-" + tag)
                read_until(("first-" + tag).encode())
                self.write_plain("humidity", "second-" + tag)
                read_until(("second-" + tag).encode())
                read_until.proc.send_signal(signal.SIGINT)  # libcoap closes its session
                read_until.proc.wait(10)
                self.wait_sessions(0)

    def write_plain(self, alias, value):
        out, err = self.gw.coap_client("/1a/%s?%s" % (alias, DEMO_CIK), "-m", "post", "-e", value)
        self.assertNotRegex(err, r"\b[45]\.\d\d\b")

    def test_a_finished_client_closes_its_session(self):
        # libcoap sends close_notify on exit: the session is freed at once, not at idle_timeout.
        received = self.metric("coap_gateway_dtls_alerts_total", {"direction": "received"})
        out, _ = self.run_client(OPENSSL, "/ts")
        self.assertRegex(answer(out).decode(), r"^\d+$")
        wait_until(lambda: self.metric("coap_gateway_dtls_alerts_total",
                                       {"direction": "received"}) > received, "close_notify")
        self.wait_sessions(0)

    def test_plain_coap_to_the_coaps_port_gets_nothing(self):
        # No session, no ClientHello: dropped unanswered (no amplification), and counted. The
        # same socket still gets its answer from the plain port.
        s = self.udp()
        dropped = self.metric("coap_gateway_dtls_dropped_total")
        ping = coap.encode(coap.request(coap.GET, "/ts", mid=0x1234, token=b"\x01"))
        s.sendto(ping, (self.dtls_host, self.dtls_port))
        self.assertIsNone(receive(s, 1.0), "plain CoAP to the coaps port was answered")
        wait_until(lambda: self.metric("coap_gateway_dtls_dropped_total") > dropped, "the drop")
        s.sendto(ping, (self.gw.host, self.gw.port))
        answer = receive(s, 10)
        self.assertIsNotNone(answer)
        self.assertEqual(coap.decode(answer).mid, 0x1234)


def node_path():
    """NODE_PATH holding the npm package node-coap-client (scripts/install-deps.sh installs it
    globally where npm exists), or SkipTest naming what is missing."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        raise unittest.SkipTest("node and npm are missing: no node-coap-client interop")
    root = subprocess.run(["npm", "root", "-g"], capture_output=True, text=True,
                          timeout=30).stdout.strip()
    if not os.path.isdir(os.path.join(root, "node-coap-client")):
        raise unittest.SkipTest("the npm package node-coap-client is not installed "
                                "(scripts/install-deps.sh)")
    return root


class NodeInterop(DtlsCase):
    """node-coap-client's DTLS is node-dtls-client: PSK handshakes from a third implementation."""

    def node(self, method, path, key="secret-one", payload=None):
        cmd = ["node", os.path.join(os.path.dirname(os.path.abspath(__file__)), "node_coaps.js"),
               self.coaps(path), method, "device-1", key] + ([payload] if payload else [])
        r = subprocess.run(cmd, capture_output=True, timeout=60,
                           env=dict(os.environ, NODE_PATH=self.node_path))
        return r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")

    def setUp(self):
        self.node_path = node_path()

    def test_write_then_read(self):
        # node-coap-client marks every request application/json (50): a JSON string is a value.
        rc, out, err = self.node("post", "/1a/temp?" + DEMO_CIK, payload='"from-node"')
        self.assertEqual((rc, out.split("\n")[0]), (0, "2.04"), out + err)
        self.assertEqual(self.sim.dataport(DEMO_CIK, "temp")["values"][-1][1], "from-node")
        rc, out, err = self.node("get", "/1a/temp?" + DEMO_CIK)
        self.assertEqual((rc, out), (0, "2.05\nfrom-node"), err)
        self.gw.wait_for_log("dtls=psk:device-1")

    def test_a_wrong_key_gets_no_answer(self):
        rc, out, _ = self.node("get", "/ts", key="not-the-secret")
        self.assertNotEqual(rc, 0)
        self.assertEqual(out, "")


class BadInput(DtlsCase):
    dtls_extra = "    handshake_timeout: 2s\n"

    def failures(self, reason=None):
        labels = None if reason is None else {"result": reason}
        total = self.metric("coap_gateway_dtls_handshakes_total", labels)
        if reason is None:
            total -= self.metric("coap_gateway_dtls_handshakes_total", {"result": "ok"})
        return total

    def assert_served(self):
        out, err = self.run_client(OPENSSL, "/ts")
        self.assertRegex(answer(out).decode(), r"^\d+$", err)

    def test_unknown_identity_fails_and_is_counted(self):
        before = self.failures("unknown_identity")
        for program in CLIENTS:
            need(program)
            out, _ = self.run_client(program, "/ts", identity="stranger", key="whatever")
            self.assertEqual(answer(out), b"")
        wait_until(lambda: self.failures("unknown_identity") >= before + 2, "two failures")
        self.assertNotIn("whatever", self.gw.log())

    def test_wrong_key_fails_and_is_counted(self):
        # The client's Finished does not authenticate under our key; DTLS drops such records
        # silently (RFC 6347 §4.1.2.7), so the handshake ends at handshake_timeout.
        before = self.failures("timeout")
        out, _ = self.run_client(OPENSSL, "/ts", key="not-the-secret")
        self.assertEqual(answer(out), b"")
        wait_until(lambda: self.failures("timeout") > before, "a timed-out handshake")
        self.assertNotIn("not-the-secret", self.gw.log())
        self.assertNotIn("secret-one", self.gw.log())
        self.wait_sessions(0)
        self.assert_served()

    def test_garbage_and_truncated_records_get_no_answer(self):
        s = self.udp()
        hello = client_hello()
        for junk in (os.urandom(300), b"\x16\xfe\xfd", hello[:20], hello[:40], b"\x17" + hello[1:],
                     b""):
            s.sendto(junk, (self.dtls_host, self.dtls_port))
        self.assertIsNone(receive(s, 1.0), "garbage was answered")
        self.assert_served()  # handled after the garbage, on the same worker
        self.wait_sessions(0)  # the served client's session closed, nothing else held

    def test_a_half_done_handshake_is_freed_at_the_timeout(self):
        s = self.udp()
        s.sendto(client_hello(), (self.dtls_host, self.dtls_port))
        cookie = hello_verify_cookie(receive(s, 5) or b"")
        self.assertIsNotNone(cookie, "no HelloVerifyRequest")
        self.assertEqual(self.sessions(), 0, "state was kept before the cookie came back")
        s.sendto(client_hello(cookie, seq=1), (self.dtls_host, self.dtls_port))
        flight = receive(s, 5)
        self.assertIsNotNone(flight, "no ServerHello after the cookie round trip")
        self.assertEqual(flight[13], 2)  # ServerHello
        self.wait_sessions(1)  # published once the worker has sent the flight
        timeouts = self.failures("timeout")
        self.wait_sessions(0, timeout=10)  # handshake_timeout: 2s
        self.assertGreater(self.failures("timeout"), timeouts)

    def test_a_client_hello_flood_keeps_no_state(self):
        cookies = self.metric("coap_gateway_dtls_cookies_sent_total")
        socks = [self.udp() for _ in range(50)]
        for _ in range(4):
            for s in socks:
                s.sendto(client_hello(), (self.dtls_host, self.dtls_port))
        answered = 0
        deadline = time.monotonic() + 10
        while answered < 200 and time.monotonic() < deadline:
            ready, _, _ = select.select(socks, [], [], 0.5)
            for s in ready:
                if hello_verify_cookie(s.recv(65535)) is not None:
                    answered += 1
        self.assertGreaterEqual(answered, 190)  # loopback drops little; each is one small answer
        # The gauge is published with the cookie count: once every cookie shows, so does the
        # state those ClientHellos left, which must be none.
        wait_until(lambda: self.metric("coap_gateway_dtls_cookies_sent_total") - cookies >=
                   answered, "the cookies in /metrics")
        self.assertEqual(self.sessions(), 0)
        self.assert_served()

    def test_a_cookie_is_bound_to_the_client_port(self):
        cookies = self.metric("coap_gateway_dtls_cookies_sent_total")
        a, b = self.udp(), self.udp()
        a.sendto(client_hello(), (self.dtls_host, self.dtls_port))
        cookie = hello_verify_cookie(receive(a, 5) or b"")
        self.assertIsNotNone(cookie)
        b.sendto(client_hello(cookie, seq=1), (self.dtls_host, self.dtls_port))
        answer = receive(b, 5)
        self.assertIsNotNone(answer)
        self.assertEqual(answer[13], 3, "another port's cookie was accepted")  # a new HVR
        wait_until(lambda: self.metric("coap_gateway_dtls_cookies_sent_total") >= cookies + 2,
                   "the cookies in /metrics")
        self.assertEqual(self.sessions(), 0)


class HandshakeRate(DtlsCase):
    """Sessions begun per second in two tiers, as the request limits: one address:port
    (strict) and one address (not for trusted_proxies), token buckets of two seconds' worth.
    Counted only after the cookie came back, so a spoofed address cannot spend another's
    share. The ClientHellos here offer only TLS_NULL_WITH_NULL_NULL: each session begun fails
    at once, so the next one from the same port goes through the cookie step again."""
    dtls_extra = "    handshake_rate: 1\n    handshake_rate_per_source: 1\n"

    def cookie(self, sock):
        sock.sendto(client_hello(), (self.dtls_host, self.dtls_port))
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # the previous session's alert may come first
            cookie = hello_verify_cookie(receive(sock, 5) or b"")
            if cookie is not None:
                return cookie
        self.fail("no HelloVerifyRequest")

    def begin(self, sock):
        """A cookie round trip, then the ClientHello that brings it back: one session begun,
        if the rate allows; it fails on the spot (no shared cipher) or is refused."""
        cookie = self.cookie(sock)
        sock.sendto(client_hello(cookie, seq=1, suite=b"\x00\x00"),
                    (self.dtls_host, self.dtls_port))

    def refused(self):
        return self.metric("coap_gateway_dtls_handshakes_total", {"result": "rate"})

    def within_a_second(self, started):
        # The buckets refill one token a second: steps slower than that test nothing.
        if time.monotonic() - started > 0.9:
            self.skipTest("the machine took over a second for a few loopback round trips")

    def test_per_source_then_per_address(self):
        before = self.refused()
        started = time.monotonic()
        one = self.udp()
        for _ in range(3):
            self.begin(one)  # the third finds its port's bucket (2) empty
        self.begin(self.udp())  # another port: its own bucket is full, the address's is empty
        self.within_a_second(started)
        wait_until(lambda: self.refused() >= before + 2, "two refusals")
        self.assertEqual(self.refused(), before + 2)


class TrustedProxy(HandshakeRate):
    """Behind a balancer every client has its address: that tier stays out of the way."""
    coap_more = '  trusted_proxies: "127.0.0.1"\n'

    def test_per_source_then_per_address(self):
        before = self.refused()
        started = time.monotonic()
        for _ in range(4):
            self.begin(self.udp())  # each port once: the address tier would refuse 2 of them
        one = self.udp()
        for _ in range(3):
            self.begin(one)
        self.within_a_second(started)
        wait_until(lambda: self.refused() >= before + 1, "the per-source refusal")
        self.assertEqual(self.refused(), before + 1)


class KernelDrops(DtlsCase):
    # coap.socket_receive_buffer sizes the coaps sockets too; what the kernel drops there counts
    # in coap_gateway_udp_receive_drops_total with the plain sockets' drops (it did not).
    dtls_extra = "  socket_receive_buffer: 1\n"  # a coap: key, after the dtls: block

    def test_kernel_receive_drops_on_the_coaps_socket_are_exported(self):
        s = self.udp()
        # An application-data record from an address without a session: read, then dropped.
        junk = b"\x17\xfe\xfd\x00\x01" + bytes(6) + b"\x00\x20" + bytes(32)
        name = "coap_gateway_udp_receive_drops_total"
        self.assertEqual(self.metric(name), 0)
        deadline = time.monotonic() + 20
        while self.metric(name) == 0:
            self.assertLess(time.monotonic(), deadline, "no kernel drop counted")
            for _ in range(5000):
                s.sendto(junk, (self.dtls_host, self.dtls_port))
            # The count rides on a datagram read after the burst: a few more, a metrics round
            # trip apart, until one shows it.
            for _ in range(50):
                s.sendto(junk, (self.dtls_host, self.dtls_port))
                if self.metric(name) > 0:
                    break
        self.assert_served_plain()

    def assert_served_plain(self):
        out, err = self.gw.coap_client("/ts")
        self.assertRegex(answer(out).decode(), r"^\d+$", err)


class Reload(DtlsCase):
    def test_sighup_closes_sessions_of_removed_identities_only(self):
        need(OPENSSL)
        kept = self.observe(OPENSSL, "temp", identity="device-1", key="secret-one")
        doomed = self.observe(OPENSSL, "humidity", identity="doomed", key="short-lived")
        self.wait_sessions(2)
        self.write_plain("temp", "k1")
        self.write_plain("humidity", "d1")
        kept(b"k1")
        doomed(b"d1")
        with open(self.psk_path, "w") as f:
            f.write(PSK_FILE.replace("doomed: text:short-lived\n", ""))
        self.gw.proc.send_signal(signal.SIGHUP)
        self.gw.wait_for_log("coap.dtls.psk_file: 2 identities, 1 removed")
        self.wait_sessions(1)
        self.write_plain("temp", "k2")
        kept(b"k2")  # the other session went on
        out, _ = self.run_client(OPENSSL, "/ts", identity="doomed", key="short-lived")
        self.assertEqual(answer(out), b"")
        self.assertNotIn("short-lived", self.gw.log())

    def write_plain(self, alias, value):
        out, err = self.gw.coap_client("/1a/%s?%s" % (alias, DEMO_CIK), "-m", "post", "-e", value)
        self.assertNotRegex(err, r"\b[45]\.\d\d\b")


class Limits(DtlsCase):
    dtls_extra = "    max_sessions: 1\n    idle_timeout: 2s\n    handshake_timeout: 3s\n"

    def test_max_sessions_then_idle_timeout(self):
        need(OPENSSL)
        # A client that vanishes without close_notify keeps its session until idle_timeout.
        read_until = self.observe(OPENSSL, "temp")
        wait_until(lambda: self.sessions() == 1, "the observer's session")
        limit = self.metric("coap_gateway_dtls_handshakes_total", {"result": "limit"})
        out, _ = self.run_client(OPENSSL, "/ts", timeout=2)
        self.assertEqual(answer(out), b"", "a session beyond max_sessions was served")
        self.assertGreater(self.metric("coap_gateway_dtls_handshakes_total",
                                       {"result": "limit"}), limit)
        read_until.proc.kill()
        self.wait_sessions(0, timeout=10)  # idle_timeout: 2s
        out, err = self.run_client(OPENSSL, "/ts")
        self.assertRegex(answer(out).decode(), r"^\d+$", err)


def make_certificates(directory, kind):
    """A throwaway CA, a server certificate and a client certificate (openssl CLI)."""
    def run(*args):
        subprocess.run(["openssl"] + list(args), check=True, capture_output=True, cwd=directory)
    key_args = (["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"] if kind == "ec"
                else ["-newkey", "rsa:2048"])
    run("req", "-x509", *key_args, "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
        "-subj", "/CN=test CA")
    for name in ("server", "client"):
        run("req", *key_args, "-nodes", "-keyout", name + ".key", "-out", name + ".csr",
            "-subj", "/CN=%s-1" % name)
        with open(os.path.join(directory, name + ".ext"), "w") as f:
            f.write("subjectAltName=IP:127.0.0.1\n" if name == "server" else "")
        run("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", name + ".pem", "-days", "2", "-extfile", name + ".ext")
    return {n: os.path.join(directory, n) for n in
            ("ca.pem", "server.pem", "server.key", "client.pem", "client.key")}


class Certificates(unittest.TestCase):
    def run_with(self, kind):
        need(OPENSSL)
        d = tempfile.mkdtemp(prefix="dtls-cert-")
        self.addCleanup(shutil.rmtree, d, True)
        files = make_certificates(d, kind)
        sim = SimProcess()
        self.addCleanup(sim.close)
        extra = ('  dtls:\n    listen: ["127.0.0.1:0"]\n    cert_file: "%s"\n    key_file: "%s"\n'
                 '    client_ca_file: "%s"\n' % (files["server.pem"], files["server.key"],
                                                 files["ca.pem"]))
        gw = Gateway(sim.url, coap_extra=extra, dtls_listens=1, metrics=True,
                     log_extra="  access: true\n")
        self.addCleanup(gw.close)
        uri = "coaps://%s/1a/temp?%s" % (gw.dtls_addresses[0], DEMO_CIK)
        for program in CLIENTS:
            need(program)
            r = subprocess.run([program, "-B", "5", "-c", files["client.pem"], "-j",
                                files["client.key"], "-C", files["ca.pem"], "-m", "post", "-e",
                                "cert-" + kind, uri], capture_output=True, timeout=30)
            r = subprocess.run([program, "-B", "5", "-c", files["client.pem"], "-j",
                                files["client.key"], "-C", files["ca.pem"], uri],
                               capture_output=True, timeout=30)
            self.assertEqual(answer(r.stdout), ("cert-" + kind).encode(),
                             "%s: %s" % (program, r.stderr.decode(errors="replace")[-800:]))
        gw.wait_for_log("dtls=cert:/CN=client-1")
        # Without a client certificate the handshake fails: client_ca_file requires one.
        r = subprocess.run([OPENSSL, "-B", "3", "-C", files["ca.pem"], uri], capture_output=True,
                           timeout=30)
        self.assertEqual(answer(r.stdout), b"")
        return gw, files

    def test_ecdsa_with_a_client_certificate(self):
        gw, files = self.run_with("ec")
        # RFC 7252 §9.1.3.3: TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8 is on offer.
        r = subprocess.run(["openssl", "s_client", "-dtls1_2", "-connect", gw.dtls_addresses[0],
                            "-cipher", "ECDHE-ECDSA-AES128-CCM8:@SECLEVEL=0",
                            "-cert", files["client.pem"], "-key", files["client.key"]],
                           input=b"", capture_output=True, timeout=30)
        self.assertIn(b"Cipher is ECDHE-ECDSA-AES128-CCM8", r.stdout)

    def test_rsa_with_a_client_certificate(self):
        self.run_with("rsa")


if __name__ == "__main__":
    unittest.main(verbosity=2)
