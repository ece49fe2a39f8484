"""A small CoAP (RFC 7252) encoder/decoder and UDP client for raw-datagram tests."""
import random
import socket
import struct
import time

CON, NON, ACK, RST = 0, 1, 2, 3

GET, POST, PUT, DELETE = 0x01, 0x02, 0x03, 0x04


def code(cls, detail):
    return (cls << 5) | detail


def code_str(c):
    return "%d.%02d" % (c >> 5, c & 0x1F)


OPT_OBSERVE, OPT_URI_PATH, OPT_CONTENT_FORMAT, OPT_MAX_AGE = 6, 11, 12, 14
OPT_URI_QUERY, OPT_ACCEPT, OPT_BLOCK2, OPT_BLOCK1 = 15, 17, 23, 27
OPT_SIZE2, OPT_SIZE1, OPT_ETAG = 28, 60, 4
OPT_ECHO, OPT_REQUEST_TAG = 252, 292  # RFC 9175


def uint_bytes(v):
    out = b""
    while v:
        out = bytes([v & 0xFF]) + out
        v >>= 8
    return out


def bytes_uint(b):
    v = 0
    for x in b:
        v = (v << 8) | x
    return v


def is_fresher(old, new):
    """RFC 7641 §3.4: whether a notification with Observe value `new` is newer than one with
    `old`, in 24-bit serial number arithmetic (the 128-second clause aside: the tests' relations
    are far younger)."""
    return (old < new and new - old < 1 << 23) or (old > new and old - new > 1 << 23)


class Message:
    def __init__(self, mtype=CON, code=0, mid=0, token=b"", options=None, payload=b""):
        self.type = mtype
        self.code = code
        self.mid = mid
        self.token = token
        self.options = list(options or [])  # [(number, bytes)]
        self.payload = payload

    def opt(self, number):
        for n, v in self.options:
            if n == number:
                return v
        return None

    def opt_uint(self, number):
        v = self.opt(number)
        return None if v is None else bytes_uint(v)

    def __repr__(self):
        return "Message(type=%d code=%s mid=%d token=%s options=%r payload=%r)" % (
            self.type, code_str(self.code), self.mid, self.token.hex(), self.options, self.payload)


def encode(m):
    out = bytes([0x40 | (m.type << 4) | len(m.token), m.code]) + struct.pack("!H", m.mid) + m.token
    last = 0
    for number, value in sorted(m.options, key=lambda o: o[0]):
        delta, length = number - last, len(value)
        last = number

        def nib(x):
            if x < 13:
                return x, b""
            if x < 269:
                return 13, bytes([x - 13])
            return 14, struct.pack("!H", x - 269)

        dn, dx = nib(delta)
        ln, lx = nib(length)
        out += bytes([(dn << 4) | ln]) + dx + lx + value
    if m.payload:
        out += b"\xff" + m.payload
    return out


def decode(data):
    if len(data) < 4:
        raise ValueError("short")
    b0, c, mid = data[0], data[1], struct.unpack("!H", data[2:4])[0]
    tkl = b0 & 0x0F
    m = Message((b0 >> 4) & 3, c, mid, data[4:4 + tkl])
    i, number = 4 + tkl, 0
    while i < len(data):
        if data[i] == 0xFF:
            m.payload = data[i + 1:]
            break
        dn, ln = data[i] >> 4, data[i] & 0x0F
        i += 1

        def ext(x, i):
            if x == 13:
                return data[i] + 13, i + 1
            if x == 14:
                return struct.unpack("!H", data[i:i + 2])[0] + 269, i + 2
            return x, i

        delta, i = ext(dn, i)
        length, i = ext(ln, i)
        number += delta
        m.options.append((number, data[i:i + length]))
        i += length
    return m


def block_option(num, more, szx):
    """A Block1/Block2 option value (RFC 7959 §2.2)."""
    return uint_bytes((num << 4) | (8 if more else 0) | szx)


def parse_block(value):
    """(NUM, M, SZX) of a Block1/Block2 option value."""
    v = bytes_uint(value)
    return v >> 4, bool(v & 8), v & 7


def request(method, path, queries=(), payload=b"", mtype=CON, mid=None, token=None, options=()):
    opts = [(OPT_URI_PATH, seg.encode()) for seg in path.strip("/").split("/") if seg]
    for q in queries:
        opts.append((OPT_URI_QUERY, q if isinstance(q, bytes) else q.encode()))
    opts.extend(options)
    return Message(mtype, method, random.randrange(65536) if mid is None else mid,
                   os_token() if token is None else token, opts, payload)


def os_token():
    return random.randbytes(4)


class Client:
    """A UDP socket that talks to one server; receive() waits with a deadline, never sleeps."""

    def __init__(self, host, port):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.addr = (host, port)

    def send_raw(self, data):
        self.sock.sendto(data, self.addr)

    def send(self, m):
        self.send_raw(encode(m))

    def receive(self, timeout=5.0):
        """The next datagram as a Message, or None when nothing came within timeout. Datagrams
        that are not CoAP (a balancer's empty datagram, say) are skipped."""
        deadline = time.monotonic() + timeout
        while True:
            self.sock.settimeout(max(0.0, deadline - time.monotonic()))
            try:
                data, _ = self.sock.recvfrom(65536)
            except (socket.timeout, ConnectionRefusedError):
                if time.monotonic() >= deadline:
                    return None
                continue
            try:
                return decode(data)
            except (ValueError, IndexError, struct.error):
                continue

    def exchange(self, m, timeout=10.0):
        """Sends a request and returns its response, ACKing a separate CON response."""
        self.send(m)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            r = self.receive(left)
            if r is None:
                return None
            if r.type == ACK and r.code == 0 and r.mid == m.mid:
                continue  # empty ACK; the separate response follows
            if r.token != m.token:
                continue
            if r.type == CON:
                self.send(Message(ACK, 0, r.mid))
            return r

    def close(self):
        self.sock.close()
