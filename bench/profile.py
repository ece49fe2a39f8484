"""Instructions and system calls per request of one gateway (`workers: 1`) under coap-load.

    python3 bench/profile.py [--build-dir DIR] [--gateway BIN] [--request 'GET /1a/temp?<CIK>']
                             [--tool callgrind|strace] [--seconds S]

Wall-clock rates swing with whatever else the machine runs; instruction counts (callgrind) and
system calls per request (strace -c) do not, so they are the before/after figure of each change
in docs/performance.md. The counters are zeroed after a warm-up and read after the measured run,
so start-up is not counted. Prints one line; --keep leaves the callgrind.out file for
callgrind_annotate.
"""
import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402  (the process helpers of bench/run.py)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build-dir", default=os.path.join(run.HERE, "..", "build"))
    ap.add_argument("--gateway", help="coap-gateway binary (default: BUILD/bin/coap-gateway)")
    ap.add_argument("--request", default="GET /.well-known/core")
    ap.add_argument("--tool", choices=["callgrind", "strace"], default="callgrind")
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--clients", type=int, default=64)
    ap.add_argument("--keep", help="copy callgrind's output file here")
    args = ap.parse_args()
    bench = run.Bench(argparse.Namespace(quick=True, observers=0, build_dir=args.build_dir,
                                         skip=[], json=None))
    gw_bin = args.gateway or os.path.join(bench.bin, "coap-gateway")
    work = tempfile.mkdtemp(prefix="gw-profile-")
    try:
        bench.start_sim()
        config = os.path.join(work, "gw.yaml")
        with open(config, "w") as f:
            f.write('workers: 1\nlog:\n  level: warn\ncoap:\n  listen: ["127.0.0.1:0"]\n'
                    'upstream:\n  url: "%s"\nmetrics:\n  listen: "127.0.0.1:0"\n' % bench.sim_url)
        out = os.path.join(work, "callgrind.out")
        trace = os.path.join(work, "strace.txt")
        wrap = []
        if args.tool == "callgrind":
            wrap = ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out]
        gw = bench.procs.start(wrap + [gw_bin, "--config", config], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL)
        lines = run.read_lines(gw, 2, 120)
        port = int(next(l for l in lines if "coap://" in l).rsplit(":", 1)[1])
        load = ["--clients", str(args.clients), "--request", args.request]
        bench.load(port, *load, warmup=0, duration=1.0)
        tracer = None
        if args.tool == "callgrind":
            subprocess.run(["callgrind_control", "--zero", str(gw.pid)], check=True,
                           capture_output=True)
        else:
            # Attached after the warm-up, detached (SIGINT: it prints its table) after the run.
            tracer = subprocess.Popen(["strace", "-c", "-f", "-o", trace, "-p", str(gw.pid)],
                                      stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
            tracer.stdout = tracer.stderr  # "Process N attached with M threads", on stderr
            run.read_lines(tracer, 1, 30)
        res = bench.load(port, *load, "--drain", "500ms", warmup=0, duration=args.seconds)
        answered = res["answered"]
        if args.tool == "callgrind":
            subprocess.run(["callgrind_control", "--dump", str(gw.pid)], check=True,
                           capture_output=True)
        else:
            tracer.send_signal(signal.SIGINT)
            tracer.wait(30)
        bench.procs.stop(gw)
        if args.tool == "callgrind":
            dumps = sorted(p for p in os.listdir(work) if p.startswith("callgrind.out."))
            dump = os.path.join(work, dumps[0])
            with open(dump) as f:
                total = int(re.search(r"^summary:\s+(\d+)", f.read(), re.M).group(1))
            print("%s: %d requests, %.0f instructions per request (%s)"
                  % (args.request, answered, total / max(1, answered), os.path.basename(gw_bin)))
            if args.keep:
                shutil.copy(dump, args.keep)
        else:
            calls = {}
            with open(trace) as f:
                for line in f:
                    m = re.match(r"\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)\s*$", line)
                    if m and m.group(2) != "total":
                        calls[m.group(2)] = int(m.group(1))
            total = sum(calls.values())
            top = sorted(calls.items(), key=lambda kv: -kv[1])[:6]
            print("%s: %d requests, %.2f system calls per request : %s"
                  % (args.request, answered, total / max(1, answered),
                     ", ".join("%s %.3f" % (k, v / max(1, answered)) for k, v in top)))
    finally:
        bench.procs.stop_all()
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(bench.dir, ignore_errors=True)


if __name__ == "__main__":
    main()
