"""Grafana dashboard helpers for the test suites (Python 3 standard library only).

- extract_queries(path): every PromQL query of a classic dashboard JSON model, as (panel title, refId, expr):
  panel targets (rows and collapsed rows included) and the templating variables' label_values() selectors.
- substitute(expr): replace Grafana variables ($job, ${instance:regex}, [[job]], $__rate_interval, ...) so the
  expression is plain PromQL that Prometheus can evaluate (the integration suite sends each one to
  /api/v1/query against a Prometheus that scrapes the exporter, and fails on an error or an empty result).
- syntax_problems(expr): cheap offline plausibility check of a substituted expression.
- promtool_parse_error(expr): a real offline parse, through `promtool check rules` on a one-rule file.
- lint(path): the dashboard conventions of docs/conventions.md ("Dashboards") as a list of problems.
"""

import json
import os
import re
import subprocess
import tempfile

GRID_WIDTH = 24
MAX_SCHEMA_VERSION = 42
TITLE_PREFIX = "Mail stack / "
UID_RE = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
# Used-ratio thresholds of MailstackFilesystemSpaceLow / MailstackFilesystemInodesLow (warning, critical).
# tests/integration/test_dashboard_lint.py checks them against alerts/mailstack-filesystem.rules.yml.
USED_RATIO_THRESHOLDS = (0.85, 0.95)
DATASOURCE_UIDS = ("${datasource}", "$datasource")
REQUIRED_FILTERS = ("job", "instance")  # each must be matched as  <label>=~"$<label>"

_RATE_FUNCS = {"rate", "irate", "increase"}
_COUNTER_FUNCS = _RATE_FUNCS | {"resets", "changes"}
_COUNTER_SUFFIXES = ("_total", "_count", "_sum", "_bucket")
# Histograms that are snapshots of a population (the queue as it is now), not counters of events: their
# _bucket/_count/_sum go up and down and are graphed as they are.
_GAUGE_HISTOGRAMS = ("mailstack_postfix_queue_message_age_seconds",)
_AGGREGATIONS = {"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
                 "bottomk", "topk", "quantile", "limitk", "limit_ratio"}
_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset",
             "and", "or", "unless", "atan2", "inf", "nan"}
_LABEL_LIST_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right"}


# ----------------------------------------------------------------------------------------------------------
# Extraction

def _load(path_or_dashboard):
    if isinstance(path_or_dashboard, dict):
        return path_or_dashboard
    with open(path_or_dashboard, encoding="utf-8") as f:
        return json.load(f)


def iter_panels(dashboard):
    """Yields (panel, parent_row_or_None) for every panel, rows and panels nested in collapsed rows included."""
    def walk(panels, parent):
        for panel in panels or []:
            yield panel, parent
            yield from walk(panel.get("panels"), panel)
    yield from walk(dashboard.get("panels"), None)


def _variable_query_text(var):
    query = var.get("query")
    if isinstance(query, dict):  # Grafana >= 10 stores {"query": "...", "refId": "..."}
        query = query.get("query", "")
    return query or var.get("definition") or ""


_LABEL_VALUES_RE = re.compile(r"^\s*label_values\s*\((.*)\)\s*$", re.S)
_QUERY_RESULT_RE = re.compile(r"^\s*query_result\s*\((.*)\)\s*$", re.S)


def variable_expr(query):
    """Turns a Prometheus template-variable query into an evaluable expression, or None.

    label_values(metric{sel}, label) -> metric{sel};  label_values(label) -> {label!=""};
    query_result(expr) -> expr;  metrics(...) and label_names() -> None (nothing to evaluate).
    """
    m = _LABEL_VALUES_RE.match(query)
    if m:
        args = m.group(1)
        depth, split = 0, None
        in_str = None
        for i, ch in enumerate(args):  # the last top-level comma separates the selector from the label
            if in_str:
                if ch == "\\":
                    continue
                if ch == in_str:
                    in_str = None
            elif ch in "\"'`":
                in_str = ch
            elif ch in "({[":
                depth += 1
            elif ch in ")}]":
                depth -= 1
            elif ch == "," and depth == 0:
                split = i
        if split is None:
            return '{%s!=""}' % args.strip()
        return args[:split].strip()
    m = _QUERY_RESULT_RE.match(query)
    if m:
        return m.group(1).strip()
    return None


