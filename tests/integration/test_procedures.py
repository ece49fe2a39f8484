"""Every procedure of the CoAP API through the real coap-gateway against the real onep-sim,
driven by libcoap's coap-client and by raw datagrams as real Exosite clients send them. Each test
asserts the CoAP answer and what the sim received."""
import json
import os
import time
import unittest

import cbor_mini
import coap
import gwproc
from simproc import DEMO_CIK

TESTDATA = os.environ.get("GW_TESTDATA", os.path.join(os.path.dirname(__file__), "../data"))
OTHER_CIK = "0123456789abcdef0123456789abcdef01234567"  # unknown upstream


def datagram(name):
    with open(os.path.join(TESTDATA, "exosite-client-datagrams.json")) as f:
        for d in json.load(f)["datagrams"]:
            if d["name"] == name:
                return bytes.fromhex(d["hex"])
    raise KeyError(name)


class GatewayCase(gwproc.GatewayCase):
    def ask(self, method, path, queries=(), payload=b"", options=(), **kw):
        r = self.client().exchange(coap.request(method, path, queries, payload, options=options, **kw))
        self.assertIsNotNone(r, "no answer")
        return r

    def upstream(self, path_prefix):
        return [r for r in self.sim.requests() if r["target"].startswith(path_prefix)]

    def assertCode(self, r, code):
        self.assertEqual(coap.code_str(r.code), code, r.payload)


