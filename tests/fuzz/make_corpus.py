#!/usr/bin/env python3
"""Writes the seed corpus of every fuzz target into tests/fuzz/corpus/<target>/ (run it after
changing a seed; the files are committed). Seeds are small valid inputs: the RFC 7252 examples,
the datagrams real Exosite clients send (tests/data/exosite-client-datagrams.json), the RFC 8949
Appendix A CBOR vectors (tests/data/cbor-rfc8949-appendix-a.json), the example configuration,
and typical One Platform answers. Deterministic: the same run writes the same files."""
import base64
import hashlib
import json
import os
import shutil
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "../.."))
sys.path.insert(0, os.path.join(ROOT, "tests/integration"))
import cbor_mini  # noqa: E402
import coap  # noqa: E402

CIK = "a32c85ba9dda45823be416246cf8b433baa068d7"
CIK_BIN = bytes.fromhex(CIK)


def datagrams():
    """Valid CoAP datagrams: RFC 7252 Appendix A figures, real clients, every procedure."""
    m, r = coap.Message, coap.request
    out = {
        # RFC 7252 Appendix A.1-A.5: GET /temperature, piggybacked and separate answers.
        "rfc7252_a1_get": m(coap.CON, coap.GET, 0x7D34, b"", [(11, b"temperature")]),
        "rfc7252_a1_ack": m(coap.ACK, 0x45, 0x7D34, b"", [], b"22.3 C"),
        "rfc7252_a2_get": m(coap.CON, coap.GET, 0x7D35, b"\x20", [(11, b"temperature")]),
        "rfc7252_a4_empty_ack": m(coap.ACK, 0, 0x7D38),
        "rfc7252_a4_separate": m(coap.CON, 0x45, 0xAD7B, b"\x71\xCD", [], b"22.3 C"),
        "rfc7252_a5_non": m(coap.NON, coap.GET, 0x7D40, b"\x74", [(11, b"temperature")]),
        "ping": m(coap.CON, 0, 0x1234),
        "rst": m(coap.RST, 0, 0x1234),
        "write_text_cik": r(coap.POST, "/1a/temp", [CIK], b"22.5", mid=0x37, token=b""),
        "read_observe": r(coap.GET, "/1a/temp", [CIK], mid=2, token=b"\x01\x02",
                          options=[(coap.OPT_OBSERVE, b"")]),
        "read_observe_cancel": r(coap.GET, "/1a/temp", [CIK], mid=3, token=b"\x01\x02",
                                 options=[(coap.OPT_OBSERVE, b"\x01")]),
        "multi": r(coap.POST, "/1a", [CIK_BIN, "humidity"], cbor_mini.dumps({"temp": 21}),
                   mid=0x37, token=b""),
        "multi_block2_1": r(coap.POST, "/1a", [CIK_BIN, "humidity"], cbor_mini.dumps({"temp": 21}),
                            mid=0x37, token=b"", options=[(coap.OPT_BLOCK2, b"\x12")]),
        "rpc": r(coap.POST, "/rpc", [], cbor_mini.dumps({"auth": {"cik": CIK}, "calls": []}),
                 mid=5, token=b"\x05", options=[(coap.OPT_CONTENT_FORMAT, b"\x3c")]),
        "block1_first": r(coap.PUT, "/1a/big", [CIK], b"x" * 16, mid=6, token=b"\x06",
                          options=[(coap.OPT_BLOCK1, b"\x08")]),
        "timestamp_binary": r(coap.GET, "/ts", [], mid=7, token=b"\x07",
                              options=[(coap.OPT_ACCEPT, b"\x2a")]),
        "activate": r(coap.POST, "/provision/activate/vendor/model/sn1", [], mid=8, token=b"\x08"),
        "download_block2": r(coap.GET, "/provision/download/vendor/model/fw.bin", [CIK], mid=9,
                             token=b"\x09", options=[(coap.OPT_BLOCK2, b"\x02")]),
        "discovery": r(coap.GET, "/.well-known/core", [], mid=10, token=b"\x0a"),
        "proxy_uri": m(coap.CON, coap.GET, 11, b"", [(35, b"http://example.com/")]),
        "critical_unknown": m(coap.CON, coap.GET, 12, b"", [(9, b"x"), (11, b"ts")]),
    }
    blobs = {k: coap.encode(v) for k, v in out.items()}
    with open(os.path.join(ROOT, "tests/data/exosite-client-datagrams.json")) as f:
        for d in json.load(f)["datagrams"]:
            blobs["exosite_" + d["name"]] = bytes.fromhex(d["hex"])
    return blobs


