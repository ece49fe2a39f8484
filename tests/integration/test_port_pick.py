#!/usr/bin/env python3
"""`coap.listen` with port 0 (the kernel picks) never lands on a port another process already
holds with SO_REUSEPORT. Asked with SO_REUSEPORT set, Linux hands out such ports (the two
processes then split the traffic: test gateways lost each other's notifications that way); the
gateway asks without it and shares the port with its own workers only afterwards.

Deterministic in a network namespace of the test's own (`unshare --net`, as root), whose
ephemeral port range it narrows; nothing leaves the namespace. Skipped, with the reason, where a
namespace cannot be made."""
import os
import socket
import subprocess
import tempfile
import unittest

import coap
import netns
from gwproc import BIN_DIR

RANGE = "/proc/sys/net/ipv4/ip_local_port_range"
CONFIG = 'workers: 2\ncoap:\n  listen: ["127.0.0.1:0"]\nupstream:\n  url: "http://127.0.0.1:9"\n'


def squatter(port):
    """Another process's socket as a second gateway would hold it: SO_REUSEPORT, bound by number."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.bind(("127.0.0.1", port))
    return s


def set_range(low, high):
    with open(RANGE, "w") as f:
        f.write("%d %d\n" % (low, high))


class PortPick(unittest.TestCase):
    def setUp(self):
        with open(RANGE) as f:
            saved = f.read()
        self.addCleanup(lambda: open(RANGE, "w").write(saved))
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            f.write(CONFIG)
        self.config = f.name
        self.addCleanup(os.unlink, self.config)

    def start(self):
        p = subprocess.Popen([os.path.join(BIN_DIR, "coap-gateway"), "--config", self.config],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: (p.kill(), p.wait()))
        return p

    def test_the_only_free_port_held_by_another_process(self):
        # Every port the kernel may pick is held: the gateway must not join it.
        set_range(40000, 40000)
        held = squatter(40000)
        self.addCleanup(held.close)
        p = self.start()
        p.wait(30)
        self.assertNotEqual(p.returncode, 0, "the gateway shared a port another process holds")
        self.assertIn("cannot listen", p.stderr.read())

    def test_a_free_port_beside_a_held_one(self):
        set_range(40000, 40001)
        held = squatter(40000)
        self.addCleanup(held.close)
        p = self.start()
        line = p.stdout.readline()
        self.assertIn("coap://", line)
        port = int(line.rsplit(":", 1)[1])
        self.assertEqual(port, 40001)
        set_range(41000, 42000)  # for the client's own socket
        # Both workers serve it (the second joined by number after the first bound), and the
        # other process's socket sees none of its traffic.
        held.setblocking(False)
        for _ in range(20):
            c = coap.Client("127.0.0.1", port)
            r = c.exchange(coap.request(coap.GET, "/.well-known/core"))
            c.close()
            self.assertIsNotNone(r)
            self.assertEqual(coap.code_str(r.code), "2.05")
        with self.assertRaises(BlockingIOError):
            held.recv(2048)


def configure():
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)


if __name__ == "__main__":
    netns.main(configure)