class Dataports(GatewayCase):
    def test_write_then_read_with_coap_client(self):
        out, err = self.gw.coap_client("/1a/humidity?" + DEMO_CIK, "-m", "post", "-e", "55")
        self.assertNotIn("4.", err)
        writes = self.upstream("/onep:v1/stack/alias")
        self.assertEqual(len(writes), 1)
        self.assertEqual(writes[0]["method"], "POST")
        self.assertEqual(writes[0]["body"], "humidity=55")
        self.assertEqual(writes[0]["headers"]["x-exosite-cik"], DEMO_CIK)
        self.assertIn("application/x-www-form-urlencoded", writes[0]["headers"]["content-type"])
        self.assertEqual(self.sim.dataport(DEMO_CIK, "humidity")["values"][-1][1], "55")
        out, err = self.gw.coap_client("/1a/humidity?" + DEMO_CIK)
        self.assertEqual(out.strip(), b"55")

    def test_read_answers_text_with_content_format_0(self):
        r = self.ask(coap.GET, "/1a/temp", [DEMO_CIK])
        self.assertCode(r, "2.05")
        self.assertEqual(r.opt_uint(coap.OPT_CONTENT_FORMAT), 0)
        reads = self.upstream("/onep:v1/stack/alias")
        self.assertEqual(reads[0]["method"], "GET")
        self.assertEqual(reads[0]["target"], "/onep:v1/stack/alias?temp")

    def test_value_with_spaces_and_symbols_round_trips(self):
        value = "a b&c=d+é"
        self.assertCode(self.ask(coap.POST, "/1a/humidity", [DEMO_CIK], value.encode()), "2.04")
        self.assertEqual(self.ask(coap.GET, "/1a/humidity", [DEMO_CIK]).payload.decode(), value)

    def test_write_cbor_number(self):
        r = self.ask(coap.POST, "/1a/humidity", [DEMO_CIK], cbor_mini.dumps(42),
                     options=[(coap.OPT_CONTENT_FORMAT, bytes([60]))])
        self.assertCode(r, "2.04")
        self.assertEqual(self.sim.dataport(DEMO_CIK, "humidity")["values"][-1][1], "42")

    def test_read_of_empty_dataport_is_2_05_empty(self):
        r = self.ask(coap.GET, "/1a/empty", [DEMO_CIK])
        self.assertCode(r, "2.05")
        self.assertEqual(r.payload, b"")

    def test_unknown_alias_is_4_03_for_read_and_write(self):
        self.assertCode(self.ask(coap.GET, "/1a/nosuch", [DEMO_CIK]), "4.03")
        self.assertCode(self.ask(coap.POST, "/1a/nosuch", [DEMO_CIK], b"1"), "4.03")
        writes = [r for r in self.upstream("/onep:v1/stack/alias") if r["method"] == "POST"]
        self.assertEqual(writes, [], "a write to a missing alias must not go upstream")

    def test_unknown_cik_is_4_01(self):
        self.assertCode(self.ask(coap.GET, "/1a/temp", [OTHER_CIK]), "4.01")
        self.assertCode(self.ask(coap.POST, "/1a/temp", [OTHER_CIK], b"1"), "4.01")

    def test_missing_or_malformed_cik_is_4_01(self):
        self.assertCode(self.ask(coap.GET, "/1a/temp"), "4.01")
        self.assertCode(self.ask(coap.GET, "/1a/temp", ["not-a-cik"]), "4.01")
        self.assertEqual(self.sim.requests(), [])

    def test_binary_cik_write_datagram_from_the_api_document(self):
        c = self.client()
        c.send_raw(datagram("write_binary_cik"))
        r = c.receive()
        self.assertEqual((r.type, coap.code_str(r.code), r.mid), (coap.ACK, "2.04", 0x00F6))
        self.assertEqual(r.token, b"")
        writes = [x for x in self.upstream("/onep:v1/stack/alias") if x["method"] == "POST"]
        self.assertEqual(writes[0]["headers"]["x-exosite-cik"], DEMO_CIK)
        self.assertEqual(writes[0]["body"], "temp=37")
        c.send_raw(datagram("read_binary_cik"))
        r = c.receive()
        self.assertEqual(r.payload, b"37")

    def test_retransmitted_write_is_executed_once(self):
        c = self.client()
        req = coap.request(coap.POST, "/1a/humidity", [DEMO_CIK], b"77", mid=0x1111)
        first = c.exchange(req)
        for _ in range(3):
            c.send(req)
            self.assertEqual(coap.encode(c.receive()), coap.encode(first))
        writes = [x for x in self.upstream("/onep:v1/stack/alias") if x["method"] == "POST"]
        self.assertEqual(len(writes), 1)

    def test_coapexample_fixed_mid_and_empty_token(self):
        # CoAPExample sends every request with MID 0x37 and no token: each is a new request.
        c = self.client()
        for value in (b"1", b"2", b"3"):
            r = c.exchange(coap.request(coap.POST, "/1a/humidity", [DEMO_CIK], value,
                                        mid=0x37, token=b""))
            self.assertEqual((r.mid, coap.code_str(r.code)), (0x37, "2.04"))
            self.assertEqual(self.sim.dataport(DEMO_CIK, "humidity")["values"][-1][1],
                             value.decode())
        r = c.exchange(coap.request(coap.GET, "/1a/humidity", [DEMO_CIK], mid=0x37, token=b""))
        self.assertEqual(r.payload, b"3")

    def test_exositeready_non_requests_with_mid_1(self):
        c = self.client()
        for token, value in ((b"\x00\x00\x00\x01", b"5"), (b"\x00\x00\x00\x02", b"6")):
            c.send(coap.request(coap.POST, "/1a/humidity", [DEMO_CIK], value, mtype=coap.NON,
                                mid=1, token=token))
            r = c.receive()
            self.assertEqual((r.type, r.token, coap.code_str(r.code)), (coap.NON, token, "2.04"))
        self.assertEqual(self.sim.dataport(DEMO_CIK, "humidity")["values"][-1][1], "6")


