"""Starts the real coap-gateway binary for a test and drives it with libcoap's coap-client."""
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

BIN_DIR = os.environ.get("GW_BIN_DIR", os.path.join(os.path.dirname(__file__), "../../build/bin"))

# The transport switch, the one place that knows it (issue #15). GW_TEST_TRANSPORT=dtls runs a
# suite over coaps: every Gateway gets a coaps listener and the PSK below, libcoap's clients
# speak coaps with it (coap_client_command), and raw-datagram clients (coap.py), which address
# gw.host:gw.port, reach a dtls-relay there that carries each datagram over its own DTLS
# session per source. Default "udp": plain CoAP, as before.
TRANSPORT = os.environ.get("GW_TEST_TRANSPORT", "udp")
if TRANSPORT not in ("udp", "dtls"):
    raise RuntimeError("GW_TEST_TRANSPORT must be udp or dtls, not %r" % TRANSPORT)
OVER_DTLS = TRANSPORT == "dtls"
DTLS_IDENTITY, DTLS_KEY = "integration-suite", "integration-suite-key"
# The relay is test tooling of the main build: an instrumented tree (tests/sanitize) has only
# the two binaries under test and names the relay here.
DTLS_RELAY = os.environ.get("GW_DTLS_RELAY", os.path.join(BIN_DIR, "dtls-relay"))


def coap_client_binary():
    names = (("coap-client-openssl",) if OVER_DTLS else
             ("coap-client-notls", "coap-client", "coap-client-openssl", "coap-client-gnutls"))
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    raise RuntimeError("libcoap's %s is not installed (Debian package libcoap3-bin)" % names[0])


def coap_client_command():
    """libcoap's client and, over coaps, its PSK arguments; the URI comes from Gateway.uri()."""
    return [coap_client_binary()] + (["-u", DTLS_IDENTITY, "-k", DTLS_KEY] if OVER_DTLS else [])


class DtlsRelay:
    """dtls-relay (tests/integration/dtls_relay.cpp) in front of a coaps address: plain CoAP to
    host:port goes over one DTLS PSK session per source to `coaps_address`."""

    def __init__(self, coaps_address, directory):
        self.stderr = open(os.path.join(directory, "dtls-relay.log"), "wb")
        self.proc = subprocess.Popen(
            [DTLS_RELAY, "--connect", coaps_address,
             "--identity", DTLS_IDENTITY, "--key", DTLS_KEY],
            stdout=subprocess.PIPE, stderr=self.stderr)
        line = read_lines_until(self.proc, self.proc.stdout, 1, 30)[0]
        host, port = line.split("listening on ", 1)[1].rsplit(":", 1)
        self.host, self.port = host.strip("[]"), int(port)

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self.stderr.close()


def read_lines_until(proc, stream, want, deadline_s):
    """Reads lines from stream until `want` lines matched a prefix, with a deadline (no sleep)."""
    found = []
    deadline = time.monotonic() + deadline_s
    buf = b""
    fd = stream.fileno()
    while len(found) < want:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("process did not report ready in time")
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        chunk = os.read(fd, 4096)
        if not chunk:
            raise RuntimeError("process exited early (status %s)" % proc.poll())
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            found.append(line.decode(errors="replace"))
    return found


