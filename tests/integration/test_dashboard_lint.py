"""Offline checks of grafana/*.json: conventions lint, query extraction, substitution, PromQL parse.

Run from the repository root:  python3 -m unittest discover -s tests/integration -p 'test_*.py' -v
Evaluating every query against a real Prometheus that scrapes the exporter is the integration suite's job
(it uses extract_queries() and substitute() from dashboards.py).
"""

import glob
import json
import os
import re
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dashboards  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DASHBOARDS = sorted(glob.glob(os.path.join(ROOT, "grafana", "*.json")))
# Minimum number of queries per dashboard (panel targets + variables): catches a walker that misses panels.
MIN_QUERIES = {"mailstack-overview.json": 20}


class ShippedDashboards(unittest.TestCase):
    def test_there_are_dashboards(self):
        self.assertIn(os.path.join(ROOT, "grafana", "mailstack-overview.json"), DASHBOARDS)

    def test_lint_is_clean(self):
        for path in DASHBOARDS:
            with self.subTest(dashboard=os.path.basename(path)):
                self.assertEqual(dashboards.lint(path), [])

    def test_uids_and_titles_are_unique(self):
        seen_uids, seen_titles = {}, {}
        for path in DASHBOARDS:
            with open(path, encoding="utf-8") as f:
                d = json.load(f)
            self.assertNotIn(d["uid"], seen_uids, "uid of %s repeats %s" % (path, seen_uids.get(d["uid"])))
            self.assertNotIn(d["title"], seen_titles)
            seen_uids[d["uid"]] = path
            seen_titles[d["title"]] = path

    def test_extract_queries_finds_every_query(self):
        for path in DASHBOARDS:
            name = os.path.basename(path)
            with self.subTest(dashboard=name):
                queries = dashboards.extract_queries(path)
                self.assertGreaterEqual(len(queries), MIN_QUERIES.get(name, 1))
                titles = {t for t, _, _ in queries}
                self.assertIn("variable job", titles)
                self.assertIn("variable instance", titles)

    def test_overview_variable_queries(self):
        queries = {t: e for t, _, e in dashboards.extract_queries(
            os.path.join(ROOT, "grafana", "mailstack-overview.json")) if t.startswith("variable ")}
        self.assertEqual(queries, {
            "variable job": "mailstack_exporter_build_info",
            "variable instance": 'mailstack_exporter_build_info{job=~"$job"}',
        })

    def test_substituted_queries_are_plausible_promql(self):
        for path in DASHBOARDS:
            for title, ref, expr in dashboards.extract_queries(path):
                sub = dashboards.substitute(expr)
                with self.subTest(dashboard=os.path.basename(path), panel=title, refId=ref):
                    self.assertEqual(dashboards.syntax_problems(sub), [], sub)
                    self.assertNotIn("$", sub)

    @unittest.skipUnless(shutil.which("promtool"), "promtool not installed")
    def test_substituted_queries_parse_with_promtool(self):
        for path in DASHBOARDS:
            for title, ref, expr in dashboards.extract_queries(path):
                sub = dashboards.substitute(expr)
                with self.subTest(dashboard=os.path.basename(path), panel=title, refId=ref):
                    self.assertIsNone(dashboards.promtool_parse_error(sub), sub)

    def test_ratio_thresholds_equal_the_alert_thresholds(self):
        with open(os.path.join(ROOT, "alerts", "mailstack-filesystem.rules.yml"), encoding="utf-8") as f:
            rules = f.read()
        for alert in ("MailstackFilesystemSpaceLow", "MailstackFilesystemInodesLow"):
            with self.subTest(alert=alert):
                # the threshold of each rule: "...) > 0.85" in the expr that follows "- alert: <name>"
                found = re.findall(r"- alert: %s\n\s+expr: \|\n\s+\(1 - [^\n]*\) > ([0-9.]+)\n" % alert, rules)
                self.assertEqual(tuple(sorted(float(x) for x in found)), dashboards.USED_RATIO_THRESHOLDS)

    def test_mail_flow_thresholds_equal_the_alert_thresholds(self):
        with open(os.path.join(ROOT, "alerts", "mailstack-logs.rules.yml"), encoding="utf-8") as f:
            rules = f.read()
        with open(os.path.join(ROOT, "grafana", "mailstack-overview.json"), encoding="utf-8") as f:
            d = json.load(f)
        panels = {p.get("title"): p for p, _ in dashboards.iter_panels(d)}

        def alert_thresholds(alert, op):
            # the threshold after the ratio of each rule: ") < 0.95" in the expr that follows "- alert: <name>"
            found = re.findall(r"- alert: %s\n\s+expr: \|\n(?:\s+[^\n]*\n)*?\s+\) %s ([0-9.]+)\n" % (alert, op), rules)
            return tuple(sorted(float(x) for x in found))

        cases = [("MailstackPostfixDeliverySuccessLow", "<", "Delivery success rate"),
                 ("MailstackPostfixDeliverySlow", ">", "Delivery delay percentiles")]
        for alert, op, title in cases:
            with self.subTest(alert=alert, panel=title):
                expected = alert_thresholds(alert, op)
                self.assertTrue(expected, "no threshold found in %s" % alert)
                self.assertEqual(tuple(sorted(dashboards._threshold_values(panels[title]))), expected)


def _write(dashboard):
    fd, path = tempfile.mkstemp(suffix=".json")
    with os.fdopen(fd, "w") as f:
        json.dump(dashboard, f)
    return path