class MultipleReadWrite(GatewayCase):
    def multi(self, reads, writes=None, content_format=True):
        opts = [(coap.OPT_CONTENT_FORMAT, bytes([60]))] if content_format else []
        payload = cbor_mini.dumps(writes) if writes is not None else b""
        return self.ask(coap.POST, "/1a", [DEMO_CIK] + reads, payload, options=opts)

    def test_reads_only_is_one_read(self):
        r = self.multi(["temp", "empty"])
        self.assertCode(r, "2.05")
        self.assertEqual(r.opt_uint(coap.OPT_CONTENT_FORMAT), 60)
        body = cbor_mini.loads(r.payload)
        self.assertEqual(list(body), ["temp", "empty"])
        self.assertIsNotNone(body["temp"])
        self.assertIsNone(body["empty"])
        up = self.upstream("/onep:v1/stack/alias")
        self.assertEqual([(u["method"], u["target"]) for u in up],
                         [("GET", "/onep:v1/stack/alias?temp&empty")])

    def test_an_alias_the_cik_cannot_reach_is_4_03_and_nothing_is_written(self):
        before = self.sim.dataport(DEMO_CIK, "humidity")["values"]
        # The API document: 4.03 for an alias the CIK cannot access, read or written.
        for reads, writes in ((["temp", "nosuch"], None), ([], {"humidity": "93", "nosuch": "1"}),
                              (["nosuch"], {"humidity": "94"})):
            r = self.multi(reads, writes)
            self.assertCode(r, "4.03")
        self.assertEqual(self.upstream("/onep:v1/stack/alias"), [])
        self.assertEqual(self.sim.dataport(DEMO_CIK, "humidity")["values"], before)
        # Every alias of one request is checked in one JSON-RPC request.
        rpc = self.upstream("/onep:v1/rpc/process")
        self.assertGreaterEqual(len(rpc), 1)
        self.assertLessEqual(len(rpc), 3)

    def test_key_value_clients_cik_and_alias_forms(self):
        # node-coap-client sends every query item as key=value: "<CIK>=" and "temp=".
        r = self.ask(coap.POST, "/1a", [DEMO_CIK + "=", "temp="], b"",
                     options=[(coap.OPT_CONTENT_FORMAT, bytes([60]))])
        self.assertCode(r, "2.05")
        self.assertIn("temp", cbor_mini.loads(r.payload))
        r = self.ask(coap.GET, "/1a/temp", ["cik=" + DEMO_CIK.upper()])
        self.assertCode(r, "2.05")

    def test_writes_and_reads_is_one_hybrid_call(self):
        r = self.multi(["humidity"], {"humidity": "61", "temp": 20.5}, content_format=False)
        self.assertCode(r, "2.05")
        self.assertEqual(cbor_mini.loads(r.payload), {"humidity": "61"})
        up = self.upstream("/onep:v1/stack/alias")
        self.assertEqual(len(up), 1)
        self.assertEqual((up[0]["method"], up[0]["target"]), ("POST", "/onep:v1/stack/alias?humidity"))
        self.assertEqual(up[0]["body"], "humidity=61&temp=20.5")

    def test_writes_only_is_one_write(self):
        r = self.multi([], {"humidity": "62"})
        self.assertCode(r, "2.05")
        self.assertEqual(cbor_mini.loads(r.payload), {})
        up = self.upstream("/onep:v1/stack/alias")
        self.assertEqual((up[0]["method"], up[0]["target"]), ("POST", "/onep:v1/stack/alias"))

    def test_bad_payloads_are_4_00(self):
        for payload in (b"\xff\xff", cbor_mini.dumps([1, 2]), b"\xa1\x01\x02",
                        cbor_mini.dumps({"a": {"b": 1}})):
            r = self.ask(coap.POST, "/1a", [DEMO_CIK, "temp"], payload,
                         options=[(coap.OPT_CONTENT_FORMAT, bytes([60]))])
            self.assertCode(r, "4.00")
            self.assertTrue(r.payload)
        self.assertEqual(self.sim.requests(), [])


class Provisioning(GatewayCase):
    def test_activate_then_conflict(self):
        r = self.ask(coap.POST, "/provision/activate/demo/gateway/0002")
        self.assertCode(r, "2.05")
        self.assertRegex(r.payload.decode(), "^[0-9a-f]{40}$")
        up = self.upstream("/provision/activate")
        self.assertEqual(up[0]["body"], "vendor=demo&model=gateway&sn=0002")
        self.assertNotIn("x-exosite-cik", up[0]["headers"])
        self.assertCode(self.ask(coap.POST, "/provision/activate/demo/gateway/0002"), "4.09")

    def test_activate_unknown_device_is_4_04(self):
        self.assertCode(self.ask(coap.POST, "/provision/activate/demo/gateway/9999"), "4.04")

    def test_list_content(self):
        r = self.ask(coap.GET, "/provision/download/demo/gateway", [DEMO_CIK])
        self.assertCode(r, "2.05")
        self.assertIn(b"firmware.bin", r.payload.splitlines())
        up = self.upstream("/provision/download")
        self.assertEqual(up[0]["target"], "/provision/download?vendor=demo&model=gateway")
        self.assertEqual(up[0]["headers"]["x-exosite-cik"], DEMO_CIK)

    def test_list_for_unknown_model_is_4_04(self):
        self.assertCode(self.ask(coap.GET, "/provision/download/demo/nosuch", [DEMO_CIK]), "4.04")

    def test_list_with_unknown_cik_is_4_01(self):
        self.assertCode(self.ask(coap.GET, "/provision/download/demo/gateway", [OTHER_CIK]), "4.01")

    def test_content_info(self):
        out, err = self.gw.coap_client("/provision/download/demo/gateway/readme.txt/info?" + DEMO_CIK)
        self.assertTrue(out.startswith(b"text/plain,"), (out, err))
        up = self.upstream("/provision/download")
        self.assertEqual(up[0]["target"],
                         "/provision/download?vendor=demo&model=gateway&id=readme.txt&info=true")

    def test_content_info_of_unknown_id_is_4_04(self):
        self.assertCode(self.ask(coap.GET, "/provision/download/demo/gateway/nosuch/info",
                                 [DEMO_CIK]), "4.04")


