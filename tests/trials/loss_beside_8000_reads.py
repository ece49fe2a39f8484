"""Issue 11 'Done when': at 30% loss with 8,000 reads/s beside them, every acknowledged write is
applied exactly once. test_loss.py's scenario with coap-load adding an open-loop read load."""
import os, subprocess, sys, unittest
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
os.environ.setdefault("GW_BIN_DIR", os.path.join(ROOT, "build", "bin"))
os.environ.setdefault("GW_TESTDATA", os.path.join(ROOT, "tests", "data"))
import test_loss
from simproc import DEMO_CIK

class Heavy(test_loss.LossyLink):
    def test_writes_beside_8000_reads_per_second(self):
        load = subprocess.Popen([os.path.join(ROOT, "build", "bin", "coap-load"), "--target",
                                 "%s:%d" % (self.gw.host, self.gw.port), "--clients", "200",
                                 "--rate", "8000", "--request", "GET /1a/temp?<CIK>", "--cik", DEMO_CIK,
                                 "--duration", "40s", "--warmup", "1s"],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            self.scenario("heavy", test_loss.SEED + 7, readers=0)
        finally:
            out = load.communicate(timeout=120)[0].decode()
            print(out[-1500:], file=sys.stderr)

suite = unittest.TestSuite([Heavy("test_writes_beside_8000_reads_per_second")])
r = unittest.TextTestRunner(verbosity=2).run(suite)
sys.exit(0 if r.wasSuccessful() else 1)
