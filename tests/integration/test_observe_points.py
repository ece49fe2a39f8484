"""A registration's point is not notified again: the registration reads the latest point with its
time, and the long-poll behind the observation starts from it (RFC 7641 §3.2, §4.2)."""
import os
import unittest

import coap
from gwproc import Gateway
from simproc import SimProcess, demo_state
from test_observe import FORM, Observer, next_second


class RegistrationPoint(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.state = demo_state(["point"])
        cls.sim = SimProcess(state=cls.state)
        cls.gw = Gateway(cls.sim.url, config_extra="observe:\n  poll_timeout: 2s\n")

    @classmethod
    def tearDownClass(cls):
        cls.gw.close()
        cls.sim.close()
        os.unlink(cls.state)

    def write_on_sim(self, value):
        status, _, _ = self.sim.request("POST", "/onep:v1/stack/alias", "point=" + value, FORM)
        self.assertEqual(status, 204)

    def test_the_registered_point_is_not_notified_again(self):
        next_second()
        self.write_on_sim("v0")
        # Registered within the second of the write: a poll from "one second ago" would see v0
        # as new and notify it a second time.
        o = Observer(self.gw.host, self.gw.port)
        self.addCleanup(o.close)
        r = o.register(alias="point")
        self.assertEqual(coap.code_str(r.code), "2.05")
        self.assertEqual(r.payload, b"v0")
        self.assertIsNotNone(r.opt(coap.OPT_OBSERVE))
        self.sim.wait_for(lambda: self.sim.stats()["longpolls_by_target"].get(
            "/onep:v1/stack/alias?point", 0) == 1, timeout=15)
        next_second()
        self.write_on_sim("v1")
        n = o.next_notification(skip=None)
        self.assertIsNotNone(n, "no notification of v1")
        self.assertEqual(n.payload, b"v1", "the registration's point came again")


if __name__ == "__main__":
    unittest.main(verbosity=2)
