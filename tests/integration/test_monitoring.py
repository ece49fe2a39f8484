"""Operations files against the real thing: the alert rules pass promtool (syntax and their unit
tests), every metric the rules and the Grafana dashboard name is one a live gateway exports, and
the systemd unit's reload works with nothing outside Debian's Essential packages.

promtool comes from Debian's `prometheus` package (scripts/install-deps.sh installs it): when it
is missing these tests fail, they do not skip."""
import json
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import unittest
import urllib.request

import coap
from gwproc import BIN_DIR, Gateway
from simproc import DEMO_CIK, SimProcess

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "../.."))
MONITORING = os.path.join(ROOT, "deploy/monitoring")
ALERTS = os.path.join(MONITORING, "alerts.yaml")
ALERTS_TEST = os.path.join(MONITORING, "alerts.test.yaml")
PROMETHEUS_EXAMPLE = os.path.join(MONITORING, "prometheus.example.yml")
DASHBOARD = os.path.join(MONITORING, "grafana-dashboard.json")
UNIT = os.path.join(ROOT, "deploy/coap-gateway.service")


def promtool(*args):
    path = shutil.which("promtool")
    if not path:
        raise AssertionError("promtool not found: install Debian's prometheus package "
                             "(bash scripts/install-deps.sh)")
    return subprocess.run([path] + list(args), capture_output=True, text=True, timeout=120)


# --- PromQL names --------------------------------------------------------------------------------
# Every PromQL function and aggregation of Prometheus 2.x/3.x, and Grafana's template-query
# functions. An identifier followed by "(" must be one of these; anything else is a typo.
FUNCTIONS = set("""
abs absent absent_over_time acos acosh asin asinh atan atanh avg_over_time ceil changes clamp
clamp_max clamp_min cos cosh count_over_time day_of_month day_of_week day_of_year days_in_month
deg delta deriv double_exponential_smoothing exp floor histogram_avg histogram_count
histogram_fraction histogram_quantile histogram_stddev histogram_stdvar histogram_sum
holt_winters hour idelta increase info irate label_join label_replace last_over_time ln log10
log2 mad_over_time max_over_time min_over_time minute month pi predict_linear
present_over_time quantile_over_time rad rate resets round scalar sgn sin sinh sort sort_by_label
sort_by_label_desc sort_desc sqrt stddev_over_time stdvar_over_time sum_over_time tan tanh time
timestamp vector year
""".split())
AGGREGATIONS = set("avg bottomk count count_values group limit_ratio limitk max min quantile "
                   "stddev stdvar sum topk".split())
LABEL_LIST_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right"}
KEYWORDS = LABEL_LIST_KEYWORDS | {"and", "or", "unless", "bool", "offset", "inf", "nan", "start",
                                  "end"}
# Series Prometheus makes itself for every target; the gateway cannot export them.
SYNTHESISED = {"up", "scrape_duration_seconds", "scrape_samples_scraped",
               "scrape_samples_post_metric_relabeling", "scrape_series_added"}

IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
GRAFANA_LABEL_VALUES = re.compile(r"^\s*label_values\((.*)\)\s*$", re.S)


class PromQLError(ValueError):
    pass


