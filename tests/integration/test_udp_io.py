"""The worker's UDP path on the real binary: batched reads and writes (recvmmsg/sendmmsg) keep
every answer with its peer and Message ID, and the kernel's receive drops reach /metrics."""
import time
import unittest

import coap
from gwproc import Gateway

# Nothing listens here: /.well-known/core never calls the upstream.
DEAD_UPSTREAM = "http://127.0.0.1:9"


def collect(clients, expected, deadline_s):
    """Reads answers from every client until each has `expected` distinct MIDs, or the deadline."""
    got = [dict() for _ in clients]
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline and any(len(g) < expected for g in got):
        for c, g in zip(clients, got):
            while len(g) < expected:
                m = c.receive(timeout=0.05)
                if m is None:
                    break
                g[m.mid] = m
    return got


class UdpBatches(unittest.TestCase):
    def test_a_burst_from_many_peers_is_answered_each_to_its_own(self):
        # 16 peers x 40 requests sent back to back: the worker reads them in batches and sends
        # the answers of a batch in one sendmmsg, which mixes peers; each answer must still be
        # the piggybacked ACK of that peer's own request. The whole discovery document to each
        # of 640 tiny requests is what the amplification bound exists to refuse to unverified
        # sources (test_amplification.py measures that); here it is off, so that every answer
        # is the same size and carries the whole document to check.
        with Gateway(DEAD_UPSTREAM, workers=1, coap_extra="  amplification_factor: 0\n") as gw:
            clients = [coap.Client(gw.host, gw.port) for _ in range(16)]
            try:
                tokens = {}
                for i in range(40):
                    for n, c in enumerate(clients):
                        mid = (n * 1000 + i) & 0xFFFF
                        token = bytes([n, i])
                        tokens[(n, mid)] = token
                        c.send(coap.request(coap.GET, "/.well-known/core", mid=mid, token=token))
                got = collect(clients, 40, 30)
                for n, g in enumerate(got):
                    self.assertEqual(len(g), 40, "peer %d got %d answers" % (n, len(g)))
                    for mid, m in g.items():
                        self.assertEqual(m.type, coap.ACK)
                        self.assertEqual(m.code, coap.code(2, 5))
                        self.assertEqual(m.token, tokens[(n, mid)])
                        self.assertIn(b"</ts>", m.payload)
            finally:
                for c in clients:
                    c.close()

    def test_kernel_receive_drops_are_exported(self):
        # The smallest receive buffer the kernel allows holds a handful of datagrams: a burst of
        # thousands overflows it. SO_RXQ_OVFL tells the count on the next datagram read.
        with Gateway(DEAD_UPSTREAM, workers=1, metrics=True,
                     coap_extra="  socket_receive_buffer: 1\n") as gw:
            name = "coap_gateway_udp_receive_drops_total"
            self.assertEqual(gw.metric(name), 0)
            c = coap.Client(gw.host, gw.port)
            try:
                ping = coap.encode(coap.request(coap.GET, "/.well-known/core", mid=1))
                deadline = time.monotonic() + 20
                drops = 0
                while drops == 0 and time.monotonic() < deadline:
                    for _ in range(5000):
                        c.send_raw(ping)
                    # One more datagram once the burst has been read carries the final count
                    # (from another socket: the burst's own is full of answers).
                    # The tiny buffer may drop the probe too: it is sent again until answered.
                    probe = coap.Client(gw.host, gw.port)
                    try:
                        answered = None
                        while answered is None and time.monotonic() < deadline:
                            answered = probe.exchange(
                                coap.request(coap.GET, "/.well-known/core"), timeout=0.5)
                        self.assertIsNotNone(answered)
                    finally:
                        probe.close()
                    drops = gw.metric(name)
                self.assertGreater(drops, 0)
            finally:
                c.close()


if __name__ == "__main__":
    unittest.main()