def endpoint_scripts(dgrams):
    """Scripts for fuzz_endpoint (format in endpoint_fuzz.cpp)."""
    def datagram(peer, b):
        return bytes([0, peer]) + struct.pack("!H", len(b)) + b

    def copy(peer, back):
        return bytes([1, peer, back])

    def advance(ms):
        return bytes([2]) + struct.pack("!H", ms)

    def answer(which, code, length):
        return bytes([3, which, code]) + struct.pack("!H", length)

    def notify(which, length):
        return bytes([4, which]) + struct.pack("!H", length)

    d = dgrams
    return {
        "piggybacked": datagram(0, d["write_text_cik"]) + answer(0, 1, 0),
        "separate_then_retransmit": datagram(0, d["read_observe"]) + advance(1500) +
        answer(0, 0, 5) + advance(3000) + advance(60000),
        "duplicate_write": datagram(0, d["exosite_write_binary_cik"]) + copy(0, 0) +
        answer(0, 1, 0) + copy(0, 0) + advance(500) + copy(0, 0),
        "fixed_mid_poller": datagram(0, d["exosite_read_binary_cik"]) + answer(0, 0, 2) +
        advance(1200) + copy(0, 0) + answer(0, 0, 2),
        "observe_notify": datagram(1, d["read_observe"]) + answer(0, 0, 4) + notify(0, 3) +
        advance(2500) + notify(0, 5) + datagram(1, d["read_observe_cancel"]),
        "block2_download": datagram(2, d["download_block2"]) + answer(0, 0, 2000) +
        datagram(2, d["multi_block2_1"]),
        "multi_block2": datagram(0, d["multi"]) + answer(0, 0, 1500) + datagram(0, d["multi_block2_1"]),
        "block1": datagram(0, d["block1_first"]) + advance(100),
        "ping_and_rst": datagram(0, d["ping"]) + datagram(1, d["rst"]) + datagram(2, d["proxy_uri"]) +
        datagram(0, d["critical_unknown"]),
        "three_peers": datagram(0, d["rpc"]) + datagram(1, d["rpc"]) + datagram(2, d["timestamp_binary"]) +
        answer(1, 0, 30) + answer(0, 5, 9) + advance(247) + answer(0, 0, 4),
    }


def cbor_vectors():
    with open(os.path.join(ROOT, "tests/data/cbor-rfc8949-appendix-a.json")) as f:
        vectors = json.load(f)
    out = {"rfc8949_%02d" % i: bytes.fromhex(v["hex"]) for i, v in enumerate(vectors)}
    out["multi_write"] = cbor_mini.dumps({"temp": 21.5, "door": "open", "n": [1, 2, None]})
    return out


def json_texts():
    return {
        "rpc_answer": b'[{"id":1,"status":"ok","result":[[1700000000,"21.5"]]}]',
        "rpc_error": b'{"error":{"code":401,"message":"Unauthorized"}}',
        "numbers": b'[0,-1,1.5,1e300,-0.0,18446744073709551615,-9223372036854775808,0.1]',
        "nested": b'{"a":{"b":[{"c":null,"d":true,"e":false,"f":"\\u00e9\\ud83d\\ude00"}]}}',
        "string": b'"plain"',
    }


def upstream_answers():
    """For fuzz_upstream_answer: status index, alias count, Retry-After line, body."""
    def answer(status_index, count, body, retry_after=None):
        head = bytes([status_index, count])
        return head + ((retry_after + "\n").encode() if retry_after is not None else b"") + body

    return {
        "read": answer(0, 2, b"temp=21.5&humidity=40%25"),
        "read_plus": answer(0, 1, b"temp=a+b%20c&empty="),
        "lookup": answer(0, 1, b'[{"id":1,"status":"ok","result":"a1b2c3"}]'),
        "lookups": answer(0, 3, b'[{"id":1,"status":"ok","result":"x"},{"id":2,"status":"fail"},'
                                b'{"id":3,"status":"ok","result":"y"}]'),
        "lookup_auth": answer(0, 2, b'{"error":{"code":401,"message":"Unauthorized"}}'),
        "content_info": answer(0, 0, b"application/octet-stream,2048,1700000000,meta"),
        "content_list": answer(0, 0, b"fw.bin\r\nconfig.json\r\n"),
        "timestamp": answer(0, 0, b"1700000000"),
        "unavailable_seconds": answer(17, 0, b"busy", "120"),
        "unavailable_date": answer(17, 0, b"", "Sun, 06 Nov 1994 08:49:37 GMT"),
        "too_many": answer(13, 0, b"", "5"),
    }