def selectors(expr):
    """The series selectors of a PromQL expression (or a Grafana template query):
    [(metric name, [label names its {...} matches on])]. Strings, durations, numbers, Grafana
    variables ($x, ${x}), function names, keywords and label names (in {...}, by/without/on/
    ignoring/group_left/group_right lists) are not metric names."""
    m = GRAFANA_LABEL_VALUES.match(expr)
    if m:  # label_values(selector, label) or label_values(label): the last argument is a label.
        args = m.group(1).rsplit(",", 1)
        if len(args) == 1:
            return []
        expr = args[0]
    out = []
    stack = []  # "{", "[", "(" or "labels(" for a label list
    prev = None  # the previous token: ("ident", name) or ("punct", char)
    i, n = 0, len(expr)
    while i < n:
        c = expr[i]
        if c.isspace():
            i += 1
        elif c == "#":  # a PromQL comment runs to the end of the line
            while i < n and expr[i] != "\n":
                i += 1
        elif c in "\"'`":
            j = i + 1
            while j < n and expr[j] != c:
                j += 2 if expr[j] == "\\" and c != "`" else 1
            if j >= n:
                raise PromQLError("unterminated string in %r" % expr)
            i = j + 1
            prev = ("string", None)
        elif c == "$":  # Grafana variable: $name, ${name}, ${name:format}, $__rate_interval
            if expr.startswith("{", i + 1):
                end = expr.find("}", i)
                if end < 0:
                    raise PromQLError("unterminated ${ in %r" % expr)
                i = end + 1
            else:
                m = IDENT.match(expr, i + 1)
                i = m.end() if m else i + 1
            prev = ("var", None)
        elif c.isdigit() or (c == "." and i + 1 < n and expr[i + 1].isdigit()):
            j = i
            while j < n and (expr[j].isalnum() or expr[j] == "."):
                j += 1
            i = j
            prev = ("number", None)
        elif IDENT.match(expr, i):
            word = IDENT.match(expr, i).group()
            i += len(word)
            j = i
            while j < n and expr[j].isspace():
                j += 1
            following = expr[j] if j < n else ""
            next_word = IDENT.match(expr, j)
            context = stack[-1] if stack else None
            if context in ("{", "labels("):
                pass  # a label name
            elif context == "[":
                pass  # a duration or a subquery step
            elif following == "(":
                if word not in FUNCTIONS | AGGREGATIONS | KEYWORDS:
                    raise PromQLError("unknown function %r in %r" % (word, expr))
            elif word in KEYWORDS:
                pass
            elif word in AGGREGATIONS and next_word and next_word.group() in ("by", "without"):
                pass  # "sum by (...) (...)": an aggregation before its label list
            else:
                out.append([word, []])
            prev = ("ident", word)
        elif c == "{":
            stack.append("{")
            i += 1
            prev = ("punct", c)
        elif c == "(":
            keyword = prev is not None and prev[0] == "ident" and prev[1] in LABEL_LIST_KEYWORDS
            stack.append("labels(" if keyword else "(")
            i += 1
            prev = ("punct", c)
        elif c == "[":
            stack.append("[")
            i += 1
            prev = ("punct", c)
        elif c in "}])":
            want = {"}": ("{",), "]": ("[",), ")": ("(", "labels(")}[c]
            if not stack or stack[-1] not in want:
                raise PromQLError("unbalanced %r in %r" % (c, expr))
            stack.pop()
            i += 1
            prev = ("punct", c)
        else:
            # Inside {...}: the label name is the identifier right before a matcher operator.
            if stack and stack[-1] == "{" and c in "=!" and prev and prev[0] == "ident":
                brace = _innermost_selector(out, expr, i)
                if brace is not None:
                    brace[1].append(prev[1])
            i += 1
            prev = ("punct", c)
    if stack:
        raise PromQLError("unclosed %r in %r" % (stack[-1], expr))
    return [(name, labels) for name, labels in out]


def _innermost_selector(out, expr, pos):
    """The metric whose {...} encloses `pos`, when that {...} follows a metric name directly."""
    depth = 0
    k = pos - 1
    while k >= 0:
        if expr[k] == "}":
            depth += 1
        elif expr[k] == "{":
            if depth == 0:
                break
            depth -= 1
        k -= 1
    before = expr[:k].rstrip()
    m = re.search(r"[A-Za-z_:][A-Za-z0-9_:]*$", before)
    if not m or not out or out[-1][0] != m.group():
        return None  # a bare {job="x"} selector: no metric name to check labels against
    return out[-1]


def exported(text):
    """{series name: set of label names} of a Prometheus text exposition. A histogram x exports
    x_bucket (with le), x_sum and x_count, never x itself; a metric with a TYPE line but no
    sample yet is listed with no labels."""
    names = {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            for suffix in (("_bucket", "_sum", "_count") if kind == "histogram" else ("",)):
                names.setdefault(name + suffix, set())
        elif line and not line.startswith("#"):
            m = re.match(r"([A-Za-z_:][A-Za-z0-9_:]*)(\{[^}]*\})?\s", line)
            if not m:
                raise AssertionError("unparsable exposition line %r" % line)
            labels = set(re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=\"", m.group(2) or ""))
            names.setdefault(m.group(1), set()).update(labels)
    return names


def unknown_names(expr, names):
    """Problems with the metric names and matcher labels of `expr` against `names` (exported())."""
    problems = []
    for metric, labels in selectors(expr):
        if metric in SYNTHESISED:
            continue
        if metric not in names:
            problems.append("%s is not exported" % metric)
            continue
        for label in labels:
            # job and instance are the target's, added by Prometheus.
            if label not in names[metric] | {"job", "instance"}:
                problems.append("%s has no label %r" % (metric, label))
    return problems


