"""A seeded lossy UDP relay for tests: it sits between clients and a server on loopback and drops
or duplicates datagrams, both ways.

    relay = UdpRelay(("127.0.0.1", gw.port), seed=7, drop=0.3, duplicate=0.05)
    host, port = relay.add_flow()        # one client talks to this address
    ...
    relay.close()

Each flow is one client: its own front port (the client sends there) and its own back socket
(the server sees one peer per flow). Every flow direction draws from a random generator of its
own, seeded from (seed, flow number, direction), so the k-th datagram of a flow in a direction
meets the same fate on every run with that seed, however the threads interleave."""
import random
import selectors
import socket
import threading


class _Flow:
    def __init__(self, index, seed, server):
        self.index = index
        self.front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.front.bind(("127.0.0.1", 0))
        self.back = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.back.connect(server)
        self.client = None  # the client's address, learnt from its first datagram
        self.up = random.Random("%s/%d/up" % (seed, index))
        self.down = random.Random("%s/%d/down" % (seed, index))


class UdpRelay:
    def __init__(self, server, seed, drop=0.3, duplicate=0.05):
        self.server = server
        self.seed = seed
        self.drop = drop
        self.duplicate = duplicate
        self.stats = {"forwarded": 0, "dropped": 0, "duplicated": 0}
        self._flows = []
        self._lock = threading.Lock()
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="udp-relay", daemon=True)
        self._thread.start()

    def add_flow(self):
        """A new client-side address ("127.0.0.1", port) for one client."""
        with self._lock:
            flow = _Flow(len(self._flows), self.seed, self.server)
            self._flows.append(flow)
            self._selector.register(flow.front, selectors.EVENT_READ, (flow, True))
            self._selector.register(flow.back, selectors.EVENT_READ, (flow, False))
        self._wake_w.send(b"x")  # epoll takes the new sockets at once; this is belt and braces
        return flow.front.getsockname()

    def _pass(self, rng, send, data):
        # Two draws per datagram whatever happens, so one fate never shifts the next ones.
        fate, twice = rng.random(), rng.random()
        if fate < self.drop:
            self.stats["dropped"] += 1
            return
        copies = 2 if twice < self.duplicate else 1
        self.stats["duplicated"] += copies - 1
        for _ in range(copies):
            try:
                send(data)
                self.stats["forwarded"] += 1
            except OSError:
                pass  # ICMP port unreachable from a closed client: as the network would

    def _run(self):
        while not self._stopped:
            for key, _ in self._selector.select(timeout=1.0):
                if key.data is None:
                    self._wake_r.recv(4096)
                    continue
                flow, from_client = key.data
                try:
                    if from_client:
                        data, flow.client = flow.front.recvfrom(65536)
                        self._pass(flow.up, flow.back.send, data)
                    else:
                        data = flow.back.recv(65536)
                        if flow.client is not None:
                            self._pass(flow.down, lambda d: flow.front.sendto(d, flow.client), data)
                except OSError:
                    continue

    def close(self):
        self._stopped = True
        self._wake_w.send(b"x")
        self._thread.join(10)
        for flow in self._flows:
            flow.front.close()
            flow.back.close()
        self._selector.close()
        self._wake_r.close()
        self._wake_w.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