def state_snapshots():
    """State files (gateway/core/state_snapshot.hpp): an empty one and one with a relation, a
    resource and a recorded write, built field by field as the encoder writes them."""
    import zlib

    def blob(b):
        return struct.pack("!I", len(b)) + b

    def peer(port):
        return struct.pack("!HB", 0, 0) + bytes([127, 0, 0, 1]) + bytes(12) + struct.pack("!H", port)

    def frame(payload):
        return (b"CGWSTATE" + struct.pack("!IQ", 1, len(payload)) + payload +
                struct.pack("!I", zlib.crc32(payload)))

    head = struct.pack("!q", 1764000000000) + blob(b"127.0.0.1:5683") + struct.pack("!I", 1)
    head += bytes(range(16))
    value = coap.encode(coap.Message(coap.CON, 0x45, 0, b"", [(12, b"")], b"21"))
    reply = coap.encode(coap.Message(coap.ACK, 0x44, 0x3737, b"\x77"))
    worker = struct.pack("!I", 1) + peer(40000) + blob(b"\x01\x02") + blob(CIK.encode())
    worker += blob(b"temp") + struct.pack("!BIBqB", 1, 0x123456, 6, 1764000000000, 1)
    worker += struct.pack("!I", 1) + blob(CIK.encode()) + blob(b"temp") + blob(value)
    worker += struct.pack("!Bq", 1, 1764000000) + blob(b"21")
    worker += struct.pack("!I", 1) + peer(40000) + struct.pack("!HQ", 0x3737, 0xFEEDFACE)
    worker += blob(reply) + struct.pack("!qq", 1764000000000, 1764000247000)
    return {
        "empty": frame(head[:-4 - 16 - 4 - len(b"127.0.0.1:5683")] + blob(b"") +
                       struct.pack("!I", 0) + bytes(16) + struct.pack("!I", 0)),
        "one_worker": frame(head + struct.pack("!I", 1) + worker),
    }


def main():
    dgrams = datagrams()
    seeds = {
        "fuzz_coap_decode": dgrams,
        "fuzz_endpoint": endpoint_scripts(dgrams),
        "fuzz_cbor_to_json": cbor_vectors(),
        "fuzz_json_to_cbor": json_texts(),
        "fuzz_form": {
            "read_answer": b"temp=21.5&humidity=40%25",
            "plus_and_escapes": b"a+b=%41%62&&=x&key",
            "aliases": b"temp&humidity&door%2Fstate",
        },
        "fuzz_http_date": {
            "imf_fixdate": b"Sun, 06 Nov 1994 08:49:37 GMT",
            "rfc850": b"Sunday, 06-Nov-94 08:49:37 GMT",
            "asctime": b"Sun Nov  6 08:49:37 1994",
            "seconds": b" 1700000000 ",
            "leap_day": b"Tue, 29 Feb 2000 23:59:59 GMT",
        },
        "fuzz_range": {
            "range_first_last": bytes([200]) + b"bytes=0-99",
            "range_open": bytes([200]) + b"bytes=50-",
            "range_suffix": bytes([200]) + b"bytes=-30",
            "content_range": bytes([1]) + struct.pack("!Q", 2048) + b"bytes 1024-2047/2048",
            "content_range_star": bytes([0]) + b"bytes */2048",
            "content_range_unknown_total": bytes([0]) + b"bytes 0-1023/*",
        },
        "fuzz_upstream_answer": upstream_answers(),
        "fuzz_state_snapshot": state_snapshots(),
        "fuzz_config": {
            "example": open(os.path.join(ROOT, "conf/gateway.example.yaml"), "rb").read(),
            "minimal": b'coap:\n  listen: ["127.0.0.1:5683"]\nupstream:\n  url: "http://127.0.0.1:8080"\n',
            "values": b"workers: 2\nupstream:\n  timeout: 500ms\nblock:\n  max_body: 64KiB\n"
                      b"log:\n  level: debug\n",
        },
    }
    corpus = os.path.join(HERE, "corpus")
    shutil.rmtree(corpus, ignore_errors=True)
    for target, files in seeds.items():
        os.makedirs(os.path.join(corpus, target))
        for name, data in files.items():
            with open(os.path.join(corpus, target, name), "wb") as f:
                f.write(data)
    print("wrote", sum(len(f) for f in seeds.values()), "seeds for", len(seeds), "targets")


if __name__ == "__main__":
    main()