class Timestamp(GatewayCase):
    def test_text_by_default(self):
        r = self.ask(coap.GET, "/ts")
        self.assertCode(r, "2.05")
        self.assertEqual(r.opt_uint(coap.OPT_CONTENT_FORMAT), 0)
        self.assertGreater(int(r.payload), 1_600_000_000)
        self.assertEqual([u["target"] for u in self.sim.requests()], ["/timestamp"])

    def test_binary_with_accept_42(self):
        out, err = self.gw.coap_client("/ts", "-A", "42")
        self.assertEqual(len(out.rstrip(b"\n")), 4, (out, err))
        self.assertGreater(int.from_bytes(out[:4], "big", signed=True), 1_600_000_000)

    def test_binary_with_content_format_42_on_the_request(self):
        r = self.ask(coap.GET, "/ts", options=[(coap.OPT_CONTENT_FORMAT, bytes([42]))])
        self.assertEqual(r.opt_uint(coap.OPT_CONTENT_FORMAT), 42)
        self.assertEqual(len(r.payload), 4)


class Rpc(GatewayCase):
    CALLS = {"auth": {"cik": DEMO_CIK},
             "calls": [{"id": 1, "procedure": "read", "arguments": [{"alias": "temp"}, {"limit": 1}]},
                       {"id": 2, "procedure": "write", "arguments": [{"alias": "humidity"}, 65.4]}]}

    def test_cbor_in_cbor_out(self):
        r = self.ask(coap.POST, "/rpc", payload=cbor_mini.dumps(self.CALLS),
                     options=[(coap.OPT_CONTENT_FORMAT, bytes([60]))])
        self.assertCode(r, "2.05")
        self.assertEqual(r.opt_uint(coap.OPT_CONTENT_FORMAT), 60)
        answer = cbor_mini.loads(r.payload)
        self.assertEqual([a["status"] for a in answer], ["ok", "ok"])
        up = self.upstream("/onep:v1/rpc/process")
        self.assertEqual(json.loads(up[0]["body"]), self.CALLS)
        self.assertIn("application/json", up[0]["headers"]["content-type"])

    def test_json_passes_through_with_accept_50(self):
        out, err = self.gw.coap_client("/rpc", "-m", "post", "-t", "50", "-A", "50", "-e",
                                       json.dumps(self.CALLS))
        answer = json.loads(out)
        self.assertEqual(answer[1], {"id": 2, "status": "ok"})

    def test_bad_credentials_are_4_01_with_the_error_object(self):
        calls = dict(self.CALLS, auth={"cik": OTHER_CIK})
        r = self.ask(coap.POST, "/rpc", payload=cbor_mini.dumps(calls))
        self.assertCode(r, "4.01")
        self.assertEqual(cbor_mini.loads(r.payload)["error"]["code"], 401)

    def test_bad_cbor_is_4_00(self):
        r = self.ask(coap.POST, "/rpc", payload=b"\xa1\x61")
        self.assertCode(r, "4.00")
        self.assertIn(b"offset", r.payload)


