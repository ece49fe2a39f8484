"""Starts the real onep-sim binary for a test and talks to its /_sim/ inspection endpoints.

    with SimProcess() as sim:                 # sim/example-state.yaml on 127.0.0.1:0
        status, headers, body = sim.request("GET", "/timestamp")
        sim.fault(match="/timestamp", action="status", status=503, times=1)
        sim.wait_for(lambda: sim.stats()["longpolls_active"] == 1)

Every helper opens a fresh connection, so a test's own keep-alive connections are never
disturbed. The process is killed on close(), on leaving the `with` block and at interpreter exit.
"""
import atexit
import http.client
import json
import os
import select
import signal
import ssl
import subprocess
import tempfile
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
BIN_DIR = os.environ.get("GW_BIN_DIR", os.path.join(HERE, "../../build/bin"))
EXAMPLE_STATE = os.path.normpath(os.path.join(HERE, "../../sim/example-state.yaml"))
DEMO_CIK = "a32c85ba9dda45823be416246cf8b433baa068d7"
READY_PREFIX = "onep-sim listening on "


def demo_state(aliases):
    """A state file for onep-sim: the demo device with one dataport per alias, each holding
    "initial". Returns its path; the caller removes it. Suites that observe give each test a
    dataport of its own, so that a long-poll left by one test never hides another's."""
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        f.write('devices:\n  - vendor: demo\n    model: gateway\n    sn: "0001"\n'
                "    cik: %s\n    dataports:\n" % DEMO_CIK)
        for alias in aliases:
            f.write('      %s: "initial"\n' % alias)
        return f.name


class SimProcess:
    def __init__(self, state=EXAMPLE_STATE, listen="127.0.0.1:0", tls_cert=None, tls_key=None,
                 max_requests_per_connection=None, args=(), ready_timeout=30.0):
        cmd = [os.path.join(BIN_DIR, "onep-sim"), "--listen", listen, "--state", state]
        if tls_cert:
            cmd += ["--tls-cert", tls_cert, "--tls-key", tls_key]
        if max_requests_per_connection is not None:
            cmd += ["--max-requests-per-connection", str(max_requests_per_connection)]
        cmd += list(args)
        self.tls_cert = tls_cert
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        atexit.register(self.close)
        try:
            line = self._read_ready_line(ready_timeout)
        except Exception:
            self.close()
            raise
        self.url = line[len(READY_PREFIX):]
        parsed = urllib.parse.urlsplit(self.url)
        self.scheme = parsed.scheme
        self.host = parsed.hostname
        self.port = parsed.port

    def _read_ready_line(self, timeout):
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        buf = b""
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("onep-sim did not print its listening line in %ss" % timeout)
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(fd, 4096)
            if not chunk:
                err = self.proc.stderr.read().decode(errors="replace")
                raise RuntimeError("onep-sim exited (status %s): %s" % (self.proc.wait(), err))
            buf += chunk
        line = buf.split(b"\n", 1)[0].decode()
        if not line.startswith(READY_PREFIX):
            raise RuntimeError("unexpected first line from onep-sim: %r" % line)
        return line

    # --- plain HTTP(S) -------------------------------------------------------------------
    def ssl_context(self):
        """Verifies the sim's certificate against itself (the tests' certificates are self-signed)."""
        return ssl.create_default_context(cafile=self.tls_cert)

    def connection(self, timeout=30.0):
        if self.scheme == "https":
            return http.client.HTTPSConnection(self.host, self.port, timeout=timeout,
                                               context=self.ssl_context())
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def request(self, method, target, body=None, headers=None, timeout=30.0):
        """One request on a fresh connection: (status, {lower-case name: value}, body bytes)."""
        conn = self.connection(timeout)
        try:
            conn.request(method, target, body=body, headers=headers or {})
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
        finally:
            conn.close()

    def _json(self, method, target, body=None):
        status, _, data = self.request(method, target, body,
                                       {"Content-Type": "application/json"} if body else None)
        if status not in (200, 204):
            raise RuntimeError("%s %s: HTTP %d %r" % (method, target, status, data))
        return json.loads(data) if data else None

    # --- the /_sim/ test contract ----------------------------------------------------------
    def stats(self):
        return self._json("GET", "/_sim/stats")

    def requests(self):
        return self._json("GET", "/_sim/requests")

    def reset(self):
        self._json("POST", "/_sim/reset")

    def fault(self, **fields):
        """fault(match="/", delay_ms=0, action="none"|"close"|"status"|"garbage", status=503,
        headers={...}, body="", times=K)"""
        self._json("POST", "/_sim/fault", json.dumps(fields))

    def clear_faults(self):
        self._json("DELETE", "/_sim/fault")

    def dataport(self, cik, alias):
        """{"exists": bool, "values": [[ts, "value"], ...]}"""
        query = urllib.parse.urlencode({"cik": cik, "alias": alias})
        return self._json("GET", "/_sim/dataport?" + query)

    def wait_for(self, predicate, timeout=10.0, interval=0.01):
        """Polls `predicate` until it is true; raises TimeoutError at the deadline."""
        deadline = time.monotonic() + timeout
        while True:
            if predicate():
                return
            if time.monotonic() >= deadline:
                raise TimeoutError("condition not met within %ss" % timeout)
            time.sleep(interval)

    # --- lifetime ------------------------------------------------------------------------
    def stop(self, sig=signal.SIGTERM, timeout=30.0):
        """Sends `sig` and returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout)

    def stderr_text(self):
        """What the sim wrote to stderr; only once it has exited."""
        return self.proc.stderr.read().decode(errors="replace")

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream and not stream.closed:
                stream.close()
        atexit.unregister(self.close)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
