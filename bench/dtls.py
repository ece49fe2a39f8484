"""DTLS benchmarks of issue #15 (coaps), loopback only; reuses bench/run.py's helpers.

T  Reads over DTLS PSK against the same over plain UDP, through one gateway that listens on
   both, in the same run: N clients (default 1,000) closed loop, their DTLS sessions all
   established before timing starts. Figures: req/s, the ratio DTLS/plain (target >= 0.5) and
   the gateway's CPU time per request over the measured window only (handshakes excluded).
   Two requests: a Read `GET /1a/temp?<CIK>` through onep-sim, and `GET /.well-known/core`
   (answered by the gateway itself, so the transport's cost is not hidden behind upstream).
M  RSS per idle DTLS session: a fresh gateway, one warm-up round of sessions (OpenSSL's lazy
   set-up is paid once), then N idle sessions (default 10,000, clients spread over
   127.0.0.2-127.0.0.41); VmRSS of the gateway before and after, from /proc/<pid>/status
   (target < 48 KiB per session). Twice on the same gateway: the second round shows whether
   the memory of closed sessions is reused.

Every process it starts is stopped by its own handle. Figures on a shared machine are noisy:
compare ratios from one run, and look at the load average it prints.
"""
import argparse
import json
import os
import select
import shutil
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as base  # noqa: E402  (bench/run.py: processes, CPU time, waiting for lines)

IDENTITY, KEY = "bench", "bench-key"
READ = "GET /1a/temp?<CIK>"
CORE = "GET /.well-known/core"
log = base.log


def vm_kib(pid, field):
    """A VmRSS/VmHWM-style field of /proc/<pid>/status, in KiB."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def metric(url, name):
    """The sum of a metric's samples in Prometheus text (all label sets)."""
    with urllib.request.urlopen(url, timeout=10) as r:
        text = r.read().decode()
    return sum(float(l.rsplit(" ", 1)[1]) for l in text.splitlines()
               if l.startswith(name + " ") or l.startswith(name + "{"))


