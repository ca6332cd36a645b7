"""Conventions of alerts/*.rules.yml that promtool does not check (Python 3 standard library only).

Run from the repository root:  python3 -m unittest discover -s tests/alerts -p 'test_*.py' -v
The behaviour of each alert is tested by `promtool test rules tests/alerts/*.test.yml`; this file checks that
each alert HAS such tests (one firing case, one quiet case), a runbook section and the required labels and
annotations. The rule and test files are read line by line: keep their layout (one "- alert:" per rule,
"alertname:" followed by "exp_alerts:").
"""

import glob
import os
import re
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RUNBOOK_BASE = "https://github.com/mailstack/mailstack_exporter/blob/main/alerts/runbook.md#"
# Alerts that by design never stay quiet.
ALWAYS_FIRING = {"MailstackWatchdog"}


def read_rules():
    """[{name, severity, annotations{}, for}] from every alerts/*.rules.yml."""
    rules = []
    for path in sorted(glob.glob(os.path.join(ROOT, "alerts", "*.rules.yml"))):
        current = None
        with open(path, encoding="utf-8") as f:
            for line in f:
                m = re.match(r"\s*- (alert|record): (\S+)", line)
                if m:
                    current = {"kind": m.group(1), "name": m.group(2), "file": os.path.basename(path),
                               "labels": {}, "annotations": {}}
                    rules.append(current)
                    continue
                m = re.match(r"\s+(severity|summary|description|runbook_url): ?(.*)", line)
                if current and m:
                    key = m.group(1)
                    (current["labels"] if key == "severity" else current["annotations"])[key] = m.group(2)
    return [r for r in rules if r["kind"] == "alert"]


def read_test_cases():
    """{alertname: {"fires": n, "quiet": n}} from every tests/alerts/*.test.yml."""
    cases = {}
    for path in glob.glob(os.path.join(ROOT, "tests", "alerts", "*.test.yml")):
        with open(path, encoding="utf-8") as f:
            lines = [l for l in f if l.strip() and not l.strip().startswith("#")]
        for i, line in enumerate(lines):
            m = re.match(r"\s+alertname: (\S+)", line)
            if not m or i + 1 >= len(lines):
                continue
            nxt = lines[i + 1].strip()
            c = cases.setdefault(m.group(1), {"fires": 0, "quiet": 0})
            if nxt == "exp_alerts: []":
                c["quiet"] += 1
            elif nxt == "exp_alerts:" and i + 2 < len(lines) and lines[i + 2].strip().startswith("- exp_labels:"):
                c["fires"] += 1
    return cases


class AlertConventions(unittest.TestCase):
    def setUp(self):
        self.rules = read_rules()
        self.names = {r["name"] for r in self.rules}

    def test_rules_were_read(self):
        self.assertGreaterEqual(len(self.rules), 10)
        self.assertIn("MailstackExporterDown", self.names)

    def test_names_labels_annotations(self):
        for r in self.rules:
            with self.subTest(alert=r["name"], file=r["file"]):
                self.assertRegex(r["name"], r"^Mailstack[A-Z][A-Za-z0-9]+$")
                self.assertIn(r["labels"].get("severity"), {"critical", "warning", "info"})
                self.assertTrue(r["annotations"].get("summary"))
                self.assertTrue(r["annotations"].get("description"))
                self.assertEqual(r["annotations"].get("runbook_url"), RUNBOOK_BASE + r["name"].lower())

    def test_every_alert_has_a_runbook_section(self):
        with open(os.path.join(ROOT, "alerts", "runbook.md"), encoding="utf-8") as f:
            headings = set(re.findall(r"^## (\S+)\s*$", f.read(), re.M))
        self.assertEqual(headings, self.names, "runbook sections and alert names differ")

    def test_every_alert_is_tested_firing_and_quiet(self):
        cases = read_test_cases()
        for name in sorted(self.names):
            with self.subTest(alert=name):
                c = cases.get(name, {"fires": 0, "quiet": 0})
                self.assertGreater(c["fires"], 0, "no promtool case where %s fires" % name)
                if name not in ALWAYS_FIRING:
                    self.assertGreater(c["quiet"], 0, "no promtool case where %s stays quiet" % name)
        self.assertEqual(set(cases) - self.names, set(), "tests for alerts that do not exist")


if __name__ == "__main__":
    unittest.main()