class LintCatchesProblems(unittest.TestCase):
    """The lint must fail on each broken convention, or the clean result above proves nothing."""

    def setUp(self):
        with open(os.path.join(ROOT, "grafana", "mailstack-overview.json"), encoding="utf-8") as f:
            self.good = json.load(f)

    def problems_after(self, mutate):
        d = json.loads(json.dumps(self.good))
        mutate(d)
        path = _write(d)
        try:
            return "\n".join(dashboards.lint(path))
        finally:
            os.unlink(path)

    def panel(self, d, title):
        return next(p for p, _ in dashboards.iter_panels(d) if p.get("title") == title)

    def test_dashboard_level_rules(self):
        def mutate(d):
            d["uid"] = "${uid}"
            d["title"] = "Overview"
            d["schemaVersion"] = 43
            d["__inputs"] = []
            d["id"] = 7
        out = self.problems_after(mutate)
        for needle in ("uid", "title", "schemaVersion", "DS_PROMETHEUS", "id must be null"):
            self.assertIn(needle, out)

    def test_variables(self):
        def mutate(d):
            d["templating"]["list"][2]["allValue"] = None
            d["templating"]["list"] = [v for v in d["templating"]["list"] if v["name"] != "job"]
        out = self.problems_after(mutate)
        self.assertIn("query variable 'job'", out)
        self.assertIn("variable 'instance' must be multi, includeAll, allValue", out)

    def test_panel_rules(self):
        def mutate(d):
            p = self.panel(d, "Exporter CPU")
            p["description"] = ""
            del p["fieldConfig"]["defaults"]["unit"]
            p["datasource"] = {"type": "prometheus", "uid": "P1809F7CD0C75ACF3"}
            p["targets"][0]["expr"] = 'rate(process_cpu_seconds_total{job=~"$job"}[5m])'
            m = self.panel(d, "Exporter memory (RSS)")
            m["targets"][0]["expr"] = 'process_cpu_seconds_total{job=~"$job",instance=~"$instance"}'
            self.panel(d, "Filesystem used")["fieldConfig"]["defaults"]["thresholds"]["steps"][1]["value"] = 0.8
        out = self.problems_after(mutate)
        for needle in ("'Exporter CPU': no description", "'Exporter CPU': no unit", "datasource must be",
                       'no instance=~"$instance" filter', "must use [$__rate_interval]",
                       "raw counter process_cpu_seconds_total", "'Filesystem used': thresholds"):
            self.assertIn(needle, out)

    def test_overlap_and_grid(self):
        def mutate(d):
            self.panel(d, "Exporter memory (RSS)")["gridPos"]["x"] = 4
            self.panel(d, "Free space change rate")["gridPos"]["w"] = 30
        out = self.problems_after(mutate)
        self.assertIn("overlap", out)
        self.assertIn("not inside the 24-column grid", out)


class Helpers(unittest.TestCase):
    def test_nested_panels_in_collapsed_rows_are_found(self):
        d = {"panels": [
            {"type": "row", "title": "R", "collapsed": True, "panels": [
                {"type": "timeseries", "title": "inner", "targets": [{"refId": "Z", "expr": "up"}]}]}],
            "templating": {"list": [
                {"type": "query", "name": "v", "query": {"query": "label_values(up{a=\"b, c\"}, instance)",
                                                         "refId": "x"}},
                {"type": "query", "name": "w", "query": "label_values(job)"},
                {"type": "custom", "name": "c", "query": "a,b"}]}}
        path = _write(d)
        try:
            self.assertEqual(dashboards.extract_queries(path), [
                ("inner", "Z", "up"),
                ("variable v", "v", 'up{a="b, c"}'),
                ("variable w", "w", '{job!=""}'),
            ])
        finally:
            os.unlink(path)

    def test_substitute(self):
        s = dashboards.substitute
        self.assertEqual(s('rate(x{job=~"$job",instance=~"${instance:regex}"}[$__rate_interval])'),
                         'rate(x{job=~".+",instance=~".+"}[1m])')
        self.assertEqual(s('increase(x[$__range]) / $__range_s', interval="2h"), "increase(x[2h]) / 7200")
        self.assertEqual(s("avg_over_time(x[${__interval}]) + [[job]]", values={"job": "mailstack"}),
                         "avg_over_time(x[1m]) + mailstack")
        self.assertEqual(s("x > $__interval_ms", interval="30s"), "x > 30000")
        self.assertEqual(s("x[$__unknown]"), "x[$__unknown]")
        with self.assertRaises(ValueError):
            s("x", interval="soon")

    def test_syntax_problems(self):
        self.assertEqual(dashboards.syntax_problems('sum by (a) (rate(x{l="}"}[1m]))'), [])
        self.assertTrue(dashboards.syntax_problems("rate(x[1m]"))
        self.assertTrue(dashboards.syntax_problems("x{a=\"b}"))
        self.assertTrue(dashboards.syntax_problems("x[$__unknown]"))
        self.assertTrue(dashboards.syntax_problems("x)"))

    def test_lint_expr(self):
        good = 'sum by (path) (rate(x_total{job=~"$job",instance=~"$instance"}[$__rate_interval]))'
        self.assertEqual(dashboards.lint_expr(good), [])
        self.assertEqual(dashboards.lint_expr(
            'a{job=~"$job",instance=~"$instance"} * on (instance) group_left (version) '
            'b_info{job=~"$job",instance=~"$instance"} offset 5m > bool 1e3'), [])
        self.assertEqual(dashboards.lint_expr("vector(1) * 24 * 3600 + time()"), [])
        self.assertEqual(len(dashboards.lint_expr('x{job=~"$job"} / y{instance=~"$instance"}')), 2)
        self.assertIn("raw counter", " ".join(dashboards.lint_expr(
            'x_total{job=~"$job",instance=~"$instance"}')))
        self.assertIn("raw counter", " ".join(dashboards.lint_expr(
            'delta(x_total{job=~"$job",instance=~"$instance"}[5m])')))


if __name__ == "__main__":
    unittest.main()
