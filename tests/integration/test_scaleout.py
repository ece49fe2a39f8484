"""Scale-out on an existing engine: Debian's nginx stream module balancing UDP across three real
gateway instances (deploy/nginx-udp.conf's scheme, on loopback ports of the test's own). 50
clients read, write, observe and download blockwise; one instance is killed mid-way and its
clients' next requests succeed through another."""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

import coap
from gwproc import Gateway
from simproc import DEMO_CIK, SimProcess

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
STREAM_MODULE = "/usr/lib/nginx/modules/ngx_stream_module.so"


def free_udp_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Peer(coap.Client):
    def call(self, req, attempts=12, interval=0.5):
        """A CoAP client's retransmission, faster than ACK_TIMEOUT to keep the test short: the
        same datagram again until a response with our token arrives."""
        for _ in range(attempts):
            self.send(req)
            deadline = time.monotonic() + interval
            while time.monotonic() < deadline:
                r = self.receive(deadline - time.monotonic())
                if r is None:
                    break
                if r.type == coap.CON:
                    self.send(coap.Message(coap.ACK, 0, r.mid))
                if r.token == req.token and r.code != 0:
                    return r
        return None


class ScaleOut(unittest.TestCase):
    def setUp(self):
        if not os.path.exists(NGINX) or not os.path.exists(STREAM_MODULE):
            self.fail("nginx and libnginx-mod-stream are needed (scripts/install-deps.sh)")
        self.sim = SimProcess()
        self.addCleanup(self.sim.close)
        self.gateways = [Gateway(self.sim.url, metrics=True) for _ in range(3)]
        for gw in self.gateways:
            self.addCleanup(gw.close)
        self.dir = tempfile.mkdtemp(prefix="nginx-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.port = free_udp_port()
        servers = "\n".join("    server 127.0.0.1:%d max_fails=1 fail_timeout=10s;" % gw.port
                            for gw in self.gateways)
        conf = os.path.join(self.dir, "nginx.conf")
        with open(conf, "w") as f:
            f.write("""load_module %s;
worker_processes 1;
pid %s/nginx.pid;
error_log %s/error.log notice;
daemon off;
events { worker_connections 1024; }
stream {
  upstream coap_gateways {
    hash $remote_addr$remote_port consistent;
%s
  }
  server {
    listen 127.0.0.1:%d udp;
    proxy_pass coap_gateways;
    proxy_timeout 300s;
  }
}
""" % (STREAM_MODULE, self.dir, self.dir, servers, self.port))
        self.nginx = subprocess.Popen([NGINX, "-c", conf, "-p", self.dir],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(self.stop_nginx)
        # Ready when a CoAP ping through nginx comes back as RST.
        probe = Peer("127.0.0.1", self.port)
        self.addCleanup(probe.close)
        deadline = time.monotonic() + 20
        while True:
            self.assertLess(time.monotonic(), deadline, "nginx did not start")
            probe.send(coap.Message(coap.CON, 0, 1))
            r = probe.receive(0.2)
            if r is not None and r.type == coap.RST:
                break

    def stop_nginx(self):
        self.nginx.terminate()
        self.nginx.wait(10)

    def test_fifty_clients_and_an_instance_dies(self):
        clients = [Peer("127.0.0.1", self.port) for _ in range(50)]
        for c in clients:
            self.addCleanup(c.close)

        def ok(r, code):
            self.assertIsNotNone(r)
            self.assertEqual(coap.code_str(r.code), code, r.payload)

        for i, c in enumerate(clients):
            ok(c.call(coap.request(coap.POST, "/1a/humidity", [DEMO_CIK], b"%d" % i)), "2.04")
            ok(c.call(coap.request(coap.GET, "/1a/temp", [DEMO_CIK])), "2.05")
            # Blockwise download, 256-byte blocks, every block through the balancer.
            got, num = b"", 0
            while True:
                r = c.call(coap.request(coap.GET, "/provision/download/demo/gateway/k1p1.bin",
                                        [DEMO_CIK],
                                        options=[(coap.OPT_BLOCK2, coap.uint_bytes(num << 4 | 4))]))
                ok(r, "2.05")
                got += r.payload
                if not coap.bytes_uint(r.opt(coap.OPT_BLOCK2)) & 8:
                    break
                num += 1
            self.assertEqual(got, bytes(i % 251 for i in range(1025)))

        # Ten observers; a write reaches each through the instance that holds its observation.
        observers = clients[:10]
        tokens = []
        for c in observers:
            req = coap.request(coap.GET, "/1a/temp", [DEMO_CIK], options=[(coap.OPT_OBSERVE, b"")])
            r = c.call(req)
            ok(r, "2.05")
            self.assertIsNotNone(r.opt(coap.OPT_OBSERVE))
            tokens.append(req.token)
        time.sleep(max(0.0, int(time.time()) + 1 - time.time()))  # upstream: 1 write/second
        ok(clients[-1].call(coap.request(coap.POST, "/1a/temp", [DEMO_CIK], b"scaled")), "2.04")
        for c, token in zip(observers, tokens):
            deadline = time.monotonic() + 15
            while True:
                left = deadline - time.monotonic()
                self.assertGreater(left, 0, "an observer missed the write")
                n = c.receive(left)
                if n is None:
                    continue
                if n.type == coap.CON:
                    c.send(coap.Message(coap.ACK, 0, n.mid))
                if n.token == token and n.payload == b"scaled":
                    break

        # One instance dies; every client's next request still succeeds through another. That
        # means something only if the instance had clients: its own count of requests says so
        # (the balancer hashes 50 client ports over 3 instances; all on one would be a bug).
        served = [gw.metric("coap_gateway_requests_total") for gw in self.gateways]
        victim = self.gateways[1]
        self.assertGreater(served[1], 0, "the instance to be killed served nobody: %r" % served)
        victim.proc.kill()
        victim.proc.wait()
        for i, c in enumerate(clients):
            ok(c.call(coap.request(coap.GET, "/1a/humidity", [DEMO_CIK])), "2.05")
            ok(c.call(coap.request(coap.POST, "/1a/humidity", [DEMO_CIK], b"after-%d" % i)),
               "2.04")


if __name__ == "__main__":
    unittest.main(verbosity=2)
