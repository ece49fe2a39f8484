"""The real onep-sim binary on loopback, driven with http.client over every row of the One
Platform reference (reference/upstream-http-api.md) and the /_sim/ test contract."""
import email.utils
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.parse

from simproc import DEMO_CIK, EXAMPLE_STATE, SimProcess

OTHER_CIK = "5e1d4c0f7b2a9e8d3c6b1a0f9e8d7c6b5a493827"
FORM = "application/x-www-form-urlencoded; charset=utf-8"
STACK = "/onep:v1/stack/alias"
DEMO = "vendor=demo&model=gateway"


def cik(value=DEMO_CIK, **more):
    headers = {"X-Exosite-CIK": value}
    headers.update(more)
    return headers


def generated(size):
    return bytes(i % 251 for i in range(size))


class Background(threading.Thread):
    """Runs one request in a thread; the result is read after join()."""

    def __init__(self, fn):
        super().__init__(daemon=True)
        self.fn = fn
        self.result = None
        self.error = None
        self.start()

    def run(self):
        try:
            self.result = self.fn()
        except Exception as e:  # reported by the test that joins
            self.error = e

    def outcome(self, timeout=30):
        self.join(timeout)
        if self.is_alive():
            raise TimeoutError("background request did not finish")
        if self.error:
            raise self.error
        return self.result


class SimTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = SimProcess()

    @classmethod
    def tearDownClass(cls):
        cls.sim.close()

    def setUp(self):
        self.sim.reset()

    def req(self, method, target, body=None, headers=None):
        return self.sim.request(method, target, body, headers)

    def wait_active(self, key, value):
        self.sim.wait_for(lambda: self.sim.stats()[key] == value)


class DataInterface(SimTest):
    def test_read_existing_aliases_only(self):
        status, headers, body = self.req("GET", STACK + "?temp&humidity&empty&nope", headers=cik())
        self.assertEqual(status, 200)
        self.assertEqual(headers["content-type"], FORM)
        pairs = urllib.parse.parse_qs(body.decode())
        self.assertEqual(sorted(pairs), ["humidity", "temp"])
        self.assertEqual(headers["content-length"], str(len(body)))
        status, headers, body = self.req("GET", STACK + "?empty&nope", headers=cik())
        self.assertEqual((status, body), (204, b""))

    def test_write_then_read_with_one_timestamp(self):
        status, _, _ = self.req("POST", STACK, "w1=x&wa=hello+world&wb=%E2%82%AC%20%3D%26",
                                cik(**{"Content-Type": FORM}))
        self.assertEqual(status, 204)  # aliases w1, wa, wb do not exist: nothing written
        self.assertFalse(self.sim.dataport(DEMO_CIK, "wa")["exists"])

        body = urllib.parse.urlencode({"humidity": "hello world", "empty": "\u20ac =&"})
        status, _, _ = self.req("POST", STACK, body, cik(**{"Content-Type": FORM}))
        self.assertEqual(status, 204)
        hum = self.sim.dataport(DEMO_CIK, "humidity")["values"][-1]
        emp = self.sim.dataport(DEMO_CIK, "empty")["values"][-1]
        self.assertEqual(hum[1], "hello world")
        self.assertEqual(emp[1], "\u20ac =&")
        self.assertEqual(hum[0], emp[0])
        self.assertLessEqual(abs(hum[0] - time.time()), 5)
        status, _, body = self.req("GET", STACK + "?empty", headers=cik())
        self.assertEqual(urllib.parse.parse_qs(body.decode())["empty"], ["\u20ac =&"])

    def test_bad_cik_is_401(self):
        for headers in ({}, cik("0" * 40)):
            self.assertEqual(self.req("GET", STACK + "?temp", headers=headers)[0], 401)
            self.assertEqual(self.req("POST", STACK, "temp=1", headers)[0], 401)
        # Upper-case hex is the same CIK.
        self.assertEqual(self.req("GET", STACK + "?temp", headers=cik(DEMO_CIK.upper()))[0], 200)

    def test_hybrid_writes_before_reads(self):
        status, _, body = self.req("POST", STACK + "?humidity&temp", "humidity=77",
                                   cik(**{"Content-Type": FORM, "Accept": FORM}))
        self.assertEqual(status, 200)
        self.assertEqual(urllib.parse.parse_qs(body.decode())["humidity"], ["77"])
        self.assertEqual(self.req("POST", STACK + "?nope", "humidity=78", cik())[0], 204)

    def test_timestamp(self):
        status, headers, body = self.req("GET", "/timestamp")
        self.assertEqual(status, 200)
        self.assertEqual(headers["content-type"], "text/plain; charset=utf-8")
        self.assertLessEqual(abs(int(body) - time.time()), 5)