# --- What the files hold -------------------------------------------------------------------------
def rule_expressions(path):
    """The `expr:` of every rule in a Prometheus rule file: plain, quoted or block scalar (|, >).
    The count is checked against promtool's, so a form this reader missed cannot go unseen."""
    with open(path) as f:
        lines = f.read().splitlines()
    exprs = []
    i = 0
    while i < len(lines):
        m = re.match(r"^(\s*)(?:-\s+)?expr:\s*(.*)$", lines[i])
        if not m:
            i += 1
            continue
        indent, rest = len(m.group(1)), m.group(2).strip()
        i += 1
        if rest[:1] in ("|", ">"):
            body = []
            while i < len(lines) and (not lines[i].strip() or
                                      len(lines[i]) - len(lines[i].lstrip()) > indent):
                body.append(lines[i].strip())
                i += 1
            exprs.append("\n".join(body))
        elif rest[:1] in ("'", '"'):
            exprs.append(rest[1:-1].replace("''", "'") if rest[0] == "'" else json.loads(rest))
        else:
            exprs.append(rest)
    return exprs


def test_series_names(path):
    """Metric names of the input series of a promtool unit-test file."""
    with open(path) as f:
        text = f.read()
    return re.findall(r"^\s*-?\s*series:\s*['\"]([A-Za-z_:][A-Za-z0-9_:]*)", text, re.M)


def dashboard_expressions(dashboard):
    """Every PromQL text in a Grafana dashboard: panel targets, annotations, template queries."""
    found = []

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "expr" and isinstance(value, str):
                    found.append(value)
                elif key == "query" and isinstance(value, dict) and "query" in value:
                    found.append(value["query"])
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(dashboard.get("panels", []))
    walk(dashboard.get("annotations", {}))
    for var in dashboard.get("templating", {}).get("list", []):
        if var.get("type") == "query":
            q = var.get("query")
            found.append(q["query"] if isinstance(q, dict) else q)
    return found


class PromQLNames(unittest.TestCase):
    """The name reader itself: what it must find and what it must not take for a metric."""

    def test_finds_metrics_and_their_matcher_labels(self):
        cases = [
            ('sum by (job, instance, status) (rate(a_total{status!~"[1-4]..|x"}[5m]))',
             [("a_total", ["status"])]),
            ("histogram_quantile(0.99, sum by (le) (rate(h_seconds_bucket[5m]))) > 2.5",
             [("h_seconds_bucket", [])]),
            ('x / ignoring (status) group_left sum by (instance) (y) and on (job) z > 0.1',
             [("x", []), ("y", []), ("z", [])]),
            ('up{job="coap-gateway"} == 0', [("up", ["job"])]),
            ("absent(up)", [("up", [])]),
            ('changes(p{job="$job", instance=~"$instance"}[$__rate_interval]) > 0',
             [("p", ["job", "instance"])]),
            ('sum(rate(r{code=~"5.*", instance=~"${instance:regex}"}[1m] offset 1h)) by (code)',
             [("r", ["code", "instance"])]),
            ('min(time() - s{job="j"})', [("s", ["job"])]),
            ("label_values(g_open, instance)", [("g_open", [])]),
            ("label_values(instance)", []),
            ('count(q{a="rate(no_metric[5m])"}) # comment with not_a_metric',
             [("q", ["a"])]),
            ('max_over_time(m[1h:5m]) > bool 1', [("m", [])]),
        ]
        for expr, want in cases:
            with self.subTest(expr=expr):
                self.assertEqual(selectors(expr), want)

    def test_rejects_unknown_functions_and_unbalanced_expressions(self):
        for expr in ("rat(x[5m])", "sum(rate(x[5m])", 'x{a="b"', "x]"):
            with self.subTest(expr=expr):
                with self.assertRaises(PromQLError):
                    selectors(expr)

    def test_histogram_suffixes_are_checked_against_the_exposition(self):
        text = ("# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n"
                "# TYPE c_total counter\nc_total{code=\"2.05\"} 1\n"
                "# TYPE later_total counter\n")
        names = exported(text)
        self.assertEqual(unknown_names("rate(h_bucket[5m]) + h_sum + h_count + later_total", names),
                         [])
        self.assertEqual(unknown_names("rate(h[5m])", names), ["h is not exported"])
        self.assertEqual(unknown_names("c_total_count + c", names),
                         ["c_total_count is not exported", "c is not exported"])
        self.assertEqual(unknown_names('c_total{code="2.05", job="j", procedure="x"}', names),
                         ["c_total has no label 'procedure'"])


