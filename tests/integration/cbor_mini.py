"""Just enough CBOR (RFC 8949) for the tests: maps, arrays, text, bytes, ints, floats, simple."""
import struct


def _head(major, n):
    if n < 24:
        return bytes([(major << 5) | n])
    for ai, fmt in ((24, "!B"), (25, "!H"), (26, "!I"), (27, "!Q")):
        if n < (1 << (8 * struct.calcsize(fmt))):
            return bytes([(major << 5) | ai]) + struct.pack(fmt, n)
    raise ValueError(n)


def dumps(v):
    if v is None:
        return b"\xf6"
    if v is True:
        return b"\xf5"
    if v is False:
        return b"\xf4"
    if isinstance(v, int):
        return _head(0, v) if v >= 0 else _head(1, -1 - v)
    if isinstance(v, float):
        return b"\xfb" + struct.pack("!d", v)
    if isinstance(v, str):
        b = v.encode()
        return _head(3, len(b)) + b
    if isinstance(v, bytes):
        return _head(2, len(v)) + v
    if isinstance(v, (list, tuple)):
        return _head(4, len(v)) + b"".join(dumps(x) for x in v)
    if isinstance(v, dict):
        return _head(5, len(v)) + b"".join(dumps(k) + dumps(x) for k, x in v.items())
    raise TypeError(type(v))


def loads(data):
    v, i = _item(data, 0)
    if i != len(data):
        raise ValueError("trailing bytes")
    return v


def _item(d, i):
    ib = d[i]
    major, ai = ib >> 5, ib & 31
    i += 1
    if major == 7:
        if ai == 20:
            return False, i
        if ai == 21:
            return True, i
        if ai in (22, 23):
            return None, i
        if ai == 25:
            return _half(d[i:i + 2]), i + 2
        if ai == 26:
            return struct.unpack("!f", d[i:i + 4])[0], i + 4
        if ai == 27:
            return struct.unpack("!d", d[i:i + 8])[0], i + 8
        raise ValueError("simple %d" % ai)
    if ai < 24:
        n = ai
    else:
        size = {24: 1, 25: 2, 26: 4, 27: 8}[ai]
        n = int.from_bytes(d[i:i + size], "big")
        i += size
    if major == 0:
        return n, i
    if major == 1:
        return -1 - n, i
    if major == 2:
        return bytes(d[i:i + n]), i + n
    if major == 3:
        return d[i:i + n].decode(), i + n
    if major == 4:
        out = []
        for _ in range(n):
            v, i = _item(d, i)
            out.append(v)
        return out, i
    if major == 5:
        out = {}
        for _ in range(n):
            k, i = _item(d, i)
            v, i = _item(d, i)
            out[k] = v
        return out, i
    if major == 6:
        return _item(d, i)
    raise ValueError(major)


def _half(b):
    h = int.from_bytes(b, "big")
    exp, mant = (h >> 10) & 0x1F, h & 0x3FF
    if exp == 0:
        val = mant * 2.0 ** -24
    elif exp == 31:
        val = float("inf") if mant == 0 else float("nan")
    else:
        val = (mant + 1024) * 2.0 ** (exp - 25)
    return -val if h & 0x8000 else val
