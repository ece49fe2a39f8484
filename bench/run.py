"""The benchmark scenarios of issue "Performance", run by bench/run.sh; loopback only.

P1 /.well-known/core through the gateway (default workers and workers: 1) vs libcoap's
   coap-server: req/s and CPU us per request of the server process.
P2 a Read through the gateway vs wrk straight at onep-sim's read URL.
P3 open loop at half the gateway's peak Read rate: end-to-end latency from coap-load, and the
   gateway's own added time from its metrics (request duration minus upstream duration).
P4 one write fanned out to N observers (default 10,000): notification latency, with CON
   registrations (default workers and workers: 1) and with NON registrations.
P5 a 1 MiB Block2 download: bytes the upstream sent, from onep-sim's /_sim/stats.

Every process it starts is stopped by its own handle when the run ends. Figures on a shared
machine are noisy; the ratios are what to compare.
"""
import argparse
import json
import os
import re
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
CIK = "0123456789abcdef0123456789abcdef01234567"  # bench-state.yaml's device
TICKS = os.sysconf("SC_CLK_TCK")


def log(text=""):
    print(text, flush=True)


def read_lines(proc, want, deadline_s):
    """Lines from proc.stdout until `want` of them arrived, within a deadline (no sleeps)."""
    lines, buf = [], b""
    deadline = time.monotonic() + deadline_s
    fd = proc.stdout.fileno()
    while len(lines) < want:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("%s did not report ready" % proc.args[0])
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        chunk = os.read(fd, 4096)
        if not chunk:
            raise RuntimeError("%s exited early (status %s)" % (proc.args[0], proc.poll()))
        buf += chunk
        while b"\n" in buf and len(lines) < want:
            line, buf = buf.split(b"\n", 1)
            lines.append(line.decode(errors="replace"))
    return lines


def cpu_seconds(pid):
    """utime + stime of a process, from /proc/<pid>/stat (fields 14 and 15)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def free_port():
    """A port free for UDP and TCP on 127.0.0.1 (coap-server listens on both)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.1", 0))
            port = u.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                try:
                    t.bind(("127.0.0.1", port))
                    return port
                except OSError:
                    continue


def coap_ping(port, deadline_s=10):
    """Waits until a CoAP server answers GET /.well-known/core (one CON every 100 ms)."""
    req = bytes([0x42, 0x01, 0x12, 0x34, 0xbe, 0xef, 0xbb]) + b".well-known" + bytes([0x04]) + b"core"
    deadline = time.monotonic() + deadline_s
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("127.0.0.1", port))
        while time.monotonic() < deadline:
            s.send(req)
            ready, _, _ = select.select([s], [], [], 0.1)
            if ready:
                try:
                    if s.recv(2048)[2:4] == b"\x12\x34":
                        return
                except ConnectionRefusedError:
                    pass
    raise TimeoutError("no CoAP server answered on port %d" % port)


class Procs:
    """The processes this run started; stopped by their own handles, never by name."""

    def __init__(self):
        self.procs = []

    def start(self, cmd, **kw):
        p = subprocess.Popen(cmd, **kw)
        self.procs.append(p)
        return p

    def stop(self, p):
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if p in self.procs:
            self.procs.remove(p)

    def stop_all(self):
        for p in list(self.procs):
            self.stop(p)