class UpstreamFaults(GatewayCase):
    # The breaker would open on the faults these tests inject one after another: off here, and
    # tested on its own below.
    upstream_extra = "  timeout: 1s\n  breaker_failures: 0\n"
    coap_extra = "  separate_response_after: 200ms\n"

    def tearDown(self):
        self.sim.clear_faults()

    def test_429_is_4_29(self):
        self.sim.fault(match="/timestamp", action="status", status=429,
                       headers={"Retry-After": "3"}, times=1)
        r = self.ask(coap.GET, "/ts")
        self.assertCode(r, "4.29")
        self.assertEqual(r.opt_uint(coap.OPT_MAX_AGE), 3)

    def test_garbage_is_5_02(self):
        self.sim.fault(match="/timestamp", action="garbage")
        self.assertCode(self.ask(coap.GET, "/ts"), "5.02")

    def test_timeout_is_5_04_as_a_separate_response(self):
        self.sim.fault(match="/timestamp", delay_ms=5000, times=1)
        c = self.client()
        req = coap.request(coap.GET, "/ts")
        c.send(req)
        ack = c.receive()
        self.assertEqual((ack.type, ack.code, ack.mid), (coap.ACK, 0, req.mid))
        r = c.receive(timeout=10)
        self.assertEqual((r.type, coap.code_str(r.code), r.token), (coap.CON, "5.04", req.token))
        c.send(coap.Message(coap.ACK, 0, r.mid))

    def test_slow_answer_arrives_as_separate_response(self):
        self.sim.fault(match="/timestamp", delay_ms=500, times=1)
        c = self.client()
        req = coap.request(coap.GET, "/ts")
        r = c.exchange(req)
        self.assertEqual((r.type, coap.code_str(r.code)), (coap.CON, "2.05"))

    def test_everyone_else_is_served_while_one_call_hangs(self):
        self.sim.fault(match="/timestamp", delay_ms=3000, times=1)
        slow = self.client()
        slow.send(coap.request(coap.GET, "/ts"))
        r = self.ask(coap.GET, "/1a/temp", [DEMO_CIK])
        self.assertCode(r, "2.05")


class UpstreamPauses(GatewayCase):
    """The gateway honours the upstream's Retry-After and fails fast while the upstream fails."""
    upstream_extra = "  timeout: 1s\n  breaker_failures: 2\n  breaker_open_for: 1s\n"

    def tearDown(self):
        self.sim.clear_faults()

    def timestamp_calls(self):
        return len(self.upstream("/timestamp"))

    def test_503_is_5_03_with_max_age_from_retry_after_and_pauses_calls(self):
        self.sim.fault(match="/timestamp", action="status", status=503,
                       headers={"Retry-After": "2"}, times=1)
        r = self.ask(coap.GET, "/ts")
        self.assertCode(r, "5.03")
        self.assertEqual(r.opt_uint(coap.OPT_MAX_AGE), 2)
        self.assertTrue(r.payload)
        # Within the pause the upstream is not asked: 5.03 with the time left as Max-Age.
        r = self.ask(coap.GET, "/ts")
        self.assertCode(r, "5.03")
        self.assertLessEqual(r.opt_uint(coap.OPT_MAX_AGE), 2)
        self.assertEqual(self.timestamp_calls(), 1)
        deadline = time.monotonic() + 10
        while coap.code_str(self.ask(coap.GET, "/ts").code) != "2.05":
            self.assertLess(time.monotonic(), deadline, "calls never resumed")
            time.sleep(0.2)  # polling a state that has no event to wait on
        self.sim.wait_for(lambda: self.timestamp_calls() == 2, timeout=5)

    def test_consecutive_failures_fail_fast_then_one_probe_recovers(self):
        self.sim.fault(match="/timestamp", action="status", status=500, times=2)
        for _ in range(2):
            self.assertCode(self.ask(coap.GET, "/ts"), "5.00")
        r = self.ask(coap.GET, "/ts")  # open: not asked
        self.assertCode(r, "5.03")
        self.assertIsNotNone(r.opt(coap.OPT_MAX_AGE))
        self.assertEqual(self.timestamp_calls(), 2)
        deadline = time.monotonic() + 10
        while coap.code_str(self.ask(coap.GET, "/ts").code) != "2.05":
            self.assertLess(time.monotonic(), deadline, "the probe never went out")
            time.sleep(0.2)  # polling a state that has no event to wait on
        self.assertEqual(self.timestamp_calls(), 3)

    def test_unknown_cik_is_asked_once(self):
        unknown = "ab" * 20
        for _ in range(5):
            self.assertCode(self.ask(coap.GET, "/1a/temp", [unknown]), "4.01")
        self.assertEqual(len(self.upstream("/onep:v1/stack/alias")), 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