class LongPoll(SimTest):
    def poll(self, alias, timeout_ms, since=None):
        headers = cik(**{"Request-Timeout": str(timeout_ms)})
        if since is not None:
            headers["If-Modified-Since"] = since
        return self.req("GET", STACK + "?" + alias, headers=headers)

    def test_existing_newer_point_answers_at_once(self):
        for since in ("1000", email.utils.formatdate(1000, usegmt=True)):
            status, headers, body = self.poll("temp", 60000, since)
            self.assertEqual(status, 200)
            latest = self.sim.dataport(DEMO_CIK, "temp")["values"][-1]
            self.assertEqual(urllib.parse.parse_qs(body.decode()), {"temp": [latest[1]]})
            ts = email.utils.parsedate_to_datetime(headers["last-modified"]).timestamp()
            self.assertEqual(ts, latest[0])

    def test_woken_by_a_write_on_another_connection(self):
        waiter = Background(lambda: self.poll("humidity", 60000))
        self.wait_active("longpolls_active", 1)
        self.assertEqual(self.req("POST", STACK, "humidity=poked", cik())[0], 204)
        status, headers, body = waiter.outcome()
        self.assertEqual((status, body), (200, b"humidity=poked"))
        self.assertIn("GMT", headers["last-modified"])
        self.wait_active("longpolls_active", 0)

    def test_woken_by_rpc_write(self):
        waiter = Background(lambda: self.poll("humidity", 60000))
        self.wait_active("longpolls_active", 1)
        rpc = {"auth": {"cik": DEMO_CIK},
               "calls": [{"id": 1, "procedure": "write", "arguments": [{"alias": "humidity"}, 12]}]}
        self.req("POST", "/onep:v1/rpc/process", json.dumps(rpc))
        self.assertEqual(waiter.outcome()[2], b"humidity=12")

    def test_304_when_the_timeout_passes(self):
        started = time.monotonic()
        status, _, body = self.poll("temp", 300)
        self.assertEqual((status, body), (304, b""))
        self.assertGreaterEqual(time.monotonic() - started, 0.29)

    def test_does_not_block_other_connections(self):
        waiter = Background(lambda: self.poll("temp", 60000))
        self.wait_active("longpolls_active", 1)
        self.assertEqual(self.req("GET", "/timestamp")[0], 200)
        self.assertEqual(self.req("GET", STACK + "?humidity", headers=cik())[0], 200)
        self.assertEqual(self.sim.stats()["longpolls_active"], 1)
        self.req("POST", STACK, "temp=22", cik())
        self.assertEqual(waiter.outcome()[0], 200)

    def test_disconnected_client_is_dropped(self):
        s = socket.create_connection((self.sim.host, self.sim.port))
        s.sendall(("GET %s?temp HTTP/1.1\r\nHost: x\r\nX-Exosite-CIK: %s\r\n"
                   "Request-Timeout: 60000\r\n\r\n" % (STACK, DEMO_CIK)).encode())
        self.wait_active("longpolls_active", 1)
        s.close()
        self.wait_active("longpolls_active", 0)


