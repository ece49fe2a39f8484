"""Issue 12 'Done when': libcoap observers (-b 16 and plain) of a 100-byte and a 3,000-byte value
get whole, fresh values, each new point once, for several minutes while the value changes."""
import os, re, subprocess, sys, tempfile, time
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
os.environ.setdefault("GW_BIN_DIR", os.path.join(ROOT, "build", "bin"))
from simproc import SimProcess, DEMO_CIK
from gwproc import Gateway

DURATION = int(sys.argv[1]) if len(sys.argv) > 1 else 180
def value(alias, n):
    size = 100 if alias == "small" else 3000
    head = "%s%04d" % (alias[0], n)
    return head + "x" * (size - len(head))
WORK = tempfile.mkdtemp()
state = os.path.join(WORK, "state.yaml")
with open(state, "w") as f:
    f.write("devices:\n  - vendor: demo\n    model: gateway\n    sn: \"0001\"\n    cik: %s\n"
            "    dataports:\n      small: \"%s\"\n      big: \"%s\"\n" % (DEMO_CIK, value("small", 0), value("big", 0)))
sim = SimProcess(state=state)
gw = Gateway(sim.url)
FORM = {"X-Exosite-CIK": DEMO_CIK, "Content-Type": "application/x-www-form-urlencoded"}
procs = {}
for alias in ("small", "big"):
    for block in (None, 16):
        out = open(os.path.join(WORK, "%s-%s.out") % (alias, block or "plain"), "wb")
        cmd = ["coap-client-notls", "-m", "get", "-s", str(DURATION + 10), "-B", str(DURATION + 20)]
        if block: cmd += ["-b", str(block)]
        cmd.append("coap://%s:%d/1a/%s?%s" % ("127.0.0.1", gw.port, alias, DEMO_CIK))
        procs[(alias, block)] = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
time.sleep(3)
written = {"small": [], "big": []}
n, end = 1, time.time() + DURATION
while time.time() < end:
    for alias in ("small", "big"):
        v = value(alias, n)
        status, _, _ = sim.request("POST", "/onep:v1/stack/alias", "%s=%s" % (alias, v), FORM)
        assert status == 204, status
        written[alias].append(v)
    n += 1
    time.sleep(3)
time.sleep(5)
for p in procs.values(): p.kill()
gw.close(); sim.close()
ok = True
for (alias, block), p in procs.items():
    text = open(os.path.join(WORK, "%s-%s.out") % (alias, block or "plain"), "rb").read().decode(errors="replace")
    size = 100 if alias == "small" else 3000
    seen = re.findall(r"(%s\d{4})(x*)" % alias[0], text)
    whole = [h for h, pad in seen if len(h) + len(pad) == size]
    cut = [h for h, pad in seen if len(h) + len(pad) != size]
    want = [v[:5] for v in written[alias]]
    missing = [w for w in want if w not in whole]
    repeats = {h: whole.count(h) for h in set(whole) if whole.count(h) > 1}
    print("%s %s: %d written, %d shown whole, %d cut, missing %s, repeated %s" % (
        alias, block or "plain", len(want), len(whole), len(cut), missing[:5], repeats))
    ok &= not cut and not missing
print("OK" if ok else "PROBLEMS")
sys.exit(0 if ok else 1)
