"""The packaged service under a real systemd: a minimal Debian 12 booted in a container with the
freshly built .deb installed, driven as an operator would (issue #16, "The service, booted for
real").

    ctest -R integration_systemd_boot --output-on-failure        # or: ctest -L systemd

What it does, and why each step is there:
- The .deb comes from `cpack -G DEB` in the build directory, rebuilt only when a binary or a
  packaging input is newer than it. It is built into <build>/systemd-boot/deb, away from the one
  deploy/check.sh deletes and rebuilds.
- The root is `debootstrap --variant=minbase` of bookworm with systemd, systemd-sysv, dbus and the
  package's own Depends (so `dpkg -i` needs no network), from the Debian mirror apt is configured
  with on this machine. It is cached as <build>/systemd-boot/rootfs-<key>.tar, keyed by suite,
  mirror, architecture and package list; each run unpacks a fresh copy and deletes it afterwards.
  Nothing else is installed: no procps (/bin/kill), no libcoap, which is the point.
- `dpkg -i` runs inside the tree through systemd-nspawn without -b (postinst enables the unit),
  then the tree boots with `systemd-nspawn --keep-unit --register=no --private-network -b`. The
  container has only its own loopback: every datagram of the test stays in the network namespace
  systemd-nspawn made. Commands run inside through `nsenter -t <container's PID 1> -a`; CoAP and
  HTTP probes are this file run with --probe under `nsenter -n` (the host's Python, the
  container's network).
- Checks, in order on one booted container: the enabled unit came up at boot with the packaged
  configuration and answers /.well-known/core; `systemctl start` reaches active only after READY
  (Type=notify) and sets the status text, with onep-sim (shipped in the package) as the upstream;
  `systemctl reload` applies a good edit and refuses a broken one (FILE:LINE in the journal, the
  old configuration kept); the watchdog restarts a stalled gateway (the test-only stall hook,
  app/stall_hook.hpp, armed by a drop-in); `systemctl restart`; `systemctl stop` exits cleanly.

Skipped, with the reason, only where this machine cannot boot a container: not root, no
systemd-nspawn (Debian systemd-container), no debootstrap or nsenter, or systemd-nspawn refused for
lack of privileges. scripts/install-deps.sh installs both packages."""
import glob
import hashlib
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "../.."))
BIN_DIR = os.environ.get("GW_BIN_DIR", os.path.join(ROOT, "build/bin"))
BUILD_DIR = os.path.normpath(os.environ.get("GW_BUILD_DIR", os.path.join(BIN_DIR, "..")))
WORK_DIR = os.path.join(BUILD_DIR, "systemd-boot")

SUITE = "bookworm"  # Debian 12, what the package is built for
BASE_PACKAGES = ("systemd", "systemd-sysv", "dbus")
UNIT = "coap-gateway"
CONFIG = "/etc/coap-gateway/gateway.yaml"
SIM_PORT = 8080  # onep-sim inside the container; only the container's loopback exists
METRICS = "127.0.0.1:9101"
# Inside the container: no pager, no colours, no locale the minimal root lacks.
NSENTER_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C", "SYSTEMD_PAGER": "",
               "SYSTEMD_COLORS": "0", "TERM": "dumb"}

# The configuration the tests install: onep-sim as the upstream, two workers, /healthz, and a
# max_stall well under the watchdog drop-in's WatchdogSec.
TEST_CONFIG = """\
workers: 2
log:
  level: info
  access: {access}
coap:
  listen:
    - "0.0.0.0:5683"
    - "[::]:5683"
upstream:
  url: "http://127.0.0.1:{sim_port}"
  timeout: 5s
watchdog:
  max_stall: 1s
metrics:
  listen: "{metrics}"
shutdown:
  grace: 1s
"""
# log.access's line for a timestamp read (app/gateway_worker.cpp, log_access).
ACCESS_TS = r"access: \S+ timestamp 2\.05 "
WATCHDOG_DROPIN = """\
[Service]
# Test only: arms the stall hook (SIGUSR2 blocks worker 0) and makes the watchdog fire fast.
Environment=COAP_GATEWAY_TEST_HOOKS=1
WatchdogSec=3s
"""