class Provisioning(SimTest):
    def test_activate(self):
        form = {"Content-Type": FORM}
        status, headers, new_cik = self.req("POST", "/provision/activate",
                                            DEMO + "&sn=0002", form)
        self.assertEqual(status, 200)
        self.assertEqual(headers["content-type"], "text/plain; charset=utf-8")
        self.assertRegex(new_cik.decode(), "^[0-9a-f]{40}$")
        self.assertEqual(self.req("POST", "/provision/activate", DEMO + "&sn=0002", form)[0], 409)
        self.assertEqual(self.req("POST", "/provision/activate", DEMO + "&sn=0003", form)[0], 409)
        self.assertEqual(self.req("POST", "/provision/activate", DEMO + "&sn=9999", form)[0], 404)
        # The new CIK works, with the dataports declared for the device.
        self.assertEqual(self.req("POST", STACK, "temp=1", cik(new_cik.decode()))[0], 204)
        self.assertEqual(self.sim.dataport(new_cik.decode(), "temp")["values"][-1][1], "1")

    def test_list(self):
        status, headers, body = self.req("GET", "/provision/download?" + DEMO, headers=cik())
        self.assertEqual(status, 200)
        self.assertEqual(headers["content-type"], "text/csv; charset=utf-8")
        self.assertEqual(body.decode().split(),
                         ["firmware.bin", "readme.txt", "empty.bin", "one.bin", "big.bin", "k1.bin",
                          "k1p1.bin"])
        self.assertEqual(self.req("GET", "/provision/download?" + DEMO)[0], 401)
        self.assertEqual(self.req("GET", "/provision/download?vendor=demo&model=x",
                                  headers=cik())[0], 403)

    def test_info(self):
        status, _, body = self.req("GET", "/provision/download?%s&id=firmware.bin&info=true" % DEMO,
                                   headers=cik())
        self.assertEqual(status, 200)
        self.assertEqual(body, b"application/octet-stream,5000,1400000000,version=1.2.3")
        for query, headers, want in (("id=nope&info=true&" + DEMO, cik(), 404),
                                     ("id=k1.bin&info=true&vendor=x&model=y", cik(), 400),
                                     ("id=k1.bin&info=true&" + DEMO, {}, 401)):
            self.assertEqual(self.req("GET", "/provision/download?" + query,
                                      headers=headers)[0], want, query)

    def test_download_whole_and_ranges(self):
        target = "/provision/download?%s&id=firmware.bin" % DEMO
        status, headers, body = self.req("GET", target, headers=cik())
        self.assertEqual((status, body), (200, generated(5000)))
        self.assertEqual(headers["content-type"], "application/octet-stream")
        self.assertEqual(headers["content-length"], "5000")

        status, headers, body = self.req("GET", target, headers=cik(Range="bytes=1024-2047"))
        self.assertEqual(status, 206)
        self.assertEqual(body, generated(5000)[1024:2048])
        self.assertEqual(headers["content-range"], "bytes 1024-2047/5000")
        self.assertEqual(headers["accept-ranges"], "bytes")
        self.assertEqual(headers["content-type"], "application/octet-stream")

        self.assertEqual(self.req("GET", target, headers=cik(Range="bytes=4096-"))[2],
                         generated(5000)[4096:])
        self.assertEqual(self.req("GET", target, headers=cik(Range="bytes=-100"))[2],
                         generated(5000)[-100:])
        status, headers, body = self.req("GET", target, headers=cik(Range="bytes=5000-"))
        self.assertEqual((status, headers["content-range"]), (416, "bytes */5000"))
        self.assertEqual(headers["content-length"], "0")
        status, _, body = self.req("GET", "/provision/download?%s&id=readme.txt" % DEMO,
                                   headers=cik())
        self.assertTrue(body.startswith(b"onep-sim demo content"))
        self.assertEqual(self.req("GET", "/provision/download?%s&id=empty.bin" % DEMO,
                                  headers=cik(Range="bytes=0-"))[0], 416)
        self.assertEqual(self.req("GET", "/provision/download?%s&id=k1p1.bin" % DEMO,
                                  headers=cik(Range="bytes=1024-2047"))[2], generated(1025)[1024:])
        self.assertEqual(self.req("GET", "/provision/download?%s&id=nope" % DEMO,
                                  headers=cik())[0], 404)
        self.assertEqual(self.req("GET", "/provision/download?vendor=x&model=y&id=k1.bin",
                                  headers=cik())[0], 403)
        self.assertEqual(self.req("GET", target)[0], 401)