class Monitoring(unittest.TestCase):
    """promtool on the rules, and the rules' and dashboard's names against a live gateway."""

    @classmethod
    def setUpClass(cls):
        cls.sim = SimProcess()
        try:
            gw = Gateway(cls.sim.url, metrics=True)
        except Exception:
            cls.sim.close()
            raise
        try:
            # Traffic first: labelled counters show a sample (and their labels) once used.
            client = coap.Client(gw.host, gw.port)
            try:
                for req in (coap.request(coap.GET, "/ts"),
                            coap.request(coap.GET, "/1a/temp", [DEMO_CIK]),
                            coap.request(coap.GET, "/no/such")):
                    client.exchange(req)
            finally:
                client.close()
            with urllib.request.urlopen(gw.metrics_url, timeout=10) as r:
                cls.exposition = r.read().decode()
        finally:
            gw.close()
        cls.names = exported(cls.exposition)

    @classmethod
    def tearDownClass(cls):
        cls.sim.close()

    def test_the_live_answer_has_what_the_checks_rely_on(self):
        # If traffic did not label these, the label checks below would be vacuous.
        self.assertIn("procedure", self.names["coap_gateway_requests_total"])
        self.assertIn("status", self.names["coap_gateway_upstream_requests_total"])
        self.assertIn("le", self.names["coap_gateway_request_duration_seconds_bucket"])

    def test_rules_pass_promtool_check(self):
        r = promtool("check", "rules", ALERTS)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_rules_unit_tests_pass(self):
        r = promtool("test", "rules", ALERTS_TEST)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_example_prometheus_config_loads_the_rules(self):
        r = promtool("check", "config", PROMETHEUS_EXAMPLE)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("alerts.yaml", r.stdout + r.stderr)

    def test_every_rule_names_exported_metrics(self):
        exprs = rule_expressions(ALERTS)
        r = promtool("check", "rules", ALERTS)
        counted = re.search(r"SUCCESS: (\d+) rules found", r.stdout + r.stderr)
        self.assertIsNotNone(counted, r.stdout + r.stderr)
        self.assertEqual(len(exprs), int(counted.group(1)), "an expr: this test did not read")
        for expr in exprs:
            with self.subTest(expr=expr):
                self.assertEqual(unknown_names(expr, self.names), [])

    def test_rule_unit_tests_feed_exported_series(self):
        series = test_series_names(ALERTS_TEST)
        self.assertTrue(series)
        for name in series:
            self.assertTrue(name in self.names or name in SYNTHESISED, name + " is not exported")

    def test_every_dashboard_query_names_exported_metrics(self):
        with open(DASHBOARD) as f:
            dashboard = json.load(f)
        exprs = dashboard_expressions(dashboard)
        self.assertGreaterEqual(len(exprs), 20)
        for expr in exprs:
            with self.subTest(expr=expr):
                self.assertEqual(unknown_names(expr, self.names), [])

    def test_dashboard_is_importable_with_any_prometheus(self):
        with open(DASHBOARD) as f:
            dashboard = json.load(f)
        variables = {v["name"]: v for v in dashboard["templating"]["list"]}
        ds = variables.get("DS_PROMETHEUS")
        self.assertIsNotNone(ds, "no DS_PROMETHEUS template variable")
        self.assertEqual((ds["type"], ds["query"]), ("datasource", "prometheus"))
        ids = []
        for panel in dashboard["panels"]:
            ids.append(panel["id"])
            grid = panel["gridPos"]
            self.assertLessEqual(grid["x"] + grid["w"], 24, panel["title"])
            if panel["type"] == "row":
                continue
            # No data source uid of one particular Grafana: the variable, everywhere.
            self.assertEqual(panel["datasource"]["uid"], "${DS_PROMETHEUS}", panel["title"])
            refs = [t["refId"] for t in panel["targets"]]
            self.assertEqual(len(refs), len(set(refs)), panel["title"])
            for t in panel["targets"]:
                self.assertEqual(t["datasource"]["uid"], "${DS_PROMETHEUS}", panel["title"])
                self.assertTrue(t["expr"].strip(), panel["title"])
        self.assertEqual(len(ids), len(set(ids)), "panel ids must be unique")