class Gateway:
    def __init__(self, upstream_url, config_extra="", listen=("127.0.0.1:0",), workers=1,
                 args=None, coap_extra="", upstream_extra="", env=None, metrics=False,
                 dtls_listens=0, log_extra=""):
        """config_extra: top-level YAML; coap_extra / upstream_extra: indented lines that go
        into the coap: and upstream: sections the harness writes itself. dtls_listens: how many
        coap.dtls.listen addresses coap_extra names (each prints a ready line). log_extra:
        indented lines for the log: section."""
        self.dir = tempfile.mkdtemp(prefix="gw-test-")
        self.config_path = os.path.join(self.dir, "gateway.yaml")
        listen_yaml = "\n".join('    - "%s"' % a for a in listen)
        with open(self.config_path, "w") as f:
            f.write("workers: %d\nlog:\n  level: debug\n%scoap:\n  listen:\n%s\n"
                    % (workers, log_extra, listen_yaml))
            f.write(coap_extra)
            dtls_here = OVER_DTLS and dtls_listens == 0 and args is None
            if dtls_here:
                # Every client comes from 127.0.0.1 and the suites open many: no handshake rate.
                psk_path = os.path.join(self.dir, "psk.txt")
                with open(psk_path, "w") as psk:
                    psk.write("%s: text:%s\n" % (DTLS_IDENTITY, DTLS_KEY))
                f.write('  dtls:\n    listen: ["127.0.0.1:0"]\n    psk_file: "%s"\n'
                        '    handshake_rate: 0\n' % psk_path)
                dtls_listens = 1
            f.write('upstream:\n  url: "%s"\n' % upstream_url)
            f.write(upstream_extra)
            if metrics:
                f.write('metrics:\n  listen: "127.0.0.1:0"\n')
            f.write(config_extra)
        self.stderr_path = os.path.join(self.dir, "stderr.log")
        self.stderr = open(self.stderr_path, "wb")
        cmd = [os.path.join(BIN_DIR, "coap-gateway")] + (args or ["--config", self.config_path])
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.stderr,
                                     env=dict(os.environ, **(env or {})))
        lines = read_lines_until(self.proc, self.proc.stdout,
                                 len(listen) + dtls_listens + (1 if metrics else 0), 30)
        self.addresses = [l.split("coap://", 1)[1] for l in lines if "coap://" in l]
        self.dtls_addresses = [l.split("coaps://", 1)[1] for l in lines if "coaps://" in l]
        self.metrics_url = next((l.split(" on ", 1)[1] for l in lines if "metrics on" in l), None)
        host, port = self.addresses[0].rsplit(":", 1)
        self.host = host.strip("[]")
        self.port = int(port)
        self.relay = None
        if dtls_here:
            try:
                self.relay = DtlsRelay(self.dtls_addresses[0], self.dir)
            except Exception:
                self.close()
                raise
            # Raw clients address (host, port): the relay's plain port stands for the gateway.
            self.host, self.port = self.relay.host, self.relay.port

    def uri(self, path):
        """The gateway's URI for libcoap's client (coap_client_command()): coaps over DTLS."""
        address = self.dtls_addresses[0] if self.relay else self.addresses[0]
        return "%s://%s%s" % ("coaps" if self.relay else "coap", address, path)

    def coap_client(self, path, *args, timeout=10):
        """Runs coap-client; returns (stdout bytes, stderr text)."""
        cmd = coap_client_command() + ["-B", str(timeout)] + list(args) + [self.uri(path)]
        r = subprocess.run(cmd, capture_output=True, timeout=timeout + 20)
        return r.stdout, r.stderr.decode(errors="replace")

    def metric(self, name):
        """The sum of every sample of a Prometheus metric on /metrics (needs metrics=True)."""
        import urllib.request
        if not self.metrics_url:
            raise RuntimeError("the gateway was started without metrics=True")
        with urllib.request.urlopen(self.metrics_url, timeout=10) as r:
            text = r.read().decode()
        total = 0.0
        for line in text.splitlines():
            if line.startswith(name + "{") or line.startswith(name + " "):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def rewrite_config(self, text):
        with open(self.config_path, "w") as f:
            f.write(text)

    def config_text(self):
        with open(self.config_path) as f:
            return f.read()

    def wait_for_log(self, text, timeout=15):
        """Waits until the gateway's log contains `text` (polling its file; no fixed sleep)."""
        deadline = time.monotonic() + timeout
        while text not in self.log():
            if time.monotonic() > deadline:
                raise TimeoutError("%r not logged; log:\n%s" % (text, self.log()[-2000:]))
            time.sleep(0.02)

    def log(self):
        self.stderr.flush()
        with open(self.stderr_path, "rb") as f:
            return f.read().decode(errors="replace")

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        finally:
            self.stderr.close()

    def close(self):
        if getattr(self, "relay", None):
            self.relay.close()
            self.relay = None
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if not self.stderr.closed:
            self.stderr.close()
        self.proc.stdout.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class GatewayCase(unittest.TestCase):
    """A real onep-sim (the example state) and a gateway in front of it, shared by a class's
    tests; the sim's counters, request log and faults are reset before each test."""
    coap_extra = ""
    upstream_extra = ""

    @classmethod
    def setUpClass(cls):
        from simproc import SimProcess  # the sim's helper; imported here to keep gwproc light
        cls.sim = SimProcess()
        cls.gw = Gateway(cls.sim.url, coap_extra=cls.coap_extra, upstream_extra=cls.upstream_extra)

    @classmethod
    def tearDownClass(cls):
        cls.gw.close()
        cls.sim.close()

    def setUp(self):
        self.sim.reset()

    def client(self):
        import coap
        c = coap.Client(self.gw.host, self.gw.port)
        self.addCleanup(c.close)
        return c