class Rpc(SimTest):
    def rpc(self, calls, auth_cik=DEMO_CIK):
        body = json.dumps({"auth": {"cik": auth_cik}, "calls": calls})
        status, headers, data = self.req("POST", "/onep:v1/rpc/process", body,
                                         {"Content-Type": "application/json; charset=utf-8"})
        self.assertEqual(status, 200)
        self.assertEqual(headers["content-type"], "application/json; charset=utf-8")
        return json.loads(data)

    def test_calls_and_statuses(self):
        answer = self.rpc([
            {"id": 1, "procedure": "write", "arguments": [{"alias": "humidity"}, 65.4]},
            {"procedure": "write", "arguments": [{"alias": "humidity"}, "66"]},
            {"id": "r", "procedure": "read", "arguments": [{"alias": "humidity"}, {"limit": 2}]},
            {"id": 3, "procedure": "lookup", "arguments": ["alias", "nope"]},
            {"id": 4, "procedure": "share", "arguments": []},
        ])
        self.assertEqual(answer[0], {"id": 1, "status": "ok"})
        self.assertEqual(answer[1]["id"], "r")
        self.assertEqual([v for _, v in answer[1]["result"]], ["66", "65.4"])
        self.assertEqual(answer[2], {"id": 3, "status": "invalid"})
        self.assertEqual(answer[3]["status"], "error")
        self.assertIn("share", answer[3]["error"]["message"])
        self.assertEqual(len(answer), 4)

    def test_whole_request_errors(self):
        status, _, data = self.req("POST", "/onep:v1/rpc/process", "{nope")
        self.assertEqual((status, json.loads(data)["error"]["code"]), (200, -1))
        self.assertEqual(self.rpc([], auth_cik="0" * 40)["error"]["code"], 401)
        status, _, data = self.req("POST", "/onep:v1/rpc/process", json.dumps({"calls": []}))
        self.assertEqual(json.loads(data)["error"]["code"], 400)

    def test_wait_woken_by_data_write_and_expire(self):
        waiter = Background(lambda: self.rpc([{"id": 1, "procedure": "wait",
                                               "arguments": [{"alias": "temp"}, {"timeout": 60000}]}]))
        self.wait_active("waits_active", 1)
        self.assertEqual(self.req("GET", "/timestamp")[0], 200)  # not blocked meanwhile
        self.req("POST", STACK, "temp=31", cik())
        answer = waiter.outcome()
        self.assertEqual(answer[0]["status"], "ok")
        self.assertEqual(answer[0]["result"][1], "31")
        answer = self.rpc([{"id": 1, "procedure": "wait",
                            "arguments": [{"alias": "temp"}, {"timeout": 200}]}])
        self.assertEqual(answer, [{"id": 1, "status": "expire"}])


