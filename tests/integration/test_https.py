"""The gateway's upstream over HTTPS: onep-sim serving TLS with a certificate the test makes,
verified by the gateway against upstream.tls.ca_file; a host-name mismatch is refused (5.02)."""
import os
import shutil
import subprocess
import tempfile
import unittest

import coap
from gwproc import Gateway
from simproc import DEMO_CIK, SimProcess


def make_cert(directory, name, san):
    cert, key = os.path.join(directory, name + ".pem"), os.path.join(directory, name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=" + name, "-addext", "subjectAltName=" + san,
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    return cert, key


class Https(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="tls-")
        cls.cert, cls.key = make_cert(cls.dir, "localhost", "DNS:localhost,IP:127.0.0.1")
        cls.sim = SimProcess(tls_cert=cls.cert, tls_key=cls.key)

    @classmethod
    def tearDownClass(cls):
        cls.sim.close()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def ask(self, gw, *args, **kw):
        c = coap.Client(gw.host, gw.port)
        try:
            return c.exchange(coap.request(*args, **kw))
        finally:
            c.close()

    def test_verified_tls_upstream(self):
        self.assertTrue(self.sim.url.startswith("https://"))
        with Gateway(self.sim.url, upstream_extra='  tls:\n    ca_file: "%s"\n' % self.cert) as gw:
            r = self.ask(gw, coap.GET, "/1a/temp", [DEMO_CIK])
            self.assertEqual(coap.code_str(r.code), "2.05")
            r = self.ask(gw, coap.POST, "/1a/humidity", [DEMO_CIK], b"over-tls")
            self.assertEqual(coap.code_str(r.code), "2.04")
        self.assertEqual(self.sim.dataport(DEMO_CIK, "humidity")["values"][-1][1], "over-tls")

    def test_wrong_host_name_is_refused(self):
        # A trusted certificate, but for another name than the one the gateway dials.
        cert, key = make_cert(self.dir, "elsewhere", "DNS:example.invalid")
        with SimProcess(tls_cert=cert, tls_key=key) as other:
            with Gateway(other.url, upstream_extra='  tls:\n    ca_file: "%s"\n' % cert) as gw:
                r = self.ask(gw, coap.GET, "/ts")
                self.assertEqual(coap.code_str(r.code), "5.02")
                self.assertIn(b"TLS", r.payload)

    def test_untrusted_certificate_is_refused(self):
        other_ca, _ = make_cert(self.dir, "other-ca", "DNS:localhost")
        with Gateway(self.sim.url, upstream_extra='  tls:\n    ca_file: "%s"\n' % other_ca) as gw:
            self.assertEqual(coap.code_str(self.ask(gw, coap.GET, "/ts").code), "5.02")

    def test_verification_off_still_connects(self):
        with Gateway(self.sim.url, upstream_extra="  tls:\n    verify: false\n") as gw:
            self.assertEqual(coap.code_str(self.ask(gw, coap.GET, "/ts").code), "2.05")
            self.assertIn("verification is OFF", gw.log())


if __name__ == "__main__":
    unittest.main(verbosity=2)