def extract_queries(path):
    """[(panel title, refId, expr)] for every Prometheus query in the dashboard at `path`.

    Template variables appear as ("variable <name>", <name>, selector expression).
    Expressions are returned raw (with $variables); pass them through substitute() before evaluating.
    """
    dashboard = _load(path)
    queries = []
    for panel, _ in iter_panels(dashboard):
        for target in panel.get("targets") or []:
            expr = target.get("expr")
            if expr:
                queries.append((panel.get("title", ""), target.get("refId", ""), expr))
    for var in dashboard.get("templating", {}).get("list", []):
        if var.get("type") != "query":
            continue
        expr = variable_expr(_variable_query_text(var))
        if expr:
            queries.append(("variable " + var.get("name", ""), var.get("name", ""), expr))
    return queries


# ----------------------------------------------------------------------------------------------------------
# Substitution

_DURATION_RE = re.compile(r"^(?:\d+(?:ms|s|m|h|d|w|y))+$")
_DURATION_PART_RE = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60000, "h": 3600000, "d": 86400000, "w": 604800000, "y": 31536000000}
_VARIABLE_RE = re.compile(r"\$\{(\w+)(?::[^}]*)?\}|\[\[(\w+)(?::[^\]]*)?\]\]|\$(\w+)")


def duration_ms(duration):
    if not _DURATION_RE.match(duration):
        raise ValueError("not a Prometheus duration: %r" % duration)
    return sum(int(n) * _UNIT_MS[u] for n, u in _DURATION_PART_RE.findall(duration))