class Loader:
    """A coap-load process whose stderr lines are awaited one by one (bounded, no sleeps)."""

    def __init__(self, bench, cmd):
        self.out = os.path.join(bench.dir, "load-%d.json" % time.monotonic_ns())
        self.proc = bench.procs.start(cmd + ["--json", self.out, "--quiet"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.buf = b""
        self.seen = []

    def wait_for(self, text, deadline_s):
        deadline = time.monotonic() + deadline_s
        fd = self.proc.stderr.fileno()
        while True:
            while b"\n" in self.buf:
                line, self.buf = self.buf.split(b"\n", 1)
                line = line.decode(errors="replace")
                self.seen.append(line)
                if text in line:
                    return line
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("coap-load never said %r" % text)
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 4096)
                if not chunk:
                    raise RuntimeError("coap-load ended (status %s): %s"
                                       % (self.proc.wait(), " | ".join(self.seen)[-400:]))
                self.buf += chunk

    def result(self, deadline_s=120):
        rest = self.proc.stderr.read()
        rc = self.proc.wait(deadline_s)
        if rc != 0:
            raise RuntimeError("coap-load failed: %s" % rest.decode(errors="replace").strip())
        with open(self.out) as f:
            return json.load(f)


class DtlsBench(base.Bench):
    def __init__(self, args):
        super().__init__(args)
        self.results["load_average_start"] = os.getloadavg()
        self.psk = os.path.join(self.dir, "psk.txt")
        with open(self.psk, "w") as f:
            f.write("%s: text:%s\n" % (IDENTITY, KEY))
        os.chmod(self.psk, 0o600)

    def start_dtls_gateway(self, name, workers=0):
        """A gateway with a plain and a coaps listener; returns (proc, port, dtls_port, metrics)."""
        config = os.path.join(self.dir, name + ".yaml")
        with open(config, "w") as f:
            f.write('workers: %d\nlog:\n  level: warn\n'
                    'coap:\n  listen: ["127.0.0.1:0"]\n'
                    '  dtls:\n    listen: ["127.0.0.1:0"]\n    psk_file: "%s"\n'
                    # Every client comes from loopback: no per-source handshake rate; room for
                    # every benchmark session on one worker.
                    '    handshake_rate: 0\n    max_sessions: 100000\n'
                    'upstream:\n  url: "%s"\nmetrics:\n  listen: "127.0.0.1:0"\n'
                    % (workers, self.psk, self.sim_url))
        p = self.procs.start([os.path.join(self.bin, "coap-gateway"), "--config", config],
                             stdout=subprocess.PIPE,
                             stderr=open(os.path.join(self.dir, name + ".log"), "wb"))
        lines = base.read_lines(p, 3, 30)
        port = int(next(l for l in lines if "coap://" in l).rsplit(":", 1)[1])
        dport = int(next(l for l in lines if "coaps://" in l).rsplit(":", 1)[1])
        metrics = next(l for l in lines if "metrics on" in l).split(" on ", 1)[1].strip()
        return p, port, dport, metrics

    def load_cmd(self, port, *extra):
        return [os.path.join(self.bin, "coap-load"), "--target", "127.0.0.1:%d" % port,
                "--cik", base.CIK] + list(extra)

    def windowed(self, gw, port, dtls, request):
        """One closed-loop run; the gateway's CPU time taken over the measured window only."""
        extra = ["--clients", str(self.args.clients), "--request", request, "--marks",
                 "--warmup", "%gs" % self.warmup_s, "--duration", "%gs" % self.phase_s,
                 "--drain", "200ms"]
        if dtls:
            extra += ["--dtls-psk", "%s:%s" % (IDENTITY, KEY), "--handshake-concurrency", "64"]
        ld = Loader(self, self.load_cmd(port, *extra))
        ld.wait_for("window starts", 300)
        cpu0, t0 = base.cpu_seconds(gw.pid), time.monotonic()
        ld.wait_for("window ends", self.phase_s + 60)
        cpu, wall = base.cpu_seconds(gw.pid) - cpu0, time.monotonic() - t0
        res = ld.result()
        res["server_cpu_s"] = cpu
        # Answers received inside the window: what `throughput` counts over `measured_s`.
        answers = res["throughput"] * res["measured_s"]
        res["server_cpu_us_per_request"] = cpu * 1e6 / max(1.0, answers)
        res["window_wall_s"] = wall
        return res

    def throughput(self):
        n = self.args.clients
        log("T Reads over DTLS PSK vs plain UDP: %d closed-loop CON clients, %g s each, "
            "sessions established before timing" % (n, self.phase_s))
        gw, port, dport, _ = self.start_dtls_gateway("t")
        out = {}
        for label, request in (("read", READ), ("well-known-core", CORE)):
            rows = {}
            for transport, p, dtls in (("udp", port, False), ("dtls", dport, True)):
                r = self.windowed(gw, p, dtls, request)
                rows[transport] = r
                hs = ""
                if dtls:
                    d = r["dtls"]
                    hs = ("; %d handshakes (%d failed) in %.2f s = %.0f/s, p50 %.1f ms"
                          % (d["handshakes_ok"], d["handshakes_failed"], d["handshake_s"],
                             d["handshakes_per_s"], d["handshake_latency_us"]["p50"] / 1e3))
                log("  %-16s %-5s %8.0f req/s  p50 %6.2f ms  p99 %6.2f ms  gateway CPU %.1f us/req"
                    "  codes %s%s"
                    % (request.split("?")[0], transport, r["throughput"],
                       r["latency_us"]["p50"] / 1e3, r["latency_us"]["p99"] / 1e3,
                       r["server_cpu_us_per_request"], r["codes"], hs))
            ratio = rows["dtls"]["throughput"] / max(1e-9, rows["udp"]["throughput"])
            cpu_ratio = (rows["dtls"]["server_cpu_us_per_request"]
                         / max(1e-9, rows["udp"]["server_cpu_us_per_request"]))
            log("  %s: DTLS/UDP throughput x%.2f (target >= 0.5), gateway CPU per request x%.2f"
                % (label, ratio, cpu_ratio))
            rows["ratio"], rows["cpu_ratio"] = ratio, cpu_ratio
            out[label] = rows
        self.procs.stop(gw)
        self.results["throughput"] = out

    def idle_round(self, gw, dport, metrics, clients, label):
        rss0, hwm0 = vm_kib(gw.pid, "VmRSS"), vm_kib(gw.pid, "VmHWM")
        ld = Loader(self, self.load_cmd(
            dport, "--idle", "--clients", str(clients), "--sources", "127.0.0.2-127.0.0.41",
            "--dtls-psk", "%s:%s" % (IDENTITY, KEY), "--handshake-concurrency", "64",
            "--handshake-timeout", "30s", "--warmup", "0", "--duration", "2s", "--drain", "0"))
        line = ld.wait_for("DTLS sessions established", 900)
        open_sessions = metric(metrics, "coap_gateway_dtls_sessions_open")
        rss1, hwm1 = vm_kib(gw.pid, "VmRSS"), vm_kib(gw.pid, "VmHWM")
        res = ld.result()  # coap-load ends: every client sends close_notify
        ok = res["dtls"]["handshakes_ok"]
        per = (rss1 - rss0) * 1024 / max(1, ok)
        row = {"sessions": ok, "failed": res["dtls"]["handshakes_failed"],
               "sessions_open_metric": open_sessions, "rss_before_kib": rss0,
               "rss_after_kib": rss1, "hwm_before_kib": hwm0, "hwm_after_kib": hwm1,
               "bytes_per_session": per, "handshakes_per_s": res["dtls"]["handshakes_per_s"],
               "coap_load": line}
        log("  %-8s %5d sessions (%d failed; gateway says %d open): VmRSS %d -> %d KiB = "
            "%.0f bytes (%.1f KiB) per idle session%s; VmHWM %d -> %d KiB; %.0f handshakes/s"
            % (label, ok, row["failed"], open_sessions, rss0, rss1, per, per / 1024,
               "" if per < 48 * 1024 else " (target < 48 KiB)", hwm0, hwm1,
               row["handshakes_per_s"]))
        return row

    def memory(self):
        n = self.args.sessions
        log("M RSS per idle DTLS session: %d sessions over 127.0.0.2-41, workers %d"
            % (n, self.args.workers))
        gw, _, dport, metrics = self.start_dtls_gateway("m", self.args.workers)
        rows = {"warm-up": self.idle_round(gw, dport, metrics, 256, "warm-up")}
        for k in (1, 2):
            rows["round %d" % k] = self.idle_round(gw, dport, metrics, n, "round %d" % k)
            # The clients said close_notify: wait (bounded) until the gateway freed them all.
            deadline = time.monotonic() + 30
            while metric(metrics, "coap_gateway_dtls_sessions_open") > 0:
                if time.monotonic() > deadline:
                    raise TimeoutError("sessions still open after the clients closed them")
                select.select([], [], [], 0.2)  # a bounded poll of /metrics, not a wait for time
            rows["round %d" % k]["rss_after_close_kib"] = vm_kib(gw.pid, "VmRSS")
            log("           after close_notify from every client: VmRSS %d KiB"
                % rows["round %d" % k]["rss_after_close_kib"])
        self.procs.stop(gw)
        self.results["memory"] = rows

    def run(self):
        try:
            self.start_sim()
            log("bench/dtls: onep-sim on %s, %d CPUs, load average %.2f %.2f %.2f"
                % ((self.sim_url, os.cpu_count()) + os.getloadavg()))
            for phase in (self.throughput, self.memory):
                if phase.__name__ in self.args.skip:
                    continue
                try:
                    phase()
                except Exception as e:  # one phase failing must not hide the other's figures
                    log("  %s failed: %s" % (phase.__name__, e))
                    self.results.setdefault("errors", {})[phase.__name__] = str(e)
        finally:
            self.procs.stop_all()
            shutil.rmtree(self.dir, ignore_errors=True)
        self.results["load_average_end"] = os.getloadavg()
        log("bench/dtls: load average at the end %.2f %.2f %.2f" % os.getloadavg())
        with open(self.args.json, "w") as f:
            json.dump(self.results, f, indent=2)
        log("bench/dtls: results written to %s" % self.args.json)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="1 s windows, for trying it")
    ap.add_argument("--clients", type=int, default=1000, help="T: clients (default 1000)")
    ap.add_argument("--sessions", type=int, default=10000, help="M: idle sessions (10000)")
    ap.add_argument("--workers", type=int, default=0, help="M: gateway workers (0 = cores)")
    ap.add_argument("--json", default=None, help="default: BUILD/bench-dtls.json")
    ap.add_argument("--build-dir", default=os.path.join(base.HERE, "..", "build"))
    ap.add_argument("--skip", action="append", default=[], choices=["throughput", "memory"])
    args = ap.parse_args()
    if args.json is None:
        args.json = os.path.join(args.build_dir, "bench-dtls.json")
    DtlsBench(args).run()


if __name__ == "__main__":
    main()