class Bench:
    def __init__(self, args):
        self.args = args
        self.bin = os.path.join(os.path.abspath(args.build_dir), "bin")
        for name in ("coap-gateway", "onep-sim", "coap-load"):
            if not os.access(os.path.join(self.bin, name), os.X_OK):
                sys.exit("bench: %s/%s is missing; build it first" % (self.bin, name))
        self.dir = tempfile.mkdtemp(prefix="gw-bench-")
        self.procs = Procs()
        self.phase_s = 1.0 if args.quick else 5.0
        self.warmup_s = 0.3 if args.quick else 1.0
        self.results = {"quick": args.quick, "phase_s": self.phase_s, "cpus": os.cpu_count()}

    # --- processes -----------------------------------------------------------------------
    def start_sim(self, tls=None):
        """onep-sim on 127.0.0.1; over HTTPS when tls is (cert, key). Returns (process, url);
        without tls it is also the run's own sim (self.sim, self.sim_url)."""
        cmd = [os.path.join(self.bin, "onep-sim"), "--listen", "127.0.0.1:0",
               "--state", os.path.join(HERE, "bench-state.yaml"),
               # keep-alive for the whole run, for the gateway and wrk alike
               "--max-requests-per-connection", "0"]
        if tls:
            cmd += ["--tls-cert", tls[0], "--tls-key", tls[1]]
        p = self.procs.start(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        line = read_lines(p, 1, 30)[0]
        url = line.split(" on ", 1)[1].strip()
        if not tls:
            self.sim, self.sim_url = p, url
        return p, url

    def make_cert(self):
        """A self-signed ECDSA P-256 certificate for 127.0.0.1 (openssl CLI); (cert, key)."""
        cert, key = os.path.join(self.dir, "sim.pem"), os.path.join(self.dir, "sim.key")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj",
                        "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", key, "-out", cert], check=True, capture_output=True)
        return cert, key

    def sim_get(self, path):
        with urllib.request.urlopen(self.sim_url + path, timeout=10) as r:
            return json.loads(r.read())

    def start_gateway(self, workers=0, name="gw", upstream=None, ca_file=None):
        config = os.path.join(self.dir, name + ".yaml")
        with open(config, "w") as f:
            f.write('workers: %d\nlog:\n  level: warn\ncoap:\n  listen: ["127.0.0.1:0"]\n'
                    'upstream:\n  url: "%s"\n%smetrics:\n  listen: "127.0.0.1:0"\n'
                    % (workers, upstream or self.sim_url,
                       '  tls:\n    ca_file: "%s"\n' % ca_file if ca_file else ""))
        p = self.procs.start([os.path.join(self.bin, "coap-gateway"), "--config", config],
                             stdout=subprocess.PIPE,
                             stderr=open(os.path.join(self.dir, name + ".log"), "wb"))
        lines = read_lines(p, 2, 30)
        port = int(next(l for l in lines if "coap://" in l).rsplit(":", 1)[1])
        metrics = next(l for l in lines if "metrics on" in l).split(" on ", 1)[1].strip()
        return p, port, metrics

    def load(self, port, *extra, warmup=None, duration=None):
        """Runs coap-load against 127.0.0.1:port; returns its JSON results."""
        out = os.path.join(self.dir, "load.json")
        cmd = [os.path.join(self.bin, "coap-load"), "--target", "127.0.0.1:%d" % port,
               "--warmup", "%gs" % (self.warmup_s if warmup is None else warmup),
               "--duration", "%gs" % (duration or self.phase_s), "--json", out, "--quiet",
               "--cik", CIK] + list(extra)
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        if r.returncode != 0:
            raise RuntimeError("coap-load failed: %s" % r.stderr.strip())
        with open(out) as f:
            return json.load(f)

    def measured(self, pid, port, *extra):
        """A warm-up run, then a measured run with the server's CPU time taken around it."""
        self.load(port, *extra, warmup=0, duration=self.warmup_s)
        before = cpu_seconds(pid)
        res = self.load(port, *extra, "--drain", "200ms", warmup=0)
        cpu = cpu_seconds(pid) - before
        res["server_cpu_us_per_request"] = cpu * 1e6 / max(1, res["answered"])
        return res

    # --- phases --------------------------------------------------------------------------
    def p1(self):
        log("P1 /.well-known/core: 64 closed-loop CON clients, %g s" % self.phase_s)
        rows = {}
        for label, workers in (("gateway (workers: default)", 0), ("gateway (workers: 1)", 1)):
            gw, port, _ = self.start_gateway(workers, "p1-%d" % workers)
            rows[label] = self.measured(gw.pid, port, "--clients", "64")
            self.procs.stop(gw)
        port = free_port()
        srv = self.procs.start(["coap-server-notls", "-A", "127.0.0.1", "-p", str(port), "-v", "0"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        coap_ping(port)
        rows["libcoap coap-server"] = self.measured(srv.pid, port, "--clients", "64")
        self.procs.stop(srv)
        for label, r in rows.items():
            log("  %-28s %9.0f req/s  %7.1f us CPU/req  p50 %6.0f us  p99 %6.0f us  timeouts %d"
                % (label, r["throughput"], r["server_cpu_us_per_request"], r["latency_us"]["p50"],
                   r["latency_us"]["p99"], r["timeouts"]))
        ref = rows["libcoap coap-server"]
        ratios = {}
        for label in ("gateway (workers: default)", "gateway (workers: 1)"):
            r = rows[label]
            ratios[label] = {
                "throughput": r["throughput"] / max(ref["throughput"], 1e-9),
                "cpu_per_request": r["server_cpu_us_per_request"]
                / max(ref["server_cpu_us_per_request"], 1e-9)}
            log("  ratio %-22s vs coap-server: req/s x%.2f, CPU/req x%.2f"
                % (label, ratios[label]["throughput"],
                   ratios[label]["cpu_per_request"]))
        self.results["P1"] = {"runs": rows, "ratios": ratios}

    def wrk(self, url):
        script = os.path.join(self.dir, "cik.lua")
        with open(script, "w") as f:
            f.write('wrk.headers["X-Exosite-CIK"] = "%s"\n' % CIK)
        secs = max(1, int(round(self.phase_s)))
        r = subprocess.run(["wrk", "-t1", "-c64", "-d%ds" % secs, "--latency", "-s", script, url],
                           capture_output=True, text=True, timeout=120)
        m = re.search(r"Requests/sec:\s+([\d.]+)", r.stdout)
        if not m:
            raise RuntimeError("wrk printed no rate:\n" + r.stdout + r.stderr)

        def pct(p):
            m = re.search(r"^\s+%s%%\s+([\d.]+)(us|ms|s)\s*$" % p, r.stdout, re.M)
            if not m:
                return None
            return float(m.group(1)) * {"us": 1, "ms": 1e3, "s": 1e6}[m.group(2)]
        non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", r.stdout)
        return {"throughput": float(m.group(1)), "p50_us": pct(50), "p99_us": pct(99),
                "non_2xx": int(non2xx.group(1)) if non2xx else 0}

    def p2_p3(self):
        log("P2 Read: gateway (64 closed-loop CON clients) vs wrk -t1 -c64 at onep-sim, %g s"
            % self.phase_s)
        gw, port, metrics = self.start_gateway(0, "p2")
        read = ["--clients", "64", "--request", "GET /1a/temp?<CIK>"]
        g, w, ratio, ratios = self.alternate(
            lambda: self.measured(gw.pid, port, *read),
            lambda: self.wrk(self.sim_url + "/onep:v1/stack/alias?temp"))
        log("  %-28s %9.0f req/s  p50 %6.0f us  p99 %6.0f us  codes %s"
            % ("gateway Read", g["throughput"], g["latency_us"]["p50"], g["latency_us"]["p99"],
               g["codes"]))
        log("  %-28s %9.0f req/s  p50 %6.0f us  p99 %6.0f us  non-2xx %d"
            % ("wrk at onep-sim (HTTP)", w["throughput"], w["p50_us"] or 0, w["p99_us"] or 0,
               w["non_2xx"]))
        log("  ratio gateway/wrk (HTTP): req/s x%.2f (median of %s)"
            % (ratio, ", ".join("%.2f" % r for r in ratios)))
        self.results["P2"] = {"gateway": g, "wrk": w, "ratio": ratio, "ratios": ratios}
        try:
            self.p2_https(read)
        except Exception as e:  # P3 still runs over HTTP
            log("  HTTPS failed: %s" % e)
            self.results.setdefault("errors", {})["p2_https"] = str(e)

        rate = max(1.0, g["throughput"] / 2)
        log("P3 open loop at half the peak Read rate (%.0f req/s, Poisson, 256 clients), %g s"
            % (rate, self.phase_s))
        before = scrape(metrics)
        o = self.load(port, "--clients", "256", "--rate", "%.1f" % rate, "--poisson",
                      "--request", "GET /1a/temp?<CIK>", warmup=0)
        after = scrape(metrics)
        req = histogram_delta(before, after, "coap_gateway_request_duration_seconds")
        up = histogram_delta(before, after, "coap_gateway_upstream_duration_seconds")
        added = {
            "mean_us": (req["mean"] - up["mean"]) * 1e6,
            "p50_us": (quantile(req, 0.5) - quantile(up, 0.5)) * 1e6,
            "p99_us": (quantile(req, 0.99) - quantile(up, 0.99)) * 1e6,
        }
        log("  end to end (coap-load): %.0f answers/s  p50 %.0f us  p99 %.0f us  max %.0f us  "
            "skipped %d  timeouts %d"
            % (o["throughput"], o["latency_us"]["p50"], o["latency_us"]["p99"],
               o["latency_us"]["max"], o["skipped"], o["timeouts"]))
        log("  gateway metrics: request mean %.0f us (p50~%.0f, p99~%.0f), upstream mean %.0f us "
            "(p50~%.0f, p99~%.0f)"
            % (req["mean"] * 1e6, quantile(req, 0.5) * 1e6, quantile(req, 0.99) * 1e6,
               up["mean"] * 1e6, quantile(up, 0.5) * 1e6, quantile(up, 0.99) * 1e6))
        log("  gateway's added time (request - upstream): mean %.0f us, p50~%.0f us, p99~%.0f us "
            "(bucket estimates); ratio added/end-to-end p50: %.2f"
            % (added["mean_us"], added["p50_us"], added["p99_us"],
               added["p50_us"] / max(o["latency_us"]["p50"], 1e-9)))
        self.results["P3"] = {"rate": rate, "load": o, "request_duration": req,
                              "upstream_duration": up, "gateway_added": added}
        self.procs.stop(gw)

    def p2_https(self, read):
        """P2 again with the sim speaking TLS (one keep-alive connection per pooled slot for the
        gateway, 64 for wrk): the handshakes are paid once, the record layer on every Read."""
        cert, key = self.make_cert()
        sim, url = self.start_sim((cert, key))
        gw, port, _ = self.start_gateway(0, "p2-https", upstream=url, ca_file=cert)
        g, w, ratio, ratios = self.alternate(
            lambda: self.measured(gw.pid, port, *read),
            lambda: self.wrk(url + "/onep:v1/stack/alias?temp"))
        self.procs.stop(gw)
        self.procs.stop(sim)
        log("  %-28s %9.0f req/s  p50 %6.0f us  p99 %6.0f us  codes %s"
            % ("gateway Read over HTTPS", g["throughput"], g["latency_us"]["p50"],
               g["latency_us"]["p99"], g["codes"]))
        log("  %-28s %9.0f req/s  p50 %6.0f us  p99 %6.0f us  non-2xx %d"
            % ("wrk at onep-sim (HTTPS)", w["throughput"], w["p50_us"] or 0, w["p99_us"] or 0,
               w["non_2xx"]))
        log("  ratio gateway/wrk (HTTPS): req/s x%.2f (median of %s)"
            % (ratio, ", ".join("%.2f" % r for r in ratios)))
        self.results["P2_https"] = {"gateway": g, "wrk": w, "ratio": ratio, "ratios": ratios}

    def alternate(self, ours, reference, rounds=3):
        """Runs ours and the reference alternately `rounds` times: wrk's own rate at onep-sim
        swings by a third between runs minutes apart (54,000-81,000 req/s on one machine), more
        than the gateway's does. Returns the round with the median ratio, and every ratio."""
        runs = []
        for _ in range(rounds):
            g = ours()
            w = reference()
            runs.append((g["throughput"] / max(w["throughput"], 1e-9), g, w))
        runs.sort(key=lambda r: r[0])
        ratio, g, w = runs[len(runs) // 2]
        return g, w, ratio, [r[0] for r in runs]

    def p4(self):
        n = self.args.observers
        # Spread over several source addresses: 1,000 sockets per address stays far from the
        # ephemeral port range however many other programs share the machine.
        last = 2 + max(0, (n - 1) // 1000)
        sources = "127.0.0.2-127.0.0.%d" % min(last, 254)
        interval = 1.0  # apart enough for one fan-out to finish before the next write
        register_s = max(1.0, n / 5000.0)  # registrations are spread over this
        log("P4 one write fanned out to %d observers (sources %s), a write every %g s, %g s"
            % (n, sources, interval, self.phase_s))
        with open(os.path.join(self.dir, "ciks"), "w") as f:
            f.write(CIK + "\n")
        # CON registrations get CON notifications, each ACKed; NON registrations get NON ones
        # (observe.non_notifications) once the gateway knows the client's round trip from the
        # ACK of a first CON notification, which a write in the warm-up gives every relation.
        # And CON with `workers: 1`, as P1 reports both: two workers fan out at once and, with
        # coap-load, make three busy threads on a two-core box, where one leaves it a core.
        for key, label, extra, warmup, workers in (
                ("P4", "CON registrations", [], register_s, 0),
                ("P4_w1", "CON, workers: 1", [], register_s, 1),
                ("P4_non", "NON registrations", ["--non", "--register-over", "%gs" % register_s],
                 register_s + interval + 0.5, 0)):
            gw, port, _ = self.start_gateway(workers, "p4")
            o = self.load(port, "--observe", "--clients", str(n), "--sources", sources,
                          "--request", "GET /1a/temp?<CIK>", "--write", "POST /1a/temp?<CIK>",
                          "--write-interval", "%gs" % interval, "--drain", "1s", *extra,
                          warmup=warmup)
            self.procs.stop(gw)
            ob = o["observe"]
            ratio = ob["notifications"] / max(1, ob["expected_notifications"])
            log("  %s: %d registered (%d failed), %d writes answered; %d of %d notifications "
                "(x%.3f), %d duplicates"
                % (label, ob["registered"], ob["registration_failed"], ob["writes_answered"],
                   ob["notifications"], ob["expected_notifications"], ratio,
                   ob["duplicate_notifications"]))
            lat = ob["latency_us"]
            log("  %s: notification latency p50 %.0f us  p99 %.0f us  max %.0f us"
                % (label, lat["p50"], lat["p99"], lat["max"]))
            self.results[key] = {"observers": n, "load": o, "delivered_ratio": ratio}

    def p5(self):
        size = 1 << 20
        log("P5 a 1 MiB Block2 download (1024-byte blocks) through the gateway")
        gw, port, _ = self.start_gateway(0, "p5")
        with urllib.request.urlopen(urllib.request.Request(self.sim_url + "/_sim/reset",
                                                           method="POST"), timeout=10):
            pass
        out = os.path.join(self.dir, "big.bin")
        start = time.monotonic()
        r = subprocess.run(["coap-client-notls", "-B", "120", "-m", "get", "-b", "1024", "-o", out,
                            "coap://127.0.0.1:%d/provision/download/bench/load/big.bin?%s"
                            % (port, CIK)], capture_output=True, text=True, timeout=300)
        took = time.monotonic() - start
        stats = self.sim_get("/_sim/stats")["endpoints"]
        upstream = sum(e["bytes_out"] for e in stats.values())
        got = os.path.getsize(out) if os.path.exists(out) else 0
        with open(out, "rb") if got else open(os.devnull, "rb") as f:
            intact = got == size and f.read() == bytes(i % 251 for i in range(size))
        ratio = upstream / size
        log("  downloaded %d bytes (%s) in %.2f s; upstream sent %d body bytes in %d requests "
            "(download %d, info %d)"
            % (got, "intact" if intact else "NOT the file: " + r.stderr.strip()[:200], took,
               upstream, sum(e["requests"] for e in stats.values()),
               stats.get("download", {}).get("requests", 0),
               stats.get("info", {}).get("requests", 0)))
        log("  ratio upstream bytes / file size: x%.2f (%s 2)" % (ratio, "<" if ratio < 2 else ">="))
        self.results["P5"] = {"file_bytes": size, "downloaded_bytes": got, "intact": intact,
                              "seconds": took, "upstream_bytes": upstream, "ratio": ratio,
                              "sim_endpoints": stats}
        self.procs.stop(gw)

    # --- charts: throughput and latency against offered load ------------------------------
    def sweep(self):
        """Open-loop runs at rising offered rates: the gateway beside the references.

        /.well-known/core through the gateway and through coap-server, and a Read through the
        gateway; wrk (closed loop, it has no open-loop mode) is drawn as its peak rate. The
        rates are fractions of the highest closed-loop rate P1 and P2 measured, so the curves
        reach past saturation on whatever machine runs them."""
        p1 = self.results.get("P1", {}).get("runs", {})
        p2 = self.results.get("P2", {})
        # Without P1/P2 in this run, guesses that a 2-vCPU machine reaches.
        local_peak = max([r["throughput"] for r in p1.values()] or [40000.0])
        read_peak = p2.get("gateway", {}).get("throughput") or 15000.0
        fractions = (0.1, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5)
        log("Charts: open loop (Poisson, 256 clients) at %s of the closed-loop peaks "
            "(%.0f req/s local, %.0f req/s Read), %g s each"
            % ("/".join("%g" % f for f in fractions), local_peak, read_peak, self.phase_s))
        series = {}

        def run_series(label, port, peak, *extra):
            rows = []
            for f in fractions:
                r = self.load(port, "--clients", "256", "--rate", "%.1f" % (peak * f),
                              "--poisson", "--drain", "300ms", *extra, warmup=0.2)
                rows.append({"offered": peak * f, "throughput": r["throughput"],
                             "p50_us": r["latency_us"]["p50"], "p99_us": r["latency_us"]["p99"],
                             "timeouts": r["timeouts"], "skipped": r["skipped"]})
            series[label] = rows

        gw, port, _ = self.start_gateway(0, "sweep")
        run_series("gateway /.well-known/core", port, local_peak)
        run_series("gateway Read (via onep-sim)", port, read_peak, "--request",
                   "GET /1a/temp?<CIK>")
        self.procs.stop(gw)
        port = free_port()
        srv = self.procs.start(["coap-server-notls", "-A", "127.0.0.1", "-p", str(port), "-v", "0"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        coap_ping(port)
        run_series("libcoap coap-server /.well-known/core", port, local_peak)
        self.procs.stop(srv)
        for label, rows in series.items():
            log("  %-38s %s" % (label, "  ".join("%.0f->%.0f" % (r["offered"], r["throughput"])
                                                  for r in rows)))
        self.results["sweep"] = {"local_peak": local_peak, "read_peak": read_peak, "series": series,
                                 "wrk_peak": p2.get("wrk", {}).get("throughput")}
        if self.args.charts:
            render_charts(self.results["sweep"], self.args.charts)

    def run(self):
        try:
            self.start_sim()
            log("bench: onep-sim on %s, %d CPUs, %s phases%s"
                % (self.sim_url, os.cpu_count(), "%g s" % self.phase_s,
                   " (quick)" if self.args.quick else ""))
            for phase in (self.p1, self.p2_p3, self.p4, self.p5, self.sweep):
                if phase.__name__ in self.args.skip:
                    continue
                try:
                    phase()
                except Exception as e:  # one phase failing must not hide the others' figures
                    log("  %s failed: %s" % (phase.__name__, e))
                    self.results.setdefault("errors", {})[phase.__name__] = str(e)
        finally:
            self.procs.stop_all()
            shutil.rmtree(self.dir, ignore_errors=True)
        with open(self.args.json, "w") as f:
            json.dump(self.results, f, indent=2)
        log("bench: results written to %s" % self.args.json)


# --- charts (gnuplot) -------------------------------------------------------------------------
def render_charts(sweep, out_dir):
    """throughput.svg and latency.svg from the sweep, with Debian's gnuplot (gnuplot-nox)."""
    gnuplot = shutil.which("gnuplot")
    if not gnuplot:
        log("  charts skipped: gnuplot is missing (scripts/install-deps.sh installs gnuplot-nox)")
        return
    os.makedirs(out_dir, exist_ok=True)
    names = list(sweep["series"])
    data = []
    for i, label in enumerate(names):
        path = os.path.join(out_dir, "series%d.dat" % i)
        with open(path, "w") as f:
            f.write("# offered throughput p50_us p99_us (%s)\n" % label)
            for r in sweep["series"][label]:
                f.write("%.1f %.1f %.1f %.1f\n" % (r["offered"], r["throughput"], r["p50_us"],
                                                   r["p99_us"]))
        data.append((path, label))
    term = 'set terminal svg size 800,480 dynamic font "sans,12" background "white"\n'
    style = ("set key top left\nset grid\nset xlabel \"offered load (requests/s, Poisson)\"\n"
             "set xrange [0:*]\nset yrange [0:*]\n")
    plots = ", ".join('"%s" using 1:2 with linespoints lw 2 title "%s"' % (p, l) for p, l in data)
    plots += ", x with lines dt 3 lc rgb \"gray\" title \"offered\""
    if sweep.get("wrk_peak"):
        plots += (", %f with lines dt 2 lw 2 title \"wrk -t1 -c64 at onep-sim (closed-loop peak)\""
                  % sweep["wrk_peak"])
    throughput = (term + style + 'set output "%s"\n' % os.path.join(out_dir, "throughput.svg") +
                  'set title "Answered requests/s against offered load (loopback, one run)"\n'
                  'set ylabel "answered (requests/s)"\nplot ' + plots + "\n")
    lat = []
    for p, l in data:
        lat.append('"%s" using 1:($3/1000) with linespoints lw 2 title "%s p50"' % (p, l))
        lat.append('"%s" using 1:($4/1000) with linespoints dt 2 lw 2 title "%s p99"' % (p, l))
    latency = (term + style.replace("set yrange [0:*]\n", "") +
               'set output "%s"\n' % os.path.join(out_dir, "latency.svg") +
               'set title "End-to-end latency (coap-load) against offered load"\n'
               'set logscale y\nset ylabel "latency (ms, log scale)"\nplot ' + ", ".join(lat) + "\n")
    for script in (throughput, latency):
        r = subprocess.run([gnuplot], input=script, capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            log("  gnuplot failed: %s" % r.stderr.strip()[:300])
            return
    log("  charts: %s, %s" % (os.path.join(out_dir, "throughput.svg"),
                              os.path.join(out_dir, "latency.svg")))


# --- Prometheus text -------------------------------------------------------------------------
def scrape(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.read().decode()


def histogram(text, name):
    buckets, total, count = {}, 0.0, 0.0
    for line in text.splitlines():
        if line.startswith(name + "_bucket{"):
            le = re.search(r'le="([^"]+)"', line).group(1)
            buckets[float("inf") if le == "+Inf" else float(le)] = float(line.rsplit(" ", 1)[1])
        elif line.startswith(name + "_sum"):
            total = float(line.rsplit(" ", 1)[1])
        elif line.startswith(name + "_count"):
            count = float(line.rsplit(" ", 1)[1])
    return buckets, total, count


def histogram_delta(before, after, name):
    b0, s0, c0 = histogram(before, name)
    b1, s1, c1 = histogram(after, name)
    buckets = sorted((le, b1[le] - b0.get(le, 0.0)) for le in b1)
    count = c1 - c0
    return {"buckets": buckets, "count": count, "mean": (s1 - s0) / count if count else 0.0}


def quantile(h, q):
    """Prometheus' histogram_quantile: linear interpolation inside the bucket holding rank q."""
    if not h["count"]:
        return 0.0
    rank = q * h["count"]
    prev_le, prev_n = 0.0, 0.0
    for le, n in h["buckets"]:
        if n >= rank:
            if le == float("inf"):
                return prev_le
            return prev_le + (le - prev_le) * (rank - prev_n) / max(n - prev_n, 1e-9)
        prev_le, prev_n = le, n
    return prev_le


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="1 s phases, for trying it")
    ap.add_argument("--json", default=None, help="where to write the results (default: "
                    "BUILD/bench-results.json)")
    ap.add_argument("--observers", type=int, default=10000, help="P4 observers (default 10000)")
    ap.add_argument("--build-dir", default=os.path.join(HERE, "..", "build"))
    ap.add_argument("--skip", action="append", default=[],
                    choices=["p1", "p2_p3", "p4", "p5", "sweep"],
                    help="leave a phase out (repeatable)")
    ap.add_argument("--charts", default=None,
                    help="where the sweep's SVG charts go (default: BUILD/bench-charts; "
                    "'' for none); needs gnuplot")
    args = ap.parse_args()
    if args.json is None:
        args.json = os.path.join(args.build_dir, "bench-results.json")
    if args.charts is None:
        args.charts = os.path.join(args.build_dir, "bench-charts")
    Bench(args).run()


if __name__ == "__main__":
    main()