def substitute(expr, interval="1m", values=None, default=".+"):
    """Replaces Grafana variables in `expr`.

    $__rate_interval, $__interval and $__range become `interval` (a Prometheus duration, "1m" by default);
    $__interval_ms / $__range_ms / $__range_s the matching numbers. Any other variable ($job, ${job},
    ${job:regex}, [[job]], $datasource, ...) becomes values[name] if given, else `default` (".+", what an
    "All" selection with allValue ".+" sends). Unknown $__ built-ins are left alone (syntax_problems flags them).
    """
    values = values or {}
    ms = duration_ms(interval)
    builtins = {
        "__rate_interval": interval, "__interval": interval, "__range": interval,
        "__interval_ms": str(ms), "__range_ms": str(ms), "__range_s": str(ms // 1000),
    }

    def replace(m):
        name = m.group(1) or m.group(2) or m.group(3)
        if name in values:
            return values[name]
        if name in builtins:
            return builtins[name]
        if name.startswith("__"):
            return m.group(0)
        return default

    return _VARIABLE_RE.sub(replace, expr)


def syntax_problems(expr):
    """Problems that make `expr` certainly not valid PromQL: leftovers of variables, unbalanced brackets or
    quotes. Not a parser: use promtool_parse_error() or a real Prometheus for that."""
    problems = []
    if not expr.strip():
        return ["empty expression"]
    pairs = {")": "(", "]": "[", "}": "{"}
    stack, quote, i = [], None, 0
    while i < len(expr):
        ch = expr[i]
        if quote:
            if ch == "\\" and quote != "`":
                i += 2
                continue
            if ch == quote:
                quote = None
        elif ch in "\"'`":
            quote = ch
        elif ch == "$":
            problems.append("leftover variable at %d: %r" % (i, expr[i:i + 20]))
        elif ch in "([{":
            stack.append((ch, i))
        elif ch in ")]}":
            if not stack or stack[-1][0] != pairs[ch]:
                problems.append("unbalanced %r at %d" % (ch, i))
                return problems
            stack.pop()
        i += 1
    if quote:
        problems.append("unterminated string")
    for ch, pos in stack:
        problems.append("unclosed %r at %d" % (ch, pos))
    if "[[" in expr and "]]" in expr:
        problems.append("leftover [[variable]]")
    return problems


def promtool_parse_error(expr, promtool="promtool"):
    """Parses `expr` (already substituted) offline with `promtool check rules`; returns its error or None.

    Raises FileNotFoundError when promtool is not installed.
    """
    rule_file = {"groups": [{"name": "dashboard-query", "rules": [{"record": "dashboard_query", "expr": expr}]}]}
    fd, path = tempfile.mkstemp(suffix=".rules.yml")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(rule_file, f)  # JSON is YAML
        result = subprocess.run([promtool, "check", "rules", path], capture_output=True, text=True, timeout=60)
    finally:
        os.unlink(path)
    if result.returncode == 0:
        return None
    return (result.stderr + result.stdout).strip()


# ----------------------------------------------------------------------------------------------------------
# A small PromQL scanner: enough to find vector selectors, their matchers, their ranges and the function
# that encloses them. It works on raw expressions ($variables inside strings and ranges are fine).

_TOKEN_RE = re.compile(r"""
    (?P<ws>\s+|\#[^\n]*)
  | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
  | (?P<range>\[[^\]]*\])
  | (?P<num>0[xX][0-9a-fA-F]+|(?:\d+(?:ms|s|m|h|d|w|y))+|\d*\.?\d+(?:[eE][+-]?\d+)?)
  | (?P<ident>[A-Za-z_:][A-Za-z0-9_:]*)
  | (?P<op>=~|!~|!=|==|<=|>=|[-+*/%^<>=,(){}@])
  | (?P<other>.)
""", re.X | re.S)


def _tokens(expr):
    out = []
    for m in _TOKEN_RE.finditer(expr):
        kind = m.lastgroup
        if kind != "ws":
            out.append((kind, m.group(kind)))
    return out


def selectors(expr):
    """[{name, matchers: [(label, op, value)], range, function}] for every vector selector in `expr`.

    `function` is the innermost function call around the selector (None at top level or in plain parentheses);
    `range` is the text inside [...] right after the selector, or None.
    """
    toks = _tokens(expr)
    found, stack, i = [], [], 0
    while i < len(toks):
        kind, text = toks[i]
        nxt = toks[i + 1] if i + 1 < len(toks) else (None, None)
        if kind == "ident" and text.lower() in _LABEL_LIST_KEYWORDS and nxt == ("op", "("):
            depth = 0
            while i < len(toks):  # skip the label list: by (a, b)
                if toks[i] == ("op", "("):
                    depth += 1
                elif toks[i] == ("op", ")"):
                    depth -= 1
                    if depth == 0:
                        break
                i += 1
            i += 1
            continue
        if kind == "ident" and nxt == ("op", "("):
            stack.append(text)
            i += 2
            continue
        if kind == "ident" and (text.lower() in _KEYWORDS or text in _AGGREGATIONS):
            i += 1
            continue
        if (kind == "ident" and (i == 0 or toks[i - 1] != ("op", "@"))) or (kind, text) == ("op", "{"):
            sel = {"name": text if kind == "ident" else None, "matchers": [], "range": None,
                   "function": next((f for f in reversed(stack) if f is not None), None)}
            j = i + 1 if kind == "ident" else i
            if j < len(toks) and toks[j] == ("op", "{"):
                j += 1
                while j < len(toks) and toks[j] != ("op", "}"):
                    if (j + 2 < len(toks) and toks[j][0] == "ident" and toks[j + 1][0] == "op"
                            and toks[j + 2][0] == "str"):
                        value = toks[j + 2][1][1:-1]
                        if toks[j][1] == "__name__" and toks[j + 1][1] == "=":
                            sel["name"] = value
                        sel["matchers"].append((toks[j][1], toks[j + 1][1], value))
                        j += 3
                    else:
                        j += 1
                j += 1
            if j < len(toks) and toks[j][0] == "range":
                sel["range"] = toks[j][1][1:-1].strip()
                j += 1
            found.append(sel)
            i = j
            continue
        if (kind, text) == ("op", "("):
            stack.append(None)
        elif (kind, text) == ("op", ")") and stack:
            stack.pop()
        i += 1
    return found


# ----------------------------------------------------------------------------------------------------------
# Lint

def _rect_overlap(a, b):
    return a["x"] < b["x"] + b["w"] and b["x"] < a["x"] + a["w"] and a["y"] < b["y"] + b["h"] and \
        b["y"] < a["y"] + a["h"]


def _is_our_datasource(ds):
    if isinstance(ds, dict):
        return ds.get("uid") in DATASOURCE_UIDS and ds.get("type", "prometheus") == "prometheus"
    return ds in DATASOURCE_UIDS


def _variable_ref(name):
    return {"$" + name, "${%s}" % name, "${%s:regex}" % name, "${%s:pipe}" % name}


def lint_expr(expr):
    """Problems of one panel query (raw, with variables)."""
    problems = []
    for sel in selectors(expr):
        what = sel["name"] or "{...}"
        for label in REQUIRED_FILTERS:
            if not any(l == label and op == "=~" and v in _variable_ref(label) for l, op, v in sel["matchers"]):
                problems.append('%s has no %s=~"$%s" filter' % (what, label, label))
        fn = sel["function"]
        if fn in _RATE_FUNCS:
            if sel["range"] not in ("$__rate_interval", "${__rate_interval}"):
                problems.append("%s(%s[%s]) must use [$__rate_interval]" % (fn, what, sel["range"]))
        if sel["name"] and sel["name"].endswith(_COUNTER_SUFFIXES) and fn not in _COUNTER_FUNCS \
                and not sel["name"].startswith(_GAUGE_HISTOGRAMS):
            problems.append("raw counter %s graphed (wrap it in rate() or increase())" % what)
    return problems


def _threshold_values(panel):
    steps = panel.get("fieldConfig", {}).get("defaults", {}).get("thresholds", {}).get("steps", [])
    return tuple(s.get("value") for s in steps if s.get("value") is not None)


def lint(path):
    """Problems with the dashboard at `path` (a list of strings; empty means clean)."""
    d = _load(path)
    problems = []

    def bad(msg):
        problems.append(msg)

    uid = d.get("uid")
    if not isinstance(uid, str) or not UID_RE.match(uid):
        bad("dashboard uid %r must be a stable string of 1-40 letters, digits, '-' or '_'" % (uid,))
    if not str(d.get("title", "")).startswith(TITLE_PREFIX) or len(d.get("title", "")) <= len(TITLE_PREFIX):
        bad("dashboard title %r must start with %r" % (d.get("title"), TITLE_PREFIX))
    sv = d.get("schemaVersion")
    if not isinstance(sv, int) or sv > MAX_SCHEMA_VERSION:
        bad("schemaVersion %r must be an integer <= %d" % (sv, MAX_SCHEMA_VERSION))
    if not d.get("tags") or "mailstack" not in d.get("tags"):
        bad("dashboard tags must include 'mailstack'")
    if d.get("id") is not None:
        bad("dashboard id must be null (ids are per Grafana instance; uid is the stable key)")
    if not any(i.get("name") == "DS_PROMETHEUS" and i.get("type") == "datasource" and
               i.get("pluginId") == "prometheus" for i in d.get("__inputs", [])):
        bad("__inputs must declare DS_PROMETHEUS (type datasource, pluginId prometheus)")
    required = {(r.get("type"), r.get("id")) for r in d.get("__requires", [])}
    for need in [("grafana", "grafana"), ("datasource", "prometheus")]:
        if need not in required:
            bad("__requires lacks %s %s" % need)

    variables = {v.get("name"): v for v in d.get("templating", {}).get("list", [])}
    ds_var = variables.get("datasource")
    if not ds_var or ds_var.get("type") != "datasource" or ds_var.get("query") != "prometheus":
        bad("templating needs a 'datasource' variable of type datasource with query 'prometheus'")
    for name in REQUIRED_FILTERS:
        var = variables.get(name)
        if not var or var.get("type") != "query":
            bad("templating needs a query variable %r" % name)
            continue
        if not (var.get("multi") and var.get("includeAll") and var.get("allValue") == ".+"):
            bad("variable %r must be multi, includeAll, allValue '.+'" % name)
        if not _is_our_datasource(var.get("datasource")):
            bad("variable %r must use datasource ${datasource}" % name)
        expr = variable_expr(_variable_query_text(var))
        if expr is None:
            bad("variable %r: cannot turn query %r into an expression" % (name, _variable_query_text(var)))

    ids = {}
    top, rows = [], []
    for panel, parent in iter_panels(d):
        title = panel.get("title") or ""
        label = "panel %r" % (title or panel.get("id"))
        ptype = panel.get("type")
        if ptype != "row" and ("panel", ptype) not in required:
            bad("%s: panel type %r missing from __requires" % (label, ptype))
        if panel.get("id") in ids:
            bad("%s: duplicate panel id %r" % (label, panel.get("id")))
        ids[panel.get("id")] = True
        if not title.strip():
            bad("%s: no title" % label)
        gp = panel.get("gridPos") or {}
        if not all(isinstance(gp.get(k), int) for k in "xywh") or gp["w"] <= 0 or gp["h"] <= 0 or \
                gp["x"] < 0 or gp["y"] < 0 or gp["x"] + gp["w"] > GRID_WIDTH:
            bad("%s: gridPos %r is not inside the %d-column grid" % (label, gp, GRID_WIDTH))
            gp = None
        if gp:
            if parent is None:
                top.append((label, gp))
            else:
                rows.append((parent.get("title"), label, gp))
        if ptype == "row":
            if panel.get("panels") and not panel.get("collapsed"):
                bad("%s: an expanded row must not nest panels" % label)
            continue
        if not (panel.get("description") or "").strip():
            bad("%s: no description" % label)
        unit = panel.get("fieldConfig", {}).get("defaults", {}).get("unit")
        if not unit:
            bad("%s: no unit (fieldConfig.defaults.unit)" % label)
        if not _is_our_datasource(panel.get("datasource")):
            bad("%s: datasource must be ${datasource}, got %r" % (label, panel.get("datasource")))
        targets = panel.get("targets") or []
        if not targets:
            bad("%s: no queries" % label)
        refids = [t.get("refId") for t in targets]
        if len(set(refids)) != len(refids):
            bad("%s: duplicate refIds %r" % (label, refids))
        ratio_panel = False
        for t in targets:
            ref = "%s %s" % (label, t.get("refId"))
            if "datasource" in t and not _is_our_datasource(t["datasource"]):
                bad("%s: target datasource must be ${datasource}, got %r" % (ref, t["datasource"]))
            expr = t.get("expr") or ""
            if not expr.strip():
                bad("%s: empty expr" % ref)
                continue
            for p in lint_expr(expr):
                bad("%s: %s" % (ref, p))
            for p in syntax_problems(substitute(expr)):
                bad("%s: %s" % (ref, p))
            names = {s["name"] for s in selectors(expr)}
            if unit == "percentunit" and ({"mailstack_filesystem_avail_bytes", "mailstack_filesystem_size_bytes"}
                                          <= names or {"mailstack_filesystem_files_free",
                                                       "mailstack_filesystem_files"} <= names):
                ratio_panel = True
        if ratio_panel and _threshold_values(panel) != USED_RATIO_THRESHOLDS:
            bad("%s: thresholds %r must equal the alert thresholds %r" %
                (label, _threshold_values(panel), USED_RATIO_THRESHOLDS))

    for i, (la, a) in enumerate(top):
        for lb, b in top[i + 1:]:
            if _rect_overlap(a, b):
                bad("%s and %s overlap (gridPos %r, %r)" % (la, lb, a, b))
    for i, (ra, la, a) in enumerate(rows):
        for rb, lb, b in rows[i + 1:]:
            if ra == rb and _rect_overlap(a, b):
                bad("%s and %s overlap in row %r" % (la, lb, ra))
    return problems