class Inspection(SimTest):
    def test_stats_count_every_endpoint(self):
        self.req("POST", STACK, "humidity=1", cik())
        _, _, read_body = self.req("GET", STACK + "?humidity", headers=cik())
        self.req("POST", STACK + "?humidity", "humidity=2", cik())
        self.req("GET", STACK + "?temp", headers=cik(**{"Request-Timeout": "0"}))
        self.req("POST", "/provision/activate", DEMO + "&sn=9999")
        self.req("GET", "/provision/download?" + DEMO, headers=cik())
        self.req("GET", "/provision/download?%s&id=k1.bin&info=true" % DEMO, headers=cik())
        self.req("GET", "/provision/download?%s&id=k1.bin" % DEMO, headers=cik())
        _, _, ts = self.req("GET", "/timestamp")
        self.req("POST", "/onep:v1/rpc/process", "[]")
        stats = self.sim.stats()
        self.assertEqual(stats["connections"], 11)  # ten requests and this stats call
        eps = stats["endpoints"]
        for name in ("write", "read", "hybrid", "longpoll", "activate", "list", "info",
                     "download", "timestamp", "rpc"):
            self.assertEqual(eps[name]["requests"], 1, name)
        self.assertEqual(eps["write"]["bytes_in"], len("humidity=1"))
        self.assertEqual(eps["read"]["bytes_out"], len(read_body))
        self.assertEqual(eps["download"]["bytes_out"], 1024)
        self.assertEqual(eps["timestamp"]["bytes_out"], len(ts))
        self.assertEqual(stats["longpolls_active"], 0)

    def test_request_log(self):
        self.req("POST", STACK + "?a", "temp=5", cik(**{"User-Agent": "test/1"}))
        log = self.sim.requests()
        self.assertEqual(len(log), 1)
        entry = log[0]
        self.assertEqual(entry["method"], "POST")
        self.assertEqual(entry["target"], STACK + "?a")
        self.assertEqual(entry["headers"]["x-exosite-cik"], DEMO_CIK)
        self.assertEqual(entry["headers"]["user-agent"], "test/1")
        self.assertEqual(entry["body"], "temp=5")

    def test_fault_status(self):
        self.sim.fault(match="/timestamp", action="status", status=503,
                       headers={"Retry-After": "7"}, body="busy", times=1)
        status, headers, body = self.req("GET", "/timestamp")
        self.assertEqual((status, headers["retry-after"], body), (503, "7", b"busy"))
        self.assertEqual(self.req("GET", "/timestamp")[0], 200)

    def test_fault_match_prefix_and_order(self):
        self.sim.fault(match="/provision/", action="status", status=500)
        self.sim.fault(action="status", status=502)
        self.assertEqual(self.req("GET", "/provision/download?" + DEMO, headers=cik())[0], 500)
        self.assertEqual(self.req("GET", "/timestamp")[0], 502)
        self.assertIn("endpoints", self.sim.stats())  # the catch-all fault spares /_sim/
        self.sim.clear_faults()
        self.assertEqual(self.req("GET", "/timestamp")[0], 200)

    def test_fault_close(self):
        self.sim.fault(action="close", times=1)
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionResetError)):
            self.req("POST", STACK, "temp=99", cik())
        # Read, logged, but not executed.
        self.assertEqual(self.sim.requests()[-1]["body"], "temp=99")
        self.assertNotEqual(self.sim.dataport(DEMO_CIK, "temp")["values"][-1][1], "99")

    def test_fault_garbage(self):
        self.sim.fault(match="/timestamp", action="garbage", times=1)
        s = socket.create_connection((self.sim.host, self.sim.port), timeout=30)
        s.sendall(b"GET /timestamp HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        s.close()
        self.assertTrue(data)
        self.assertFalse(data.startswith(b"HTTP/"))

    def test_fault_delay(self):
        self.sim.fault(match="/timestamp", delay_ms=300, times=1)
        started = time.monotonic()
        self.assertEqual(self.req("GET", "/timestamp")[0], 200)
        self.assertGreaterEqual(time.monotonic() - started, 0.29)

    def test_keep_alive_closes_after_100(self):
        conn = self.sim.connection()
        for i in range(1, 101):
            conn.request("GET", "/timestamp")
            resp = conn.getresponse()
            resp.read()
            closing = (resp.getheader("Connection") or "").lower() == "close"
            self.assertEqual(closing, i == 100, i)
        conn.close()
        self.assertEqual(self.sim.stats()["connections"], 2)

    def test_dataport_view(self):
        view = self.sim.dataport(DEMO_CIK, "temp")
        self.assertTrue(view["exists"])
        self.assertEqual(view["values"][0][1], "21.5")
        self.assertEqual(self.sim.dataport(DEMO_CIK, "empty"), {"exists": True, "values": []})
        self.assertFalse(self.sim.dataport(DEMO_CIK, "nope")["exists"])


class Processes(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="onep-sim-test-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_max_requests_per_connection_1(self):
        with SimProcess(max_requests_per_connection=1) as sim:
            s = socket.create_connection((sim.host, sim.port), timeout=30)
            s.sendall(b"GET /timestamp HTTP/1.1\r\nHost: x\r\n\r\n")
            data = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break  # the sim closed the connection after one answer
                data += chunk
            s.close()
            head = data.split(b"\r\n\r\n", 1)[0].lower()
            self.assertIn(b"connection: close", head)
            self.assertEqual(data.count(b"HTTP/1.1"), 1)

    def test_https_only(self):
        cert, key = os.path.join(self.dir, "cert.pem"), os.path.join(self.dir, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=localhost", "-addext",
                        "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", key, "-out", cert],
                       check=True, capture_output=True)
        with SimProcess(tls_cert=cert, tls_key=key) as sim:
            self.assertTrue(sim.url.startswith("https://127.0.0.1:"))
            status, _, body = sim.request("GET", STACK + "?temp", headers=cik())
            self.assertEqual((status, body), (200, b"temp=21.5"))
            self.assertEqual(sim.stats()["endpoints"]["read"]["requests"], 1)
            # Plain HTTP on the TLS port gets no HTTP answer.
            s = socket.create_connection((sim.host, sim.port), timeout=30)
            s.sendall(b"GET /timestamp HTTP/1.1\r\nHost: x\r\n\r\n")
            try:
                data = s.recv(4096)
            except ConnectionResetError:
                data = b""
            s.close()
            self.assertFalse(data.startswith(b"HTTP/"))

    def test_ipv6_listen(self):
        try:
            probe = socket.socket(socket.AF_INET6)
            probe.bind(("::1", 0))
            probe.close()
        except OSError:
            self.skipTest("no IPv6 loopback")
        with SimProcess(listen="[::1]:0") as sim:
            self.assertTrue(sim.url.startswith("http://[::1]:"))
            self.assertEqual(sim.request("GET", "/timestamp")[0], 200)

    def test_signals_exit_0(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            with SimProcess() as sim:
                self.assertEqual(sim.stop(sig), 0)

    def test_bad_state_file(self):
        path = self.write("bad.yaml", "devices:\n  - vendor: v\n    model: m\n    sn: s\n"
                                      "    colour: red\n")
        binary = os.path.join(os.environ.get("GW_BIN_DIR", ""), "onep-sim")
        r = subprocess.run([binary, "--listen", "127.0.0.1:0", "--state", path],
                           capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 2)
        self.assertEqual(r.stderr.decode().strip(), path + ":5: devices[0].colour: unknown key")
        r = subprocess.run([binary, "--listen", "127.0.0.1:0", "--state", path + ".missing"],
                           capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 2)
        r = subprocess.run([binary, "--help"], capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 0)
        self.assertIn(b"--listen", r.stdout)

    def test_list_204_and_json_state(self):
        path = self.write("state.json", json.dumps({
            "devices": [{"vendor": "v", "model": "m", "sn": "1", "cik": "1" * 40,
                         "dataports": {"a": ["x"]}}],
            "content": [{"vendor": "v", "model": "m", "files": []}]}))
        with SimProcess(state=path) as sim:
            self.assertEqual(sim.request("GET", "/provision/download?vendor=v&model=m",
                                         headers=cik("1" * 40))[0], 204)
            self.assertEqual(sim.request("GET", STACK + "?a", headers=cik("1" * 40))[2], b"a=x")


if __name__ == "__main__":
    unittest.main(verbosity=2)