def systemd_expand(argv, env):
    """systemd.service(5) "Command lines": a word that is exactly $NAME becomes the variable's
    value split at whitespace; ${NAME} is replaced inside any word; anything else (a $NAME
    inside a word, as in sh -c '...') is left for the program to see."""
    out = []
    for word in argv:
        whole = re.fullmatch(r"\$([A-Za-z_][A-Za-z0-9_]*)", word)
        if whole:
            out.extend(env.get(whole.group(1), "").split())
        else:
            out.append(re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}",
                              lambda m: env.get(m.group(1), ""), word))
    return out


class Runbook(unittest.TestCase):
    def test_every_alert_has_a_runbook_section_its_annotation_points_to(self):
        with open(ALERTS) as f:
            rules = f.read()
        with open(os.path.join(ROOT, "docs/operations.md")) as f:
            headings = re.findall(r"^### (\S+)\s*$", f.read(), re.M)
        alerts = re.findall(r"^\s*- alert:\s*(\S+)", rules, re.M)
        links = re.findall(r"^\s*runbook:\s*docs/operations\.md#(\S+)", rules, re.M)
        self.assertTrue(alerts)
        self.assertEqual(len(links), len(alerts), "one runbook annotation per alert")
        for alert, anchor in zip(alerts, links):
            self.assertIn(alert, headings)
            self.assertEqual(anchor, alert.lower())  # GitHub's anchor of "### Name"


class UnitReload(unittest.TestCase):
    """deploy/coap-gateway.service's ExecReload= lines, run as systemd would, against a live
    gateway: only programs of Debian's Essential packages besides our own binary (a minimal
    Debian 12 has no /bin/kill), the check first, and a SIGHUP that the gateway applies."""

    GATEWAY = "/usr/bin/coap-gateway"
    CONFIG = "/etc/coap-gateway/gateway.yaml"

    def reload_commands(self):
        commands = []
        with open(UNIT) as f:
            lines = f.read().splitlines()
        for line in lines:
            if line.startswith("ExecReload="):
                # systemd's prefixes (-, @, :, +, !) change how it runs a line, not what runs.
                commands.append(shlex.split(line.split("=", 1)[1].lstrip("-@:+!")))
        return commands

    def test_reload_programs_are_on_a_minimal_debian(self):
        commands = self.reload_commands()
        self.assertGreaterEqual(len(commands), 2)
        self.assertEqual(commands[0][:2], [self.GATEWAY, "--check-config"])
        for argv in commands:
            if argv[0] == self.GATEWAY:
                continue
            r = subprocess.run(["dpkg", "-S", argv[0]], capture_output=True, text=True)
            owners = [l.split(":", 1)[0] for l in r.stdout.splitlines()
                      if not l.startswith("diversion ")]
            self.assertTrue(owners, "%s belongs to no package" % argv[0])
            for package in owners:
                essential = subprocess.run(["dpkg-query", "-W", "-f=${Essential}", package],
                                           capture_output=True, text=True).stdout.strip()
                self.assertEqual(essential, "yes", "%s comes from %s, which is not Essential"
                                 % (argv[0], package))

    def test_reload_lines_reload_a_running_gateway(self):
        sim = SimProcess()
        self.addCleanup(sim.close)
        gw = Gateway(sim.url)
        self.addCleanup(gw.close)
        no_path = tempfile.mkdtemp(prefix="no-path-")
        self.addCleanup(os.rmdir, no_path)
        # What systemd gives a control process, with a PATH where no kill can be found: the
        # signal must come from the shell's built-in.
        env = {"MAINPID": str(gw.proc.pid), "PATH": no_path}

        def run(argv):
            argv = [a.replace(self.GATEWAY, os.path.join(BIN_DIR, "coap-gateway"))
                    .replace(self.CONFIG, gw.config_path) for a in systemd_expand(argv, env)]
            return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30)

        base = gw.config_text()
        check, *signal_lines = self.reload_commands()

        # A broken edit stops the reload at the check (systemd runs ExecReload= lines in order
        # and stops at the first failure): the gateway never hears of it.
        gw.rewrite_config(base + "bogus: 1\n")
        r = run(check)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("bogus", r.stdout + r.stderr)

        gw.rewrite_config(base.replace("level: debug", "level: info"))
        self.assertEqual(run(check).returncode, 0)
        for argv in signal_lines:
            r = run(argv)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        gw.wait_for_log("configuration reloaded")
        self.assertIsNone(gw.proc.poll(), "the gateway must survive its reload")


if __name__ == "__main__":
    unittest.main(verbosity=2)