def log(msg):
    print("[systemd-boot] %s" % msg, file=sys.stderr, flush=True)


def run(cmd, timeout, check=True, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    if check and r.returncode != 0:
        raise AssertionError("%s exited %d\nstdout:\n%s\nstderr:\n%s"
                             % (" ".join(cmd), r.returncode, r.stdout[-4000:], r.stderr[-4000:]))
    return r


# --- What this machine offers ----------------------------------------------------------------------

def skip_reason():
    """Why this machine cannot boot the container, or None."""
    if os.geteuid() != 0:
        return "needs root: systemd-nspawn, debootstrap and nsenter run as root"
    for tool, package in (("systemd-nspawn", "systemd-container"), ("debootstrap", "debootstrap"),
                          ("nsenter", "util-linux"), ("cpack", "cmake")):
        if not shutil.which(tool):
            return "%s not found (Debian package %s; scripts/install-deps.sh)" % (tool, package)
    return None


def apt_source_lines():
    """apt's sources as (uris, suites, components) tuples, from both the one-line format
    (sources.list, *.list) and deb822 (*.sources)."""
    etc = "/etc/apt"
    out = []
    files = [os.path.join(etc, "sources.list")] + sorted(glob.glob(etc + "/sources.list.d/*"))
    for path in files:
        try:
            with open(path) as f:
                text = f.read()
        except OSError:
            continue
        if path.endswith(".sources"):
            for stanza in re.split(r"\n\s*\n", text):
                fields = {}
                for line in stanza.splitlines():
                    if line.startswith("#") or ":" not in line or line[:1].isspace():
                        continue
                    key, value = line.split(":", 1)
                    fields[key.strip().lower()] = value.split()
                if "deb" in fields.get("types", []) and fields.get("enabled", ["yes"]) != ["no"]:
                    out.append((fields.get("uris", []), fields.get("suites", []),
                                fields.get("components", [])))
        elif path.endswith(".list") or path == os.path.join(etc, "sources.list"):
            for line in text.splitlines():
                words = re.sub(r"\[[^]]*\]", "", line.split("#", 1)[0]).split()
                if len(words) >= 3 and words[0] == "deb":
                    out.append(([words[1]], [words[2]], words[3:]))
    return out


def debian_mirror(suite=SUITE):
    """The first mirror apt here uses for `suite` main: derived at run time, never written down,
    so the test fetches from wherever this machine is allowed to."""
    for uris, suites, components in apt_source_lines():
        if suite in suites and "main" in components and uris:
            return uris[0]
    return None


# --- The package -----------------------------------------------------------------------------------

def fresh_deb():
    """The .deb of this build, made by cpack when missing or older than what goes into it."""
    out = os.path.join(WORK_DIR, "deb")
    os.makedirs(out, exist_ok=True)
    inputs = [os.path.join(BIN_DIR, "coap-gateway"), os.path.join(BIN_DIR, "onep-sim"),
              os.path.join(BUILD_DIR, "CPackConfig.cmake")]
    # What cmake/packaging.cmake puts in the package besides the binaries.
    for pattern in ("deploy/*", "deploy/debian/*", "deploy/man/*", "deploy/k8s/*",
                    "conf/gateway.example.yaml"):
        inputs += glob.glob(os.path.join(ROOT, pattern))
    for path in inputs[:3]:
        if not os.path.exists(path):
            raise AssertionError("%s is missing: build first (cmake --build %s)" % (path, BUILD_DIR))
    debs = glob.glob(os.path.join(out, "coap-gateway_*.deb"))
    newest_input = max(os.path.getmtime(p) for p in inputs if os.path.isfile(p))
    if len(debs) == 1 and os.path.getmtime(debs[0]) > newest_input:
        return debs[0]
    for d in debs:
        os.remove(d)
    log("building the package: cpack -G DEB -B %s" % out)
    run(["cpack", "-G", "DEB", "-B", out], timeout=600, cwd=BUILD_DIR)
    debs = glob.glob(os.path.join(out, "coap-gateway_*.deb"))
    if len(debs) != 1:
        raise AssertionError("cpack made %d packages in %s" % (len(debs), out))
    return debs[0]


def deb_depends(deb):
    """The package names in the .deb's Depends (first of each alternative, versions dropped)."""
    field = run(["dpkg-deb", "-f", deb, "Depends"], timeout=60).stdout
    names = []
    for clause in field.split(","):
        name = clause.split("|")[0].strip().split(" ")[0].split(":")[0]
        if name:
            names.append(name)
    return names


def remove_stale_trees():
    """Deletes the run-* and debootstrap-* trees an interrupted run left in WORK_DIR, except any
    that a live systemd-nspawn or debootstrap still names on its command line."""
    in_use = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/cmdline" % entry, "rb") as f:
                    in_use.update(a.decode(errors="replace") for a in f.read().split(b"\0"))
            except OSError:
                pass
    for tree in glob.glob(os.path.join(WORK_DIR, "run-*")) + glob.glob(
            os.path.join(WORK_DIR, "debootstrap-*")):
        if not any(a.startswith(tree) for a in in_use):
            shutil.rmtree(tree, ignore_errors=True)


# --- The cached root ------------------------------------------------------------------------------

def cached_rootfs(packages, mirror):
    """A tarball of `debootstrap --variant=minbase --include=PACKAGES SUITE`, built once per key."""
    arch = run(["dpkg", "--print-architecture"], timeout=30).stdout.strip()
    key_text = "|".join([SUITE, "minbase", arch, mirror] + sorted(packages))
    key = hashlib.sha256(key_text.encode()).hexdigest()[:16]
    tarball = os.path.join(WORK_DIR, "rootfs-%s.tar" % key)
    if os.path.exists(tarball):
        return tarball
    for old in glob.glob(os.path.join(WORK_DIR, "rootfs-*.tar")):
        os.remove(old)  # another key: its package list is no longer this package's
    scratch = tempfile.mkdtemp(prefix="debootstrap-", dir=WORK_DIR)
    try:
        root = os.path.join(scratch, "root")
        log("debootstrap %s (minbase + %s) from apt's mirror; cached as %s"
            % (SUITE, ",".join(sorted(packages)), tarball))
        started = time.monotonic()
        run(["debootstrap", "--variant=minbase", "--include=" + ",".join(sorted(packages)),
             SUITE, root, mirror], timeout=1500)
        # The downloaded .debs are not needed in the image.
        for deb in glob.glob(os.path.join(root, "var/cache/apt/archives/*.deb")):
            os.remove(deb)
        run(["tar", "--numeric-owner", "--xattrs", "--acls", "-C", root, "-cf",
             tarball + ".part", "."], timeout=600)
        os.rename(tarball + ".part", tarball)
        log("root cached in %.0f s" % (time.monotonic() - started))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return tarball


# --- The container --------------------------------------------------------------------------------

class SkipBoot(Exception):
    pass


class Container:
    """One unpacked root with the package installed, booted by systemd-nspawn."""

    def __init__(self, tarball, deb):
        self.dir = tempfile.mkdtemp(prefix="run-", dir=WORK_DIR)
        self.root = os.path.join(self.dir, "root")
        self.name = "gw-boot-%d" % os.getpid()
        self.proc = None
        self.leader = None
        os.mkdir(self.root)
        run(["tar", "--numeric-owner", "--xattrs", "--acls", "-C", self.root, "-xf", tarball],
            timeout=600)
        shutil.copy(deb, os.path.join(self.root, "var/tmp/coap-gateway.deb"))
        # Not /tmp: systemd-nspawn mounts a fresh tmpfs there.
        self.nspawn_run(["dpkg", "-i", "/var/tmp/coap-gateway.deb"], timeout=300)
        with open(os.path.join(ROOT, "sim/example-state.yaml")) as f:
            self.write("/var/lib/onep-sim/state.yaml", f.read())

    def nspawn_run(self, argv, timeout):
        """Runs a command in the tree without booting it (as chroot would, with /proc and /dev)."""
        r = run(["systemd-nspawn", "--quiet", "--keep-unit", "--register=no", "--private-network",
                 "--machine", self.name, "-D", self.root] + argv, timeout=timeout, check=False,
                stdin=subprocess.DEVNULL)
        if r.returncode != 0:
            self.maybe_skip(r.stderr)
            raise AssertionError("systemd-nspawn %s exited %d:\n%s%s"
                                 % (" ".join(argv), r.returncode, r.stdout[-3000:], r.stderr[-3000:]))
        return r

    @staticmethod
    def maybe_skip(output):
        """Raises SkipBoot when systemd-nspawn failed for lack of privileges (a sandbox that
        forbids namespaces or mounts) or of a place to run (a chroot, where / is no mount point
        and no cgroup hierarchy is mounted, as when the README's commands are tried in a fresh
        Debian tree): the machine cannot boot a container, not a product bug."""
        for line in output.splitlines():
            if re.search(r"Operation not permitted|Permission denied|Read-only file system"
                         r"|unified cgroups hierarchy|on / \(MS_REC\|MS_SLAVE", line):
                raise SkipBoot("systemd-nspawn cannot run here: %s" % line.strip())

    def path(self, inside):
        return os.path.join(self.root, inside.lstrip("/"))

    def write(self, inside, text, mode=0o644):
        path = self.path(inside)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)

    def boot(self, timeout=120):
        self.console = open(os.path.join(self.dir, "console.log"), "w+")
        self.proc = subprocess.Popen(
            ["systemd-nspawn", "--keep-unit", "--register=no", "--private-network",
             "--console=read-only", "--machine", self.name, "-D", self.root, "-b"],
            stdin=subprocess.DEVNULL, stdout=self.console, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while self.leader is None:
            if self.proc.poll() is not None:
                self.console.seek(0)
                out = self.console.read()
                self.maybe_skip(out)
                raise AssertionError("systemd-nspawn -b exited %d before boot:\n%s"
                                     % (self.proc.returncode, out[-4000:]))
            if time.monotonic() > deadline:
                raise AssertionError("no container init within %ss" % timeout)
            self.leader = self.find_leader()
            if self.leader is None:
                time.sleep(0.05)  # polling /proc for the child to appear; bounded above
        # is-system-running --wait returns once boot is over (running, or degraded if a unit
        # failed); before systemd's bus is up it fails at once, so retry until the deadline.
        while True:
            r = self.sh(["systemctl", "is-system-running", "--wait"], check=False,
                        timeout=max(1, deadline - time.monotonic()))
            state = r.stdout.strip()
            if state in ("running", "degraded"):
                break
            if time.monotonic() > deadline:
                raise AssertionError("container did not finish booting: %r %s" % (state, r.stderr))
            time.sleep(0.2)
        if state == "degraded":
            log("booted degraded: %s" % self.sh(["systemctl", "--failed", "--no-legend"]).stdout)

    def find_leader(self):
        """The container's PID 1: a child of systemd-nspawn that is PID 1 in its own namespace."""
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open("/proc/%s/status" % entry) as f:
                    status = dict(l.split(":", 1) for l in f.read().splitlines() if ":" in l)
            except OSError:
                continue
            if (status.get("PPid", "").strip() == str(self.proc.pid)
                    and status.get("NSpid", "").split()[-1:] == ["1"]):
                return int(entry)
        return None

    def sh(self, argv, timeout=60, check=True):
        """Runs argv inside the booted container (all its namespaces)."""
        return run(["nsenter", "-t", str(self.leader), "-a"] + argv, timeout=timeout, check=check,
                   env=NSENTER_ENV, stdin=subprocess.DEVNULL)

    def show(self, unit, *props):
        out = self.sh(["systemctl", "show", unit, "-p", ",".join(props)]).stdout
        return dict(l.split("=", 1) for l in out.splitlines() if "=" in l)

    def cursor(self):
        """The journal's position now; journal(after=) then reads only what came later."""
        out = self.sh(["journalctl", "-n", "1", "-o", "export", "--no-pager"]).stdout
        m = re.search(r"^__CURSOR=(.*)$", out, re.M)
        return m.group(1) if m else None

    def journal(self, after=None, unit=None):
        argv = ["journalctl", "-o", "cat", "--no-pager"]
        if after:
            argv.append("--after-cursor=" + after)
        if unit:
            argv += ["-u", unit]
        return self.sh(argv).stdout

    def wait_journal(self, pattern, after, timeout=20, unit=None):
        deadline = time.monotonic() + timeout
        while True:
            text = self.journal(after, unit)
            m = re.search(pattern, text)
            if m:
                return m
            if time.monotonic() > deadline:
                raise AssertionError("journal has no %r within %ss; it has:\n%s"
                                     % (pattern, timeout, text[-4000:]))
            time.sleep(0.2)

    def probe(self, *args, timeout=30):
        """This file's --probe, run by the host's Python in the container's network namespace."""
        r = run(["nsenter", "-t", str(self.leader), "-n", sys.executable, os.path.abspath(__file__),
                 "--probe"] + [str(a) for a in args], timeout=timeout + 10, check=False,
                env=dict(os.environ, PYTHONPATH=HERE))
        if r.returncode != 0:
            raise AssertionError("probe %s failed:\n%s" % (args, r.stderr[-3000:]))
        return json.loads(r.stdout)

    def close(self):
        if self.proc and self.proc.poll() is None:
            # systemd-nspawn turns SIGTERM into a clean poweroff of the container.
            self.proc.terminate()
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                # PID 1 gone ends every process of the container's PID namespace.
                if self.leader:
                    try:
                        os.kill(self.leader, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                self.proc.kill()
                self.proc.wait(timeout=30)
        if getattr(self, "console", None):
            self.console.close()
        shutil.rmtree(self.dir, ignore_errors=True)


# --- The probe (runs in the container's network namespace) -----------------------------------------

def probe_main(argv):
    """--probe coap PATH [QUERY] [DEADLINE]: one CoAP GET to 127.0.0.1:5683, retransmitted until
    answered or the deadline; prints {"code", "payload"} (payload as text) or {"code": null}.
    --probe http URL: one HTTP GET; prints {"status", "body"}."""
    import coap
    import urllib.error
    import urllib.request
    kind = argv[0]
    if kind == "coap":
        path, query = argv[1], argv[2] if len(argv) > 2 and argv[2] else None
        deadline = time.monotonic() + (float(argv[3]) if len(argv) > 3 else 10.0)
        client = coap.Client("127.0.0.1", 5683)
        payload, r, num = b"", None, 0
        while True:
            # Block2 as a real client does it (RFC 7959 §2.4): a client that has not proven its
            # address gets the first blocks cut to the amplification budget, at the size the
            # server chose.
            options = [(coap.OPT_BLOCK2, coap.block_option(num, False, szx))] if num else []
            m = coap.request(coap.GET, path, [query] if query else [], options=options)
            r = None
            while r is None and time.monotonic() < deadline:
                r = client.exchange(m, timeout=min(1.0, max(0.05, deadline - time.monotonic())))
            if r is None:
                break
            payload += r.payload
            block = r.opt(coap.OPT_BLOCK2)
            if block is None or not coap.parse_block(block)[1]:
                break
            _, _, szx = coap.parse_block(block)
            num = len(payload) // (16 << szx)  # the next block, at the size last answered
        out = {"code": coap.code_str(r.code) if r else None,
               "payload": payload.decode(errors="replace") if r else None}
    elif kind == "http":
        try:
            with urllib.request.urlopen(argv[1], timeout=10) as resp:
                out = {"status": resp.status, "body": resp.read().decode(errors="replace")}
        except urllib.error.HTTPError as e:
            out = {"status": e.code, "body": e.read().decode(errors="replace")}
    else:
        raise SystemExit("unknown probe %r" % kind)
    print(json.dumps(out))


# --- The tests ------------------------------------------------------------------------------------

class SystemdBoot(unittest.TestCase):
    """One container for the whole class; the tests run in their numbered order, each leaving the
    service in the state the next one starts from."""
    container = None

    @classmethod
    def setUpClass(cls):
        reason = skip_reason()
        if reason:
            raise unittest.SkipTest(reason)
        mirror = debian_mirror()
        if not mirror:
            raise AssertionError("apt has no source for Debian %s main (/etc/apt/sources.list*): "
                                 "debootstrap needs one" % SUITE)
        os.makedirs(WORK_DIR, exist_ok=True)
        remove_stale_trees()
        started = time.monotonic()
        deb = fresh_deb()
        tarball = cached_rootfs(list(BASE_PACKAGES) + deb_depends(deb), mirror)
        try:
            cls.container = Container(tarball, deb)
            cls.container.boot()
        except SkipBoot as e:
            cls.tearDownClass()
            raise unittest.SkipTest(str(e))
        except BaseException:
            cls.tearDownClass()
            raise
        log("container %s booted (%.0f s with the package and the root)"
            % (cls.container.name, time.monotonic() - started))

    @classmethod
    def tearDownClass(cls):
        if cls.container:
            cls.container.close()
            cls.container = None

    @property
    def c(self):
        return self.container

    def assert_active(self):
        props = self.c.show(UNIT, "ActiveState", "SubState", "StatusText", "MainPID", "NRestarts")
        self.assertEqual((props["ActiveState"], props["SubState"]), ("active", "running"), props)
        return props

    def assert_serves(self):
        r = self.c.probe("coap", "/.well-known/core")
        self.assertEqual(r["code"], "2.05", r)
        self.assertIn("</ts>", r["payload"])

    def write_config(self, access):
        self.c.write(CONFIG, TEST_CONFIG.format(access=access, sim_port=SIM_PORT,
                                                metrics=METRICS))

    def test_1_boot_starts_the_enabled_unit_with_the_packaged_config(self):
        # postinst enabled the unit; the packaged gateway.yaml listens on every address.
        props = self.assert_active()
        self.assertEqual(props["StatusText"], "serving 0.0.0.0:5683 [::]:5683")
        self.assertEqual(self.c.sh(["systemctl", "is-enabled", UNIT]).stdout.strip(), "enabled")
        self.assert_serves()
        # The minimal root has no /bin/kill: reload must not depend on it.
        self.assertFalse(os.path.exists(self.c.path("/bin/kill")) or
                         os.path.exists(self.c.path("/usr/bin/kill")), "procps crept in")

    def test_2_start_reports_ready_and_serves_through_the_upstream(self):
        self.c.sh(["systemctl", "stop", UNIT], timeout=60)
        self.write_config(access="false")
        self.c.sh(["systemd-run", "--unit=onep-sim", "--property=Type=exec", "/usr/bin/onep-sim",
                   "--listen", "127.0.0.1:%d" % SIM_PORT, "--state",
                   "/var/lib/onep-sim/state.yaml"])
        mark = self.c.cursor()
        # Type=notify: `systemctl start` returns, and the unit is active, only after READY=1.
        self.c.sh(["systemctl", "start", UNIT], timeout=60)
        props = self.assert_active()
        self.assertEqual(props["StatusText"], "serving 0.0.0.0:5683 [::]:5683")
        self.c.wait_journal(r"Started coap-gateway\.service", mark)
        self.assert_serves()
        # A timestamp read goes through onep-sim, started above (it may still be binding).
        r = self.c.probe("coap", "/ts", "", 20)
        self.assertEqual(r["code"], "2.05", r)
        self.assertRegex(r["payload"], r"^\d{9,}$")
        health = self.c.probe("http", "http://%s/healthz" % METRICS)
        self.assertEqual(health["status"], 200, health)

    def test_3_reload_applies_a_good_edit(self):
        before = self.assert_active()
        self.write_config(access="true")
        mark = self.c.cursor()
        self.c.sh(["systemctl", "reload", UNIT], timeout=60)
        self.c.wait_journal(r"configuration reloaded from " + re.escape(CONFIG), mark)
        after = self.assert_active()
        self.assertEqual(after["MainPID"], before["MainPID"], "a reload must not restart")
        # log.access was off and is now on: a request leaves an access line.
        self.assertEqual(self.c.probe("coap", "/ts", "", 10)["code"], "2.05")
        self.c.wait_journal(ACCESS_TS, mark, unit=UNIT)

    def test_4_reload_refuses_a_broken_edit_and_keeps_running(self):
        before = self.assert_active()
        with open(self.c.path(CONFIG)) as f:
            good = f.read()
        broken = good.replace("timeout: 5s", "timeout: soon")
        line = broken.splitlines().index("  timeout: soon") + 1
        self.c.write(CONFIG, broken)
        self.addCleanup(self.c.write, CONFIG, good)
        mark = self.c.cursor()
        r = self.c.sh(["systemctl", "reload", UNIT], timeout=60, check=False)
        self.assertNotEqual(r.returncode, 0, "a broken config must fail the reload")
        self.c.wait_journal(re.escape("%s:%d: upstream.timeout: " % (CONFIG, line)), mark,
                            unit=UNIT)
        after = self.assert_active()
        self.assertEqual(after["MainPID"], before["MainPID"])
        # Still the running configuration: serving, with the access log of the last good one.
        self.assertEqual(self.c.probe("coap", "/ts", "", 10)["code"], "2.05")
        self.c.wait_journal(ACCESS_TS, mark, unit=UNIT)

    def test_5_watchdog_restarts_a_stalled_gateway(self):
        dropin = "/etc/systemd/system/coap-gateway.service.d/test-watchdog.conf"
        self.c.write(dropin, WATCHDOG_DROPIN)
        self.c.sh(["systemctl", "daemon-reload"])
        self.c.sh(["systemctl", "restart", UNIT], timeout=60)
        before = self.assert_active()
        self.assertEqual(self.c.show(UNIT, "WatchdogUSec")["WatchdogUSec"], "3s")
        mark = self.c.cursor()
        # Worker 0 stops turning; the gateway withholds its pings; systemd kills and restarts it.
        self.c.sh(["systemctl", "kill", "--kill-who=main", "--signal=SIGUSR2", UNIT])
        self.c.wait_journal(r"worker 0 stuck for more than 1000 ms", mark, unit=UNIT)
        self.c.wait_journal(r"coap-gateway\.service: Watchdog timeout", mark, timeout=30)
        deadline = time.monotonic() + 30
        while True:
            props = self.c.show(UNIT, "ActiveState", "SubState", "MainPID", "NRestarts")
            if (int(props["NRestarts"]) > int(before["NRestarts"]) and props["ActiveState"] == "active"
                    and props["SubState"] == "running"):
                break
            if time.monotonic() > deadline:
                raise AssertionError("no restart after the watchdog: %s" % props)
            time.sleep(0.2)
        self.assertNotEqual(props["MainPID"], before["MainPID"])
        self.assert_serves()
        os.remove(self.c.path(dropin))
        self.c.sh(["systemctl", "daemon-reload"])

    def test_6_restart_replaces_the_process(self):
        before = self.assert_active()
        mark = self.c.cursor()
        self.c.sh(["systemctl", "restart", UNIT], timeout=60)
        after = self.assert_active()
        self.assertNotEqual(after["MainPID"], before["MainPID"])
        self.assertEqual(self.c.show(UNIT, "WatchdogUSec")["WatchdogUSec"], "30s")
        self.c.wait_journal(r"(?m)^stopped$|gateway: stopped", mark, unit=UNIT)
        self.assert_serves()

    def test_7_stop_exits_cleanly(self):
        self.assert_active()
        mark = self.c.cursor()
        self.c.sh(["systemctl", "stop", UNIT], timeout=60)
        props = self.c.show(UNIT, "ActiveState", "Result", "ExecMainCode", "ExecMainStatus")
        self.assertEqual(props["ActiveState"], "inactive", props)
        self.assertEqual(props["Result"], "success", props)
        self.assertEqual((props["ExecMainCode"], props["ExecMainStatus"]), ("1", "0"),
                         "exited with status 0 (CLD_EXITED), not killed: %s" % props)
        self.c.wait_journal(r"gateway: stopped", mark, unit=UNIT)
        self.assertIsNone(self.c.probe("coap", "/.well-known/core", "", 1)["code"])


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--probe":
        probe_main(sys.argv[2:])
    else:
        unittest.main(verbosity=2)
